#!/usr/bin/env python3
"""bf16 encoders: fidelity, memory and time of `encode --precision bf16` against `--precision f32`
on full-size random-weight CLIP layouts (ViT-B/32 with its text tower, ViT-L/14 vision, and with
--bigg ViT-bigG/14 vision), all from the same inputs in the same run: the DreamBench photos (or
the photo-sized sample's first 30 JPEGs) preprocessed exactly by `preprocess --recipe clip`, and
the DreamBench prompts. Reports the cosine between bf16 and f32 embeddings (mean and worst), how
many photos keep their nearest neighbour among the others, each run's peak memory and time, and
for reference the same cosine for PyTorch under torch.autocast("cpu", dtype=torch.bfloat16)
against PyTorch f32 (bigG: ours only). Our bf16 runs on the engine this CPU's measured rule picks
(oneDNN's bf16 matmul, or the float32 fallback; `encode` says which on stderr, quoted below);
speed against PyTorch is scripts/bench_engines.py's.
Usage: python3 scripts/bench_bf16.py [--bigg]   (after `swift build -c release`)"""
import argparse, json, os, re, subprocess, sys, time
import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_models import make  # noqa: E402
from bench_photos import photo_files  # noqa: E402

BIN = ".build/release"
ROOT = "builds/bench/bf16"


def photos():
    folder = "../shared/data/dreambench/images"
    if os.path.isdir(folder):
        return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".jpg")]
    return photo_files(30)


def prompts():
    path = "../shared/data/dreambench/prompts_and_classes.txt"
    lines = []
    if os.path.exists(path):
        lines = re.findall(r"'([^']*\{0\}[^']*)'", open(path).read())
        lines = [l.replace("{0}", "sks").replace("{1}", "dog") for l in lines]
    return lines[:25] or [f"a photo of object number {i}" for i in range(25)]


def encode(model, precision, args):
    out = os.path.join(ROOT, f"out-{os.path.basename(model)}-{precision}.safetensors")
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v", f"{BIN}/encode", "--threads", "2", "--batch", "16", "--model", model,
                          "--precision", precision, *args, "--output", out], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(run.stderr)
    seconds = time.perf_counter() - start
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) / 2**20
    return load_file(out), seconds, rss


def cosines(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def neighbours(e):
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    s = e @ e.T
    np.fill_diagonal(s, -np.inf)
    return s.argmax(1)


def row(name, what, f32, bf16, reference=None):
    c = cosines(f32, bf16)
    same = (neighbours(f32) == neighbours(bf16)).mean() if what == "image" else float("nan")
    ref = ""
    if reference is not None:
        r = cosines(*reference)
        ref = f"{r.mean():.6f} / {r.min():.6f}"
    nn = f"{100 * same:.0f} %" if what == "image" else "-"
    return f"| {name} | {what} ({len(c)}) | {c.mean():.7f} | {c.min():.7f} | {nn} | {ref or '-'} |"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bigg", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(ROOT, exist_ok=True)
    images = photos()
    pixels = os.path.join(ROOT, "pixel_values.safetensors")
    subprocess.run([f"{BIN}/preprocess", "--recipe", "clip", "--output", pixels, *images], check=True, capture_output=True)
    captions = os.path.join(ROOT, "prompts.txt")
    with open(captions, "w") as f:
        f.write("\n".join(prompts()) + "\n")
    tokens = subprocess.run([f"{BIN}/tokenize", captions], capture_output=True, text=True, check=True).stdout.splitlines()
    ids = torch.tensor([json.loads(t)["ids"] for t in tokens])
    pv = torch.from_numpy(load_file(pixels)["pixel_values"])

    b32 = make("clip-vit-b32", lambda: CLIPModel(CLIPConfig()))
    l14 = make("clip-vit-l14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=24, patch_size=14,
        image_size=224, projection_dim=768)))
    models = [("ViT-B/32", b32, ["--pixel-values", pixels, "--text", captions], len(images)),
              ("ViT-L/14 vision", l14, ["--pixel-values", pixels], len(images))]
    if args.bigg:
        bigg = make("clip-vit-bigg14-vision", lambda: CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=1664, intermediate_size=8192, num_attention_heads=16, num_hidden_layers=48, patch_size=14,
            image_size=224, projection_dim=1280, hidden_act="gelu")))
        few = os.path.join(ROOT, "pixel_values_few.safetensors")
        subprocess.run([f"{BIN}/preprocess", "--recipe", "clip", "--output", few, *images[:10]], check=True, capture_output=True)
        models.append(("ViT-bigG/14 vision", bigg, ["--pixel-values", few], 10))

    lines, costs, speeds = [], [], []
    for name, path, extra, n in models:
        f32, t32, m32 = encode(path, "f32", extra)
        bf16, t16, m16 = encode(path, "bf16", extra)
        weights = os.path.getsize(os.path.join(path, "model.safetensors")) / 2**30
        costs.append(f"| {name} | {weights:.2f} | {m32:.2f} | {m16:.2f} | {t32:.1f} | {t16:.1f} |")
        reference = {}
        if "bigG" not in name:
            with torch.no_grad():
                if name == "ViT-B/32":
                    model = CLIPModel.from_pretrained(path).eval()
                    img = lambda: model.get_image_features(pixel_values=pv)
                    txt = lambda: model.get_text_features(input_ids=ids)
                else:
                    model = CLIPVisionModelWithProjection.from_pretrained(path).eval()
                    img = lambda: model(pixel_values=pv).image_embeds
                    txt = None
                def pooled(v):
                    return (v.pooler_output if hasattr(v, "pooler_output") else v).float().numpy()
                start = time.perf_counter()
                plain = pooled(img())
                torch_f32 = time.perf_counter() - start
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    start = time.perf_counter()
                    half = pooled(img())
                    torch_bf16 = time.perf_counter() - start
                reference["image"] = (plain, half)
                label = name if "vision" in name else name + " vision"
                speeds.append(f"| {label} | {n} | {torch_f32:.1f} | {torch_bf16:.1f} |")
                if txt:
                    plain_t = pooled(txt())
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        half_t = pooled(txt())
                    reference["text"] = (plain_t, half_t)
                del model
        lines.append(row(name, "image", f32["image_embeds"], bf16["image_embeds"], reference.get("image")))
        if "text_embeds" in f32:
            lines.append(row(name, "text", f32["text_embeds"], bf16["text_embeds"], reference.get("text")))
    cpu = "has" if "avx512_bf16" in open("/proc/cpuinfo").read() else "has no"
    notice = subprocess.run([f"{BIN}/encode", "--model", b32, "--pixel-values", pixels, "--precision", "bf16", "--batch", "1",
                             "--output", os.path.join(ROOT, "notice.safetensors")], capture_output=True, text=True).stderr.strip()
    print(f"# bf16 against f32, random-weight full-size layouts, {len(images)} photos, {len(prompts())} prompts, 2 threads")
    print(f"# this CPU {cpu} AVX512-BF16; PyTorch {torch.__version__}")
    print(f"# {notice}\n")
    print("| model | embeddings | ours: mean cosine bf16 vs f32 | worst | same nearest photo | PyTorch autocast bf16 vs f32: mean / worst |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))
    print("\n| model | weights GiB (f32 file) | peak RSS f32 GiB | peak RSS bf16 GiB | f32 s | bf16 s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(costs))
    print("\nPyTorch on the same images, one batch, 2 threads (the forward pass alone):\n")
    print("| model | images | PyTorch f32 s | PyTorch autocast bf16 s |")
    print("|---|---|---|---|")
    print("\n".join(speeds))


if __name__ == "__main__":
    main()
