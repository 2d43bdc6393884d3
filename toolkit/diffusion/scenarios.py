"""Day-ahead scenarios: ensemble members that stay one weather story over the hours of a day.

Two ways to make member m at hour t follow on from member m at hour t - 1:

* shared noise (`coherent_noise` + `forecast_day`): every hour is sampled independently by the
  single-hour model, from initial noise that moves with the wind and is refreshed as an AR(1);
* autoregressive (`autoregressive_day`): a model trained with the previous hour's truth as an extra
  input (`downscaler_config(previous=True)`, `make_sequence_pairs`) makes hour t conditioned on the
  member's own hour t - 1, as in autoregressive video and weather diffusion.

`lag1_autocorrelation` measures how smoothly a series of site values changes from hour to hour.
"""

from __future__ import annotations

import numpy as np
import torch

from toolkit.validation import check_choice, check_float, check_instance, check_int

from ._checks import int_sequence
from .metrics import crps_ensemble
from .model import Downscaler
from .samplers import METHODS
from .weather import WeatherSequence, advect

__all__ = [
    "coherent_noise",
    "forecast_day",
    "autoregressive_day",
    "lag1_autocorrelation",
    "moved_pattern_correlation",
    "scenario_scores",
]


def coherent_noise(
    members: int, hours, wind, *, size: int = 32, memory: float = 0.85, seed: int = 0
) -> torch.Tensor:
    """Initial sampling noise (T, members, size, size) that is coherent in time: each member's noise
    moves with the NWP wind (whole-pixel shifts keep it exactly white) and is refreshed as an AR(1),
    ξ_t = φ^Δt roll(ξ_{t-1}) + √(1 - φ^(2Δt)) ε_t, φ = memory per hour. The deterministic ODE sampler
    maps nearby noise + nearby conditioning to nearby fields, so member m is one scenario over the day."""
    hours = np.asarray(hours, dtype=float)
    rng = np.random.default_rng(seed)
    offset = np.rint(np.outer(hours - hours[0], np.asarray(wind, dtype=float))).astype(int)  # (T, 2) pixels
    xi = rng.standard_normal((members, size, size))
    out = [xi]
    for t in range(1, len(hours)):
        a = memory ** (hours[t] - hours[t - 1])
        moved = np.roll(xi, tuple(offset[t] - offset[t - 1]), axis=(-2, -1))
        xi = a * moved + np.sqrt(1 - a * a) * rng.standard_normal(xi.shape)
        out.append(xi)
    return torch.from_numpy(np.stack(out)).float()


def _daylight(seq, every: int = 1) -> np.ndarray:
    """Indices of every `every`-th daylight hour of a WeatherSequence."""
    return np.flatnonzero(seq.ghi_clear > 0)[:: check_int("every", every, low=1, high=24)]


def _check_day(model, seq, members, steps, method, seed, site) -> tuple:
    """The shared arguments of forecast_day and autoregressive_day, checked: (members, site)."""
    check_instance("model", model, Downscaler)
    check_instance("seq", seq, WeatherSequence, "a WeatherSequence (make_weather_sequence)")
    n = model.config.size
    if seq.lead is None or seq.fine.shape[-1] != n:
        raise ValueError(f"seq must carry lead times and {n}×{n} fields (make_weather_sequence)")
    members = check_int("members", members, low=1, high=10000)
    check_int("steps", steps, low=1, high=1000)
    check_choice("method", method, METHODS)
    check_int("seed", seed, low=0)
    site = tuple(check_int("site", v, low=0, high=n - 1) for v in int_sequence("site", site))
    if len(site) != 2:
        raise ValueError(f"site must be a pixel (row, column), got {site}")
    return members, site


def _at_site(model: Downscaler, seq, day: np.ndarray, fields: torch.Tensor, site) -> dict:
    """The forecast dict of a day from the members' kc fields (T, M, H, W): their site series as GHI
    (T, M) and kc, the truth and the MSE forecast at the site (T,), and the fields themselves."""
    i, j = site
    kc = fields[:, :, i, j].numpy()
    clear = seq.ghi_clear[day]
    coarse = torch.from_numpy(seq.coarse[day])
    lead = torch.as_tensor(seq.lead[day], dtype=torch.float32)
    return {
        "hours": seq.hours[day],
        "clear": clear,
        "truth": seq.ghi[day][:, i, j],
        "truth_kc": seq.fine[day][:, i, j],
        "members": kc * clear[:, None],
        "members_kc": kc,
        "mse": model.predict_mean(coarse, lead)[:, i, j].numpy() * clear,
        "fields": fields,
    }


@torch.no_grad()
def forecast_day(
    model: Downscaler,
    seq,
    *,
    members: int = 8,
    steps: int = 9,
    method: str = "dpmpp_2m",
    seed: int = 0,
    site=(16, 16),
    every: int = 1,
    memory: float = 0.85,
) -> dict:
    """Ensemble GHI at a site for every `every`-th daylight hour of a WeatherSequence: members (T, M)
    as coherent scenarios (coherent_noise with the sequence's wind; memory = 0 gives independent
    hours), MSE and truth (T,), the kc series at the site and the members' kc fields (T, M, H, W)."""
    members, site = _check_day(model, seq, members, steps, method, seed, site)
    memory = check_float("memory", memory, low=0.0, high=1.0)
    day = _daylight(seq, every)
    coarse = torch.from_numpy(seq.coarse[day])
    lead = torch.as_tensor(seq.lead[day], dtype=torch.float32)
    wind = seq.wind if seq.wind is not None else (0.0, 0.0)
    noise = coherent_noise(members, seq.hours[day], wind, size=model.config.size, memory=memory, seed=seed)
    ens = model.ensemble(
        coarse,
        members,
        lead=lead,
        steps=steps,
        method=method,
        generator=torch.Generator().manual_seed(seed),
        noise=noise.transpose(0, 1),
    )
    return _at_site(model, seq, day, ens.transpose(0, 1), site)


