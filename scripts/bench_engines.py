#!/usr/bin/env python3
"""The matrix engines on this host: our encoders in float32 (OpenBLAS) and bfloat16 (oneDNN's bf16
matmul where the measured rule takes it, else the fallback) against PyTorch CPU float32 and
torch.autocast("cpu", dtype=torch.bfloat16) on the same full-size random-weight models, the same
inputs (the DreamBench photos, or the photo-sized sample's JPEGs, preprocessed exactly by
`preprocess --recipe clip`; DreamBench prompts), the same batch and 2 threads each, in one run.
Each figure is also given as a share of its engine's measured peak on this host
(`encode --sgemm-peak`: 2048^3 sgemm and bf16 matmul on random data): model FLOPs x rows/s / peak.
Usage: python3 scripts/bench_engines.py [--bigg] [--tries 3]   (after `swift build -c release`)"""
import argparse, json, os, re, subprocess, sys, time
import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors.numpy import save_file
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_models import make, text_flops, vision_flops  # noqa: E402
from bench_bf16 import photos, prompts  # noqa: E402

BIN = ".build/release"
ROOT = "builds/bench/engines"


def peaks():
    out = subprocess.run([f"{BIN}/encode", "--model", "-", "--output", "-", "--sgemm-peak", "--threads", "2"],
                         capture_output=True, text=True, check=True).stdout
    f32 = float(re.search(r"sgemm: ([\d.]+) GFLOP/s", out).group(1))
    engine = re.search(r"f32 matmul: ([\d.]+) GFLOP/s .*\(the f32 engine", out)
    f32 = float(engine.group(1)) if engine else f32  # the engine that runs the layer products
    m = re.search(r"bf16 matmul: ([\d.]+) GFLOP/s .*?oneDNN (\S+)", out)
    return f32, (float(m.group(1)) if m else None), out.strip()


