#!/usr/bin/env python3
"""Reference DreamBench scores with Pillow + torch + transformers, for comparing with `evaluate`.

    python3 reference_scores.py DREAMBENCH GENERATED DINO_DIR CLIP_DIR PAIRING > scores.json

Per generated image: DINO (ViTModel [CLS], torchvision-style Resize(size*256/224, bicubic) +
CenterCrop(size) + ImageNet mean/std), CLIP-I (the projected pooled output after CLIPImageProcessor's
recipe: shortest side bicubic, centre crop, CLIP mean/std) and CLIP-T (the projected text pooled output of the
prompt with the class noun), cosines of L2-normalised features, averaged over the references
(all_pairs) or against Kosmos-G's reference (single_reference). The tokenizer is transformers'
CLIPTokenizer built from OpenAI's BPE merges (the project's Sources/Text/Resources copy)."""
import json, os, sys
import numpy as np
import torch
from PIL import Image
from transformers import CLIPModel, CLIPTokenizer, ViTModel

HERE = os.path.dirname(os.path.abspath(__file__))
KOSMOS = {"pink_sunglasses": "04", "can": "01", "candle": "02", "teapot": "04", "backpack": "02", "dog3": "05", "cat2": "02",
          "dog8": "04", "grey_sloth_plushie": "04", "backpack_dog": "02", "robot_toy": "00", "dog5": "00", "duck_toy": "01",
          "dog2": "02", "dog": "02", "colorful_sneaker": "01", "red_cartoon": "00", "clock": "03", "shiny_sneaker": "01",
          "dog6": "02", "berry_bowl": "02", "bear_plushie": "03", "poop_emoji": "00", "rc_car": "03", "dog7": "01", "cat": "04",
          "fancy_boot": "02", "wolf_plushie": "04", "monster_toy": "04", "vase": "02"}


def tokenizer():
    merges_path = os.path.join(HERE, "../../../Sources/Text/Resources/clip-bpe-merges.txt")
    merges = [l for l in open(merges_path, encoding="utf-8").read().split("\n") if l and not l.startswith("#version")]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    chars = [chr(c) for c in cs]
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m.split(" ")) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    d = os.path.join("/tmp", f"clip-tok-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    json.dump({t: i for i, t in enumerate(vocab)}, open(os.path.join(d, "vocab.json"), "w"))
    open(os.path.join(d, "merges.txt"), "w", encoding="utf-8").write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"), pad_token="!")


def prep(path, short, crop, mean, std, round_offset):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    if w <= h:
        nw, nh = short, int(short * h / w)
    else:
        nw, nh = int(short * w / h), short
    im = im.resize((nw, nh), Image.BICUBIC)
    if round_offset:   # torchvision CenterCrop
        left, top = int(round((nw - crop) / 2.0)), int(round((nh - crop) / 2.0))
    else:              # CLIPImageProcessor
        left, top = (nw - crop) // 2, (nh - crop) // 2
    a = np.asarray(im.crop((left, top, left + crop, top + crop)), dtype=np.float32) / 255.0
    a = (a - np.array(mean, dtype=np.float32)) / np.array(std, dtype=np.float32)
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def main():
    dreambench, generated, dino_dir, clip_dir, pairing = sys.argv[1:6]
    torch.set_num_threads(1)
    lines = open(os.path.join(dreambench, "prompts_and_classes.txt")).read().split("\n")
    classes, section, prompts = {}, "", {"object": [], "live": []}
    for line in lines:
        s = line.strip()
        if s == "Object Prompts": section = "object"; continue
        if s == "Live Subject Prompts": section = "live"; continue
        if s.startswith("'") and "'.format" in s:
            prompts[section].append(s[1:s.index("'.format")]); continue
        if not section and "," in s and not s.startswith("subject_name"):
            k, v = s.split(",", 1); classes[k.strip()] = v.strip()
    dino = ViTModel.from_pretrained(dino_dir, add_pooling_layer=False, dtype=torch.float32).eval()
    clip = CLIPModel.from_pretrained(clip_dir, dtype=torch.float32).eval()
    tok = tokenizer()
    ds, cs = dino.config.image_size, clip.config.vision_config.image_size
    dprep = lambda p: prep(p, ds * 256 // 224, ds, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), True)
    cprep = lambda p: prep(p, cs, cs, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711), False)
    norm = lambda x: x / x.norm(dim=-1, keepdim=True)
    out = []
    with torch.no_grad():
        for subject in sorted(os.listdir(generated)):
            cls = classes[subject]
            folder = os.path.join(dreambench, subject)
            if os.path.isdir(folder):
                refs = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith((".jpg", ".jpeg", ".png")))
            else:
                refs = sorted(os.path.join(dreambench, "images", f) for f in os.listdir(os.path.join(dreambench, "images"))
                              if os.path.splitext(f)[0] == subject)
            if pairing == "single_reference":
                match = [r for r in refs if os.path.splitext(os.path.basename(r))[0] == KOSMOS.get(subject)]
                refs = match[:1] or refs[:1]
            rd = norm(dino(pixel_values=torch.stack([dprep(r) for r in refs])).last_hidden_state[:, 0])
            image_features = lambda pv: clip.visual_projection(clip.vision_model(pixel_values=pv).pooler_output)
            rc = norm(image_features(torch.stack([cprep(r) for r in refs])))
            plist = prompts["live" if cls in ("cat", "dog") else "object"]
            for p in sorted(os.listdir(os.path.join(generated, subject)), key=int):
                text = plist[int(p)].replace("{0} {1}", cls)
                ids = tok(text, padding="max_length", max_length=77, return_tensors="pt")
                t = norm(clip.text_projection(clip.text_model(input_ids=ids.input_ids, attention_mask=ids.attention_mask).pooler_output))
                for f in sorted(os.listdir(os.path.join(generated, subject, p))):
                    path = os.path.join(generated, subject, p, f)
                    gd = norm(dino(pixel_values=dprep(path)[None]).last_hidden_state[:, 0])
                    gc = norm(image_features(cprep(path)[None]))
                    out.append({"subject": subject, "prompt": int(p), "path": path, "dino": float((gd @ rd.T).mean()),
                                "clip_i": float((gc @ rc.T).mean()), "clip_t": float((gc @ t.T).mean())})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