@torch.no_grad()
def autoregressive_day(
    model: Downscaler,
    seq,
    *,
    members: int = 8,
    steps: int = 9,
    method: str = "dpmpp_2m",
    seed: int = 0,
    site=(16, 16),
) -> dict:
    """forecast_day's output made autoregressively: the first daylight hour with the previous-hour
    input masked (from the NWP, its U-Net mean and the lead time), then
    x_m(t) ~ p(x_t | NWP_t, lead_t, x_m(t - 1), wind) hour after hour, each member conditioned on its
    own previous hour (the whole field, not only the site) and on the wind that carries the clouds
    (seq.wind: the true wind, a perfect forecast of it; coherent_noise moves its noise with the same).
    Needs a previous=True model (load_pretrained(sequence=True)); the hours must be one apart, as in
    training."""
    members, site = _check_day(model, seq, members, steps, method, seed, site)
    if not model.config.previous:
        raise ValueError("model must be a previous=True model (load_pretrained(sequence=True))")
    day = _daylight(seq)
    if np.any(np.diff(seq.hours[day]) != 1):
        raise ValueError(f"seq's daylight hours must be consecutive, got {seq.hours[day].tolist()}")
    g = torch.Generator().manual_seed(seed)
    wind = seq.wind if seq.wind is not None else (0.0, 0.0)
    previous, fields = None, []
    for t in day:
        ens = model.ensemble(
            torch.from_numpy(seq.coarse[t : t + 1]),
            members,
            lead=float(seq.lead[t]),
            steps=steps,
            method=method,
            generator=g,
            previous=previous,
            wind=None if previous is None else wind,
        )
        previous = ens  # (members, 1, H, W): each member continues its own story
        fields.append(ens[:, 0])
    return _at_site(model, seq, day, torch.stack(fields), site)


def lag1_autocorrelation(series: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each column of (T, M) (or of a (T,) series):
    r = Σ_t a_t a_{t+1} / Σ_t a_t², a = x - mean(x)."""
    x = np.asarray(series, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    a = x - x.mean(0)
    return (a[1:] * a[:-1]).sum(0) / np.maximum((a * a).sum(0), 1e-12)


def moved_pattern_correlation(fields, wind) -> float:
    """How much of hour t's cloud pattern is hour t-1's moved by the wind: the correlation
    Σ a_t · b_t / √(Σ a_t² Σ b_t²) of the anomalies (each field's mean removed) of x_t and of
    advect(x_{t-1}, wind), averaged over hours (and members). fields: (T, H, W) or (T, M, H, W)."""
    x = np.asarray(fields, dtype=float)
    if x.ndim not in (3, 4) or len(x) < 2:
        raise ValueError(f"fields must be (T, H, W) or (T, M, H, W) with T >= 2, got shape {x.shape}")
    a = x[1:] - x[1:].mean(axis=(-2, -1), keepdims=True)
    b = advect(x[:-1], np.asarray(wind, dtype=float))
    b = b - b.mean(axis=(-2, -1), keepdims=True)
    num, den = (a * b).sum(axis=(-2, -1)), np.sqrt((a * a).sum(axis=(-2, -1)) * (b * b).sum(axis=(-2, -1)))
    return float(np.mean(num / np.maximum(den, 1e-12)))


def scenario_scores(fc: dict, seq) -> dict:
    """How a day's members change from hour to hour next to the truth: lag-1 autocorrelation of the
    site GHI and kc (members: the mean over members) and moved_pattern_correlation of the fields, at
    the forecast's own hours (evenly spaced: the wind moves the clouds wind × Δt between them); and
    the members' fair CRPS against the truth's fields over those hours."""
    check_instance("seq", seq, WeatherSequence, "a WeatherSequence (make_weather_sequence)")
    hours = np.asarray(fc["hours"], dtype=float)
    step = np.diff(hours)
    if len(hours) < 2 or np.any(step != step[0]):
        raise ValueError(f"fc must hold at least 2 evenly spaced hours, got {hours.tolist()}")
    truth = seq.fine[np.isin(seq.hours, hours)]
    moved = (seq.wind if seq.wind is not None else np.zeros(2)) * step[0]
    return {
        "truth": {
            "ghi": float(lag1_autocorrelation(fc["truth"])[0]),
            "kc": float(lag1_autocorrelation(fc["truth_kc"])[0]),
            "pattern": moved_pattern_correlation(truth, moved),
        },
        "members": {
            "ghi": float(lag1_autocorrelation(fc["members"]).mean()),
            "kc": float(lag1_autocorrelation(fc["members_kc"]).mean()),
            "pattern": moved_pattern_correlation(fc["fields"].numpy(), moved),
            "crps": float(crps_ensemble(torch.from_numpy(truth), fc["fields"].transpose(0, 1)).mean()),
        },
    }
