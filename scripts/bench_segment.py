#!/usr/bin/env python3
"""CLIPSeg (the segment stage's model): ours (`encode --time`, release build, OpenBLAS) against
PyTorch CPU running transformers' CLIPSegForImageSegmentation on the same images and prompts, in
the same run, both on 2 threads. The model is a random-weight CLIPSeg of
CIDAS/clipseg-rd64-refined's full layout (ViT-B/16 vision tower at 352 px, 12 layers, extract
layers 3/6/9; written by `make-sample --random-clipseg`). Each image is segmented for 3 prompts,
as the stage does for 3 nouns: PyTorch is called as its users call it (one row per (image,
prompt) pair); ours encodes each image once, up to the deepest extract layer. Reports images/s,
the ratio, and each side's share of the sgemm bound (its own FLOPs per image / the measured
sgemm rate).

Then the segment stage end to end (`segment` on a build of the same photos, each caption naming 3-4
nouns: decode, preprocess, model, Kosmos-G post-processing, RLE, catalog) against the same work
in Python: Kosmos-G's loop (`convert_openimage.py`) with transformers' CLIPSegForImageSegmentation,
ViTImageProcessor, F.interpolate, scipy's grey_dilation and label, on the same prompts (token ids
from our tokenizer) and threads; the masks are compared pixel for pixel.
Usage: python3 scripts/bench_segment.py [--images 8] [--prompts 3]"""
import argparse, json, os, re, shutil, sqlite3, subprocess, time
import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file
from transformers import CLIPSegForImageSegmentation

ROOT = "builds/bench/segment"
BIN = ".build/release"


def layer_flops(tokens, d, f):
    return 2 * tokens * (4 * d * d + 2 * d * f) + 4 * tokens * tokens * d


