"""Probabilistic verification of ensembles, vectorised in torch.

CRPS(F, y) = E|X - y| - ½ E|X - X'| (Gneiting & Raftery 2007). For an m-member ensemble the pair
term is Σ_ij |x_i - x_j| / (2m²) (standard, the CRPS of the empirical CDF) or / (2m(m-1)) ("fair",
unbiased for the CRPS of the distribution the members are drawn from; used by GenCast). The pair
sum is computed in O(m log m) from the sorted members: Σ_ij |x_i - x_j| = 2 Σ_i (2i - m - 1) x_(i).
"""

from __future__ import annotations

import math

import torch

from toolkit.validation import check_array, check_bool, check_float, check_int

from ._checks import check_generator, real_tensor

__all__ = [
    "crps_ensemble",
    "crps_gaussian",
    "spread_skill",
    "spread_skill_ratio",
    "rank_histogram",
    "radial_power_spectrum",
    "power_law_slope",
    "high_frequency_power_ratio",
    "ensemble_mean_rmse",
]


def _move_members(obs, ensemble, member_dim: int, finite: bool = False):
    obs = real_tensor("obs", obs, finite=finite)
    ens = real_tensor("ensemble", ensemble, finite=finite)
    if ens.ndim < 1:
        raise ValueError("ensemble must have a member dimension")
    member_dim = check_int("member_dim", member_dim, low=-ens.ndim, high=ens.ndim - 1)
    ens = torch.movedim(ens, member_dim, 0)
    # exact match, no broadcasting: a broadcast obs silently scores the wrong pairs
    if tuple(obs.shape) != tuple(ens.shape[1:]):
        raise ValueError(
            f"obs must have the ensemble's shape without its member dimension, "
            f"{tuple(ens.shape[1:])}, got {tuple(obs.shape)}"
        )
    dtype = torch.promote_types(obs.dtype, ens.dtype)
    return obs.to(dtype), ens.to(dtype)


def crps_ensemble(obs, ensemble, *, member_dim: int = 0, fair: bool = True) -> torch.Tensor:
    """CRPS of an ensemble at every point (no averaging); fair=False gives the standard estimator.

    obs must have exactly the ensemble's shape without member_dim (ValueError otherwise). Lower is
    better; for a single member (standard estimator) it is the absolute error. The standard
    estimator is >= 0; the fair one can dip below 0 by at most its spread term.
    """
    fair = check_bool("fair", fair)
    obs, ens = _move_members(obs, ensemble, member_dim)
    m = ens.shape[0]
    if m < 1 or (fair and m < 2):
        raise ValueError(
            f"ensemble must have at least {2 if fair else 1} members along member_dim "
            f"for {'fair' if fair else 'standard'} CRPS, got {m}"
        )
    skill = (ens - obs).abs().mean(0)
    xs, _ = torch.sort(ens, dim=0)
    w = 2 * torch.arange(1, m + 1, dtype=ens.dtype, device=ens.device) - m - 1
    pair_sum = 2 * (w.reshape((m,) + (1,) * (ens.ndim - 1)) * xs).sum(0)  # Σ_ij |x_i - x_j|
    spread = pair_sum / (2 * m * (m - 1)) if fair else pair_sum / (2 * m * m)
    return skill - spread


