#!/usr/bin/env python3
"""Prior training: ours (`prior bench`, release build, OpenBLAS) against the same module in PyTorch
on CPU (diffusers' BasicTransformerBlock; Tests/PriorTests/Fixtures/make_prior_fixtures.py),
on the same machine in the same run, both on 2 threads, at the paper's size (16 heads x 32,
10 layers, 1280-wide CLIP bigG features, 34,849,536 parameters). One step = forward, backward,
MSE + 0.2·InfoNCE, gradient clipping and an AdamW update. Reports samples/s, the ratio, and the
fraction of the sgemm-bound rate (training FLOPs per sample / the measured sgemm GFLOP/s).
Usage: python3 scripts/bench_prior.py [--batch 32] [--steps 3]"""
import argparse, os, re, subprocess, sys, time
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "PriorTests", "Fixtures"))
from make_prior_fixtures import LambdaPrior, loss_fn  # noqa: E402

PRIOR = ".build/release/prior"
ENCODE = ".build/release/encode"


def training_flops(heads=16, head_dim=32, layers=10, e=1280, tokens=81, text=77):
    d = heads * head_dim
    f = 4 * d
    inputs = 2 * (text + 3) * e * d                      # four input projections
    blocks = layers * (2 * tokens * (4 * d * d + 2 * d * f) + 4 * tokens * tokens * d)
    output = 2 * d * e
    # Backward costs two forwards where both input and weight gradients are needed, one where only
    # the weight gradient is (the input projections).
    return 3 * (blocks + output) + 2 * inputs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(2)
    peak = float(re.search(r"([\d.]+) GFLOP/s", subprocess.run([ENCODE, "--model", "-", "--output", "-", "--sgemm-peak", "--threads", "2"],
                                                               capture_output=True, text=True, check=True).stdout).group(1))
    out = subprocess.run([PRIOR, "bench", "--threads", "2", "--batch", str(args.batch), "--steps", str(args.steps)],
                         capture_output=True, text=True, check=True).stdout
    ours = float(re.search(r"([\d.]+) samples/s", out).group(1))

    torch.manual_seed(0)
    n, e = args.batch, 1280
    model = LambdaPrior(16, 32, 10, e)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW([p for name, p in model.named_parameters() if not name.startswith("clip_")], lr=1e-5)
    text, pooled, control, noise, target = (torch.randn(n, 77, e), torch.randn(n, e), torch.randn(n, e), torch.randn(n, e),
                                            torch.randn(n, e))
    mask = torch.zeros(n, 77, dtype=torch.uint8)
    mask[:, :20] = 1
    times = []
    for step in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss, _, _ = loss_fn(model(noise, pooled, text, mask, control), target, pooled)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.grad is not None], 1.0)
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t0)
    ref = n / sorted(times)[len(times) // 2]
    flops = training_flops()
    bound = peak * 1e9 / flops
    print(f"# Prior training at the paper's size ({params:,} parameters), batch {n}, 2 threads; "
          f"sgemm measured {peak:.1f} GFLOP/s (2 threads)\n")
    print("| step | GFLOP per sample | ours samples/s | PyTorch samples/s | ours / PyTorch | ours % of sgemm bound | PyTorch % of sgemm bound |")
    print("|---|---|---|---|---|---|---|")
    print(f"| forward + backward + AdamW | {flops / 1e9:.2f} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f}x | "
          f"{100 * ours / bound:.0f} % | {100 * ref / bound:.0f} % |")


if __name__ == "__main__":
    main()