def flops_per_pair(vision_layers, text_tokens, prompts_share):
    """FLOPs of one (image, prompt) pair when the vision pass (of `vision_layers` layers) is shared by
    `prompts_share` prompts: vision / share + text + decoder + head."""
    t = 22 * 22 + 1
    vision = vision_layers * layer_flops(t, 768, 3072) + 2 * (t - 1) * 3 * 16 * 16 * 768
    text = 12 * layer_flops(text_tokens, 512, 2048) + 2 * 512 * 512
    decoder = 3 * (2 * t * 768 * 64 + layer_flops(t, 64, 2048))
    head = 2 * 22 * 22 * 64 * 64 * 9 + 2 * 22 * 22 * 64 * 32 * 16 + 2 * 88 * 88 * 32 * 16
    return vision / prompts_share + text + decoder + head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(ROOT, exist_ok=True)
    model_dir = os.path.join(ROOT, "clipseg-rd64-refined-random")
    if not os.path.exists(os.path.join(model_dir, "model.safetensors")):
        subprocess.run([f"{BIN}/make-sample", "--random-clipseg", model_dir, "--clipseg-width", "768", "--clipseg-layers", "12",
                        "--output", os.path.join(ROOT, "unused")], check=True, capture_output=True)
    rng = np.random.RandomState(0)
    files = []
    for i in range(args.images):
        y, x = np.mgrid[0:480, 0:640]
        img = np.stack([(x * (i + 1) % 256), (y * 3 % 256), ((x + y) * 2 % 256)], -1).astype(np.uint8)
        img = np.clip(img.astype(int) + rng.randint(-20, 20, img.shape), 0, 255).astype(np.uint8)
        path = os.path.join(ROOT, f"photo-{i}.jpg")
        Image.fromarray(img).save(path, quality=90)
        files += [path] * args.prompts
    pv = os.path.join(ROOT, "pixel_values.safetensors")
    subprocess.run([f"{BIN}/preprocess", "--recipe", "clipseg", "--output", pv, *files], check=True, capture_output=True)
    n, length = len(files), 8
    ids = np.zeros((n, length), np.int64)
    mask = np.zeros((n, length), np.int64)
    for r in range(n):
        words = 1 + r % 3
        row = [49406] + list(rng.randint(1000, 40000, words)) + [49407]
        ids[r, :len(row)], mask[r, :len(row)] = row, 1
    ids_path = os.path.join(ROOT, "input_ids.safetensors")
    save_file({"input_ids": ids, "attention_mask": mask}, ids_path)

    peak = float(re.search(r"([\d.]+) GFLOP/s", subprocess.run([f"{BIN}/encode", "--model", "-", "--output", "-", "--sgemm-peak",
                                                                "--threads", "2"], capture_output=True, text=True,
                                                               check=True).stdout).group(1))
    def ours_rate(precision, output):
        best = 0.0
        for _ in range(2):
            out = subprocess.run([f"{BIN}/encode", "--model", model_dir, "--input-ids", ids_path, "--pixel-values", pv, "--time",
                                  "--threads", "2", "--batch", str(n), "--precision", precision, "--output", os.path.join(ROOT, output)],
                                 capture_output=True, text=True, check=True).stdout
            best = max(best, float(re.search(r"([\d.]+) rows/s", out).group(1)) / args.prompts)
        return best
    ours = ours_rate("f32", "logits.safetensors")
    ours16 = ours_rate("bf16", "logits-bf16.safetensors")
    on_onednn = "(the bf16 engine)" in subprocess.run([f"{BIN}/encode", "--model", "-", "--output", "-", "--sgemm-peak", "--threads", "1"],
                                                        capture_output=True, text=True, check=True).stdout

    torch.set_num_threads(2)
    from safetensors.numpy import load_file
    pixels = torch.from_numpy(load_file(pv)["pixel_values"])
    model = CLIPSegForImageSegmentation.from_pretrained(model_dir).eval()
    inputs = dict(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), pixel_values=pixels)
    with torch.inference_mode():
        reference = model(**inputs).logits
        theirs = 0.0
        for _ in range(2):
            start = time.perf_counter()
            model(**inputs)
            theirs = max(theirs, args.images / (time.perf_counter() - start))
        theirs16 = 0.0
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(**inputs)
            for _ in range(2):
                start = time.perf_counter()
                model(**inputs)
                theirs16 = max(theirs16, args.images / (time.perf_counter() - start))
    ours_logits = torch.from_numpy(load_file(os.path.join(ROOT, "logits.safetensors"))["logits"])
    spread = float(reference.max() - reference.min())
    error = float((ours_logits - reference).abs().max()) / spread

    ours_flops = args.prompts * flops_per_pair(10, length, args.prompts)
    their_flops = args.prompts * flops_per_pair(12, length, 1)
    print(f"# CLIPSeg rd64-refined layout (random weights), {args.images} images of 640x480 x {args.prompts} prompts, "
          f"2 threads; sgemm measured {peak:.1f} GFLOP/s (2 threads)\n")
    print("| | images/s | GFLOP per image | % of sgemm bound |")
    print("|---|---|---|---|")
    print(f"| ours (one vision pass per image, layers 0-9) | {ours:.2f} | {ours_flops / 1e9:.1f} | {100 * ours * ours_flops / 1e9 / peak:.0f} % |")
    print(f"| PyTorch CLIPSegForImageSegmentation (one row per pair) | {theirs:.2f} | {their_flops / 1e9:.1f} | "
          f"{100 * theirs * their_flops / 1e9 / peak:.0f} % |")
    print(f"| ours bf16 ({'oneDNN' if on_onednn else 'fallback'}) | {ours16:.2f} | {ours_flops / 1e9:.1f} | |")
    print(f"| PyTorch under autocast bf16 | {theirs16:.2f} | {their_flops / 1e9:.1f} | |")
    print(f"\nours / PyTorch: {ours / theirs:.2f}x images/s in f32, {ours16 / theirs16:.2f}x in bf16 (ours bf16 / ours f32 "
          f"{ours16 / ours:.2f}x); f32 logits agree within {error:.1e} of their spread")
    stage_bench(model, model_dir, args.images)


CAPTIONS = ["a photo of a dog, a red couch and a lamp", "a cat next to a bicycle and a tree",
            "a mug, a book and a clock on a table", "a car parked by a house with a fence"]