def crps_gaussian(obs, mu, sigma) -> torch.Tensor:
    """Closed form CRPS of N(μ, σ²): σ [z(2Φ(z) - 1) + 2φ(z) - 1/√π], z = (y - μ)/σ.

    obs, mu and sigma broadcast against each other (e.g. one σ for every point); NaN propagates.
    """
    obs, mu, sigma = (
        real_tensor(n, v, dtype=torch.float64) for n, v in (("obs", obs), ("mu", mu), ("sigma", sigma))
    )
    try:
        torch.broadcast_shapes(obs.shape, mu.shape, sigma.shape)
    except RuntimeError:
        raise ValueError(
            f"obs, mu and sigma must broadcast together, got shapes {tuple(obs.shape)}, "
            f"{tuple(mu.shape)} and {tuple(sigma.shape)}"
        ) from None
    if torch.any(sigma <= 0):
        raise ValueError("sigma must be > 0")
    z = (obs - mu) / sigma
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    return sigma * (z * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def ensemble_mean_rmse(obs, ensemble, *, member_dim: int = 0) -> torch.Tensor:
    """Root-mean-square error of the ensemble mean over all points (a scalar tensor)."""
    obs, ens = _move_members(obs, ensemble, member_dim)
    return torch.sqrt(((ens.mean(0) - obs) ** 2).mean())


def spread_skill(obs, ensemble, *, member_dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(spread, skill): spread = √(mean unbiased member variance) · √((m+1)/m), skill = ensemble-mean RMSE.

    The √((m+1)/m) factor (Fortin et al. 2014) makes spread = skill for a perfectly calibrated
    m-member ensemble, so the ratio is comparable across ensemble sizes.
    """
    obs, ens = _move_members(obs, ensemble, member_dim)
    m = ens.shape[0]
    if m < 2:
        raise ValueError(f"ensemble must have at least 2 members for spread, got {m}")
    spread = torch.sqrt(ens.var(0, unbiased=True).mean() * (m + 1) / m)
    return spread, torch.sqrt(((ens.mean(0) - obs) ** 2).mean())


def spread_skill_ratio(obs, ensemble, *, member_dim: int = 0) -> float:
    """spread / skill (1 = calibrated, < 1 over-confident, > 1 under-confident)."""
    spread, skill = spread_skill(obs, ensemble, member_dim=member_dim)
    return float(spread / skill)


def rank_histogram(
    obs, ensemble, *, member_dim: int = 0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Counts of the observation's rank among the m members (m + 1 bins; ties split at random).

    Flat for a calibrated ensemble, U-shaped when over-confident, dome-shaped when too wide.
    obs and ensemble must be finite (a NaN has no rank: it would land in a bin silently).
    """
    generator = check_generator("generator", generator)
    obs, ens = _move_members(obs, ensemble, member_dim, finite=True)
    m = ens.shape[0]
    obs = obs.expand(ens.shape[1:])
    below = (ens < obs).sum(0)
    ties = (ens == obs).sum(0)
    u = torch.rand(ties.shape, generator=generator, dtype=torch.float64)
    rank = below + torch.floor(u * (ties + 1)).long()
    return torch.bincount(rank.flatten(), minlength=m + 1)


def radial_power_spectrum(field) -> tuple[torch.Tensor, torch.Tensor]:
    """Radially averaged power spectrum of (..., H, W) fields: (k, P(k)) for k = 1 .. min(H, W)//2.

    P(k) is the mean of |FFT|² / (H W) over the annulus k - ½ <= |k| < k + ½ and over all leading
    dimensions (members, cases). The mean (k = 0) is left out.
    """
    return _spectrum("field", field)


def _spectrum(name: str, field) -> tuple[torch.Tensor, torch.Tensor]:
    f = real_tensor(name, field)
    if f.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., H, W), got shape {tuple(f.shape)}")
    h, w = f.shape[-2:]
    if min(h, w) < 4:
        raise ValueError(f"{name} must be at least 4x4 in its last two dimensions, got {h}x{w}")
    if f.numel() == 0:
        raise ValueError(f"{name} must hold at least one field, got shape {tuple(f.shape)}")
    p = torch.fft.fft2(f).abs() ** 2 / (h * w)
    p = p.reshape(-1, h, w).mean(0)
    ky = torch.fft.fftfreq(h, dtype=torch.float64) * h
    kx = torch.fft.fftfreq(w, dtype=torch.float64) * w
    kr = torch.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)
    bins = torch.round(kr).long()
    kmax = min(h, w) // 2
    total = torch.bincount(bins.flatten(), weights=p.flatten().double(), minlength=kmax + 1)
    count = torch.bincount(bins.flatten(), minlength=kmax + 1).double()
    k = torch.arange(1, kmax + 1, dtype=torch.float64)
    return k, (total[1 : kmax + 1] / count[1 : kmax + 1])


def power_law_slope(k, power, *, kmin: float = 2.0, kmax: float | None = None) -> float:
    """Least-squares slope of log P against log k for kmin <= k <= kmax (P ∝ k^slope).

    k and power are finite 1-D arrays of the same length (a NaN would silently drop out of the fit).
    """
    k = torch.from_numpy(check_array("k", k, ndim=1))
    power = torch.from_numpy(check_array("power", power, ndim=1))
    if power.shape != k.shape:
        raise ValueError(f"power must have the shape of k, {tuple(k.shape)}, got {tuple(power.shape)}")
    kmin = check_float("kmin", kmin)
    kmax = float(k.max()) if kmax is None else check_float("kmax", kmax, low=0.0, low_open=True)
    sel = (k >= kmin) & (k <= kmax) & (power > 0)
    if sel.sum() < 2:
        raise ValueError(f"need at least 2 wavenumbers with positive power in [{kmin}, {kmax}]")
    lk, lp = torch.log(k[sel]), torch.log(power[sel])
    lk0 = lk - lk.mean()
    return float((lk0 * (lp - lp.mean())).sum() / (lk0**2).sum())


def high_frequency_power_ratio(pred, truth, *, kmin_fraction: float = 0.5) -> float:
    """Σ P_pred(k) / Σ P_truth(k) over k >= kmin_fraction · Nyquist: 1 = right amount of small-scale
    detail, << 1 = too smooth (typical of MSE regression), > 1 = too noisy."""
    kmin_fraction = check_float("kmin_fraction", kmin_fraction, low=0.0, high=1.0)
    k, pp = _spectrum("pred", pred)
    _, pt = _spectrum("truth", truth)
    if pp.shape != pt.shape:
        raise ValueError(
            f"truth must have pred's field size {tuple(torch.as_tensor(pred).shape[-2:])}, "
            f"got {tuple(torch.as_tensor(truth).shape[-2:])}"
        )
    sel = k >= kmin_fraction * k.max()
    return float(pp[sel].sum() / pt[sel].sum())
