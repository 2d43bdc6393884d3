"""Verification metrics vs brute-force references and closed forms."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.diffusion import (
    crps_ensemble,
    crps_gaussian,
    ensemble_mean_rmse,
    gaussian_random_field,
    high_frequency_power_ratio,
    power_law_slope,
    radial_power_spectrum,
    rank_histogram,
    spread_skill,
    spread_skill_ratio,
)


def crps_brute(y, xs, fair):
    """Independent reference: the double sum over member pairs."""
    m = len(xs)
    term1 = sum(abs(x - y) for x in xs) / m
    pair = sum(abs(a - b) for a in xs for b in xs)
    return term1 - pair / (2 * m * (m - 1) if fair else 2 * m * m)


def crps_integral(y, xs):
    """Second independent reference: ∫ (F_ens(t) - 1{t >= y})² dt on a fine grid."""
    t = np.linspace(min(min(xs), y) - 1, max(max(xs), y) + 1, 200001)
    f = (np.asarray(xs)[:, None] <= t).mean(0)
    h = (t >= y).astype(float)
    return np.trapezoid((f - h) ** 2, t)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=12),
    st.floats(-50, 50, allow_nan=False),
    st.booleans(),
)
def test_crps_matches_brute_force(xs, y, fair):
    got = float(
        crps_ensemble(torch.tensor(y, dtype=torch.float64), torch.tensor(xs, dtype=torch.float64), fair=fair)
    )
    assert math.isclose(got, crps_brute(y, xs, fair), rel_tol=1e-9, abs_tol=1e-9)


def test_standard_crps_is_integral_of_squared_cdf_difference():
    rng = np.random.default_rng(0)
    xs, y = rng.normal(size=7).tolist(), 0.3
    got = float(crps_ensemble(torch.tensor(y), torch.tensor(xs, dtype=torch.float64), fair=False))
    assert abs(got - crps_integral(y, xs)) < 1e-4


def test_crps_member_dim_broadcast_and_single_member_is_mae():
    ens = torch.randn(5, 3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    obs = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = crps_ensemble(obs, ens)
    b = crps_ensemble(obs, ens.permute(1, 2, 0), member_dim=-1)
    assert a.shape == (3, 8) and torch.allclose(a, b)
    assert torch.allclose(crps_ensemble(obs, ens[:1], fair=False), (ens[0] - obs).abs())
    with pytest.raises(ValueError, match="at least 2 members"):
        crps_ensemble(obs, ens[:1], fair=True)
    with pytest.raises(ValueError, match="obs"):
        crps_ensemble(torch.zeros(4), ens)


def test_obs_must_match_the_point_shape_exactly():
    # obs = ens = [0, 1, 0, 1] would broadcast the 4 members against 4 "points": now an error naming obs
    v = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    for fn in (
        lambda o, e: crps_ensemble(o, e, fair=False),
        ensemble_mean_rmse,
        spread_skill,
        rank_histogram,
    ):
        with pytest.raises(ValueError, match="obs"):
            fn(v, v)
        with pytest.raises(ValueError, match="obs"):
            fn(torch.zeros(1, 3), torch.zeros(4, 2, 3))
    assert float(crps_ensemble(torch.tensor(0.5), v, fair=False)) == 0.25


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=16),
    st.floats(-1e6, 1e6, allow_nan=False),
)
def test_crps_sign_properties(xs, y):
    """Standard CRPS >= 0; fair CRPS >= -(its spread term Σ|x_i - x_j| / (2m(m-1)))."""
    obs, ens = torch.tensor(y, dtype=torch.float64), torch.tensor(xs, dtype=torch.float64)
    scale = 1e-9 * (1 + max(abs(v) for v in xs + [y]))
    assert float(crps_ensemble(obs, ens, fair=False)) >= -scale
    m = len(xs)
    spread = sum(abs(a - b) for a in xs for b in xs) / (2 * m * (m - 1))
    assert float(crps_ensemble(obs, ens, fair=True)) >= -spread - scale


def test_crps_gaussian_limit_of_large_ensemble():
    g = torch.Generator().manual_seed(0)
    mu, sigma = 0.4, 1.7
    ys = torch.tensor([-3.0, 0.0, 0.4, 2.5], dtype=torch.float64)
    ens = mu + sigma * torch.randn(200000, 1, dtype=torch.float64, generator=g)
    got = crps_ensemble(ys, ens.expand(-1, 4))
    ref = crps_gaussian(ys, mu, sigma)
    assert torch.allclose(got, ref, rtol=5e-3)
    # closed form at the mean: σ (√2 - 1)/√π
    assert math.isclose(
        float(crps_gaussian(0.0, 0.0, 1.0)), (math.sqrt(2) - 1) / math.sqrt(math.pi), rel_tol=1e-12
    )


def test_fair_crps_is_unbiased_for_small_ensembles():
    """Averaged over many 4-member ensembles, fair CRPS equals the Gaussian CRPS; the standard is too high."""
    g = torch.Generator().manual_seed(2)
    y = torch.randn(20000, dtype=torch.float64, generator=g)
    ens = torch.randn(4, 20000, dtype=torch.float64, generator=g)
    ref = float(crps_gaussian(y, 0.0, 1.0).mean())
    fair = float(crps_ensemble(y, ens).mean())
    std = float(crps_ensemble(y, ens, fair=False).mean())
    assert abs(fair - ref) < 0.015 and std - ref > 0.05


def test_spread_skill_calibrated_and_overconfident():
    g = torch.Generator().manual_seed(3)
    truth_mean = torch.randn(4000, dtype=torch.float64, generator=g)
    obs = truth_mean + torch.randn(4000, dtype=torch.float64, generator=g)
    ens = truth_mean + torch.randn(8, 4000, dtype=torch.float64, generator=g)  # obs is exchangeable
    assert abs(spread_skill_ratio(obs, ens) - 1) < 0.05
    narrow = truth_mean + 0.3 * torch.randn(8, 4000, dtype=torch.float64, generator=g)
    assert spread_skill_ratio(obs, narrow) < 0.5
    spread, skill = spread_skill(obs, ens)
    assert math.isclose(float(skill), float(ensemble_mean_rmse(obs, ens)))
    hist = rank_histogram(obs, ens)
    assert hist.shape == (9,) and int(hist.sum()) == 4000
    assert float(hist.max()) / float(hist.min()) < 1.4  # flat
    u = rank_histogram(obs, narrow)
    assert u[0] + u[-1] > 3 * (u[4] + u[5])  # U-shaped when over-confident


def test_rank_histogram_ties_split():
    h = rank_histogram(torch.zeros(10000), torch.zeros(3, 10000), generator=torch.Generator().manual_seed(0))
    assert int(h.sum()) == 10000 and int(h.min()) > 2200


@pytest.mark.parametrize("slope", [2.0, 3.0, 4.0])
def test_power_spectrum_recovers_power_law_slope(slope):
    f = gaussian_random_field(64, 64, slope=slope, random_state=0)
    k, p = radial_power_spectrum(torch.from_numpy(f))
    assert abs(power_law_slope(k, p, kmin=2, kmax=24) + slope) < 0.1


def test_power_spectrum_parseval_and_ratio():
    f = torch.randn(16, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k, p = radial_power_spectrum(f)
    assert k[0] == 1 and len(k) == 16
    assert abs(float(p.mean()) - 1.0) < 0.05  # white noise: flat spectrum of level σ²
    assert math.isclose(high_frequency_power_ratio(f, f), 1.0)
    assert math.isclose(high_frequency_power_ratio(2 * f, f), 4.0, rel_tol=1e-12)
    with pytest.raises(ValueError):
        radial_power_spectrum(torch.zeros(3))
