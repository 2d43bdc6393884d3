"""Verification of the downscaler against the baselines a forecaster would use.

Scores (all on the clear-sky index kc): CRPS per point averaged per case (fair estimator for
ensembles, closed form for Gaussians, MAE for deterministic forecasts), ensemble-mean RMSE,
spread–skill ratio, the high-wavenumber power ratio (k >= Nyquist/2) of the members vs the truth,
and the fraction of member pixels outside the generator's physical range of kc.

Skill: CRPSS = 1 - CRPS_model / CRPS_reference against the BEST baseline, with a bootstrap 95 %
interval over cases (resampling cases keeps the pixels of a case together). Seeds:
training uses 0 (train), 1 (held-out) and 2 (the baselines' error models); the sampler and NFE are
chosen on VALIDATION_SEED; the skill is measured on TEST_SEED cases, used for nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from toolkit.validation import check_choice, check_float, check_instance, check_int

from ._checks import float_pair, int_sequence, real_tensor
from .metrics import (
    crps_ensemble,
    crps_gaussian,
    ensemble_mean_rmse,
    high_frequency_power_ratio,
    spread_skill,
)
from .model import Downscaler
from .samplers import METHODS, nfe_for
from .weather import REGIMES, WeatherConfig, make_weather_pairs

__all__ = [
    "TEST_SEED",
    "VALIDATION_SEED",
    "LEAD_BINS",
    "Cases",
    "load_cases",
    "fixed_test_set",
    "score_ensemble",
    "case_crps",
    "out_of_range_fraction",
    "baseline_forecasts",
    "score_forecasts",
    "crpss",
    "select_sampler",
    "verify",
    "evaluate_downscaler",
    "steps_for_nfe",
    "format_table",
    "format_verification",
    "EVENTS",
    "reliability",
    "binned_spread_skill",
    "rank_chi2",
    "conditional_verification",
]

TEST_SEED = 20231  # fresh cases: never used for training (seeds 0-2) or model selection
VALIDATION_SEED = 9001  # sampler / NFE selection
LEAD_BINS = ((1, 6), (7, 12), (13, 18), (19, 24))
PROBABILISTIC = ("bicubic + noise", "MSE U-Net + noise", "MSE U-Net + Gaussian", "MSE U-Net + logit-Gaussian")


@dataclass
class Cases:
    """Verification cases: coarse (B, h, w), fine (B, H, W), lead (B,) hours as tensors; regime (B,)."""

    coarse: torch.Tensor
    fine: torch.Tensor
    lead: torch.Tensor
    regime: np.ndarray
    config: WeatherConfig

    def __len__(self) -> int:
        return len(self.fine)

    def subset(self, idx) -> Cases:
        idx = torch.as_tensor(idx)
        return Cases(self.coarse[idx], self.fine[idx], self.lead[idx], self.regime[idx.numpy()], self.config)


def load_cases(n: int = 96, *, seed: int = TEST_SEED, config: WeatherConfig | None = None) -> Cases:
    """n seeded synthetic cases (default: the test seed)."""
    p = make_weather_pairs(
        check_int("n", n, low=1, high=10**6), config=config, random_state=check_int("seed", seed, low=0)
    )
    return Cases(
        torch.from_numpy(p.coarse),
        torch.from_numpy(p.fine),
        torch.from_numpy(p.lead.astype(np.float32)),
        p.regime,
        p.config,
    )


def fixed_test_set(n: int = 64, *, seed: int = TEST_SEED, config: WeatherConfig | None = None):
    """The fixed test pairs (coarse, fine, lead hours) as float32 tensors."""
    c = load_cases(n, seed=seed, config=config)
    return c.coarse, c.fine, c.lead


def steps_for_nfe(method: str, nfe: int) -> int:
    """Largest step count whose NFE does not exceed `nfe` (Heun costs 2N - 1)."""
    nfe = check_int("nfe", nfe, low=1)
    return max(1, (nfe + 1) // 2) if method in ("heun", "churn") else nfe


def case_crps(fine: torch.Tensor, forecast) -> torch.Tensor:
    """CRPS per case (B,), averaged over pixels. forecast: an ensemble (members, B, H, W), a
    deterministic field (B, H, W) (CRPS = MAE) or a Gaussian (mu, sigma) pair (closed form)."""
    if isinstance(forecast, tuple):
        return crps_gaussian(fine, *forecast).mean(dim=(-2, -1))
    ens = forecast if forecast.ndim == fine.ndim + 1 else forecast[None]
    return crps_ensemble(fine, ens, fair=ens.shape[0] > 1).mean(dim=(-2, -1)).double()


def out_of_range_fraction(ens: torch.Tensor, kc_range) -> float:
    """Fraction of values outside the physical range [low, high] of kc."""
    lo, hi = kc_range
    return float(((ens < lo) | (ens > hi)).double().mean())


def score_ensemble(fine: torch.Tensor, ens: torch.Tensor, *, kc_range=None) -> dict:
    """Scores of an ensemble (members, B, H, W) (or a deterministic (B, H, W)) against fine (B, H, W).

    The fields are at least 4 × 4 (for the power spectrum); kc_range is None or (low, high).
    """
    fine = real_tensor("fine", fine, min_ndim=2)
    ens = real_tensor("ens", ens, min_ndim=2)
    if tuple(ens.shape[-fine.ndim :]) != tuple(fine.shape) or ens.ndim not in (fine.ndim, fine.ndim + 1):
        raise ValueError(
            f"ens must be (members, *fine.shape) or fine's shape {tuple(fine.shape)}, got {tuple(ens.shape)}"
        )
    if min(fine.shape[-2:]) < 4 or fine.numel() == 0 or ens.numel() == 0:
        raise ValueError(
            f"fine must hold fields of at least 4 x 4 and ens at least one member, got shapes "
            f"{tuple(fine.shape)} and {tuple(ens.shape)}"
        )
    if kc_range is not None:
        kc_range = float_pair("kc_range", kc_range, -1e6, 1e6)
    if ens.ndim == fine.ndim:
        ens = ens[None]
    m = ens.shape[0]
    row = {
        "crps": float(case_crps(fine, ens).mean()),
        "rmse": float(ensemble_mean_rmse(fine, ens)),
        "hf_power": high_frequency_power_ratio(ens, fine),
    }
    if m > 1:
        spread, skill = spread_skill(fine, ens)
        row["spread_skill"] = float(spread / skill)
    else:
        row["spread_skill"] = float("nan")
    if kc_range is not None:
        row["out_of_range"] = out_of_range_fraction(ens, kc_range)
    return row


def _score_gaussian(fine, mu, sigma, generator) -> dict:
    # spread/skill and spectra from the exact σ; a 16-member draw only for the power ratio
    draw = mu[None] + sigma[None] * torch.randn((16,) + tuple(mu.shape), generator=generator)
    return {
        "crps": float(case_crps(fine, (mu, sigma)).mean()),
        "rmse": float(torch.sqrt(((mu - fine) ** 2).mean())),
        "hf_power": high_frequency_power_ratio(draw, fine),
        "spread_skill": float(
            torch.sqrt((sigma.double() ** 2).mean()) / torch.sqrt(((mu - fine) ** 2).mean())
        ),
    }


@torch.no_grad()
def baseline_forecasts(model: Downscaler, cases: Cases, members: int = 16, *, seed: int = 0) -> dict:
    """name -> forecast for the baselines: deterministic (B, H, W), ensembles (members, B, H, W), or
    a Gaussian (mu, sigma) for "MSE U-Net + Gaussian" (σ by predicted-value bins, closed-form CRPS)."""
    g = torch.Generator().manual_seed(seed)
    c, lead = cases.coarse, cases.lead
    out = {
        "bicubic": model.bicubic(c),
        "MSE U-Net": model.predict_mean(c, lead),
        "bicubic + noise": model.noise_ensemble(c, members, generator=g),
        "MSE U-Net + noise": model.mse_noise_ensemble(c, members, lead=lead, generator=g),
        "MSE U-Net + Gaussian": model.hetero_gaussian(c, lead),
    }
    if model.config.transform == "logit":
        out["MSE U-Net + logit-Gaussian"] = model.hetero_latent_ensemble(c, members, lead=lead, generator=g)
    return out


def score_forecasts(fine: torch.Tensor, forecasts: dict, *, kc_range=None, seed: int = 0) -> dict:
    """name -> score row (crps, rmse, spread_skill, hf_power[, out_of_range]) plus per-case CRPS."""
    g = torch.Generator().manual_seed(seed)
    rows = {}
    for name, f in forecasts.items():
        if isinstance(f, tuple):
            row = _score_gaussian(fine, *f, g)
            if kc_range is not None:  # probability mass of N(μ, σ²) outside the physical range
                lo, hi = (torch.as_tensor(v, dtype=torch.float64) for v in kc_range)
                z = torch.distributions.Normal(f[0].double(), f[1].double())
                row["out_of_range"] = float((z.cdf(lo) + 1 - z.cdf(hi)).mean())
        else:
            row = score_ensemble(fine, f, kc_range=kc_range)
        row["case_crps"] = case_crps(fine, f)
        rows[name] = row
    return rows


def crpss(
    crps_model, crps_ref, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """(CRPSS, low, high): 1 - mean(model)/mean(ref) and its bootstrap percentile interval over cases."""
    a, b = torch.as_tensor(crps_model, dtype=torch.float64), torch.as_tensor(crps_ref, dtype=torch.float64)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(
            f"crps_model and crps_ref must be per-case vectors of the same length >= 2, "
            f"got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    n_boot = check_int("n_boot", n_boot, low=10, high=10**6)
    level = check_float("level", level, low=0.0, low_open=True, high=1.0, high_open=True)
    idx = torch.randint(len(a), (n_boot, len(a)), generator=torch.Generator().manual_seed(seed))
    boot = 1 - a[idx].mean(1) / b[idx].mean(1)
    lo, hi = torch.quantile(boot, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return float(1 - a.mean() / b.mean()), float(lo), float(hi)


@torch.no_grad()
def _diffusion(model, cases, members, method, nfe, seed, **options):
    steps = steps_for_nfe(method, nfe)
    return model.ensemble(
        cases.coarse,
        members,
        lead=cases.lead,
        steps=steps,
        method=method,
        generator=torch.Generator().manual_seed(seed),
        **options,
    ), nfe_for(method, steps)


@torch.no_grad()
def select_sampler(
    model: Downscaler,
    *,
    methods=("heun", "dpmpp_2m", "dpmpp_2m_sde", "sde"),
    nfes=(9, 17),
    n_cases: int = 48,
    members: int = 8,
    seed: int = VALIDATION_SEED,
) -> tuple[list[dict], dict]:
    """CRPS of every method × NFE budget on validation cases; returns (rows, best row)."""
    cases = load_cases(n_cases, seed=seed)
    rows = []
    for method in methods:
        check_choice("methods", method, METHODS)
        for nfe in nfes:
            t = time.perf_counter()
            ens, used = _diffusion(model, cases, members, method, nfe, seed)
            rows.append(
                {
                    "method": method,
                    "nfe": used,
                    **score_ensemble(cases.fine, ens, kc_range=cases.config.kc_range),
                    "seconds": time.perf_counter() - t,
                }
            )
    return rows, min(rows, key=lambda r: r["crps"])


@torch.no_grad()
def verify(
    model: Downscaler,
    *,
    method: str = "dpmpp_2m",
    nfe: int = 9,
    n_cases: int = 96,
    members: int = 16,
    seed: int = TEST_SEED,
    n_boot: int = 2000,
    **options,
) -> dict:
    """The headline verification on fresh cases: every baseline and the diffusion ensemble, the
    best baseline (lowest mean CRPS), CRPSS vs it with a bootstrap interval, overall and per lead bin.

    Returns {"rows": name -> scores, "best_baseline", "best_probabilistic", "crpss": (s, lo, hi),
    "crpss_probabilistic", "by_lead": [{"lead": (a, b), "n", "crpss": (s, lo, hi), ...}], "cases"}.
    """
    check_instance("model", model, Downscaler)
    check_choice("method", method, METHODS)
    nfe = check_int("nfe", nfe, low=1, high=10000)
    n_cases = check_int("n_cases", n_cases, low=2, high=10**6)  # the bootstrap needs 2 cases
    members = check_int("members", members, low=1, high=10000)
    seed = check_int("seed", seed, low=0)
    n_boot = check_int("n_boot", n_boot, low=10, high=10**6)
    cases = load_cases(n_cases, seed=seed)
    kc_range = cases.config.kc_range
    forecasts = baseline_forecasts(model, cases, members, seed=seed)
    t = time.perf_counter()
    ens, used = _diffusion(model, cases, members, method, nfe, seed, **options)
    seconds = time.perf_counter() - t
    forecasts[f"diffusion {method} {used} NFE"] = ens
    rows = score_forecasts(cases.fine, forecasts, kc_range=kc_range, seed=seed)
    name = f"diffusion {method} {used} NFE"
    rows[name]["seconds"] = seconds
    baselines = [k for k in rows if k != name]
    best = min(baselines, key=lambda k: rows[k]["crps"])
    best_prob = min((k for k in baselines if k in PROBABILISTIC), key=lambda k: rows[k]["crps"])
    d = rows[name]["case_crps"]
    out = {
        "rows": rows,
        "diffusion": name,
        "best_baseline": best,
        "best_probabilistic": best_prob,
        "crpss": crpss(d, rows[best]["case_crps"], n_boot=n_boot, seed=seed),
        "crpss_probabilistic": crpss(d, rows[best_prob]["case_crps"], n_boot=n_boot, seed=seed),
        "cases": cases,
        "ensemble": ens,
        "method": method,
        "nfe": used,
        "members": members,
    }
    by_lead = []
    for a, b in LEAD_BINS:
        sel = torch.nonzero((cases.lead >= a) & (cases.lead <= b)).flatten()
        if len(sel) < 2:
            continue
        row = {"lead": (a, b), "n": len(sel)}
        for k in (name, best, "MSE U-Net"):
            row[k] = float(rows[k]["case_crps"][sel].mean())
        row["crpss"] = crpss(d[sel], rows[best]["case_crps"][sel], n_boot=n_boot, seed=seed)
        sub = cases.subset(sel)
        row["spread_skill"] = score_ensemble(sub.fine, ens[:, sel])["spread_skill"]
        by_lead.append(row)
    out["by_lead"] = by_lead
    return out


def format_verification(v: dict) -> str:
    """Plain-text tables of verify(): every forecast, then CRPSS vs the best baseline per lead time."""
    head = f"{'forecast':<30}{'CRPS':>8}{'RMSE':>8}{'spread/skill':>14}{'HF power':>10}{'out of range':>14}"
    lines = [head, "-" * len(head)]
    for k, r in v["rows"].items():
        oor = r.get("out_of_range", float("nan"))
        lines.append(
            f"{k:<30}{r['crps']:>8.4f}{r['rmse']:>8.4f}{r['spread_skill']:>14.3f}{r['hf_power']:>10.3f}"
            f"{100 * oor:>13.2f}%"
        )
    s, lo, hi = v["crpss"]
    lines.append(
        f"\nbest baseline: {v['best_baseline']}; CRPSS of {v['diffusion']} vs it: "
        f"{100 * s:.1f} % (95 % bootstrap interval {100 * lo:.1f} to {100 * hi:.1f} %, "
        f"{len(v['cases'])} cases)"
    )
    head = f"{'lead h':<10}{'cases':>6}{'CRPS diff':>11}{'CRPS best':>11}{'CRPSS %':>9}"
    head += f"{'95 % interval':>18}{'spread/skill':>14}"
    lines += ["", head, "-" * len(head)]
    for r in v["by_lead"]:
        s, lo, hi = r["crpss"]
        lines.append(
            f"{r['lead'][0]:>2}-{r['lead'][1]:<7}{r['n']:>6}{r[v['diffusion']]:>11.4f}"
            f"{r[v['best_baseline']]:>11.4f}{100 * s:>9.1f}{f'{100 * lo:.1f} to {100 * hi:.1f}':>18}"
            f"{r['spread_skill']:>14.3f}"
        )
    return "\n".join(lines)


@torch.no_grad()
def evaluate_downscaler(
    model: Downscaler,
    *,
    n_cases: int = 16,
    members: int = 16,
    nfes=(9, 17, 35),
    methods=("heun", "dpmpp_2m", "dpmpp_2m_sde", "sde"),
    churn: float = 10.0,
    seed: int = 0,
    progress=None,
    test_seed: int = TEST_SEED,
) -> list[dict]:
    """Rows {method, nfe, crps, rmse, spread_skill, hf_power, out_of_range, seconds} for the
    baselines and every diffusion method × NFE budget, side by side on the same cases."""
    check_instance("model", model, Downscaler)
    n_cases = check_int("n_cases", n_cases, low=1, high=10**6)
    members = check_int("members", members, low=2, high=10000)
    nfes = [check_int("nfes", nfe, low=1, high=10000) for nfe in int_sequence("nfes", nfes)]
    methods = [check_choice("methods", m, METHODS) for m in int_sequence("methods", methods)]
    churn = check_float("churn", churn, low=0.0, high=1000.0)
    seed = check_int("seed", seed, low=0)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable taking a row, got {type(progress).__name__}")
    test_seed = check_int("test_seed", test_seed, low=0)
    cases = load_cases(n_cases, seed=test_seed)
    kc_range = cases.config.kc_range
    t = time.perf_counter()
    scores = score_forecasts(
        cases.fine, baseline_forecasts(model, cases, members, seed=seed), kc_range=kc_range, seed=seed
    )
    base_seconds = time.perf_counter() - t
    rows = []
    for name, r in scores.items():
        rows.append(
            {
                "method": name,
                "nfe": 1 if "U-Net" in name else 0,
                **{k: v for k, v in r.items() if k != "case_crps"},
                "seconds": base_seconds / len(scores),
            }
        )
        if progress:
            progress(rows[-1])
    for method in methods:
        for nfe in nfes:
            t = time.perf_counter()
            ens, used = _diffusion(
                model, cases, members, method, nfe, seed, churn=churn if method == "churn" else 0.0
            )
            rows.append(
                {
                    "method": f"diffusion-{method}",
                    "nfe": used,
                    **score_ensemble(cases.fine, ens, kc_range=kc_range),
                    "seconds": time.perf_counter() - t,
                }
            )
            if progress:
                progress(rows[-1])
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of evaluation rows."""
    head = (
        f"{'method':<28}{'NFE':>5}{'CRPS':>9}{'RMSE':>9}{'spread/skill':>14}{'HF power':>10}"
        f"{'out of range':>14}{'time s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['method']:<28}{r['nfe']:>5}{r['crps']:>9.4f}{r['rmse']:>9.4f}{r['spread_skill']:>14.3f}"
            f"{r['hf_power']:>10.3f}{100 * r.get('out_of_range', float('nan')):>13.2f}%{r['seconds']:>9.2f}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- conditional verification
EVENTS = {"kc < 0.5 (thick cloud)": lambda kc: kc < 0.5, "clear sky (kc ≥ 0.95)": lambda kc: kc >= 0.95}


def reliability(fine: torch.Tensor, ens: torch.Tensor, event, *, n_bins: int = 5) -> list[dict]:
    """Reliability diagram of a binary event (a callable kc -> bool): forecast probability = fraction
    of members with the event, binned in n_bins equal bins of [0, 1]; observed frequency per bin.
    Calibrated: observed ≈ forecast in every bin."""
    n_bins = check_int("n_bins", n_bins, low=1, high=100)
    p = event(ens).double().mean(0).flatten()
    o = event(fine).double().flatten()
    idx = torch.clamp((p * n_bins).long(), max=n_bins - 1)
    rows = []
    for b in range(n_bins):
        sel = idx == b
        if sel.any():
            rows.append(
                {
                    "bin": b,
                    "forecast": float(p[sel].mean()),
                    "observed": float(o[sel].mean()),
                    "count": int(sel.sum()),
                }
            )
    return rows


def binned_spread_skill(fine: torch.Tensor, ens: torch.Tensor, *, n_bins: int = 5) -> list[dict]:
    """Spread–skill binned by spread: pixels grouped by their ensemble spread (equal-count bins);
    per bin the RMS spread (√((m+1)/m) corrected) and the RMSE of the ensemble mean. Calibrated:
    equal in every bin (the ensemble knows WHERE it is uncertain, not only on average)."""
    n_bins = check_int("n_bins", n_bins, low=1, high=100)
    m = ens.shape[0]
    var = ens.double().var(0, unbiased=True).flatten() * (m + 1) / m
    err2 = ((ens.double().mean(0) - fine.double()) ** 2).flatten()
    order = torch.argsort(var)
    rows = []
    for b, chunk in enumerate(torch.tensor_split(order, n_bins)):
        rows.append(
            {
                "bin": b,
                "spread": float(var[chunk].mean().sqrt()),
                "rmse": float(err2[chunk].mean().sqrt()),
                "count": len(chunk),
            }
        )
    return rows


def rank_chi2(hist: torch.Tensor) -> float:
    """χ² of a rank histogram against the flat one (m dof for m + 1 bins)."""
    h = torch.as_tensor(hist, dtype=torch.float64)
    e = h.sum() / len(h)
    return float(((h - e) ** 2 / e).sum())


def conditional_verification(v: dict) -> dict:
    """Conditional verification of a verify() result: reliability per event, spread–skill by spread,
    rank histograms (+ χ²) per regime and the small-scale power ratio per lead bin."""
    from .metrics import rank_histogram

    cases, ens = v["cases"], v["ensemble"]
    out = {
        "reliability": {k: reliability(cases.fine, ens, f) for k, f in EVENTS.items()},
        "spread_skill": binned_spread_skill(cases.fine, ens),
        "rank": {},
        "power": [],
    }
    for r, name in enumerate(REGIMES):
        sel = torch.from_numpy(np.flatnonzero(cases.regime == r))
        if len(sel):
            h = rank_histogram(cases.fine[sel], ens[:, sel], generator=torch.Generator().manual_seed(0))
            out["rank"][name] = {"hist": h.tolist(), "chi2": rank_chi2(h), "cases": len(sel)}
    for a, b in LEAD_BINS:
        sel = torch.nonzero((cases.lead >= a) & (cases.lead <= b)).flatten()
        if len(sel):
            out["power"].append(
                {
                    "lead": (a, b),
                    "hf_power": high_frequency_power_ratio(ens[:, sel], cases.fine[sel]),
                    "cases": len(sel),
                }
            )
    return out
