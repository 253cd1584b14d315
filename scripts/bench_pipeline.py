#!/usr/bin/env python3
"""The whole pipeline on photo-sized data: ingest → tag → crop → embed → shard on `make-sample
--photos` scenes (each side 1024-2048 px, JPEG quality 90, masks and captions in every input
layout), embed with a random-weight CLIP of ViT-B/32's layout (transformers' default CLIPConfig) in
float32, or with --precision bf16 on the bf16 engine. Each stage runs as its own command, as `make dataset` runs them; reports each stage's
wall time, samples/s per core and peak memory (the process's maximum resident set), and the
end-to-end rate as a share of the embed stage's alone (goal: at least 85 %).
Usage: python3 scripts/bench_pipeline.py [--per-layout 286] [--precision bf16]   (7 layouts x 286 = 2,002 scenes;
the drawn sample is kept under builds/bench/pipeline/sample and reused)"""
import argparse, os, re, shutil, subprocess, sys, time

from bench_photos import PER_LAYOUT, photo_sample

ROOT = "builds/bench/pipeline"
BIN = ".build/release"
STAGES = ["ingest", "tag", "crop", "embed", "shard"]


def b32():
    path = os.path.abspath("builds/bench/models/clip-vit-b32")
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        # In a child process: torch in this one would count in every stage's peak memory (a forked
        # child starts with its parent's resident pages).
        subprocess.run([sys.executable, "-c", "import sys, torch; from transformers import CLIPConfig, CLIPModel; torch.manual_seed(0); "
                        "CLIPModel(CLIPConfig()).eval().save_pretrained(sys.argv[1], safe_serialization=True)", path], check=True)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-layout", type=int, default=PER_LAYOUT)
    ap.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    args = ap.parse_args()
    os.makedirs(ROOT, exist_ok=True)
    photo_sample(args.per_layout)  # the manifest below names its layouts under sample/
    model = b32()
    with open(os.path.join(ROOT, "manifest.yaml"), "w") as f:
        f.write("name: photos\nsources:\n")
        for name, extra in [("folder", "format: folder, path: sample/folder"),
                            ("wds-img2dataset", "format: webdataset, path: sample/wds-img2dataset, layout: img2dataset"),
                            ("wds-subject-diffusion", "format: webdataset, path: sample/wds-subject-diffusion, layout: subject-diffusion"),
                            ("jsonl", "format: jsonl, path: sample/lists/sample.jsonl"), ("csv", "format: csv, path: sample/lists/sample.csv"),
                            ("tsv", "format: tsv, path: sample/lists/sample.tsv"), ("coco", "format: coco, path: sample/coco")]:
            f.write(f"  - {{name: {name}, {extra}}}\n")
    pipeline = os.path.join(ROOT, "pipeline.yaml")
    with open(pipeline, "w") as f:
        f.write(f"name: bench-pipeline\nbuild_dir: build\nmanifest: manifest.yaml\nunit_size: 250\n"
                f"embed: {{model: {model}, batch: 32, precision: {args.precision}}}\n")
    shutil.rmtree(os.path.join(ROOT, "build"), ignore_errors=True)
    cores = os.cpu_count()
    results = {}
    for stage in STAGES:
        log = os.path.join(ROOT, f"{stage}.log")
        with open(log, "w") as output:
            start = time.perf_counter()
            process = subprocess.Popen([f"{BIN}/{stage}", "--pipeline", pipeline, "--quiet"], stdout=output, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - start
        out = open(log).read()
        if status != 0:
            raise SystemExit(f"{stage} failed: {out[-2000:]}")
        items = int(re.search(r"items: (\d+) in", out).group(1))
        results[stage] = (wall, items, usage.ru_maxrss / 1024)
    total = sum(r[0] for r in results.values())
    entries = results["ingest"][1]
    print(f"# The pipeline on {entries} photo-sized entries (1024-2048 px, every input layout), "
          f"ViT-B/32 layout {args.precision} (random weights), {cores} cores\n")
    print("| stage | items | wall s | items/s per core | peak memory MiB |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        wall, items, peak = results[stage]
        print(f"| {stage} | {items} | {wall:.1f} | {items / wall / cores:.1f} | {peak:.0f} |")
    embed = results["embed"][0]
    print(f"\nend to end {total:.1f} s ({entries / total:.1f} entries/s), embed alone {embed:.1f} s ({entries / embed:.1f} entries/s): "
          f"end to end at {100 * embed / total:.1f} % of the embed-only rate (goal 85 %)")


if __name__ == "__main__":
    main()