def rle_decode(counts, h, w):
    """pycocotools' rleFrString + rleDecode (column-major)."""
    values, p, s = [], 0, counts.encode()
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = s[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(values) > 2:
            x += values[-2]
        values.append(x)
    flat = np.zeros(h * w, np.uint8)
    i, v = 0, 0
    for run in values:
        flat[i:i + run] = v
        i += run
        v ^= 1
    return flat.reshape(w, h).T


def kosmos_g_mask(logits, height, width):
    """convert_openimage.py's post-processing of one prompt's logits."""
    import scipy.ndimage
    import torch.nn.functional as F
    probs = torch.sigmoid(F.interpolate(logits[None, None], size=(height, width), mode="bilinear")[0, 0]).numpy()
    mask = (probs > 0.3).astype(np.uint8)
    mask = scipy.ndimage.grey_dilation(mask, size=(max(1, height // 100), max(1, width // 100)))
    labels, count = scipy.ndimage.label(mask)
    if count == 0:
        return mask, 0.0
    sizes = np.bincount(labels.ravel())[1:]
    mask = (labels == 1 + int(np.argmax(sizes))).astype(np.uint8)
    return mask, float(probs[mask > 0].mean())


def stage_bench(model, model_dir, images):
    from transformers import ViTImageProcessor
    root = os.path.abspath(os.path.join(ROOT, "stage"))
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "data"))
    for i in range(images):
        shutil.copy(os.path.join(ROOT, f"photo-{i}.jpg"), os.path.join(root, "data", f"photo-{i}.jpg"))
        with open(os.path.join(root, "data", f"photo-{i}.txt"), "w") as f:
            f.write(CAPTIONS[i % len(CAPTIONS)])
    with open(os.path.join(root, "manifest.yaml"), "w") as f:
        f.write("name: bench\nsources:\n  - {name: photos, format: folder, path: data}\n")
    pipeline = os.path.join(root, "pipeline.yaml")
    with open(pipeline, "w") as f:
        f.write(f"name: bench-segment\nbuild_dir: build\nmanifest: manifest.yaml\nunit_size: 1000\n"
                f"segment: {{enabled: true, model: {os.path.abspath(model_dir)}, max_nouns: 8, threads: 2, batch: 8}}\n")
    for stage in ["ingest", "tag"]:
        subprocess.run([f"{BIN}/{stage}", "--pipeline", pipeline, "--quiet"], check=True, capture_output=True)
    ours = 0.0
    for attempt in range(2):
        if attempt:
            subprocess.run(["sqlite3", os.path.join(root, "build/catalog.sqlite"), "DELETE FROM units WHERE stage = 'segment'"], check=True)
        start = time.perf_counter()
        out = subprocess.run([f"{BIN}/segment", "--pipeline", pipeline, "--quiet"], check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - start
        ours = max(ours, images / float(re.search(r"time: ([\d.]+) s", out).group(1)))
    db = sqlite3.connect(os.path.join(root, "build/catalog.sqlite"))
    rows = db.execute("""SELECT e.source_key, n.text, a.data_json FROM nouns n JOIN entries e ON e.sample_id = n.sample_id
                         LEFT JOIN added_masks a ON a.sample_id = n.sample_id AND a.k = 1000000 + n.idx
                         ORDER BY e.position, n.idx""").fetchall()
    prompts = {}
    for key, text, data in rows:
        prompts.setdefault(key, []).append((text, data))
    texts = [t for key in sorted(prompts) for t, _ in prompts[key]]
    tokens = [json.loads(line) for line in subprocess.run([f"{BIN}/tokenize"], input="\n".join(texts) + "\n", check=True,
                                                          capture_output=True, text=True).stdout.splitlines()]
    processor = ViTImageProcessor(size={"height": 352, "width": 352}, resample=Image.BILINEAR,
                                  image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    theirs, same, total = 0.0, 0, 0
    for attempt in range(2):
        start, row = time.perf_counter(), 0
        results = []
        for key in sorted(prompts):
            image = Image.open(os.path.join(root, "data", key + ".jpg")).convert("RGB")
            n = len(prompts[key])
            ids = torch.tensor([tokens[row + j]["ids"] for j in range(n)])
            mask = torch.tensor([tokens[row + j]["attention_mask"] for j in range(n)])
            row += n
            pixels = processor(images=[image] * n, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=mask, pixel_values=pixels).logits.reshape(n, 352, 352)
            results.append([kosmos_g_mask(logits[j], image.height, image.width) for j in range(n)])
        theirs = max(theirs, images / (time.perf_counter() - start))
    for key, found in zip(sorted(prompts), results):
        for (text, data), (mask, _) in zip(prompts[key], found):
            total += 1
            if data is None:
                same += int(mask.sum() == 0)
                continue
            rle = json.loads(data)
            same += int(np.array_equal(rle_decode(rle["counts"], *rle["size"]), mask))
    print(f"\n# The segment stage end to end: {images} photos of 640x480, 3-4 nouns each ({total} pairs), 2 threads\n")
    print("| | images/s |")
    print("|---|---|")
    print(f"| ours: `segment` (decode, preprocess, CLIPSeg, Kosmos-G post-processing, RLE, catalog) | {ours:.2f} "
          f"(whole command {images / wall:.2f}, with loading and hashing the weights) |")
    print(f"| Kosmos-G's loop: PIL + ViTImageProcessor + CLIPSegForImageSegmentation + F.interpolate + scipy | {theirs:.2f} |")
    print(f"\nours / Python: {ours / theirs:.2f}x images/s; masks identical for {same} of {total} (image, noun) pairs")


if __name__ == "__main__":
    main()
