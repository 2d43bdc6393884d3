"""Diffusion benchmark: training-step time, sampling time (16 members of 32×32 at 10/18/35 NFE) and the
verification table of the shipped model vs the baselines on the fixed test set.

    python benchmarks/bench_diffusion.py                 # full table (several minutes on 2 busy cores)
    python benchmarks/bench_diffusion.py --quick         # timings + heun only
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from toolkit.diffusion import Downscaler, edm_loss, load_pretrained, make_weather_pairs
from toolkit.diffusion.evaluation import evaluate_downscaler, format_table, steps_for_nfe


def time_training_step(batch: int = 32, steps: int = 10) -> dict:
    """Seconds per optimiser step of the default regression U-Net and EDM denoiser at 32×32."""
    model = Downscaler()
    p = make_weather_pairs(batch, random_state=0)
    c, f = model.normalize(torch.from_numpy(p.coarse)), model.normalize(torch.from_numpy(p.fine))
    out = {}
    for name, params, loss_fn in (
        ("regression", model.regression.parameters(), lambda: ((model.regression(c) - f) ** 2).mean()),
        ("diffusion", model.denoiser.parameters(), lambda: edm_loss(model.denoiser, *model.residual_target(c, f))),
    ):
        opt = torch.optim.Adam(params, lr=1e-3)
        for i in range(steps + 2):
            if i == 2:
                t = time.perf_counter()
            loss = loss_fn()
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[name] = (time.perf_counter() - t) / steps
    return out


@torch.no_grad()
def time_sampling(model, members: int = 16, nfes=(10, 18, 35), methods=("euler", "heun"), repeats: int = 2) -> list:
    coarse = torch.from_numpy(make_weather_pairs(1, random_state=5).coarse)
    rows = []
    for method in methods:
        for nfe in nfes:
            steps = steps_for_nfe(method, nfe)
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                model.ensemble(coarse, members, steps=steps, method=method, generator=torch.Generator().manual_seed(0))
                best = min(best, time.perf_counter() - t)
            rows.append({"method": method, "steps": steps, "nfe": (2 * steps - 1) if method == "heun" else steps,
                         "seconds": best})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=16, help="fixed test cases for the verification table")
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="heun only in the verification table")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    train = time_training_step()
    print(f"training step, batch 32, 32x32: regression {1000 * train['regression']:.0f} ms, "
          f"EDM denoiser {1000 * train['diffusion']:.0f} ms  (threads={args.threads})")
    model = load_pretrained()
    samp = time_sampling(model)
    print("\nsampling 16 members of 32x32")
    print(f"{'method':<8}{'steps':>6}{'NFE':>5}{'seconds':>9}")
    for r in samp:
        print(f"{r['method']:<8}{r['steps']:>6}{r['nfe']:>5}{r['seconds']:>9.2f}")
    methods = ("heun",) if args.quick else ("euler", "heun", "churn", "sde")
    rows = evaluate_downscaler(model, n_cases=args.cases, members=args.members, nfes=(10, 18, 35), methods=methods)
    print(f"\nverification on {args.cases} fixed test cases x {args.members} members "
          f"(CRPS: fair, clear-sky index; HF power = power at k >= Nyquist/2 relative to truth)")
    print(format_table(rows))
    mse = next(r for r in rows if r["method"] == "mse_unet")
    best = min((r for r in rows if r["method"].startswith("diffusion")), key=lambda r: r["crps"])
    print(f"\nbest diffusion ({best['method']}, NFE {best['nfe']}): CRPS {100 * (1 - best['crps'] / mse['crps']):.1f}% "
          f"better than the MSE U-Net; spread/skill {best['spread_skill']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"train": train, "sampling": samp, "verification": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