def ours(model, precision, batch, args, tries):
    best, line = 0.0, ""
    for _ in range(tries):
        run = subprocess.run([f"{BIN}/encode", "--time", "--threads", "2", "--batch", str(batch), "--model", model,
                              "--precision", precision, *args, "--output", f"{ROOT}/out.safetensors"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(run.stderr)
        rate = float(re.search(r"([\d.]+) rows/s", run.stdout).group(1))
        if rate > best:
            best, line = rate, run.stdout
    return best, line


def torch_rate(fn, inputs, batch, bf16, tries):
    """Best of `tries` timed passes over the inputs in batches, after a warm-up pass."""
    def once():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(inputs), batch):
                fn(inputs[i:i + batch])
    once()
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter(); once(); best = min(best, time.perf_counter() - t0)
    return len(inputs) / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bigg", action="store_true")
    ap.add_argument("--tries", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(ROOT, exist_ok=True)
    f32_peak, bf16_peak, engines = peaks()
    images = photos()
    rows = 64
    pixels = f"{ROOT}/pixel_values.safetensors"
    subprocess.run([f"{BIN}/preprocess", "--recipe", "clip", "--output", pixels, *images], check=True, capture_output=True)
    pv = load_file(pixels)["pixel_values"]
    pv = np.concatenate([pv] * (rows // len(pv) + 1))[:rows]
    save_file({"pixel_values": pv}, pixels)
    captions = f"{ROOT}/prompts.txt"
    lines = (prompts() * (rows // len(prompts()) + 1))[:rows]
    with open(captions, "w") as f:
        f.write("\n".join(lines) + "\n")
    tokens = subprocess.run([f"{BIN}/tokenize", captions], capture_output=True, text=True, check=True).stdout.splitlines()
    ids = torch.tensor([json.loads(t)["ids"] for t in tokens])
    pvt = torch.from_numpy(pv)

    b32 = make("clip-vit-b32", lambda: CLIPModel(CLIPConfig()))
    l14 = make("clip-vit-l14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24, patch_size=14,
        image_size=224, projection_dim=768)))
    few = f"{ROOT}/pixel_values_32.safetensors"
    save_file({"pixel_values": pv[:32]}, few)
    cases = []
    model = CLIPModel.from_pretrained(b32).eval()
    for batch in (16, 32):
        cases.append(("ViT-B/32 vision", batch, vision_flops(768, 3072, 12, 32, 224, 512), b32, ["--pixel-values", pixels],
                      lambda p: model.get_image_features(pixel_values=p), pvt))
        cases.append(("ViT-B/32 text", batch, text_flops(512, 2048, 12, 77, 512), b32, ["--text", captions],
                      lambda t: model.get_text_features(input_ids=t), ids))
    results = []
    def run(cases, tries):
        for name, batch, flops, path, extra, fn, inputs in cases:
            o32, line32 = ours(path, "f32", batch, extra, tries)
            o16, line16 = ours(path, "bf16", batch, extra, tries)
            t32 = torch_rate(fn, inputs, batch, False, tries)
            t16 = torch_rate(fn, inputs, batch, True, tries)
            results.append((name, batch, flops, o32, o16, t32, t16, line16))
    run(cases, args.tries)
    del model
    model = CLIPVisionModelWithProjection.from_pretrained(l14).eval()
    run([("ViT-L/14 vision", 16, vision_flops(1024, 4096, 24, 14, 224, 768), l14, ["--pixel-values", few],
          lambda p: model(pixel_values=p).image_embeds, pvt[:32])], 1)
    del model
    if args.bigg:
        bigg = make("clip-vit-bigg14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1664, intermediate_size=8192, num_attention_heads=16, num_hidden_layers=48, patch_size=14,
            image_size=224, projection_dim=1280, hidden_act="gelu")))
        four = f"{ROOT}/pixel_values_8.safetensors"
        save_file({"pixel_values": pv[:8]}, four)
        model = CLIPVisionModelWithProjection.from_pretrained(bigg).eval()
        run([("ViT-bigG/14 vision", 4, vision_flops(1664, 8192, 48, 14, 224, 1280), bigg, ["--pixel-values", four],
              lambda p: model(pixel_values=p).image_embeds, pvt[:8])], 1)
        del model

    cpu = open("/proc/cpuinfo").read()
    name = re.search(r"model name\s*: (.*)", cpu).group(1)
    print(f"# Matrix engines: ours against PyTorch {torch.__version__} (CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}), 2 threads each, same inputs and batch")
    print(f"# {name}; {engines.splitlines()[-1]}")
    print(f"# measured peaks (2048^3, random data, 2 threads): f32 engine {f32_peak:.1f} GFLOP/s, "
          f"bf16 matmul {bf16_peak if bf16_peak else 'none'} GFLOP/s")
    print("# " + "\n# ".join(engines.splitlines()[:-1]) + "\n")
    print("| model | batch | ours f32 | PyTorch f32 | ours / PyTorch f32 | ours bf16 | PyTorch bf16 | ours / PyTorch bf16 | "
          "ours bf16 / ours f32 | ours f32 % of f32 peak | PyTorch f32 % of f32 peak | ours bf16 % of bf16 peak | PyTorch bf16 % of bf16 peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, batch, flops, o32, o16, t32, t16, _ in results:
        share = lambda rate, peak: f"{100 * rate * flops / 1e9 / peak:.0f} %" if peak else "-"
        print(f"| {name} | {batch} | {o32:.2f} | {t32:.2f} | {o32 / t32:.2f}x | {o16:.2f} | {t16:.2f} | {o16 / t16:.2f}x | "
              f"{o16 / o32:.2f}x | {share(o32, f32_peak)} | {share(t32, f32_peak)} | {share(o16, bf16_peak)} | {share(t16, bf16_peak)} |")
    print("\nRates in rows (images or texts) per second, best of the timed passes after a warm-up pass; ours from "
          "`encode --time`, whose line names the engines:\n")
    print("    " + results[0][7].strip().splitlines()[0])


if __name__ == "__main__":
    main()
