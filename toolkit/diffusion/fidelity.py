"""How close is a scaled score to the exact one? (the diffusion column of notebook 04)

A sampler follows the score ``∇ log p_σ(x) = (D(x; σ) − x) / σ²``. Scaling the denoiser's correction,
``D_γ = x + γ (D − x)``, scales the score by γ: ``γ ∇ log p_σ = ∇ log p_σ^γ``, the *exact* score
of a tempered density. So the direction is exact for every γ > 0 (cosine 1) and only the length is
biased (ratio γ) — yet the samples change: γ > 1 sharpens, γ < 1 widens. For Gaussian data
N(0, s²) the probability-flow ODE ``dx/dσ = γ σ x / (s² + σ²)`` solves in closed form,

    std of x(0) = std of x(σ_max) · (s² / (s² + σ_max²))^(γ/2),

so starting from N(0, s² + σ_max²) the samples' std is ``s · (s² / (s² + σ_max²))^((γ − 1)/2)``.

:func:`score_scale_alignment` measures, per γ, on the 1-D three-bump mixture with its exact
denoiser: the cosine and length ratio of the scaled score against the exact one (at points drawn
from p_σ over the sampler's noise levels) and the spread of Heun samples relative to the data's.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from toolkit.validation import check_float, check_int

from .samplers import karras_sigmas, sample
from .toy import gaussian_mixture_1d

__all__ = ["scaled_denoiser", "score_scale_alignment"]


def scaled_denoiser(denoiser, gamma: float):
    """``D_γ(x; σ) = x + γ (D(x; σ) − x)``: the score scaled by γ (γ = 1 returns ``denoiser`` itself)."""
    gamma = check_float("gamma", gamma, low=0.0, high=10.0, low_open=True)
    if gamma == 1.0:
        return denoiser

    def scaled(x, sigma, cond=None):
        return x + gamma * (denoiser(x, sigma, cond) - x)

    return scaled


def score_scale_alignment(
    gammas: Sequence[float], *, n_samples: int = 4000, steps: int = 18, seed: int = 0
) -> pd.DataFrame:
    """Cosine and length ratio of the γ-scaled score, and the samples' spread, for each γ.

    Returns one row per γ: ``factor`` (γ), ``cosine``, ``magnitude`` (‖γ s‖ / ‖s‖) and
    ``spread`` (std of Heun samples / std of the data).
    """
    gammas = [check_float("gammas", g, low=0.0, high=10.0, low_open=True) for g in gammas]
    if not gammas:
        raise ValueError("gammas must list at least one γ > 0")
    n_samples = check_int("n_samples", n_samples, low=100, high=1_000_000)
    steps = check_int("steps", steps, low=2, high=1000)
    mixture = gaussian_mixture_1d()
    sigmas = karras_sigmas(steps, sigma_max=20.0).double()
    gen = torch.Generator().manual_seed(seed)
    # probe points: x ~ p_σ at every noise level the sampler visits
    levels = sigmas[:-1].repeat_interleave(64)
    probes = mixture.sample(len(levels), generator=gen) + levels[:, None] * torch.randn(
        len(levels), 1, generator=gen, dtype=torch.float64
    )
    exact = (mixture.denoise(probes, levels) - probes) / levels[:, None] ** 2
    noise = torch.randn(n_samples, 1, generator=gen, dtype=torch.float64)
    data_std = float(mixture.variance.sqrt())
    rows = []
    for gamma in gammas:
        den = scaled_denoiser(mixture.denoise, gamma)
        scaled = (den(probes, levels) - probes) / levels[:, None] ** 2
        cosine = float((scaled * exact).sum() / (scaled.norm() * exact.norm()))
        magnitude = float(scaled.norm() / exact.norm())
        x = sample(den, noise, sigmas, "heun")
        rows.append(
            {"factor": gamma, "cosine": cosine, "magnitude": magnitude, "spread": float(x.std()) / data_std}
        )
    return pd.DataFrame(rows)
