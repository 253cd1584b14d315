#!/usr/bin/env python3
"""DreamBench scoring throughput: `evaluate` (release, 2 threads) against the Pillow + torch +
transformers reference script (Tests/EvaluationTests/Fixtures/reference_scores.py, 2 threads) on
the same images and full-size random-weight DINO ViT-S/16 and CLIP ViT-B/32, same machine, same
run. Both are timed as whole processes (model loading included) and must agree within 1e-4.
Usage: python3 scripts/bench_eval.py [--per-prompt 10]"""
import argparse, json, os, re, shutil, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
import bench_models as bm
import torch
from transformers import ViTConfig, ViTModel, CLIPConfig, CLIPModel

ROOT = "builds/bench/eval"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-prompt", type=int, default=10)
    args = ap.parse_args()
    shutil.rmtree(ROOT, ignore_errors=True)
    subprocess.run([".build/release/make-sample", "--dreambench", ROOT, "--seed", "4"], check=True, capture_output=True)
    gen = os.path.join(ROOT, "generated")
    n = 0
    for subject in os.listdir(gen):
        for prompt in os.listdir(os.path.join(gen, subject)):
            folder = os.path.join(gen, subject, prompt)
            sources = sorted(os.listdir(folder))
            for k in range(len(sources), args.per_prompt):
                shutil.copy(os.path.join(folder, sources[k % len(sources)]), os.path.join(folder, f"{k}.png"))
            n += len(os.listdir(folder))
    dino = bm.make("dino-vits16", lambda: ViTModel(ViTConfig(hidden_size=384, intermediate_size=1536, num_attention_heads=6,
                                                            num_hidden_layers=12, patch_size=16, image_size=224,
                                                            layer_norm_eps=1e-6), add_pooling_layer=False))
    clip = bm.make("clip-vit-b32", lambda: CLIPModel(CLIPConfig()))
    t0 = time.perf_counter()
    subprocess.run([".build/release/evaluate", "--dreambench", f"{ROOT}/dreambench", "--generated", gen, "--dino-model", dino,
                    "--clip-model", clip, "--output", f"{ROOT}/out", "--threads", "2"], check=True, capture_output=True)
    ours = time.perf_counter() - t0
    env = dict(os.environ, OMP_NUM_THREADS="2")
    script = "Tests/EvaluationTests/Fixtures/reference_scores.py"
    code = f"import torch; torch.set_num_threads(2); import runpy, sys; sys.argv={[script, f'{ROOT}/dreambench', gen, dino, clip, 'all_pairs']!r}; " \
           f"torch.set_num_threads = lambda n: None; runpy.run_path({script!r}, run_name='__main__')"
    t0 = time.perf_counter()
    ref = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    theirs = time.perf_counter() - t0
    report = json.load(open(f"{ROOT}/out/report.json"))
    reference = json.loads(ref)
    mean = lambda xs: sum(xs) / len(xs)
    by_subject = {}
    for r in reference:
        by_subject.setdefault(r["subject"], []).append(r["dino"])
    ref_dino = mean([mean(v) for v in by_subject.values()])
    ours_dino = report["overall"]["DINO"]["mean"]
    print(f"# DreamBench scoring: {n} generated images, 6 real, 3 subjects; full-size random DINO ViT-S/16 and CLIP ViT-B/32\n")
    print("| tool | seconds (whole process) | images/s | overall DINO |")
    print("|---|---|---|---|")
    print(f"| ours: evaluate (2 threads) | {ours:.2f} | {n / ours:.1f} | {ours_dino:.6f} |")
    print(f"| reference: Pillow + torch + transformers (2 threads) | {theirs:.2f} | {n / theirs:.1f} | {ref_dino:.6f} |")
    print(f"\nratio: {theirs / ours:.2f}x; overall DINO differs by {abs(ours_dino - ref_dino):.2e}")


if __name__ == "__main__":
    main()
