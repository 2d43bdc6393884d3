"""Self-checking exercises for the diffusion notebook (reference solutions live here)."""
from __future__ import annotations

import numpy as np

from ..check import Exercise

__all__ = ["ex_gaussian_denoiser", "ex_karras", "ex_euler_step", "ex_crps", "EXERCISES"]


def _gaussian_denoiser(x, sigma, mu, s):
    x = np.asarray(x, dtype=float)
    return (s**2 * x + sigma**2 * mu) / (s**2 + sigma**2)


def _karras(steps, sigma_min, sigma_max, rho):
    i = np.arange(steps)
    sig = (sigma_max ** (1 / rho) + i / (steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(sig, 0.0)


def _euler_step(x, denoised, sigma, sigma_next):
    x, denoised = np.asarray(x, dtype=float), np.asarray(denoised, dtype=float)
    return x + (sigma_next - sigma) * (x - denoised) / sigma


def _crps_fair(obs, members):
    m = np.asarray(members, dtype=float)
    k = len(m)
    return np.abs(m - obs).mean() - np.abs(m[:, None] - m[None, :]).sum() / (2 * k * (k - 1))


_rng = np.random.default_rng(3)

ex_gaussian_denoiser = Exercise(
    "gaussian-denoiser",
    "Data y ~ N(μ, s²) is observed as x = y + σ n. Write `denoiser(x, sigma, mu, s)` returning the best "
    "guess E[y | x] (it must work elementwise on arrays).",
    _gaussian_denoiser,
    hints=("Both y and x are Gaussian: E[y | x] is a precision-weighted average of x and μ.",
           "The weight of x is s² / (s² + σ²): large noise -> trust the prior mean.",
           "return (s**2 * x + sigma**2 * mu) / (s**2 + sigma**2)"),
    inputs=[(_rng.normal(size=5), 0.5, 1.0, 2.0), (np.linspace(-3, 3, 7), 4.0, -0.5, 0.3), (2.0, 0.01, 0.0, 1.0)],
)

ex_karras = Exercise(
    "karras-sigmas",
    "Compute the EDM noise levels for steps = 6, σ_min = 0.002, σ_max = 80, ρ = 7 by the formula "
    "σ_i = (σ_max^(1/ρ) + i/(N-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ, i = 0..N-1, followed by a final 0 "
    "(a NumPy array of length 7). Do not call karras_sigmas.",
    lambda: _karras(6, 0.002, 80.0, 7.0),
    hints=("Interpolate linearly between σ_max^(1/ρ) and σ_min^(1/ρ), then raise to the power ρ.",
           "i = np.arange(6); the last element is appended with np.append(..., 0.0)."),
)

ex_euler_step = Exercise(
    "euler-step",
    "Write `euler_step(x, denoised, sigma, sigma_next)`: one Euler step of the probability-flow ODE "
    "dx/dσ = (x − D(x; σ)) / σ from σ to σ_next, given denoised = D(x; σ).",
    _euler_step,
    hints=("The slope is d = (x − denoised) / σ.", "x_next = x + (σ_next − σ) · d"),
    inputs=[(_rng.normal(size=4), _rng.normal(size=4), 2.0, 1.2), (np.ones(3), np.zeros(3), 0.5, 0.0)],
)

ex_crps = Exercise(
    "fair-crps",
    "The fair CRPS of an m-member ensemble is mean|x_i − y| − Σ_ij |x_i − x_j| / (2 m (m − 1)). "
    "Compute it by hand (NumPy, no toolkit) for the observation and members given to check().",
    _crps_fair,
    hints=("Broadcast members[:, None] - members[None, :] to get all pairs.",
           "np.abs(m - y).mean() - np.abs(m[:, None] - m[None, :]).sum() / (2 * k * (k - 1))"),
)

EXERCISES = [ex_gaussian_denoiser, ex_karras, ex_euler_step, ex_crps]
