"""CLIP preprocessing throughput: ours (`preprocess --recipe clip`) against the Hugging Face
CLIPImageProcessor (PIL backend) and a bare Pillow decode + resize, same files, same machine,
same run.

Inputs: 400 photo-sized JPEGs (each side 1024-2048 px, quality 90) from the shared
`make-sample --photos` sample (scripts/bench_photos.py), and 400 JPEGs of 512x512 made from the
DreamBench photos when ../shared/data is present (else synthetic). The Python references run on
a pool of as many processes as cores and keep their arrays in memory; ours is the whole
`preprocess` process on its own threads, including writing the safetensors file (fsync). Both
read the files from the warm page cache. Before timing, ours is checked against the reference's
arrays on the first 24 images of each set (bit-identical count, largest difference).

Run: python3 scripts/bench_preprocess.py [--images 400]   (after `swift build -c release`)
"""
import argparse, os, subprocess, time
from multiprocessing import Pool
import numpy as np
from PIL import Image

from bench_photos import photo_files

ROOT = "builds/bench/preprocess"


def small_inputs(n):
    os.makedirs(ROOT, exist_ok=True)
    photos = "../shared/data/dreambench/images"
    sources = [os.path.join(photos, f) for f in sorted(os.listdir(photos))] if os.path.isdir(photos) else []
    rng = np.random.RandomState(0)
    paths = []
    for i in range(n):
        path = f"{ROOT}/img{i:04d}.jpg"
        if not os.path.exists(path):
            if sources:
                im = Image.open(sources[i % len(sources)]).convert("RGB").resize((512, 512), Image.BICUBIC)
                if i >= len(sources):
                    im = im.rotate(90 * (i // len(sources) % 4))
            else:
                im = Image.fromarray(rng.randint(0, 256, (512, 512, 3)).astype(np.uint8))
            im.save(path, quality=90)
        paths.append(path)
    return paths


def processor():
    import warnings
    warnings.filterwarnings("ignore")
    from transformers import CLIPImageProcessorPil
    global _processor
    try:
        _processor
    except NameError:
        _processor = CLIPImageProcessorPil()
    return _processor


def hf_values(path):
    return processor()(images=Image.open(path).convert("RGB"), return_tensors="np")["pixel_values"][0]


def hf_one(path):
    return hf_values(path).shape


def pillow_one(path):
    im = Image.open(path)
    im.draft("RGB", (224, 224))
    return im.convert("RGB").resize((224, 224), Image.BICUBIC).size


def timed_pool(fn, paths):
    with Pool(os.cpu_count()) as pool:
        pool.map(fn, paths[:8])  # warm-up (imports)
        t = time.perf_counter()
        pool.map(fn, paths, chunksize=8)
        return time.perf_counter() - t


def ours(paths, output):
    cmd = [".build/release/preprocess", "--recipe", "clip", "--output", output] + paths
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # warm-up
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def read_values(path):
    from safetensors.numpy import load_file
    return load_file(path)["pixel_values"]


def check(paths, output, count=24):
    subprocess.run([".build/release/preprocess", "--recipe", "clip", "--output", output] + paths[:count],
                   check=True, stdout=subprocess.DEVNULL)
    mine = read_values(output)
    same, worst = 0, 0.0
    for i, path in enumerate(paths[:count]):
        reference = hf_values(path)
        same += int(np.array_equal(mine[i], reference))
        worst = max(worst, float(np.abs(mine[i] - reference).max()))
    return same, count, worst


def bench(label, paths):
    output = f"{ROOT}/out.safetensors"
    same, checked, worst = check(paths, output)
    mine = ours(paths, output)
    hf = timed_pool(hf_one, paths)
    pillow = timed_pool(pillow_one, paths)
    n, cores = len(paths), os.cpu_count()
    print(f"## {label}: {n} JPEGs, {cores} cores\n")
    print(f"Exactness on the first {checked}: {same} bit-identical to CLIPImageProcessorPil, largest difference {worst:.3g}\n")
    print("| tool | images/s | ms/image/core |")
    print("|---|---|---|")
    for name, s in [("ours: preprocess --recipe clip (whole process, writing the file)", mine),
                    ("transformers CLIPImageProcessorPil (exact reference, arrays in memory)", hf),
                    ("Pillow draft + resize to 224 only (not the full recipe)", pillow)]:
        print(f"| {name} | {n / s:.1f} | {s / n * 1000 * cores:.2f} |")
    print(f"\nRatio against the exact reference: **{hf / mine:.2f}x**\n")
    os.remove(output)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    args = parser.parse_args()
    os.makedirs(ROOT, exist_ok=True)
    print("# CLIP preprocessing\n")
    bench("photo-sized (make-sample --photos, 1024-2048 px)", photo_files(args.images))
    bench("512x512 (DreamBench photos resized)", small_inputs(args.images))


if __name__ == "__main__":
    main()
