"""Samplers and schedules against analytic Gaussian solutions."""
import math

import numpy as np
import pytest
import torch

from toolkit.diffusion import (GaussianMixture, gaussian_denoiser, gaussian_mixture_2d, karras_sigmas, nfe_for,
                               sample, sample_trajectory)

MU, S = 1.5, 0.7


def exact_flow(x_start, sigma_start, sigma_end, mu=MU, s=S):
    """Probability-flow solution for N(mu, s²) data: x - mu scales with sqrt(s² + σ²)."""
    return mu + (x_start - mu) * math.sqrt((s**2 + sigma_end**2) / (s**2 + sigma_start**2))


def test_karras_sigmas_formula_and_shape():
    sig = karras_sigmas(10, 0.01, 50.0, 5.0)
    assert sig.shape == (11,) and sig[-1] == 0
    assert torch.isclose(sig[0], torch.tensor(50.0, dtype=sig.dtype)) and torch.isclose(sig[-2], torch.tensor(0.01, dtype=sig.dtype))
    assert torch.all(sig[1:] < sig[:-1])
    i = torch.arange(10, dtype=torch.float64)
    ref = (50 ** (1 / 5) + i / 9 * (0.01 ** (1 / 5) - 50 ** (1 / 5))) ** 5
    assert torch.allclose(sig[:-1], ref, rtol=1e-12)
    # rho = 1 is a linear ramp
    assert torch.allclose(torch.diff(karras_sigmas(5, 1.0, 9.0, 1.0)[:-1]), torch.full((4,), -2.0, dtype=torch.float64))


@pytest.mark.parametrize("bad", [dict(steps=0), dict(steps=2.5), dict(steps=3, rho=0.0), dict(steps=3, sigma_min=-1.0),
                                 dict(steps=3, sigma_min=5.0, sigma_max=1.0)])
def test_karras_sigmas_validation(bad):
    with pytest.raises((ValueError, TypeError)):
        karras_sigmas(**bad)


def test_gaussian_denoiser_matches_mixture_and_tweedie():
    x = torch.linspace(-4, 4, 41, dtype=torch.float64)
    sigma = 0.8
    d = gaussian_denoiser(MU, S)(x, torch.tensor(sigma))
    ref = (S**2 * x + sigma**2 * MU) / (S**2 + sigma**2)
    assert torch.allclose(d, ref, atol=1e-14)
    gm = GaussianMixture([1.0], [MU], [S])
    assert torch.allclose(gm.denoise(x, sigma), ref, atol=1e-12)


