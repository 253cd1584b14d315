#!/usr/bin/env python3
"""Small random-weight models of each supported family, saved as Hugging Face directories
(config.json + model.safetensors) with inputs and the reference outputs of transformers.

    pip install torch==2.13.0+cpu transformers safetensors numpy
    python3 Tests/ModelsTests/Fixtures/make_model_fixtures.py [NAME ...]   (only those fixtures; default all)

Each family keeps its real head size (64; ViT-bigG/14 vision 104), activation, patch size and
layout, with 2 layers and small widths. Weights are rounded to the dtype they are stored in
(f32, f16 or bf16) before the reference runs, so the Swift side computes from identical
weights. torch.manual_seed(1234) per family; eager attention."""
import json, os, shutil, sys
import torch
from safetensors.torch import save_file
from transformers import (CLIPConfig, CLIPModel, CLIPSegConfig, CLIPSegForImageSegmentation, CLIPVisionConfig,
                          CLIPVisionModelWithProjection, ViTConfig, ViTModel)

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(1)


def rounded(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    return model


def save(model, name, dtype, tensors):
    if len(sys.argv) > 1 and name not in sys.argv[1:]:
        return
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


def clipseg_family(name, vision, decoder, run_size, eos_legacy, dtype):
    """CLIPSegForImageSegmentation with 2-layer towers of head size 64; three rows where rows 0 and
    1 share an image and rows 1 and 2 a prompt (the Swift side encodes each once). The images are
    `run_size` pixels a side, so the position embeddings are interpolated unless it is the
    model's own size."""
    torch.manual_seed(1234)
    vocab = 64
    text = dict(vocab_size=vocab, hidden_size=128, intermediate_size=128, num_attention_heads=2, num_hidden_layers=2,
                hidden_act="quick_gelu", eos_token_id=2 if eos_legacy else vocab - 1, bos_token_id=vocab - 2, pad_token_id=0,
                max_position_embeddings=77)
    config = CLIPSegConfig(text_config=text, vision_config=dict(vision, hidden_act="quick_gelu", hidden_size=128,
                                                                intermediate_size=128, num_attention_heads=2),
                           projection_dim=48, **decoder)
    config._attn_implementation = "eager"
    model = CLIPSegForImageSegmentation(config).eval()
    with torch.no_grad():
        # PyTorch initialises the decoder's FiLM and heads small; make every part matter.
        for n, p in model.named_parameters():
            if n.startswith("decoder."):
                p.normal_(0, 0.2)
    model = rounded(model, dtype)
    ids, mask = ids_and_mask(vocab)
    ids[2], mask[2] = ids[1], mask[1]
    pixels = torch.randn(3, 3, run_size, run_size, generator=torch.Generator().manual_seed(5))
    pixels[1] = pixels[0]
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    logits = out.logits if out.logits.dim() == 3 else out.logits.unsqueeze(0)
    save(model, name, dtype, {
        "input_ids": ids, "attention_mask": mask, "pixel_values": pixels,
        "logits": logits, "conditional_embeddings": out.conditional_embeddings,
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
    # CLIPSeg rd64-refined layout: patch 16, the complex transposed convolution (kernel 4),
    # FiLM before the second decoder layer; 4 vision layers of which the decoder reads 1-3 (the
    # last is never run), images of 64 px on a 32-px model (positions 2x2 -> 4x4).
    clipseg_family("clipseg-rd64-refined", dict(num_hidden_layers=4, image_size=32, patch_size=16),
                   dict(extract_layers=[1, 2, 3], reduce_dim=32, decoder_num_attention_heads=4, decoder_intermediate_size=48,
                        conditional_layer=1, use_complex_transposed_convolution=True), run_size=64, eos_legacy=True,
                   dtype=torch.float32)
    # CLIPSeg rd64 layout: one transposed convolution of kernel patch 16, images of 48 px on a
    # 32-px model (positions 2x2 -> 3x3, a non-integer scale), first-end-token pooling.
    clipseg_family("clipseg-rd16", dict(num_hidden_layers=3, image_size=32, patch_size=16),
                   dict(extract_layers=[0, 2], reduce_dim=16, decoder_num_attention_heads=2, decoder_intermediate_size=32,
                        conditional_layer=0, use_complex_transposed_convolution=False), run_size=48, eos_legacy=False,
                   dtype=torch.float16)
    # Patch 32 at the model's own size (no interpolation), one extract layer.
    clipseg_family("clipseg-p32", dict(num_hidden_layers=2, image_size=64, patch_size=32),
                   dict(extract_layers=[1], reduce_dim=16, decoder_num_attention_heads=2, decoder_intermediate_size=32,
                        conditional_layer=0, use_complex_transposed_convolution=False), run_size=64, eos_legacy=True,
                   dtype=torch.float16)


if __name__ == "__main__":
    main()
