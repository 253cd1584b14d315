#!/usr/bin/env python3
"""Shards: the `shard` stage's write rate, then reading through the index (random access by
sample id, Python reader) and sequentially, against the same features as a WebDataset tar of .npy
files (the clip-retrieval / img2dataset layout), on this machine in one run. The features come
from a random-weight CLIP of ViT-bigG/14's text width (1280) through the real stages.
Usage: python3 scripts/bench_shards.py [--per-layout 40]"""
import argparse, io, json, os, random, shutil, subprocess, sys, tarfile, time
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
from eclipse_shards import ShardIndex
from safetensors.numpy import load_file

BIN = ".build/release"
ROOT = "builds/bench/shards"


def run(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-layout", type=int, default=40)
    args = ap.parse_args()
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    run(f"{BIN}/make-sample", "--output", f"{ROOT}/sample", "--per-layout", str(args.per_layout), "--seed", "9")
    run(f"{BIN}/make-sample", "--random-clip", f"{ROOT}/clip", "--clip-width", "1280", "--clip-layers", "1")
    sources = "\n".join(f"  - {{name: {n}, format: {f}, path: sample/{p}{extra}}}" for n, f, p, extra in [
        ("folder", "folder", "folder", ""), ("wds", "webdataset", "wds-subject-diffusion", ", layout: subject-diffusion"),
        ("jsonl", "jsonl", "lists/sample.jsonl", ""), ("coco", "coco", "coco", "")])
    open(f"{ROOT}/manifest.yaml", "w").write(f"name: bench\nsources:\n{sources}\n")
    open(f"{ROOT}/pipeline.yaml", "w").write(
        "name: bench\nbuild_dir: build\nmanifest: manifest.yaml\nunit_size: 64\n"
        "crop: {min_image_side: 200, min_box_area: 0.02}\nembed: {model: clip, batch: 32}\n")
    for stage in ["ingest", "tag", "crop", "embed"]:
        run(f"{BIN}/{stage}", "--pipeline", f"{ROOT}/pipeline.yaml", "--quiet")
    t0 = time.perf_counter()
    out = run(f"{BIN}/shard", "--pipeline", f"{ROOT}/pipeline.yaml", "--quiet")
    process_s = time.perf_counter() - t0
    import re
    write_s = float(re.search(r"time: ([\d.]+) s", out).group(1))
    build = f"{ROOT}/build"
    shard_files = sorted(os.path.join(build, "shards", f) for f in os.listdir(os.path.join(build, "shards")))
    total = sum(os.path.getsize(f) for f in shard_files)
    index = ShardIndex(build)
    ids = index.sample_ids()
    n = len(ids)

    # The same rows as a WebDataset tar of .npy files (one tar per shard), written once.
    tars = []
    for path in shard_files:
        tensors = load_file(path)
        meta = json.loads(json.dumps(__import__("safetensors").safe_open(path, "np").metadata()))
        names = meta["sample_ids"].split(",")
        tar_path = path.replace(".safetensors", ".tar")
        with tarfile.open(tar_path, "w") as tar:
            for r, sid in enumerate(names):
                for key, value in tensors.items():
                    if value.shape[0] != len(names):
                        continue  # shard-level tensors (zero_image_embeds [1, D]) are not per sample
                    buf = io.BytesIO(); np.save(buf, value[r]); data = buf.getvalue()
                    info = tarfile.TarInfo(f"{sid}.{key}.npy"); info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        tars.append(tar_path)
    tar_total = sum(os.path.getsize(t) for t in tars)

    def drop_nothing():  # both readers run with the page cache warm (files just written)
        pass

    rnd = random.Random(0)
    picks = [rnd.choice(ids) for _ in range(2000)]
    index2 = ShardIndex(build)
    t0 = time.perf_counter()
    for sid in picks:
        index2.row(sid)
    random_rate = len(picks) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    rows = 0
    for path in shard_files:
        t = load_file(path)
        rows += len(t["subject_count"])
    seq_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    tar_rows = 0
    for tar_path in tars:
        with tarfile.open(tar_path, "r") as tar:
            for member in tar:
                np.load(io.BytesIO(tar.extractfile(member).read()))
                if member.name.endswith(".has_canny.npy"):
                    tar_rows += 1
    tar_s = time.perf_counter() - t0

    # Random access in tars needs a scan (no index): time it on 50 picks.
    t0 = time.perf_counter()
    for sid in picks[:50]:
        shard, _, _ = index.location(sid)
        with tarfile.open(os.path.join(build, shard.replace(".safetensors", ".tar")), "r") as tar:
            for member in tar:
                if member.name.startswith(sid + "."):
                    np.load(io.BytesIO(tar.extractfile(member).read()))
    tar_random = 50 / (time.perf_counter() - t0)

    print(f"# Shards: {n} rows of width 1280 (f16), {len(shard_files)} shards, {total / 1e6:.1f} MB; page cache warm\n")
    print("| measure | ours (safetensors + SQLite index) | WebDataset tar of .npy |")
    print("|---|---|---|")
    print(f"| write | {total / 1e6 / write_s:.0f} MB/s (units: read features, interleave, write + fsync, record); "
          f"{total / 1e6 / process_s:.0f} MB/s whole process with start-up (hashing the model's weights) | - |")
    print(f"| size on disk | {total / 1e6:.1f} MB | {tar_total / 1e6:.1f} MB |")
    print(f"| random access by sample id | {random_rate:,.0f} samples/s | {tar_random:,.1f} samples/s (scan) |")
    print(f"| sequential read | {total / 1e9 / seq_s:.2f} GB/s ({rows / seq_s:,.0f} rows/s) | "
          f"{tar_total / 1e9 / tar_s:.2f} GB/s ({tar_rows / tar_s:,.0f} rows/s) |")


if __name__ == "__main__":
    main()
