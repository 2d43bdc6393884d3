"""Synthetic weather generator: statistics, exact identities, solar geometry, user data."""

import numpy as np
import pytest

from toolkit.diffusion import (
    WeatherConfig,
    advect,
    block_average,
    clear_sky_ghi,
    clear_sky_index,
    coarse_nwp,
    gaussian_random_field,
    make_weather_pairs,
    make_weather_sequence,
    smooth,
    solar_zenith_cos,
)
from toolkit.diffusion.userdata import load_paired_data, save_paired_data


def test_grf_is_normalised_and_seeded():
    a = gaussian_random_field(5, 32, slope=3.0, random_state=1)
    b = gaussian_random_field(5, 32, slope=3.0, random_state=1)
    assert a.shape == (5, 32, 32) and np.array_equal(a, b)
    assert np.allclose(a.mean(axis=(1, 2)), 0, atol=1e-12) and np.allclose(a.std(axis=(1, 2)), 1)


@pytest.mark.parametrize("cf", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_cloud_fraction_is_exact_per_case(cf):
    g = gaussian_random_field(4, 32, random_state=0)
    kc = clear_sky_index(g, cf, kc_min=0.2, softness=0.5)
    frac = (kc < 1.0).mean(axis=(1, 2))
    # the threshold pixel itself has kc = 1 exactly, so allow one pixel
    assert np.all(np.abs(frac - cf) <= 1.5 / 1024)
    assert kc.min() >= 0.2 and kc.max() <= 1.0


def test_advect_integer_shift_is_roll_and_composes():
    f = gaussian_random_field(2, 16, random_state=3)
    assert np.allclose(advect(f, (2, -3)), np.roll(f, (2, -3), axis=(-2, -1)), atol=1e-10)
    # sub-pixel shifts are exactly invertible when there is no Nyquist mode (odd size)
    g = gaussian_random_field(2, 15, random_state=3)
    assert np.allclose(advect(advect(g, (0.3, 1.7)), (-0.3, -1.7)), g, atol=1e-10)
    assert np.allclose(advect(advect(g, (0.3, 1.2)), (0.5, 0.4)), advect(g, (0.8, 1.6)), atol=1e-10)
    assert np.allclose(
        advect(f, np.array([[1, 0], [0, 1]])), np.stack([np.roll(f[0], 1, 0), np.roll(f[1], 1, 1)])
    )


def test_smooth_and_block_average():
    f = np.random.default_rng(0).normal(size=(3, 16, 16))
    assert np.allclose(smooth(f, 1.5).mean(axis=(1, 2)), f.mean(axis=(1, 2)))  # smoothing keeps the mean
    assert smooth(f, 1.5).std() < f.std()
    b = block_average(f, 4)
    assert b.shape == (3, 4, 4) and np.isclose(b[1, 2, 3], f[1, 8:12, 12:16].mean())
    with pytest.raises(ValueError, match="factor"):
        block_average(f, 3)


_NO_ERRORS = dict(
    bias=0.0,
    bias_growth=0.0,
    bias_spread=0.0,
    displacement=0.0,
    displacement_growth=0.0,
    smoothing=0.0,
    smoothing_growth=0.0,
    noise=0.0,
)


def test_coarse_nwp_without_errors_is_block_average():
    cfg = WeatherConfig(**_NO_ERRORS)
    fine = clear_sky_index(gaussian_random_field(3, 32, random_state=0), 0.5)
    assert np.allclose(coarse_nwp(fine, cfg, lead=24, random_state=0), block_average(fine, 4))
    biased = coarse_nwp(fine, WeatherConfig(**{**_NO_ERRORS, "bias": 0.1}), lead=5, random_state=0)
    assert np.allclose(np.minimum(block_average(fine, 4) + 0.1, 1.2 + cfg.enhancement), biased)
    # the bias grows linearly with lead: b(L) = bias + bias_growth · L
    grown = coarse_nwp(fine, WeatherConfig(**{**_NO_ERRORS, "bias_growth": 0.002}), lead=20, random_state=0)
    assert np.allclose(block_average(fine, 4) + 0.04, grown)


def test_nwp_skill_falls_with_lead_time():
    """corr(NWP, block-mean truth) over pixels of many cases: >= 0.9 at 1 h, <= 0.7 at 24 h, monotone."""
    corr = []
    for lead in (1, 6, 12, 24):
        p = make_weather_pairs(300, random_state=5, lead=(lead, lead))
        corr.append(np.corrcoef(p.coarse.ravel(), block_average(p.fine, 4).ravel())[0, 1])
    assert corr[0] >= 0.9 and corr[-1] <= 0.7 and all(a > b for a, b in zip(corr, corr[1:])), corr


def test_regimes_and_cloud_enhancement_stay_in_the_physical_range():
    cfg = WeatherConfig()
    p = make_weather_pairs(600, random_state=2)
    lo, hi = cfg.kc_range
    assert p.fine.min() >= lo - 1e-6 and p.fine.max() < hi and p.fine.max() > 1.02  # enhancement happens
    frac = np.bincount(p.regime, minlength=3) / 600
    assert np.allclose(frac, cfg.regime_probs, atol=0.06)
    cloud = (p.fine < 1).mean(axis=(1, 2))
    assert cloud[p.regime == 0].max() <= 0.06 and cloud[p.regime == 2].min() >= 0.88
    # enhanced pixels (kc > 1) are clear pixels next to a cloud edge
    g = gaussian_random_field(1, 32, random_state=0)
    kc = clear_sky_index(g, 0.4, enhancement=0.2)
    plain = clear_sky_index(g, 0.4)
    assert np.array_equal(kc[plain < 1], plain[plain < 1]) and kc.max() <= 1.2 and (kc > 1).any()
    assert set(np.unique(p.lead)) <= set(range(1, 25)) and len(np.unique(p.lead)) == 24


def test_make_weather_pairs_shapes_statistics_and_seed():
    p = make_weather_pairs(400, random_state=7)
    q = make_weather_pairs(400, random_state=7)
    assert p.coarse.shape == (400, 8, 8) and p.fine.shape == (400, 32, 32) and p.fine.dtype == np.float32
    assert np.array_equal(p.fine, q.fine) and np.array_equal(p.coarse, q.coarse)
    assert 0.0 <= p.cloud_fraction.min() and p.cloud_fraction.max() <= 1.0
    # NWP mean bias b(L) = 0.02 + 0.001 L shows up in the mean difference (block averaging keeps the mean)
    expected = 0.02 + 0.001 * p.lead.mean()
    assert abs(float((p.coarse - block_average(p.fine, 4)).mean()) - expected) < 0.015
    # per-case cloud cover follows the drawn fraction
    assert np.corrcoef((p.fine < 1).mean(axis=(1, 2)), p.cloud_fraction)[0, 1] > 0.99
    r = make_weather_pairs(3, size=16, factor=2, random_state=0)
    assert r.coarse.shape == (3, 8, 8)
    with pytest.raises(TypeError, match="unknown"):
        make_weather_pairs(3, colour="red")
    with pytest.raises(ValueError, match="multiple of factor"):
        make_weather_pairs(3, size=30, factor=4)


def test_solar_geometry():
    # equinox-ish (declination ~ 0 on day 81), equator, local solar noon: sun overhead
    mu = solar_zenith_cos(0.0, 0.0, 81, 12.0 - (-7.53 * np.cos(0) / 60 + 0))  # EoT at day 81 is -7.53 min
    assert mu > 0.999
    assert np.isclose(clear_sky_ghi(0.0, 0.0, 81, 12.0 + 7.53 / 60), 1098 * np.exp(-0.057), rtol=1e-3)
    ghi = clear_sky_ghi(48.0, 11.0, 172, np.arange(24))
    assert np.all(ghi[:2] == 0) and ghi[22:].max() == 0 and 800 < ghi.max() < 1000
    assert abs(int(np.argmax(ghi)) - 11) <= 1  # noon at 11 UTC for lon 11°E
    # southern winter at the June solstice: lower sun than the same northern latitude
    assert clear_sky_ghi(-48.0, 11.0, 172, 11.0) < 0.5 * clear_sky_ghi(48.0, 11.0, 172, 11.0)
    with pytest.raises(ValueError, match="lat"):
        solar_zenith_cos(95.0, 0.0, 1, 12.0)


def test_weather_sequence_advects_and_follows_the_sun():
    seq = make_weather_sequence(
        range(6, 19), cloud_fraction=0.4, wind=(0.0, 2.0), evolution=0.0, random_state=0
    )
    assert seq.fine.shape == (13, 32, 32) and seq.coarse.shape == (13, 8, 8) and seq.ghi.shape == (13, 32, 32)
    # without evolution, hour t+1 is hour t shifted by the wind (up to thresholding of the same field)
    assert np.allclose(seq.fine[1], np.roll(seq.fine[0], 2, axis=1), atol=1e-5)
    hi = seq.config.kc_range[1]
    assert np.all(seq.ghi <= hi * seq.ghi_clear[:, None, None] + 1e-6)
    assert np.array_equal(seq.lead, np.arange(1.0, 14.0))  # issued before the first hour


def test_sequence_nwp_errors_are_autocorrelated_in_time():
    """AR(1) errors: the NWP's position error at hour t+1 resembles hour t's, so the error field
    (NWP − block-mean truth) is correlated hour to hour; with error_memory = 0 it is not."""

    def err_corr(memory):
        cs = []
        for seed in range(12):
            seq = make_weather_sequence(
                range(24),
                evolution=0.0,
                wind=(0.0, 0.0),
                random_state=seed,
                config=WeatherConfig(error_memory=memory, noise=0.0),
            )
            e = seq.coarse - block_average(seq.fine, 4)
            cs.append(np.corrcoef(e[:-1].ravel(), e[1:].ravel())[0, 1])
        return np.mean(cs)

    assert err_corr(0.9) > err_corr(0.0) + 0.3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(hours=[1.0, float("nan")]),
        dict(wind=(float("nan"), 0.0)),
        dict(lat=float("nan")),
        dict(hours=[3, 2]),
    ],
)
def test_weather_sequence_rejects_nan_and_bad_hours(kwargs):
    with pytest.raises(ValueError, match=list(kwargs)[0]):
        make_weather_sequence(**kwargs)


