#!/usr/bin/env python3
"""Reference masks for the segment stage's post-processing: the Kosmos-G recipe
(microsoft/unilm kosmos-g/scripts/convert_openimage.py) on random smooth CLIPSeg-like logits.

    pip install torch==2.13.0+cpu numpy scipy safetensors
    python3 Tests/ImagingTests/Fixtures/make_segment_fixtures.py

Per case: logits [h, w] upsampled to the image size with torch's bilinear interpolation
(align_corners=False), sigmoid, mask = p > threshold, scipy.ndimage.grey_dilation with size
(H // 100, W // 100) (each axis at least 1), scipy.ndimage.label (4-connectivity) keeping the
component with the most pixels (the first such label on a tie), and the mean probability inside
the final mask. Written: segment_cases.safetensors (logits_i float32, mask_i uint8) and
segment_cases.json (sizes, thresholds, scores). Versions used: torch 2.13.0, scipy 1.17.1,
numpy 2.4."""
import json, os
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file
from scipy.ndimage import grey_dilation, label

HERE = os.path.dirname(os.path.abspath(__file__))


def smooth_logits(rng, h, w, blobs):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.full((h, w), -3.0)
    for _ in range(blobs):
        cy, cx, r, a = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(3, h / 3)), rng.uniform(2, 6)
        out += a * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    return (out + rng.normal(0, 0.4, (h, w))).astype(np.float32)


def reference(logits, height, width, threshold):
    p = torch.sigmoid(F.interpolate(torch.from_numpy(logits)[None, None], size=(height, width), mode="bilinear",
                                    align_corners=False))[0, 0].numpy()
    mask = (p > threshold).astype(np.uint8)
    mask = grey_dilation(mask, size=(max(1, height // 100), max(1, width // 100)))
    labels, count = label(mask)
    if count > 0:
        keep = int(np.argmax(np.bincount(labels.ravel())[1:])) + 1
        mask = (labels == keep).astype(np.uint8)
    score = float(p[mask.astype(bool)].mean()) if mask.any() else 0.0
    return mask, score


def main():
    rng = np.random.RandomState(2024)
    cases = [(22, 22, 100, 73, 0.3, 3), (44, 44, 257, 211, 0.3, 4), (44, 44, 333, 222, 0.5, 5),
             (22, 22, 64, 48, 0.3, 2), (44, 44, 211, 317, 0.2, 6), (22, 22, 120, 90, 0.99, 1)]
    tensors, meta = {}, []
    for i, (h, w, height, width, threshold, blobs) in enumerate(cases):
        logits = smooth_logits(rng, h, w, blobs)
        mask, score = reference(logits, height, width, threshold)
        tensors[f"logits_{i}"] = logits
        tensors[f"mask_{i}"] = mask
        meta.append({"height": height, "width": width, "threshold": threshold, "score": score, "area": int(mask.sum())})
        print(f"case {i}: {h}x{w} -> {height}x{width}, threshold {threshold}: area {int(mask.sum())}, score {score:.6f}")
    save_file(tensors, os.path.join(HERE, "segment_cases.safetensors"))
    with open(os.path.join(HERE, "segment_cases.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
