"""Reference outputs for the Imaging tests, from the libraries the pipeline must match.

Run from the repository root:
    pip install pillow numpy opencv-python-headless pycocotools transformers
    python3 Tests/ImagingTests/Fixtures/make_fixtures.py [--dreambench ../shared/data/dreambench/images]

Versions used for the committed files: Pillow 13.0.0, opencv-python-headless 5.0.0,
pycocotools 2.0, transformers 5.24.0 (CLIPImageProcessorPil, the PIL backend: the one that
resizes with Pillow as the original CLIP and the lambda-ECLIPSE code did), numpy 2.4.
Random inputs come from numpy.random.RandomState(12345).

The DINO recipe is torchvision's Resize(256, BICUBIC) + CenterCrop(224) + ToTensor + Normalize
on a PIL image. torchvision cannot be installed here, so the script applies its documented
steps directly: the new size int(256 * long / short), PIL resize with BICUBIC, crop offsets
int(round((h - 224) / 2)), float32 division by 255, float32 (x - mean) / std.
"""
import argparse, hashlib, json, os, sys
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(12345)


def save_png(array, name):
    Image.fromarray(array).save(os.path.join(HERE, name), optimize=True)


def synthetic(w, h, smooth):
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), ((x + y) * 127 // max(1, w + h))], -1)
    noise = rng.randint(0, 256, size=(h, w, 3))
    img = base if smooth else (base // 2 + noise // 2)
    return img.astype(np.uint8)


def sha(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def dino_crop(img):
    w, h = img.size
    short, long = min(w, h), max(w, h)
    new_long = int(256 * long / short)
    nw, nh = (256, new_long) if w <= h else (new_long, 256)
    r = img.resize((nw, nh), Image.BICUBIC)
    top = int(round((nh - 224) / 2.0))
    left = int(round((nw - 224) / 2.0))
    return np.asarray(r.crop((left, top, left + 224, top + 224)))


def dino_values(crop):
    t = crop.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]
    return (t - mean) / std


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dreambench", default="../shared/data/dreambench/images")
    args = parser.parse_args()
    import warnings
    warnings.filterwarnings("ignore")
    from transformers import CLIPImageProcessorPil, ViTImageProcessorPil
    import cv2
    from pycocotools import mask as cocomask

    manifest = {"resize": [], "recipes": [], "coco": [], "canny": [], "gray": [], "dreambench": []}

    # --- Pillow resize: every filter, shrinking and enlarging, odd sizes, a box.
    inputs = {"a": synthetic(97, 61, False), "b": synthetic(301, 173, True), "c": synthetic(40, 333, False)}
    for name, arr in inputs.items():
        save_png(arr, f"input_{name}.png")
    gray = synthetic(53, 47, False)[:, :, 0]
    save_png(gray, "input_gray.png")
    filters = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "lanczos": Image.LANCZOS,
               "box": Image.BOX, "hamming": Image.HAMMING}
    cases = [("a", 31, 20), ("a", 150, 90), ("b", 224, 128), ("b", 37, 301), ("c", 40, 100), ("c", 13, 17)]
    for name, w, h in cases:
        for fname, f in filters.items():
            out = np.asarray(Image.fromarray(inputs[name]).resize((w, h), f))
            file = f"resize_{name}_{w}x{h}_{fname}.png"
            save_png(out, file)
            manifest["resize"].append({"input": f"input_{name}.png", "width": w, "height": h, "filter": fname, "expected": file})
    boxed = np.asarray(Image.fromarray(inputs["b"]).resize((64, 48), Image.BICUBIC, box=(10.5, 20.25, 200.0, 150.75)))
    save_png(boxed, "resize_b_box.png")
    manifest["resize"].append({"input": "input_b.png", "width": 64, "height": 48, "filter": "bicubic",
                               "box": [10.5, 20.25, 200.0, 150.75], "expected": "resize_b_box.png"})
    g = np.asarray(Image.fromarray(gray).resize((20, 90), Image.BICUBIC))
    save_png(g, "resize_gray.png")
    manifest["resize"].append({"input": "input_gray.png", "width": 20, "height": 90, "filter": "bicubic", "expected": "resize_gray.png"})

    # --- Recipes: CLIP (HF PIL backend) and DINO (torchvision steps) on PNG and JPEG inputs.
    clip = CLIPImageProcessorPil()
    # CLIPSeg's image processor as CIDAS/clipseg-rd64-refined's preprocessor_config.json sets it.
    clipseg = ViTImageProcessorPil(size={"height": 352, "width": 352}, resample=Image.BILINEAR,
                                   image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    jpeg_input = synthetic(320, 240, True)
    Image.fromarray(jpeg_input).save(os.path.join(HERE, "input_photo.jpg"), quality=90)
    for file in ["input_a.png", "input_b.png", "input_c.png", "input_photo.jpg"]:
        img = Image.open(os.path.join(HERE, file)).convert("RGB")
        values = clip(images=img, return_tensors="np")["pixel_values"][0]
        d = dino_values(dino_crop(img))
        seg = clipseg(images=img, return_tensors="np")["pixel_values"][0]
        idx = rng.randint(0, values.size, size=300)
        seg_idx = np.random.RandomState(7).randint(0, seg.size, size=300)
        manifest["recipes"].append({
            "input": file,
            "decoded_sha256": sha(np.asarray(img)),
            "clip_sha256": sha(values.astype(np.float32)), "clip_index": idx.tolist(),
            "clip_values": [float(v) for v in values.reshape(-1)[idx]],
            "dino_sha256": sha(d.astype(np.float32)), "dino_values": [float(v) for v in d.reshape(-1)[idx]],
            "clipseg_sha256": sha(seg.astype(np.float32)), "clipseg_index": seg_idx.tolist(),
            "clipseg_values": [float(v) for v in seg.reshape(-1)[seg_idx]],
            "clipseg_resized_sha256": sha(np.asarray(img.resize((352, 352), Image.BILINEAR))),
        })

    # --- COCO: polygons (single and multi), RLE counts and strings, decoded by pycocotools.
    h, w = 37, 53
    segs = [
        [[3.2, 4.7, 40.1, 2.2, 48.9, 30.3, 10.5, 33.8]],
        [[0, 0, 52.9, 0, 52.9, 36.9, 0, 36.9]],
        [[5, 5, 20, 5, 12.5, 25], [30.4, 10.6, 45.5, 12.1, 44.0, 30.2, 28.7, 20.5, 35.3, 18.8]],
        [[20.5, 1.5, 21.5, 1.5, 21.5, 2.5]],
    ]
    for poly in segs:
        m = cocomask.decode(cocomask.merge(cocomask.frPyObjects(poly, h, w)))
        manifest["coco"].append({"segmentation": poly, "height": h, "width": w,
                                 "expected_rle": cocomask.encode(np.asfortranarray(m))["counts"].decode(),
                                 "area": int(m.sum())})
    for _ in range(3):
        m = (rng.rand(h, w) > 0.6).astype(np.uint8)
        rle = cocomask.encode(np.asfortranarray(m))
        counts = []
        flat = m.flatten(order="F")
        run, cur = 0, 0
        for v in flat:
            if v != cur:
                counts.append(run); run = 0; cur = v
            run += 1
        counts.append(run)
        manifest["coco"].append({"segmentation": {"size": [h, w], "counts": rle["counts"].decode()}, "height": h, "width": w,
                                 "expected_rle": rle["counts"].decode(), "area": int(m.sum())})
        manifest["coco"].append({"segmentation": {"size": [h, w], "counts": counts}, "height": h, "width": w,
                                 "expected_rle": rle["counts"].decode(), "area": int(m.sum())})

    # --- Gray conversion and Canny (cv2.Canny(gray, 100, 200)).
    for file in ["input_a.png", "input_b.png", "input_photo.jpg"]:
        rgb = np.asarray(Image.open(os.path.join(HERE, file)).convert("RGB"))
        g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        manifest["gray"].append({"input": file, "sha256": sha(g)})
        edges = cv2.Canny(g, 100, 200)
        out = f"canny_{os.path.splitext(file)[0]}.png"
        save_png(edges, out)
        manifest["canny"].append({"input": file, "low": 100, "high": 200, "expected": out})
    edges = cv2.Canny(np.asarray(Image.open(os.path.join(HERE, "input_b.png")).convert("L")), 30, 60)
    save_png(edges, "canny_b_30_60.png")
    manifest["canny"].append({"input": "input_b.png", "gray": "pillow", "low": 30, "high": 60, "expected": "canny_b_30_60.png"})

    # --- EXIF orientation: ImageOps.exif_transpose of a 7x5 JPEG saved with each orientation.
    from PIL import ImageOps
    small = synthetic(7, 5, False)
    manifest["exif"] = []
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        file = f"exif_{o}.jpg"
        Image.fromarray(small).save(os.path.join(HERE, file), quality=100, exif=exif.tobytes())
        upright = np.asarray(ImageOps.exif_transpose(Image.open(os.path.join(HERE, file))).convert("RGB"))
        manifest["exif"].append({"input": file, "orientation": o, "width": upright.shape[1], "height": upright.shape[0],
                                 "sha256": sha(upright)})

    # --- PNG variants (decoded to RGB: 16-bit keeps the high byte as libpng's strip_16 does,
    # alpha composited on white with rounding: (v*a + 255*(255-a) + 127) // 255) and a CMYK JPEG
    # (Pillow writes Adobe-inverted CMYK; its RGB conversion is R = 255 - min(255, C + K)).
    manifest["formats"] = []
    base = synthetic(23, 17, False)
    def white(rgb, a):
        return ((rgb.astype(np.int64) * a[..., None] + 255 * (255 - a[..., None]) + 127) // 255).astype(np.uint8)
    g16 = (base[..., 0].astype(np.uint16) * 257 + rng.randint(0, 256, base.shape[:2]).astype(np.uint16))
    Image.fromarray(g16).save(os.path.join(HERE, "fmt_gray16.png"))
    g = (g16 >> 8).astype(np.uint8)
    variants = {"fmt_gray16.png": np.stack([g, g, g], -1)}
    bits = (base[..., 0] > 127)
    Image.fromarray(bits).save(os.path.join(HERE, "fmt_gray1.png"))
    b = np.where(bits, 255, 0).astype(np.uint8)
    variants["fmt_gray1.png"] = np.stack([b, b, b], -1)
    alpha = base[..., 2]
    Image.fromarray(np.dstack([base, alpha])).save(os.path.join(HERE, "fmt_rgba.png"))
    variants["fmt_rgba.png"] = white(base, alpha.astype(np.int64))
    la = np.dstack([base[..., 0], alpha])
    Image.fromarray(la, "LA").save(os.path.join(HERE, "fmt_la.png"))
    variants["fmt_la.png"] = white(np.stack([base[..., 0]] * 3, -1), alpha.astype(np.int64))
    pal = Image.fromarray(base).quantize(16)
    pal.info["transparency"] = 3
    pal.save(os.path.join(HERE, "fmt_palette_trns.png"), transparency=3)
    prgb = np.asarray(pal.convert("RGB"))
    pa = np.where(np.asarray(pal) == 3, 0, 255).astype(np.int64)
    variants["fmt_palette_trns.png"] = white(prgb, pa)
    Image.fromarray(base).convert("CMYK").save(os.path.join(HERE, "fmt_cmyk.jpg"), quality=95)
    variants["fmt_cmyk.jpg"] = np.asarray(Image.open(os.path.join(HERE, "fmt_cmyk.jpg")).convert("RGB"))
    for file, expected in variants.items():
        manifest["formats"].append({"input": file, "sha256": sha(expected)})

    # --- The real DreamBench photos (hashes only; the photos stay in shared/).
    if os.path.isdir(args.dreambench):
        for file in sorted(os.listdir(args.dreambench)):
            if not file.endswith(".jpg"):
                continue
            img = Image.open(os.path.join(args.dreambench, file)).convert("RGB")
            values = clip(images=img, return_tensors="np")["pixel_values"][0]
            crop = dino_crop(img)
            gray_cv = cv2.imread(os.path.join(args.dreambench, file), cv2.IMREAD_GRAYSCALE)
            manifest["dreambench"].append({
                "file": file, "decoded_sha256": sha(np.asarray(img)),
                "clip_sha256": sha(values.astype(np.float32)),
                "clip_sum": float(values.astype(np.float64).sum()),
                "dino_crop_sha256": sha(crop),
                "imread_gray_sha256": sha(gray_cv), "canny_sha256": sha(cv2.Canny(gray_cv, 100, 200)),
            })
    with open(os.path.join(HERE, "fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", len(manifest["resize"]), "resize,", len(manifest["recipes"]), "recipe,", len(manifest["coco"]), "coco,",
          len(manifest["canny"]), "canny,", len(manifest["dreambench"]), "dreambench cases")


if __name__ == "__main__":
    main()
