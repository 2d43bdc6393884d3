"""Verification of the downscaler against its baselines on a fixed synthetic test set.

Scores (all on the clear-sky index): fair CRPS per point averaged (deterministic forecasts: MAE),
ensemble-mean RMSE, spread–skill ratio, and the high-wavenumber power ratio (k >= Nyquist/2) of
the members vs the truth.
"""
from __future__ import annotations

import time

import torch

from toolkit.validation import check_int

from .metrics import crps_ensemble, ensemble_mean_rmse, high_frequency_power_ratio, spread_skill
from .model import Downscaler
from .samplers import METHODS, nfe_for
from .weather import WeatherConfig, make_weather_pairs

__all__ = ["fixed_test_set", "score_ensemble", "evaluate_downscaler", "steps_for_nfe", "format_table"]

TEST_SEED = 20231


def fixed_test_set(n: int = 64, *, seed: int = TEST_SEED, config: WeatherConfig | None = None):
    """The fixed test pairs (coarse, fine) as float32 tensors."""
    p = make_weather_pairs(check_int("n", n, low=1), config=config, random_state=seed)
    return torch.from_numpy(p.coarse), torch.from_numpy(p.fine)


def steps_for_nfe(method: str, nfe: int) -> int:
    """Largest step count whose NFE does not exceed `nfe` (Heun costs 2N - 1)."""
    nfe = check_int("nfe", nfe, low=1)
    return max(1, (nfe + 1) // 2) if method in ("heun", "churn") else nfe


def score_ensemble(fine: torch.Tensor, ens: torch.Tensor) -> dict:
    """Scores of an ensemble (members, B, H, W) (or a deterministic (B, H, W)) against fine (B, H, W)."""
    if ens.ndim == fine.ndim:
        ens = ens[None]
    m = ens.shape[0]
    crps = crps_ensemble(fine, ens, fair=m > 1).mean()
    row = {"crps": float(crps), "rmse": float(ensemble_mean_rmse(fine, ens)),
           "hf_power": high_frequency_power_ratio(ens, fine)}
    if m > 1:
        spread, skill = spread_skill(fine, ens)
        row["spread_skill"] = float(spread / skill)
    else:
        row["spread_skill"] = float("nan")
    return row


@torch.no_grad()
def evaluate_downscaler(model: Downscaler, *, n_cases: int = 16, members: int = 16, nfes=(10, 18, 35),
                        methods=("euler", "heun", "churn", "sde"), churn: float = 10.0, seed: int = 0,
                        progress=None) -> list[dict]:
    """Rows {method, nfe, crps, rmse, spread_skill, hf_power, seconds} for the baselines and every
    diffusion method × NFE budget on the fixed test set."""
    members = check_int("members", members, low=2, high=10000)
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods must be drawn from {METHODS}, got {m!r}")
    coarse, fine = fixed_test_set(n_cases)
    rows = []

    def add(name, nfe, ens, seconds):
        rows.append({"method": name, "nfe": nfe, **score_ensemble(fine, ens), "seconds": seconds})
        if progress:
            progress(rows[-1])

    t = time.perf_counter()
    add("bicubic", 0, model.bicubic(coarse), time.perf_counter() - t)
    t = time.perf_counter()
    add("mse_unet", 1, model.predict_mean(coarse), time.perf_counter() - t)
    t = time.perf_counter()
    add("bicubic+noise", 0, model.noise_ensemble(coarse, members, generator=torch.Generator().manual_seed(seed)),
        time.perf_counter() - t)
    for method in methods:
        for nfe in nfes:
            steps = steps_for_nfe(method, nfe)
            g = torch.Generator().manual_seed(seed)
            t = time.perf_counter()
            ens = model.ensemble(coarse, members, steps=steps, method=method, churn=churn if method == "churn" else 0.0,
                                 generator=g)
            add(f"diffusion-{method}", nfe_for(method, steps), ens, time.perf_counter() - t)
    return rows


def format_table(rows: list[dict]) -> str:
    """Plain-text table of evaluation rows."""
    head = f"{'method':<20}{'NFE':>5}{'CRPS':>9}{'RMSE':>9}{'spread/skill':>14}{'HF power':>10}{'time s':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['method']:<20}{r['nfe']:>5}{r['crps']:>9.4f}{r['rmse']:>9.4f}{r['spread_skill']:>14.3f}"
                     f"{r['hf_power']:>10.3f}{r['seconds']:>9.2f}")
    return "\n".join(lines)
