#!/usr/bin/env python3
"""The crop stage against a Python reference of the same work, on photo-sized images.

Inputs: `make-sample --photos` scenes (each side 1024-2048 px, JPEG quality 90) in the folder
layout, with Subject-Diffusion-style JSON (mask list with value, label, logit, box) and an
instance-map PNG per image. Ours: `ingest` and `tag` once, then the `crop` stage alone timed on a
fresh copy of that build (whole process: decode, masks, the paper's filters, crops on white
padded square, PNG encode, files written atomically, catalog rows). Reference: Subject-Diffusion's
crop logic with Pillow + numpy on a pool of as many processes as cores: decode, the white-pixel
check, each mask from the instance map, its given box, area/fill/score filters, the subject on
white cut to its box and padded square, PNG at Pillow's default level 6, written to disk.
Reports samples/s for both and the ratio (goal: ours at least 3x).
Usage: python3 scripts/bench_crop.py [--images 40]   (after `swift build -c release`)"""
import argparse, hashlib, io, json, os, shutil, sqlite3, subprocess, time
from multiprocessing import Pool
import numpy as np
from PIL import Image

ROOT = "builds/bench/crop"
BIN = ".build/release"
MIN_SIDE, MAX_WHITE, MIN_BOX, MAX_BOX, MIN_FILL, MIN_SCORE, MAX_SUBJECTS = 1024, 0.1, 0.08, 0.7, 0.4, 0.3, 4


def reference_one(stem):
    out = []
    img = np.asarray(Image.open(stem + ".jpg").convert("RGB"))
    h, w = img.shape[:2]
    if min(h, w) < MIN_SIDE or (img >= 230).all(axis=2).mean() > MAX_WHITE:
        return 0
    instances = np.asarray(Image.open(stem + ".png"))
    meta = json.load(open(stem + ".json"))
    for m in meta["mask"]:
        if m["value"] == 0:
            continue
        x0, y0, x1, y1 = m["box"]
        mask = instances[y0:y1, x0:x1] == m["value"]
        area, box_area = int(mask.sum()), (x1 - x0) * (y1 - y0)
        ratio = box_area / (w * h)
        if area == 0 or m.get("logit", 1) < MIN_SCORE or not (MIN_BOX < ratio < MAX_BOX) or area / box_area < MIN_FILL:
            continue
        subject = np.where(mask[:, :, None], img[y0:y1, x0:x1], 255).astype(np.uint8)
        side = max(subject.shape[:2])
        square = np.full((side, side, 3), 255, np.uint8)
        oy, ox = (side - subject.shape[0]) // 2, (side - subject.shape[1]) // 2
        square[oy:oy + subject.shape[0], ox:ox + subject.shape[1]] = subject
        buf = io.BytesIO()
        Image.fromarray(square).save(buf, "PNG", compress_level=6)
        out.append(buf.getvalue())
    if not 1 <= len(out) <= MAX_SUBJECTS:
        return 0
    for png in out:
        path = os.path.join(ROOT, "reference-crops", hashlib.sha256(png).hexdigest()[:16] + ".png")
        with open(path + ".tmp", "wb") as f:
            f.write(png)
            f.flush()
            os.fsync(f.fileno())
        os.replace(path + ".tmp", path)
    return len(out)


def write_pipeline(name, build):
    path = os.path.join(ROOT, name)
    with open(path, "w") as f:
        f.write(f"name: bench-crop\nbuild_dir: {build}\nmanifest: manifest.yaml\nunit_size: 16\n")
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    args = ap.parse_args()
    os.makedirs(ROOT, exist_ok=True)
    sample = os.path.join(ROOT, "sample")
    if not os.path.exists(os.path.join(sample, "folder")) or len(os.listdir(os.path.join(sample, "folder"))) == 0 \
            or sum(len(fs) for _, _, fs in os.walk(os.path.join(sample, "folder"))) < 4 * args.images:
        subprocess.run([f"{BIN}/make-sample", "--output", sample, "--photos", "--per-layout", str(args.images),
                        "--layouts", "folder", "--seed", "11"], check=True, capture_output=True)
    with open(os.path.join(ROOT, "manifest.yaml"), "w") as f:
        f.write("name: photos\nsources:\n  - {name: folder, format: folder, path: sample/folder}\n")
    shutil.rmtree(os.path.join(ROOT, "build"), ignore_errors=True)
    base = write_pipeline("pipeline.yaml", "build")
    for stage in ["ingest", "tag"]:
        subprocess.run([f"{BIN}/{stage}", "--pipeline", base, "--quiet"], check=True, capture_output=True)
    stems = sorted(os.path.join(d, f[:-4]) for d, _, fs in os.walk(os.path.join(sample, "folder")) for f in fs if f.endswith(".jpg"))

    ours, crops = 0.0, 0
    for run in range(2):
        shutil.rmtree(os.path.join(ROOT, "build-run"), ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, "build"), os.path.join(ROOT, "build-run"))
        pipeline = write_pipeline("pipeline-run.yaml", "build-run")
        start = time.perf_counter()
        subprocess.run([f"{BIN}/crop", "--pipeline", pipeline, "--quiet"], check=True, capture_output=True)
        ours = max(ours, len(stems) / (time.perf_counter() - start))
        with sqlite3.connect(os.path.join(ROOT, "build-run", "catalog.sqlite")) as db:
            crops = db.execute("SELECT COUNT(*) FROM subjects WHERE status = 'ok'").fetchone()[0]

    theirs, kept = 0.0, 0
    for run in range(2):
        shutil.rmtree(os.path.join(ROOT, "reference-crops"), ignore_errors=True)
        os.makedirs(os.path.join(ROOT, "reference-crops"))
        start = time.perf_counter()
        with Pool(os.cpu_count()) as pool:
            kept = sum(pool.map(reference_one, stems))
        theirs = max(theirs, len(stems) / (time.perf_counter() - start))

    sizes = [Image.open(s + ".jpg").size for s in stems]
    megapixels = sum(w * h for w, h in sizes) / len(sizes) / 1e6
    print(f"# Crop stage on {len(stems)} photo-sized JPEGs (mean {megapixels:.1f} MP, quality 90), {os.cpu_count()} cores\n")
    print("| | samples/s | subjects cropped |")
    print("|---|---|---|")
    print(f"| ours: crop stage (whole process, catalog included) | {ours:.1f} | {crops} |")
    print(f"| Python reference (Pillow + numpy, {os.cpu_count()} processes) | {theirs:.1f} | {kept} |")
    print(f"\nours / reference: {ours / theirs:.2f}x")

    # The crops decode to the same pixels as the reference's, and what the PNG bytes cost.
    def decoded(folder):
        files = [os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(".png")]
        return {hashlib.sha256(np.asarray(Image.open(p).convert("RGB")).tobytes()).hexdigest(): os.path.getsize(p) for p in files}
    mine, reference = decoded(os.path.join(ROOT, "build-run", "objects", "crops")), decoded(os.path.join(ROOT, "reference-crops"))
    print(f"crops with identical pixels: {len(set(mine) & set(reference))} of {len(reference)}; "
          f"PNG bytes ours {sum(mine.values()) / 1e6:.2f} MB (zlib RLE strategy), reference {sum(reference.values()) / 1e6:.2f} MB (level 6)")


if __name__ == "__main__":
    main()