def test_clear_sky_ghi_rejects_nan_hour():
    with pytest.raises(ValueError, match="hour"):
        clear_sky_ghi(48.0, 11.0, 172, float("nan"))


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_user_data_roundtrip(tmp_path, suffix):
    p = make_weather_pairs(6, random_state=0)
    path = save_paired_data(tmp_path / f"pairs{suffix}", p.coarse, p.fine)
    q = load_paired_data(path)
    assert np.array_equal(q.coarse, p.coarse) and np.array_equal(q.fine, p.fine) and q.config.factor == 4


def test_user_data_errors(tmp_path):
    import xarray as xr

    with pytest.raises(FileNotFoundError):
        load_paired_data(tmp_path / "missing.nc")
    p = make_weather_pairs(4, random_state=0)
    path = save_paired_data(tmp_path / "p.nc", p.coarse, p.fine)
    with pytest.raises(ValueError, match="fine_var"):
        load_paired_data(path, fine_var="ghi")
    bad = xr.Dataset({"coarse": (("t", "a", "b"), p.coarse), "fine": (("t", "y", "x"), p.fine[:, :, :30])})
    bad.to_zarr(tmp_path / "bad.zarr", consolidated=False)
    with pytest.raises(ValueError, match="multiple"):
        load_paired_data(tmp_path / "bad.zarr")
    with pytest.raises(ValueError, match="engine"):
        load_paired_data(tmp_path / "p.nc", engine="grib")
