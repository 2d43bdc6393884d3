"""Diffusion benchmark: training-step and sampling time, the sampler/NFE choice on validation cases,
and the headline verification of the shipped model against every baseline on fresh test cases
(CRPSS vs the best baseline with a bootstrap 95 % interval, overall and per lead time), with the
sampler × NFE rows side by side on the same test cases.

    python benchmarks/bench_diffusion.py                 # full tables (several minutes on 2 busy cores)
    python benchmarks/bench_diffusion.py --quick         # fewer samplers and budgets
    python benchmarks/bench_diffusion.py --scenarios     # only the day-ahead scenario table (≈ 1 min)

The scenario table compares, on 8 synthetic days, how members change from hour to hour next to the
truth: independent hours, shared wind-advected noise (the single-hour model) and autoregressive
members (the sequence model, conditioned on the previous hour), with the members' CRPS over the day.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from toolkit.diffusion import Downscaler, edm_loss, load_pretrained, make_weather_pairs, make_weather_sequence
from toolkit.diffusion.evaluation import (
    evaluate_downscaler,
    format_table,
    format_verification,
    select_sampler,
    steps_for_nfe,
    verify,
)
from toolkit.diffusion.model import downscaler_config
from toolkit.diffusion.scenarios import autoregressive_day, forecast_day, scenario_scores

SCENARIO_DAYS = tuple(zip(range(10, 18), (0.3, 0.5, 0.7, 0.4, 0.6, 0.5, 0.3, 0.7)))  # (seed, cloud fraction)
SCENARIO_TITLE = (
    f"day-ahead scenarios on {len(SCENARIO_DAYS)} synthetic days, 8 members, 9 steps of DPM-Solver++(2M)"
)


def time_training_step(batch: int = 32, steps: int = 10) -> dict:
    """Seconds per optimiser step of the recipe's regression U-Net and EDM denoiser at 32×32."""
    model = Downscaler(downscaler_config())
    p = make_weather_pairs(batch, random_state=0)
    c, f = model.normalize(torch.from_numpy(p.coarse)), model.normalize(torch.from_numpy(p.fine))
    lead = torch.from_numpy(p.lead)
    out = {}
    for name, params, loss_fn in (
        ("regression", model.regression.parameters(), lambda: ((model.regress(c, lead) - f) ** 2).mean()),
        (
            "diffusion",
            model.denoiser.parameters(),
            lambda: edm_loss(model.denoiser, *model.residual_target(c, f, lead)),
        ),
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
def time_sampling(
    model, members: int = 16, nfes=(9, 17, 35), methods=("heun", "dpmpp_2m"), repeats: int = 2
) -> list:
    p = make_weather_pairs(1, random_state=5)
    coarse, lead = torch.from_numpy(p.coarse), torch.from_numpy(p.lead)
    rows = []
    for method in methods:
        for nfe in nfes:
            steps = steps_for_nfe(method, nfe)
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                model.ensemble(
                    coarse,
                    members,
                    lead=lead,
                    steps=steps,
                    method=method,
                    generator=torch.Generator().manual_seed(0),
                )
                best = min(best, time.perf_counter() - t)
            rows.append(
                {
                    "method": method,
                    "steps": steps,
                    "nfe": (2 * steps - 1) if method == "heun" else steps,
                    "seconds": best,
                }
            )
    return rows


@torch.no_grad()
def scenario_table(members: int = 8, steps: int = 9) -> list[dict]:
    """Lag-1 autocorrelation of site GHI / kc and moved pattern correlation of the fields (truth and
    members, mean over the days), and the members' CRPS over each day's daylight fields."""
    base, seq_model = load_pretrained(), load_pretrained(sequence=True)
    days = [make_weather_sequence(range(24), cloud_fraction=cf, random_state=s) for s, cf in SCENARIO_DAYS]
    ways = {
        "independent hours": lambda q, i: forecast_day(
            base, q, members=members, steps=steps, memory=0.0, seed=i
        ),
        "shared noise, phi 0.85": lambda q, i: forecast_day(base, q, members=members, steps=steps, seed=i),
        "autoregressive": lambda q, i: autoregressive_day(seq_model, q, members=members, steps=steps, seed=i),
    }
    rows = []
    for name, run in ways.items():
        scores = [scenario_scores(run(q, i), q) for i, q in enumerate(days)]
        row = {"scenarios": name, "crps": sum(sc["members"]["crps"] for sc in scores) / len(scores)}
        for who in ("truth", "members"):
            for k in ("ghi", "kc", "pattern"):
                row[f"{who} {k}"] = sum(sc[who][k] for sc in scores) / len(scores)
        rows.append(row)
    return rows


def format_scenarios(rows: list[dict]) -> str:
    head = f"{'scenarios':<24}{'GHI lag-1':>18}{'kc lag-1':>18}{'moved pattern':>18}{'CRPS':>9}"
    lines = [
        head,
        f"{'':<24}{'truth / members':>18}{'truth / members':>18}{'truth / members':>18}",
        "-" * len(head),
    ]
    for r in rows:
        pairs = [f"{r['truth ' + k]:.2f} / {r['members ' + k]:.2f}" for k in ("ghi", "kc", "pattern")]
        cells = "".join(f"{p:>18}" for p in pairs)
        lines.append(f"{r['scenarios']:<24}{cells}{r['crps']:>9.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--cases", type=int, default=192, help="fresh test cases (>= 96) for the headline verification"
    )
    ap.add_argument("--val-cases", type=int, default=48, help="validation cases for the sampler/NFE choice")
    ap.add_argument("--members", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="three samplers, two budgets, 48 cases side by side")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--scenarios", action="store_true", help="only the day-ahead scenario table")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.scenarios:
        print(SCENARIO_TITLE)
        print(format_scenarios(scenario_table()))
        return 0

    train = time_training_step()
    print(
        f"training step, batch 32, 32x32: regression {1000 * train['regression']:.0f} ms, "
        f"EDM denoiser {1000 * train['diffusion']:.0f} ms  (threads={args.threads})"
    )
    model = load_pretrained()
    samp = time_sampling(model)
    print("\nsampling 16 members of 32x32 (same run, side by side)")
    print(f"{'method':<10}{'steps':>6}{'NFE':>5}{'seconds':>9}")
    for r in samp:
        print(f"{r['method']:<10}{r['steps']:>6}{r['nfe']:>5}{r['seconds']:>9.2f}")

    methods = (
        ("heun", "dpmpp_2m", "dpmpp_2m_sde")
        if args.quick
        else ("heun", "dpmpp_2m", "dpmpp_2m_sde", "sde", "unipc")
    )
    nfes = (9, 17) if args.quick else (9, 17, 35)
    val_rows, best = select_sampler(
        model, methods=methods, nfes=nfes, n_cases=args.val_cases, members=min(args.members, 8)
    )
    print(f"\nsampler/NFE choice on {args.val_cases} VALIDATION cases (seed never used for testing):")
    print(format_table(val_rows))
    print(f"chosen: {best['method']} at {best['nfe']} NFE (lowest validation CRPS)")
    cheap = min((r for r in val_rows if r["nfe"] <= 9), key=lambda r: r["crps"])
    print(f"best within the notebook's 9-NFE budget: {cheap['method']} at {cheap['nfe']} NFE")

    v = verify(model, method=best["method"], nfe=best["nfe"], n_cases=args.cases, members=args.members)
    print(
        f"\nheadline verification on {args.cases} fresh TEST cases x {args.members} members "
        "(CRPS on the clear-sky index; out of range = outside the generator's physical kc range)"
    )
    print(format_verification(v))
    s, lo, hi = v["crpss_probabilistic"]
    print(
        f"vs the best probabilistic baseline ({v['best_probabilistic']}): CRPSS {100 * s:.1f} % "
        f"({100 * lo:.1f} to {100 * hi:.1f} %)"
    )

    n_side, m_side = (48, 8) if args.quick else (min(args.cases, 96), args.members)
    rows = evaluate_downscaler(model, n_cases=n_side, members=m_side, nfes=nfes, methods=methods)
    print(f"\nsamplers x NFE side by side on {n_side} test cases x {m_side} members")
    print(format_table(rows))
    scen = scenario_table()
    print("\n" + SCENARIO_TITLE)
    print(format_scenarios(scen))
    if args.json:
        out = {
            "train": train,
            "sampling": samp,
            "validation": val_rows,
            "chosen": best,
            "chosen_9nfe": cheap,
            "test": {k: {kk: vv for kk, vv in r.items() if kk != "case_crps"} for k, r in v["rows"].items()},
            "best_baseline": v["best_baseline"],
            "crpss": v["crpss"],
            "crpss_probabilistic": v["crpss_probabilistic"],
            "by_lead": [{k: val for k, val in r.items()} for r in v["by_lead"]],
            "table": rows,
            "scenarios": scen,
        }
        args.json.write_text(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
