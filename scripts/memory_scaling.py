#!/usr/bin/env python3
"""Peak memory of the stages from 1k to 100k samples (issue 9: it must stay flat).

Draws 1,000 samples once with `make-sample --layouts folder`, then builds datasets of N samples by
repeating them under new keys: images and masks are hard links, captions get " (copy K)" so every
sample has its own id (SHA-256 of image + caption) and none is a duplicate. Runs ingest, tag and
crop on each with /usr/bin/time -v and prints peak RSS, time and rows per second.
Usage: python3 scripts/memory_scaling.py [--sizes 1000,10000,100000] [--stages ingest,tag,crop]"""
import argparse, json, os, re, shutil, subprocess, time

BIN = ".build/release"
ROOT = "builds/reliability/memory"


def base_sample():
    path = os.path.join(ROOT, "base")
    if not os.path.exists(os.path.join(path, "folder")):
        subprocess.run([f"{BIN}/make-sample", "--layouts", "folder", "--per-layout", "1000", "--seed", "7", "--output", path],
                       check=True, stdout=subprocess.DEVNULL)
    folder = os.path.join(path, "folder", "00000")
    return folder, sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".jpg"))


def dataset(n, folder, keys):
    path = os.path.join(ROOT, f"data-{n}")
    done = os.path.join(path, "done")
    if os.path.exists(done):
        return path
    shutil.rmtree(path, ignore_errors=True)
    for i in range(n):
        copy, key = divmod(i, len(keys))
        shard = os.path.join(path, "folder", f"{i // 10000:05d}")
        os.makedirs(shard, exist_ok=True)
        src, dst = os.path.join(folder, keys[key]), os.path.join(shard, f"{i:09d}")
        for ext in (".jpg", ".png"):
            os.link(src + ext, dst + ext)
        with open(src + ".json") as f:
            meta = json.load(f)
        caption = meta["caption"] + (f" (copy {copy})" if copy else "")
        meta["caption"] = caption
        with open(dst + ".json", "w") as f:
            json.dump(meta, f)
        with open(dst + ".txt", "w") as f:
            f.write(caption)
    with open(os.path.join(path, "manifest.yaml"), "w") as f:
        f.write(f"name: mem{n}\nsources:\n  - {{name: folder, format: folder, path: folder}}\n")
    with open(os.path.join(path, "pipeline.yaml"), "w") as f:
        f.write(f"name: mem{n}\nbuild_dir: build\nmanifest: manifest.yaml\nunit_size: 1000\n"
                "crop: {min_image_side: 200, min_box_area: 0.02}\n")
    open(done, "w").close()
    return path


def run(stage, pipeline):
    t0 = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", f"{BIN}/{stage}", "--pipeline", pipeline, "--quiet"], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{stage} failed: {out.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    return rss / 1024, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--stages", default="ingest,tag,crop")
    args = ap.parse_args()
    os.makedirs(ROOT, exist_ok=True)
    folder, keys = base_sample()
    sizes = [int(s) for s in args.sizes.split(",")]
    stages = args.stages.split(",")
    results = {}
    for n in sizes:
        path = dataset(n, folder, keys)
        shutil.rmtree(os.path.join(path, "build"), ignore_errors=True)
        for stage in stages:
            results[(n, stage)] = run(stage, os.path.join(path, "pipeline.yaml"))
    print("# Peak memory against dataset size (`scripts/memory_scaling.py`, unit_size 1000)\n")
    print("| stage | " + " | ".join(f"{n:,} samples" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for stage in stages:
        cells = [f"{results[(n, stage)][0]:.1f} MiB ({n / results[(n, stage)][1]:,.0f}/s)" for n in sizes]
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