def test_mixture_score_is_gradient_of_log_density_and_tweedie_holds():
    gm = gaussian_mixture_2d(radius=2.0, std=0.5, modes=5)
    x = torch.randn(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    sigma = torch.rand(50, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 + 0.05
    xr = x.clone().requires_grad_(True)
    gm.log_prob(xr, sigma).sum().backward()
    assert torch.allclose(gm.score(x, sigma), xr.grad, atol=1e-10)
    assert torch.allclose(gm.denoise(x, sigma), x + sigma[:, None] ** 2 * gm.score(x, sigma), atol=1e-10)


def test_mixture_density_integrates_to_one():
    from toolkit.diffusion import gaussian_mixture_1d
    gm = gaussian_mixture_1d()
    x = torch.linspace(-20, 20, 20001, dtype=torch.float64)
    for sigma in (0.0, 0.5, 3.0):
        p = gm.log_prob(x, sigma).exp()
        assert abs(float(torch.trapezoid(p, x)) - 1) < 1e-6


def _ode_error(method, steps):
    sig = karras_sigmas(steps, sigma_min=0.05, sigma_max=20.0, rho=7.0)[:-1]   # stop at σ_min: smooth ODE
    noise = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    x = sample(gaussian_denoiser(MU, S), noise, sig, method=method)
    ref = exact_flow(noise * sig[0], float(sig[0]), float(sig[-1]))
    return float((x - ref).abs().max())


@pytest.mark.parametrize("method,order", [("euler", 1), ("heun", 2)])
def test_ode_sampler_convergence_order(method, order):
    errs = [_ode_error(method, n) for n in (16, 32, 64, 128)]
    rates = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    assert all(abs(r - order) < 0.25 for r in rates[1:]), (errs, rates)
    assert errs[-1] < (5e-2 if order == 1 else 1e-3)


def test_heun_full_schedule_reaches_exact_flow_at_zero():
    sig = karras_sigmas(64, sigma_max=80.0)   # second order; ρ = 7 spends few steps at large σ
    noise = torch.linspace(-2, 2, 9, dtype=torch.float64)[:, None]
    res = sample_trajectory(gaussian_denoiser(MU, S), noise, sig, method="heun")
    ref = exact_flow(noise * 80.0, 80.0, 0.0)
    assert float((res.x - ref).abs().max()) < 1e-2
    assert res.nfe == 2 * 64 - 1 == nfe_for("heun", 64)
    assert len(res.trajectory) == 65 and len(res.denoised) == 64
    assert torch.equal(res.trajectory[0], noise * 80.0) and torch.equal(res.trajectory[-1], res.x)


def test_ddim_eta0_is_euler_and_ancestral_is_ddim_eta1():
    sig = karras_sigmas(12)
    noise = torch.randn(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    den = gaussian_denoiser(MU, S)
    e = sample(den, noise, sig, method="euler")
    d = sample(den, noise, sig, method="ddim")
    assert torch.allclose(e, d, atol=1e-12)
    a = sample(den, noise, sig, method="ancestral", generator=torch.Generator().manual_seed(5))
    d1 = sample(den, noise, sig, method="ddim", generator=torch.Generator().manual_seed(5), eta=1.0)
    assert torch.allclose(a, d1, atol=1e-12)


def _moments(method, steps, churn=0.0, eta=0.0, n=20000):
    noise = torch.randn(n, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    x = sample(gaussian_denoiser(MU, S), noise, karras_sigmas(steps), method=method, churn=churn,
               generator=torch.Generator().manual_seed(12), eta=eta)
    return float(x.mean()), float(x.std()) / S


@pytest.mark.parametrize("method,churn,steps", [("sde", 0.0, 100), ("churn", 30.0, 60), ("heun", 0.0, 40)])
def test_samplers_reproduce_mean_and_variance(method, churn, steps):
    mean, std_ratio = _moments(method, steps, churn)
    assert abs(mean - MU) < 5 * S / math.sqrt(20000)
    assert abs(std_ratio - 1) < 0.02


@pytest.mark.parametrize("method,eta", [("ancestral", 0.0), ("ddim", 0.5)])
def test_ancestral_variance_error_is_first_order(method, eta):
    """Ancestral steps use only E[y | x], not its spread: the variance deficit halves as steps double."""
    (m1, r1), (m2, r2) = _moments(method, 100, eta=eta), _moments(method, 200, eta=eta)
    assert abs(m2 - MU) < 5 * S / math.sqrt(20000)
    assert r1 < r2 < 1 and 1 - r2 < 0.04
    assert 1.4 < (1 - r1) / (1 - r2) < 2.8


def test_stochastic_sampler_is_seeded_and_nfe_counts():
    gm = gaussian_mixture_2d()
    noise = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a = sample(gm, noise, karras_sigmas(8), method="churn", churn=5.0, generator=torch.Generator().manual_seed(1))
    b = sample(gm, noise, karras_sigmas(8), method="churn", churn=5.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    for m in ("euler", "ddim", "ancestral", "sde", "heun", "churn"):
        assert sample_trajectory(gm, noise, karras_sigmas(8), method=m).nfe == nfe_for(m, 8)


def test_mixture_samples_land_on_modes():
    gm = gaussian_mixture_2d(radius=3.0, std=0.3, modes=4)
    noise = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = sample(gm, noise, karras_sigmas(30), method="heun")
    dist = torch.cdist(x, gm.means).min(1).values
    assert float((dist < 1.0).double().mean()) > 0.97


@pytest.mark.parametrize("kwargs,exc", [
    (dict(method="rk4"), ValueError), (dict(churn=-1.0), ValueError), (dict(sigmas=[1.0]), ValueError),
    (dict(sigmas=[1.0, 2.0, 0.0]), ValueError), (dict(sigmas=[1.0, -0.5]), ValueError),
    (dict(noise=np.zeros((3, 1))), TypeError), (dict(generator=0), TypeError), (dict(denoiser=3), TypeError)])
def test_sample_validation(kwargs, exc):
    args = dict(denoiser=gaussian_denoiser(), noise=torch.zeros(3, 1), sigmas=karras_sigmas(3))
    args.update(kwargs)
    with pytest.raises(exc):
        sample(**args)


def test_denoiser_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="denoiser returned shape"):
        sample(lambda x, s, c: x[:, :1], torch.zeros(2, 3), karras_sigmas(2))
