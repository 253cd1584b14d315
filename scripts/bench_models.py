#!/usr/bin/env python3
"""CLIP encoders: ours (`encode --time`, release build, OpenBLAS) against PyTorch CPU on the same
machine in the same run, both on 2 threads, on full-size random-weight models saved as Hugging
Face directories under builds/bench/models (made here with transformers on first use).
Reports images (texts)/s, the ratio, and the fraction of the sgemm-bound rate (model FLOPs /
the measured sgemm GFLOP/s). With --bigg also the peak memory of ViT-bigG/14 vision against its
weight size.  Usage: python3 scripts/bench_models.py [--rows 32] [--bigg]"""
import argparse, os, re, resource, subprocess, time
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection

ROOT = "builds/bench/models"
ENCODE = ".build/release/encode"


def vision_flops(d, f, layers, patch, size, projection):
    t = (size // patch) ** 2 + 1
    per_layer = 2 * t * (4 * d * d + 2 * d * f) + 4 * t * t * d
    return layers * per_layer + 2 * (t - 1) * 3 * patch * patch * d + 2 * d * projection


def text_flops(d, f, layers, tokens, projection):
    return layers * (2 * tokens * (4 * d * d + 2 * d * f) + 4 * tokens * tokens * d) + 2 * d * projection


def make(name, build):
    path = os.path.join(ROOT, name)
    if not os.path.exists(os.path.join(path, "model.safetensors")):
        print(f"making {path} (random weights) ...", flush=True)
        torch.manual_seed(0)
        model = build().eval()
        model.save_pretrained(path, safe_serialization=True)
        del model
    return path


# The machine's own OpenBLAS setting, and (where the environment pins OPENBLAS_CORETYPE, as this
# project's machines do on processors that Debian's OpenBLAS 0.3.21 misdetects) the kernels
# OpenBLAS picks by itself with both variables unset, in this command alone: on an AVX-512 CPU
# that is the instruction set PyTorch's oneDNN uses. Tests and stages never change the setting.
NATIVE_ENV = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}


def ours(args, env=None, out_path="/tmp/bench-out.safetensors", tries=3):
    """Best of `tries` timed passes (each after a warm-up pass), as for PyTorch below."""
    best = 0.0
    for _ in range(tries):
        out = subprocess.run([ENCODE, "--time", "--threads", "2", "--batch", "16", *args, "--output", out_path],
                             capture_output=True, text=True, check=True, env=env).stdout
        best = max(best, float(re.search(r"([\d.]+) rows/s", out).group(1)))
    return best


def sgemm(env=None):
    out = subprocess.run([ENCODE, "--model", "-", "--output", "-", "--sgemm-peak", "--threads", "2"],
                         capture_output=True, text=True, check=True, env=env).stdout
    return float(re.search(r"([\d.]+) GFLOP/s", out).group(1)), re.search(r"OpenBLAS kernels (\S+)", out).group(1)


def max_rel(a_path, b_path):
    from safetensors.numpy import load_file as load_np
    import numpy as np
    a, b = load_np(a_path), load_np(b_path)
    worst = 0.0
    for name in a:
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        worst = max(worst, float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)))
    return worst


