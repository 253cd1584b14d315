"""CLIP preprocessing throughput: ours (`preprocess --recipe clip`) against the Hugging Face
CLIPImageProcessor (PIL backend) and a bare Pillow decode+resize, same files, same machine.

Inputs: 512x512 JPEGs (quality 90) made from the DreamBench photos when ../shared/data is present,
else from synthetic images. The Python references run on a pool of as many processes as cores;
ours runs its own threads. Both read the files from the warm page cache.

Run: python3 scripts/bench_preprocess.py [--images 400]   (after `swift build -c release`)
"""
import argparse, os, subprocess, time
from multiprocessing import Pool
import numpy as np
from PIL import Image

ROOT = "builds/bench/preprocess"


def make_inputs(n):
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


def hf_one(path):
    import warnings
    warnings.filterwarnings("ignore")
    from transformers import CLIPImageProcessorPil
    global _processor
    try:
        _processor
    except NameError:
        _processor = CLIPImageProcessorPil()
    return _processor(images=Image.open(path).convert("RGB"), return_tensors="np")["pixel_values"].shape


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=400)
    args = parser.parse_args()
    paths = make_inputs(args.images)
    cmd = [".build/release/preprocess", "--recipe", "clip", "--output", f"{ROOT}/out.safetensors"] + paths
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ours = time.perf_counter() - t
    hf = timed_pool(hf_one, paths)
    pillow = timed_pool(pillow_one, paths)
    n = len(paths)
    print(f"# CLIP preprocessing ({n} JPEGs of 512x512, {os.cpu_count()} cores)\n")
    print("| tool | images/s | ms/image/core |")
    print("|---|---|---|")
    for name, s in [("ours: preprocess --recipe clip (whole process, exact)", ours),
                    ("transformers CLIPImageProcessorPil (exact reference)", hf),
                    ("Pillow draft + resize to 224 only (not the full recipe)", pillow)]:
        print(f"| {name} | {n / s:.0f} | {s / n * 1000 * os.cpu_count():.2f} |")
    print(f"\nRatio against the exact reference: {hf / ours:.2f}x")


if __name__ == "__main__":
    main()
