#!/usr/bin/env python3
"""Small random-weight models of each supported family, saved as Hugging Face directories
(config.json + model.safetensors) with inputs and the reference outputs of transformers.

    pip install torch==2.13.0+cpu transformers safetensors numpy
    python3 Tests/ModelsTests/Fixtures/make_model_fixtures.py

Each family keeps its real head size (64; ViT-bigG/14 vision 104), activation, patch size and
layout, with 2 layers and small widths. Weights are rounded to the dtype they are stored in
(f32, f16 or bf16) before the reference runs, so the Swift side computes from identical
weights. torch.manual_seed(1234) per family; eager attention."""
import json, os, shutil
import torch
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPVisionConfig, CLIPVisionModelWithProjection, ViTConfig, ViTModel

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def rounded(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    return model


def save(model, name, dtype, tensors):
    out = os.path.join(HERE, name)
    shutil.rmtree(out, ignore_errors=True)
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "reference.safetensors"))
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{name}: {size / 1e6:.2f} MB")


def ids_and_mask(vocab, batch=3, context=77, seed=0):
    g = torch.Generator().manual_seed(seed)
    start, end = vocab - 2, vocab - 1
    ids = torch.zeros(batch, context, dtype=torch.int64)
    mask = torch.zeros(batch, context, dtype=torch.int64)
    for b, length in enumerate([5, 30, 75][:batch]):
        row = [start] + torch.randint(1, vocab - 3, (length,), generator=g).tolist() + [end]
        ids[b, :len(row)] = torch.tensor(row)
        mask[b, :len(row)] = 1
    return ids, mask


def clip_family(name, text, vision, projection, dtype, eos_legacy):
    torch.manual_seed(1234)
    vocab = text["vocab_size"]
    config = CLIPConfig(text_config=dict(text, eos_token_id=2 if eos_legacy else vocab - 1,
                                         bos_token_id=vocab - 2, pad_token_id=0, max_position_embeddings=77),
                        vision_config=vision, projection_dim=projection)
    config._attn_implementation = "eager"
    model = rounded(CLIPModel(config).eval(), dtype)
    ids, mask = ids_and_mask(vocab)
    size = vision["image_size"]
    pixels = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        t = model.text_model(input_ids=ids, attention_mask=mask)
        text_embeds = model.text_projection(t.pooler_output)
        v = model.vision_model(pixel_values=pixels)
        image_embeds = model.visual_projection(v.pooler_output)
    save(model, name, dtype, {
        "input_ids": ids, "attention_mask": mask, "pixel_values": pixels,
        "text_last_hidden_state": t.last_hidden_state, "text_embeds": text_embeds,
        "vision_last_hidden_state": v.last_hidden_state, "image_embeds": image_embeds,
    })


def main():
    # OpenAI ViT-B/32 layout: quick_gelu, patch 32, legacy eos_token_id 2 (argmax pooling); f16.
    clip_family("clip-vit-b32",
                dict(vocab_size=64, hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2,
                     hidden_act="quick_gelu"),
                dict(hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2, image_size=64,
                     patch_size=32, hidden_act="quick_gelu"),
                projection=64, dtype=torch.float16, eos_legacy=True)
    # OpenCLIP ViT-bigG/14 layout: gelu, patch 14, vision head size 104, projection wider than
    # the text width, first-end-token pooling; bf16.
    clip_family("clip-vit-bigg14",
                dict(vocab_size=64, hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2,
                     hidden_act="gelu"),
                dict(hidden_size=208, intermediate_size=104, num_attention_heads=2, num_hidden_layers=2, image_size=28,
                     patch_size=14, hidden_act="gelu"),
                projection=160, dtype=torch.bfloat16, eos_legacy=False)
    # OpenAI ViT-L/14 vision tower alone (CLIPVisionModelWithProjection, model_type
    # clip_vision_model): quick_gelu, patch 14; f16.
    torch.manual_seed(1234)
    config = CLIPVisionConfig(hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2,
                              image_size=28, patch_size=14, hidden_act="quick_gelu", projection_dim=96)
    config._attn_implementation = "eager"
    model = rounded(CLIPVisionModelWithProjection(config).eval(), torch.float16)
    pixels = torch.randn(2, 3, 28, 28, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model(pixel_values=pixels)
    save(model, "clip-vit-l14-vision", torch.float16, {
        "pixel_values": pixels, "vision_last_hidden_state": out.last_hidden_state, "image_embeds": out.image_embeds,
    })
    # DINO ViT-S/16 layout (HF ViTModel, no pooler): gelu, patch 16, qkv bias, eps 1e-12.
    torch.manual_seed(1234)
    config = ViTConfig(hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2, image_size=32,
                       patch_size=16, qkv_bias=True, layer_norm_eps=1e-12, hidden_act="gelu")
    config._attn_implementation = "eager"
    model = rounded(ViTModel(config, add_pooling_layer=False).eval(), torch.float16)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = model(pixel_values=pixels)
    save(model, "dino-vits16", torch.float16, {
        "pixel_values": pixels, "last_hidden_state": out.last_hidden_state, "cls": out.last_hidden_state[:, 0],
    })


if __name__ == "__main__":
    main()