def torch_rate(fn, rows, tries=3):
    """Best of `tries` timed passes after a warm-up pass."""
    with torch.no_grad():
        fn()
        best = float("inf")
        for _ in range(tries):
            t0 = time.perf_counter(); fn(); best = min(best, time.perf_counter() - t0)
    return rows / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--bigg", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(ROOT, exist_ok=True)
    peak, core = sgemm()
    native_peak, native_core = sgemm(NATIVE_ENV)
    second = native_core != core
    n = args.rows
    b32 = make("clip-vit-b32", lambda: CLIPModel(CLIPConfig()))
    l14 = make("clip-vit-l14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24, patch_size=14,
        image_size=224, projection_dim=768)))
    g = torch.Generator().manual_seed(0)
    inputs = "/tmp/bench-inputs.safetensors"
    ids = torch.randint(1, 49405, (n, 77), generator=g); ids[:, 0] = 49406; ids[:, -1] = 49407
    save_file({"pixel_values": torch.randn(n, 3, 224, 224, generator=g), "input_ids": ids,
               "attention_mask": torch.ones(n, 77, dtype=torch.int64)}, inputs)
    from safetensors.torch import load_file
    x = load_file(inputs)
    rows = []

    def both(args):
        mine = ours(args)
        if not second:
            return mine, None, None
        mine2 = ours(args, NATIVE_ENV, "/tmp/bench-out-native.safetensors")
        return mine, mine2, max_rel("/tmp/bench-out-native.safetensors", "/tmp/bench-out.safetensors")
    model = CLIPModel.from_pretrained(b32).eval()
    def batched(fn, t):
        return lambda: [fn(t[i:i + 16]) for i in range(0, n, 16)]
    rows.append(("ViT-B/32 vision", "images", vision_flops(768, 3072, 12, 32, 224, 512),
                 both(["--model", b32, "--pixel-values", inputs]),
                 torch_rate(batched(lambda p: model.get_image_features(pixel_values=p), x["pixel_values"]), n)))
    rows.append(("ViT-B/32 text (77 tokens)", "texts", text_flops(512, 2048, 12, 77, 512),
                 both(["--model", b32, "--input-ids", inputs]),
                 torch_rate(batched(lambda t: model.get_text_features(input_ids=t), x["input_ids"]), n)))
    del model
    model = CLIPVisionModelWithProjection.from_pretrained(l14).eval()
    rows.append(("ViT-L/14 vision", "images", vision_flops(1024, 4096, 24, 14, 224, 768),
                 both(["--model", l14, "--pixel-values", inputs]),
                 torch_rate(batched(lambda p: model(pixel_values=p).image_embeds, x["pixel_values"]), n)))
    del model
    print(f"# CLIP encoders, {n} rows, batch 16, 2 threads; sgemm measured {peak:.1f} GFLOP/s (2 threads, OpenBLAS {core} kernels)")
    print(f"# PyTorch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}\n")
    print("| model | unit | GFLOP per row | ours rows/s | PyTorch rows/s | ours / PyTorch | ours % of sgemm bound | PyTorch % of sgemm bound |")
    print("|---|---|---|---|---|---|---|---|")
    for name, unit, flops, (mine, _, _), ref in rows:
        bound = peak * 1e9 / flops
        print(f"| {name} | {unit} | {flops / 1e9:.2f} | {mine:.2f} | {ref:.2f} | {mine / ref:.2f}x | {100 * mine / bound:.0f} % | {100 * ref / bound:.0f} % |")
    if second:
        print(f"\nThe environment sets OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}. With it (and OPENBLAS_L2_SIZE) unset "
              f"for our command alone, OpenBLAS picks its {native_core} kernels: sgemm {native_peak:.1f} GFLOP/s. "
              "Outputs are compared with the run above (max relative error over all tensors).\n")
        print("| model | ours rows/s | PyTorch rows/s | ours / PyTorch | ours % of sgemm bound | PyTorch % of sgemm bound | max rel. diff to the run above |")
        print("|---|---|---|---|---|---|---|")
        for name, unit, flops, (_, mine, diff), ref in rows:
            bound = native_peak * 1e9 / flops
            print(f"| {name} ({native_core}) | {mine:.2f} | {ref:.2f} | {mine / ref:.2f}x | {100 * mine / bound:.0f} % | {100 * ref / bound:.0f} % | {diff:.1e} |")
    if args.bigg:
        bigg = make("clip-vit-bigg14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1664, intermediate_size=8192, num_attention_heads=16, num_hidden_layers=48, patch_size=14,
            image_size=224, projection_dim=1280, hidden_act="gelu")))
        weights = os.path.getsize(os.path.join(bigg, "model.safetensors"))
        run = subprocess.run(["/usr/bin/time", "-v", ENCODE, "--threads", "2", "--batch", "16", "--model", bigg,
                              "--pixel-values", inputs, "--output", "/tmp/bench-out.safetensors"], capture_output=True, text=True)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) * 1024
        print(f"\nViT-bigG/14 vision, {n} images, batch 16: peak RSS {rss / 2**30:.2f} GiB, weights {weights / 2**30:.2f} GiB, "
              f"weights + {(rss - weights) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
