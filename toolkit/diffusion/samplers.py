"""Noise schedules and samplers for the variance-exploding / EDM formulation x = y + σ n.

The probability-flow ODE is dx/dσ = (x - D(x; σ)) / σ, with D the denoiser (Karras et al. 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models", NVlabs/edm). Sampling starts at
x = noise · σ_0 and integrates down to σ_N (normally 0).

Methods
  euler      first-order ODE step; NFE = N.
  heun       EDM Algorithm 1: Heun (trapezoid) correction except on the last step to σ = 0 (Euler).
             NFE = 2N - 1.
  churn      EDM Algorithm 2: Heun + "churn" — before each step add noise to raise σ to
             σ̂ = σ(1 + γ), γ = min(S_churn / N, √2 - 1). (`churn` > 0 also works with euler/heun.)
  ddim       DDIM with stochasticity eta (0 = deterministic). In σ-space DDIM(η=0) is exactly Euler;
             η = 1 is ancestral sampling.
  ancestral  DDPM-style: draw x_{i+1} from the Gaussian posterior q(x_{i+1} | x_i, y = D(x_i)).
  sde        Euler–Maruyama on the reverse SDE dx = -2σ ∇log p dσ + √(2σ) dW̄, with a final
             denoising step D(x; σ_{N-1}) to σ = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from toolkit.validation import check_bool, check_choice, check_float, check_int

__all__ = ["karras_sigmas", "sample", "sample_trajectory", "SampleResult", "METHODS", "nfe_for"]

METHODS = ("euler", "heun", "churn", "ddim", "ancestral", "sde")

Denoiser = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def karras_sigmas(steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> torch.Tensor:
    """EDM schedule σ_i = (σ_max^(1/ρ) + i/(N-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ, i < N, then σ_N = 0.

    Returns a float64 tensor of steps + 1 decreasing noise levels ending with 0. Large ρ spends
    more steps at small σ, where the fine details are decided.
    """
    steps = check_int("steps", steps, low=1, high=10000)
    sigma_min = check_float("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = check_float("sigma_max", sigma_max, low=0.0, low_open=True)
    if sigma_max < sigma_min:
        raise ValueError(f"sigma_max must be >= sigma_min, got sigma_max={sigma_max}, sigma_min={sigma_min}")
    rho = check_float("rho", rho, low=0.0, low_open=True, high=1000.0)
    if steps == 1:
        ramp = torch.zeros(1, dtype=torch.float64)
    else:
        ramp = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    sig = (a + ramp * (b - a)) ** rho
    return torch.cat([sig, torch.zeros(1, dtype=torch.float64)])


@dataclass
class SampleResult:
    """Output of sample_trajectory: final x, number of denoiser calls, states x_i and estimates D_i."""

    x: torch.Tensor
    nfe: int
    sigmas: torch.Tensor
    trajectory: list = field(default_factory=list)   # x at each σ_i (i = 0..N), if kept
    denoised: list = field(default_factory=list)     # D(x_i; σ_i) at every step, if kept


def nfe_for(method: str, steps: int, final_zero: bool = True) -> int:
    """Number of network evaluations of `method` with `steps` steps (heun/churn save the last one)."""
    check_choice("method", method, METHODS)
    steps = check_int("steps", steps, low=1)
    if method in ("heun", "churn"):
        return 2 * steps - (1 if final_zero else 0)
    return steps


def _check_sigmas(sigmas) -> torch.Tensor:
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if sigmas.numel() < 2:
        raise ValueError(f"sigmas must hold at least 2 noise levels, got {sigmas.numel()}")
    if not torch.all(torch.isfinite(sigmas)) or torch.any(sigmas < 0):
        raise ValueError("sigmas must be finite and >= 0")
    if torch.any(sigmas[1:] > sigmas[:-1]):
        raise ValueError("sigmas must be non-increasing (from sigma_max down to 0)")
    if sigmas[0] <= 0:
        raise ValueError("sigmas[0] must be > 0")
    return sigmas


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


@torch.no_grad()
def sample_trajectory(denoiser: Denoiser, noise: torch.Tensor, sigmas, method: str = "heun", cond=None,
                      churn: float = 0.0, generator: torch.Generator | None = None, *, eta: float = 0.0,
                      s_tmin: float = 0.0, s_tmax: float = float("inf"), s_noise: float = 1.0,
                      keep: bool = True) -> SampleResult:
    """Like `sample` but returns a SampleResult with NFE and (if keep) every x_i and D(x_i; σ_i).

    `eta` is the DDIM stochasticity (used only by method="ddim"); s_tmin/s_tmax/s_noise are EDM's
    churn window and noise inflation. The denoiser is called as denoiser(x, sigma, cond) with
    sigma a 1-D tensor of length x.shape[0] (same dtype as x).
    """
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable as denoiser(x, sigma, cond), got {type(denoiser).__name__}")
    if not isinstance(noise, torch.Tensor) or noise.ndim < 1 or not noise.is_floating_point():
        raise TypeError("noise must be a floating-point torch.Tensor with a batch dimension")
    method = check_choice("method", method, METHODS)
    churn = check_float("churn", churn, low=0.0, high=1e4)
    eta = check_float("eta", eta, low=0.0, high=1.0)
    s_noise = check_float("s_noise", s_noise, low=0.0, high=10.0)
    s_tmin = check_float("s_tmin", s_tmin, low=0.0)
    s_tmax = float(s_tmax)
    keep = check_bool("keep", keep)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    sig = _check_sigmas(sigmas)
    steps = len(sig) - 1
    batch = noise.shape[0]
    nfe = 0

    def D(x, s):
        nonlocal nfe
        nfe += 1
        out = denoiser(x, torch.full((batch,), float(s), dtype=x.dtype, device=x.device), cond)
        if out.shape != x.shape:
            raise ValueError(f"denoiser returned shape {tuple(out.shape)}, expected {tuple(x.shape)}")
        return out

    x = noise * float(sig[0])
    traj, dens = ([x.clone()] if keep else []), []
    use_churn = method in ("euler", "heun", "churn") and churn > 0
    gamma_max = min(churn / steps, math.sqrt(2) - 1) if use_churn else 0.0
    for i in range(steps):
        s_cur, s_next = float(sig[i]), float(sig[i + 1])
        if s_cur == 0.0:                          # already clean: nothing left to do
            if keep:
                traj.append(x.clone())
            continue
        if method in ("euler", "heun", "churn"):
            s_hat = s_cur
            if use_churn and s_tmin <= s_cur <= s_tmax:
                s_hat = s_cur * (1 + gamma_max)
                x = x + math.sqrt(s_hat**2 - s_cur**2) * s_noise * _randn_like(x, generator)
            d_i = D(x, s_hat)
            dens.append(d_i)
            slope = (x - d_i) / s_hat
            x_next = x + (s_next - s_hat) * slope
            if method in ("heun", "churn") and s_next > 0:
                d2 = D(x_next, s_next)
                slope2 = (x_next - d2) / s_next
                x_next = x + (s_next - s_hat) * 0.5 * (slope + slope2)
            x = x_next
        elif method in ("ddim", "ancestral"):
            e = eta if method == "ddim" else 1.0
            d_i = D(x, s_cur)
            dens.append(d_i)
            eps = (x - d_i) / s_cur
            # posterior q(x_next | x, y) of the VE process has std σ_next √(1 - σ_next²/σ²)
            c = e * s_next * math.sqrt(max(1.0 - (s_next / s_cur) ** 2, 0.0))
            x = d_i + math.sqrt(max(s_next**2 - c**2, 0.0)) * eps
            if c > 0:
                x = x + c * _randn_like(x, generator)
        else:  # sde: Euler–Maruyama with the exact variance increment σ² - σ_next²
            d_i = D(x, s_cur)
            dens.append(d_i)
            if s_next == 0.0:
                x = d_i                            # final denoising step (Tweedie)
            else:
                x = x + 2.0 * (s_next - s_cur) * (x - d_i) / s_cur
                x = x + math.sqrt(s_cur**2 - s_next**2) * _randn_like(x, generator)
        if keep:
            traj.append(x.clone())
    return SampleResult(x=x, nfe=nfe, sigmas=sig, trajectory=traj, denoised=dens if keep else [])


def sample(denoiser: Denoiser, noise: torch.Tensor, sigmas, method: str = "heun", cond=None, churn: float = 0.0,
           generator: torch.Generator | None = None, **options) -> torch.Tensor:
    """Draw samples by integrating from x = noise · sigmas[0] down the noise levels `sigmas`.

    denoiser(x, sigma, cond) -> D(x; σ); method in METHODS; churn = EDM S_churn (euler/heun/churn);
    generator seeds the stochastic samplers. Extra keyword options (eta, s_tmin, s_tmax, s_noise)
    as in sample_trajectory, which also returns NFE and the intermediate states.
    """
    return sample_trajectory(denoiser, noise, sigmas, method, cond, churn, generator, keep=False, **options).x
