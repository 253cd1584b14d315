#!/usr/bin/env python3
"""Reference fixtures for the Swift λ-ECLIPSE prior (Tests/PriorTests).

The reference module is diffusers' PriorTransformer without the time embedding and with the
λ-ECLIPSE control token, built from diffusers' own BasicTransformerBlock; its state-dict names are
the public λ-ECLIPSE prior's. A tiny random-weight instance is saved in diffusers' layout
(config.json + diffusion_pytorch_model.safetensors), with a batch of inputs, the loss
(MSE + λ·InfoNCE), every parameter's gradient, and the parameters after three AdamW steps
(warm-up + cosine schedule, gradient clipping).

    python3 Tests/PriorTests/Fixtures/make_prior_fixtures.py Tests/PriorTests/Fixtures/tiny-prior
    python3 Tests/PriorTests/Fixtures/make_prior_fixtures.py --check DIR INPUTS OUT   # load DIR strictly, predict

Needs torch, diffusers, safetensors, numpy (fixtures only; nothing at run time).
"""
import json, math, os, sys

import torch
import torch.nn.functional as F
from torch import nn
from diffusers.models.attention import BasicTransformerBlock
from safetensors.torch import save_file, load_file


class LambdaPrior(nn.Module):
    """λ-ECLIPSE prior: [text states] + [control] + [pooled text] + [noise] + [prd] → prd output."""

    def __init__(self, num_attention_heads, attention_head_dim, num_layers, embedding_dim, num_embeddings=77,
                 additional_embeddings=4):
        super().__init__()
        inner = num_attention_heads * attention_head_dim
        self.heads = num_attention_heads
        self.additional_embeddings = additional_embeddings
        self.proj_in = nn.Linear(embedding_dim, inner)
        self.embedding_proj = nn.Linear(embedding_dim, inner)
        self.embedding_control = nn.Linear(embedding_dim, inner)
        self.encoder_hidden_states_proj = nn.Linear(embedding_dim, inner)
        self.positional_embedding = nn.Parameter(torch.zeros(1, num_embeddings + additional_embeddings, inner))
        self.prd_embedding = nn.Parameter(torch.zeros(1, 1, inner))
        self.transformer_blocks = nn.ModuleList([
            BasicTransformerBlock(inner, num_attention_heads, attention_head_dim, dropout=0.0, activation_fn="gelu",
                                  attention_bias=True) for _ in range(num_layers)])
        self.norm_out = nn.LayerNorm(inner)
        self.proj_to_clip_embeddings = nn.Linear(inner, embedding_dim)
        n = num_embeddings + additional_embeddings
        causal = torch.full([n, n], -10000.0).triu_(1)[None, ...]
        self.register_buffer("causal_attention_mask", causal, persistent=False)
        self.clip_mean = nn.Parameter(torch.zeros(1, embedding_dim))
        self.clip_std = nn.Parameter(torch.zeros(1, embedding_dim))

    def forward(self, hidden_states, proj_embedding, encoder_hidden_states, attention_mask, control_embedding):
        b = hidden_states.shape[0]
        seq = torch.cat([self.encoder_hidden_states_proj(encoder_hidden_states),
                         self.embedding_control(control_embedding)[:, None, :],
                         self.embedding_proj(proj_embedding)[:, None, :],
                         self.proj_in(hidden_states)[:, None, :],
                         self.prd_embedding.expand(b, -1, -1)], dim=1)
        seq = seq + self.positional_embedding
        mask = (1 - attention_mask.to(seq.dtype)) * -10000.0
        mask = F.pad(mask, (0, self.additional_embeddings), value=0.0)
        mask = (mask[:, None, :] + self.causal_attention_mask).repeat_interleave(self.heads, dim=0)
        for block in self.transformer_blocks:
            seq = block(seq, attention_mask=mask)
        return self.proj_to_clip_embeddings(self.norm_out(seq)[:, -1])


def loss_fn(pred, target, text, lam=0.2, tau=0.07):
    mse = F.mse_loss(pred, target)
    logits = F.normalize(pred, dim=-1) @ F.normalize(text, dim=-1).T / tau
    nce = F.cross_entropy(logits, torch.arange(pred.shape[0]))
    return mse + lam * nce, mse, nce


CONFIG = dict(num_attention_heads=2, attention_head_dim=8, num_layers=2, embedding_dim=24, num_embeddings=77,
              additional_embeddings=4)


def make(out):
    torch.manual_seed(1234)
    model = LambdaPrior(**CONFIG).double()
    with torch.no_grad():   # zero-initialised tensors get values so their gradients are not trivial
        model.positional_embedding.normal_(0, 0.1)
        model.prd_embedding.normal_(0, 0.5)
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    model = model.float()
    os.makedirs(out, exist_ok=True)
    config = dict(_class_name="PriorTransformer", _diffusers_version="0.20.2", dropout=0.0, norm_in_type=None,
                  embedding_proj_norm_type=None, encoder_hid_proj_type="linear", added_emb_type="prd",
                  embedding_proj_dim=None, clip_embed_dim=None, **CONFIG)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "diffusion_pytorch_model.safetensors"))

    n, e = 4, CONFIG["embedding_dim"]
    g = torch.Generator().manual_seed(99)
    text = torch.randn(n, 77, e, generator=g)
    lengths = [5, 12, 77, 2]
    mask = torch.zeros(n, 77, dtype=torch.uint8)
    for i, length in enumerate(lengths):
        mask[i, :length] = 1
    pooled, control, noise, target = (torch.randn(n, e, generator=g) for _ in range(4))
    pred = model(noise, pooled, text, mask, control)
    total, mse, nce = loss_fn(pred, target, pooled)
    total.backward()
    tensors = dict(text=text, attention_mask=mask, pooled=pooled, control=control, noise=noise, target=target,
                   prediction=pred.detach(), loss=torch.tensor([total.item(), mse.item(), nce.item()]))
    for name, p in model.named_parameters():
        if p.grad is not None:
            tensors["grad." + name] = p.grad.detach().clone()
    # Three optimiser steps: weight decay on 2-D weights only, clipping at 1.0, warm-up 1 then cosine over 3.
    model.zero_grad()
    decayed = [p for name, p in model.named_parameters() if p.ndim == 2 and name.endswith(".weight") and not name.startswith("clip_")]
    others = [p for name, p in model.named_parameters() if not (p.ndim == 2 and name.endswith(".weight")) and not name.startswith("clip_")]
    opt = torch.optim.AdamW([dict(params=decayed, weight_decay=0.01), dict(params=others, weight_decay=0.0)],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    warmup, total_steps = 1, 3
    def schedule(step):
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total_steps - warmup)
        return max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    losses = []
    for step in range(3):
        opt.zero_grad()
        loss, _, _ = loss_fn(model(noise, pooled, text, mask, control), target, pooled)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
    tensors["train_losses"] = torch.tensor(losses)
    for name, p in model.named_parameters():
        tensors["after." + name] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out, "reference.safetensors"))
    print("wrote", out, "loss", total.item())


def check(directory, inputs, out):
    """Loads a prior folder written by the Swift code (strict names and shapes) and predicts."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    model = LambdaPrior(**{k: config[k] for k in CONFIG})
    state = load_file(os.path.join(directory, "diffusion_pytorch_model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    x = load_file(inputs)
    with torch.no_grad():
        pred = model(x["noise"], x["pooled"], x["text"], x["attention_mask"], x["control"])
    save_file({"prediction": pred.contiguous()}, out)


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(*sys.argv[2:5])
    else:
        make(sys.argv[1])
