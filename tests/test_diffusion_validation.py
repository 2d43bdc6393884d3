"""Bad input to the diffusion topic's public functions: a clear TypeError/ValueError naming the parameter.

The cases are the fuzz module's findings on the diffusion API (tests/test_fuzz_public_api.py), each as a
concrete call; valid input still gives the same results (the other test_diffusion_* modules).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import toolkit.diffusion as d
from toolkit.diffusion.samplers import SampleResult


class Opaque:
    """A value no parameter accepts."""


T = torch.linspace(0.1, 1.0, 16).reshape(4, 4)
ENS = torch.rand(5, 4, 4, generator=torch.Generator().manual_seed(0))
NAN = torch.tensor([[float("nan"), 1.0], [1.0, 1.0]])


def _unet():
    return d.UNet(d.UNetConfig(in_channels=1, channels=(8, 16), emb_dim=8))


CASES = [
    # metrics
    ("crps_ensemble", lambda: d.crps_ensemble(T, None), TypeError, "ensemble"),
    ("crps_ensemble", lambda: d.crps_ensemble("0.5", ENS), TypeError, "obs"),
    (
        "crps_ensemble",
        lambda: d.crps_ensemble(T, torch.ones(5, 4, 4, dtype=torch.complex64)),
        TypeError,
        "ensemble",
    ),
    ("crps_ensemble", lambda: d.crps_ensemble(torch.zeros(3), torch.zeros(4, 4)), ValueError, "obs"),
    ("crps_gaussian", lambda: d.crps_gaussian("not-a-value", 0.0, 1.0), TypeError, "obs"),
    ("crps_gaussian", lambda: d.crps_gaussian(T, Opaque(), 1.0), TypeError, "mu"),
    ("crps_gaussian", lambda: d.crps_gaussian(T, 0.0, torch.ones(8, 2)), ValueError, "sigma"),
    ("crps_gaussian", lambda: d.crps_gaussian(T, 0.0, 0.0), ValueError, "sigma"),
    ("ensemble_mean_rmse", lambda: d.ensemble_mean_rmse(T, 10**400), TypeError, "ensemble"),
    ("ensemble_mean_rmse", lambda: d.ensemble_mean_rmse(Opaque(), ENS), TypeError, "obs"),
    ("spread_skill", lambda: d.spread_skill(T, "1e999"), TypeError, "ensemble"),
    ("spread_skill_ratio", lambda: d.spread_skill_ratio(None, ENS), TypeError, "obs"),
    ("rank_histogram", lambda: d.rank_histogram(Opaque(), ENS), TypeError, "obs"),
    ("rank_histogram", lambda: d.rank_histogram(T, ENS.clone().fill_(float("nan"))), ValueError, "ensemble"),
    ("rank_histogram", lambda: d.rank_histogram(T, ENS, generator=3), TypeError, "generator"),
    ("radial_power_spectrum", lambda: d.radial_power_spectrum(None), TypeError, "field"),
    ("radial_power_spectrum", lambda: d.radial_power_spectrum(10**400), TypeError, "field"),
    ("radial_power_spectrum", lambda: d.radial_power_spectrum(torch.ones(3, 3)), ValueError, "field"),
    ("power_law_slope", lambda: d.power_law_slope(torch.ones(2, 4, 4), torch.ones(4)), ValueError, "k"),
    ("power_law_slope", lambda: d.power_law_slope([], []), ValueError, "k"),
    ("power_law_slope", lambda: d.power_law_slope(torch.arange(1.0, 5), None), TypeError, "power"),
    (
        "power_law_slope",
        lambda: d.power_law_slope(torch.arange(1.0, 5), torch.ones(4), kmin=Opaque()),
        TypeError,
        "kmin",
    ),
    (
        "power_law_slope",
        lambda: d.power_law_slope(torch.arange(1.0, 5), torch.tensor([1.0, float("nan"), 1, 1])),
        ValueError,
        "power",
    ),
    (
        "high_frequency_power_ratio",
        lambda: d.high_frequency_power_ratio(torch.ones(4, dtype=torch.int64), T),
        ValueError,
        "pred",
    ),
    (
        "high_frequency_power_ratio",
        lambda: d.high_frequency_power_ratio(T, float("inf")),
        ValueError,
        "truth",
    ),
    (
        "high_frequency_power_ratio",
        lambda: d.high_frequency_power_ratio(T, torch.ones(8, 8)),
        ValueError,
        "truth",
    ),
    # EDM
    ("edm_coefficients", lambda: d.edm_coefficients(None, 0.5), TypeError, "sigma"),
    ("edm_coefficients", lambda: d.edm_coefficients("∞", 0.5), TypeError, "sigma"),
    ("edm_coefficients", lambda: d.edm_coefficients(torch.tensor([-1.0]), 0.5), ValueError, "sigma"),
    ("edm_coefficients", lambda: d.edm_coefficients(T, 3.4e38), ValueError, "sigma_data"),
    ("edm_coefficients", lambda: d.edm_coefficients(T, None), TypeError, "sigma_data"),
    ("EDMDenoiser", lambda: d.EDMDenoiser(""), TypeError, "net"),
    ("EDMDenoiser", lambda: d.EDMDenoiser(Opaque()), TypeError, "net"),
    ("EMA", lambda: d.EMA(None), TypeError, "module"),
    ("EMA", lambda: d.EMA(np.ones(4)), TypeError, "module"),
    (
        "sample_training_sigmas",
        lambda: d.sample_training_sigmas(4, p_mean=np.full((2, 4), np.inf)),
        TypeError,
        "p_mean",
    ),
    ("sample_training_sigmas", lambda: d.sample_training_sigmas(4, p_std=None), TypeError, "p_std"),
    ("sample_training_sigmas", lambda: d.sample_training_sigmas(-3), ValueError, "n"),
    ("sample_training_sigmas", lambda: d.sample_training_sigmas(4, p_mean=1e6), ValueError, "p_mean"),
    ("edm_loss", lambda: d.edm_loss(1e-6, torch.ones(2, 1, 8, 8)), TypeError, "denoiser"),
    ("edm_loss", lambda: d.edm_loss(d.EDMDenoiser(_unet()), 10**400), TypeError, "y"),
    (
        "edm_loss",
        lambda: d.edm_loss(d.EDMDenoiser(_unet()), torch.ones(2, 1, 8, 8), cond=False),
        ValueError,
        "cond",
    ),
    (
        "edm_loss",
        lambda: d.edm_loss(d.EDMDenoiser(_unet()), torch.ones(2, 1, 8, 8), p_std=torch.randn(3)),
        TypeError,
        "p_std",
    ),
    # networks
    ("UNet", lambda: d.UNet(True), TypeError, "config"),
    ("UNet", lambda: d.UNet(np.ones((2, 1))), TypeError, "config"),
    (
        "UNetConfig",
        lambda: d.UNetConfig(channels=torch.ones((2, 4, 4), dtype=torch.bool)),
        TypeError,
        "channels",
    ),
    ("UNetConfig", lambda: d.UNetConfig(channels=-58226), TypeError, "channels"),
    ("count_parameters", lambda: d.count_parameters(torch.ones(4)), TypeError, "module"),
    ("RegressionUNet", lambda: d.RegressionUNet(Opaque()), TypeError, "config"),
    ("RegressionUNet", lambda: d.RegressionUNet(np.ones(6)), TypeError, "config"),
    ("bicubic_upsample", lambda: d.bicubic_upsample(Opaque()), TypeError, "coarse"),
    ("bicubic_upsample", lambda: d.bicubic_upsample(None), TypeError, "coarse"),
    ("bicubic_upsample", lambda: d.bicubic_upsample(torch.ones(3, 1, 6)), ValueError, "coarse"),
    ("bicubic_upsample", lambda: d.bicubic_upsample(torch.ones(1, 1, 1), factor=0), ValueError, "factor"),
    ("Downscaler", lambda: d.Downscaler("not-a-value"), TypeError, "config"),
    ("Downscaler", lambda: d.Downscaler(torch.ones(4)), TypeError, "config"),
    ("downscaler_config", lambda: d.downscaler_config(transform=np.ones((5, 0))), ValueError, "transform"),
    ("downscaler_config", lambda: d.downscaler_config(weather=-58226), TypeError, "weather"),
    ("GaussianMixture", lambda: d.GaussianMixture(Opaque(), [0.0], [1.0]), TypeError, "weights"),
    ("GaussianMixture", lambda: d.GaussianMixture([1.0], "", [1.0]), TypeError, "means"),
    ("GaussianMixture", lambda: d.GaussianMixture([1.0], [0.0], [float("nan")]), ValueError, "stds"),
    ("SampleResult", lambda: SampleResult(T, 3, None), TypeError, "sigmas"),
    ("SampleResult", lambda: SampleResult(T, 3, T, trajectory=Opaque()), TypeError, "trajectory"),
    # weather
    ("WeatherConfig", lambda: d.WeatherConfig(cloud_fraction=Opaque()), TypeError, "cloud_fraction"),
    ("WeatherConfig", lambda: d.WeatherConfig(regime_probs="∞"), TypeError, "regime_probs"),
    ("WeatherConfig", lambda: d.WeatherConfig(lead=1e-6), TypeError, "lead"),
    ("WeatherConfig", lambda: d.WeatherConfig(lead=(1.0, 2.0, 3.0)), ValueError, "lead"),
    (
        "WeatherPairs",
        lambda: d.WeatherPairs(np.ones((2, 2, 2)), np.ones((2, 8, 8)), None),
        TypeError,
        "cloud_fraction",
    ),
    (
        "WeatherPairs",
        lambda: d.WeatherPairs(np.ones((2, 2, 2)), np.ones((2, 8, 8)), np.ones(2), Opaque()),
        TypeError,
        "config",
    ),
    (
        "WeatherPairs",
        lambda: d.WeatherPairs(np.ones((3, 2, 2)), np.ones((2, 8, 8)), np.ones(2)),
        ValueError,
        "coarse",
    ),
    (
        "WeatherSequence",
        lambda: d.WeatherSequence(
            Opaque(), np.ones((1, 8, 8)), np.ones((1, 2, 2)), np.ones(1), d.WeatherConfig()
        ),
        TypeError,
        "hours",
    ),
    (
        "WeatherSequence",
        lambda: d.WeatherSequence(np.zeros(1), "nan", np.ones((1, 2, 2)), np.ones(1), d.WeatherConfig()),
        TypeError,
        "fine",
    ),
    ("advect", lambda: d.advect(10**400, (0, 0)), TypeError, "field"),
    ("advect", lambda: d.advect(np.ones((4, 4)), Opaque()), TypeError, "shift"),
    ("advect", lambda: d.advect(np.ones((3, 4, 4)), np.zeros((2, 2))), ValueError, "shift"),
    ("block_average", lambda: d.block_average(torch.ones(4, dtype=torch.int64), 2), ValueError, "field"),
    ("block_average", lambda: d.block_average(None, 2), TypeError, "field"),
    ("smooth", lambda: d.smooth(float("-inf"), 1.0), ValueError, "field"),
    ("smooth", lambda: d.smooth("∞", 1.0), TypeError, "field"),
    ("clear_sky_ghi", lambda: d.clear_sky_ghi(48.0, 10**400, 172, 12.0), TypeError, "lon"),
    ("clear_sky_ghi", lambda: d.clear_sky_ghi(float("nan"), 11.0, 172, 12.0), ValueError, "lat"),
    ("clear_sky_ghi", lambda: d.clear_sky_ghi(48.0, 11.0, 172, float("nan")), ValueError, "hour_utc"),
    ("clear_sky_ghi", lambda: d.clear_sky_ghi(48.0, 11.0, 172, Opaque()), TypeError, "hour_utc"),
    ("solar_zenith_cos", lambda: d.solar_zenith_cos(Opaque(), 11.0, 172, 12.0), TypeError, "lat"),
    ("solar_zenith_cos", lambda: d.solar_zenith_cos(48.0, "nan", 172, 12.0), TypeError, "lon"),
    (
        "solar_zenith_cos",
        lambda: d.solar_zenith_cos(np.zeros(3), 0.0, 172, np.zeros(2)),
        ValueError,
        "hour_utc",
    ),
    ("coarse_nwp", lambda: d.coarse_nwp(-217358.0), ValueError, "fine"),
    ("coarse_nwp", lambda: d.coarse_nwp(np.ones((8, 8)), torch.ones(4)), TypeError, "config"),
    ("coarse_nwp", lambda: d.coarse_nwp(np.ones((8, 8)), bias="1e999"), TypeError, "bias"),
    ("coarse_nwp", lambda: d.coarse_nwp(np.ones((2, 8, 8)), lead=np.ones(3)), ValueError, "lead"),
    ("nwp_error_scales", lambda: d.nwp_error_scales(6.0, np.ones((5, 0))), TypeError, "config"),
    ("nwp_error_scales", lambda: d.nwp_error_scales("", None), TypeError, "lead"),
    (
        "nwp_error_scales",
        lambda: d.nwp_error_scales(torch.ones(4, dtype=torch.bfloat16) * -1),
        ValueError,
        "lead",
    ),
    ("make_weather_pairs", lambda: d.make_weather_pairs(4, config=np.ones((0, 4))), TypeError, "config"),
    ("make_weather_pairs", lambda: d.make_weather_pairs(4, config=-389584), TypeError, "config"),
    ("make_weather_sequence", lambda: d.make_weather_sequence(Opaque()), TypeError, "hours"),
    (
        "make_weather_sequence",
        lambda: d.make_weather_sequence(config=np.ones((0, 0, 0))),
        TypeError,
        "config",
    ),
    # evaluation
    ("fixed_test_set", lambda: d.fixed_test_set(4, config="not-a-value"), TypeError, "config"),
    ("score_ensemble", lambda: d.score_ensemble(-217358.0, ENS), ValueError, "fine"),
    ("score_ensemble", lambda: d.score_ensemble(T, None), TypeError, "ens"),
    ("score_ensemble", lambda: d.score_ensemble(T, np.ones((0, 4))), ValueError, "ens"),
    ("score_ensemble", lambda: d.score_ensemble(T, ENS, kc_range=0.2), TypeError, "kc_range"),
    ("score_ensemble", lambda: d.score_ensemble(T, ENS, kc_range=torch.randn(6, 3)), ValueError, "kc_range"),
    ("evaluate_downscaler", lambda: d.evaluate_downscaler(torch.ones(0, 4)), TypeError, "model"),
    ("verify", lambda: d.verify(None), TypeError, "model"),
    ("load_paired_data", lambda: d.load_paired_data(float("inf")), TypeError, "path"),
    ("load_paired_data", lambda: d.load_paired_data("x.nc", coarse_var=-91537), TypeError, "coarse_var"),
    ("load_paired_data", lambda: d.load_paired_data("x.nc", engine=0.5), ValueError, "engine"),
    ("load_paired_data", lambda: d.load_paired_data("x.nc", sample_dim=10**400), TypeError, "sample_dim"),
    ("load_paired_data", lambda: d.load_paired_data("no-such-file.nc"), ValueError, "path"),
    (
        "save_paired_data",
        lambda: d.save_paired_data(torch.ones(8, 2), np.ones((1, 2, 2)), np.ones((1, 8, 8))),
        TypeError,
        "path",
    ),
    ("save_paired_data", lambda: d.save_paired_data("x.nc", np.ones((1, 2, 2)), Opaque()), TypeError, "fine"),
    (
        "save_paired_data",
        lambda: d.save_paired_data("x.nc", np.full((1, 2, 2), np.nan), np.ones((1, 8, 8))),
        ValueError,
        "coarse",
    ),
]


@pytest.mark.parametrize(
    "call, exc, param", [pytest.param(c, e, p, id=f"{n}-{p}-{i}") for i, (n, c, e, p) in enumerate(CASES)]
)
def test_bad_input_names_the_parameter(call, exc, param, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing a refused call might write lands in the repository
    with pytest.raises(exc) as info:
        call()
    assert re.search(rf"(?<![A-Za-z0-9_]){re.escape(param)}(?![A-Za-z0-9_])", str(info.value)), str(
        info.value
    )


def _pretrained():
    return d.load_pretrained()


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"method": 5.9e-07}, "method"),
        ({"nfe": 10**400}, "nfe"),
        ({"n_cases": True}, "n_cases"),
        ({"n_cases": float("inf")}, "n_cases"),
        ({"members": -23012}, "members"),
        ({"n_boot": 4.6e-07}, "n_boot"),
    ],
)
def test_verify_checks_its_settings_before_any_work(kwargs, param):
    with pytest.raises((TypeError, ValueError), match=rf"\b{param}\b"):
        d.verify(_pretrained(), **kwargs)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"n_cases": np.ones((5, 0))}, "n_cases"),
        ({"n_cases": 10**400}, "n_cases"),
        ({"nfes": torch.ones(4, 4)}, "nfes"),
        ({"nfes": (9, 0)}, "nfes"),
        ({"methods": None}, "methods"),
        ({"methods": ("heun", "rk4")}, "methods"),
        ({"churn": Opaque()}, "churn"),
        ({"seed": "nan"}, "seed"),
        ({"progress": float("-inf")}, "progress"),
        ({"test_seed": -1}, "test_seed"),
    ],
)
def test_evaluate_downscaler_checks_its_settings_before_any_work(kwargs, param):
    with pytest.raises((TypeError, ValueError), match=rf"\b{param}\b"):
        d.evaluate_downscaler(_pretrained(), **kwargs)


def test_a_missing_data_file_is_both_file_not_found_and_value_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        d.load_paired_data(tmp_path / "missing.nc")
    with pytest.raises(ValueError, match="path"):
        d.load_paired_data(tmp_path / "missing.zarr")


def test_nan_is_never_swallowed():
    # NaN propagates through the scores that can carry it ...
    assert torch.isnan(d.crps_ensemble(torch.tensor(float("nan")), torch.tensor([0.0, 1.0]))).all()
    assert torch.isnan(d.crps_gaussian(float("nan"), 0.0, 1.0))
    k, p = d.radial_power_spectrum(torch.full((8, 8), float("nan")))
    assert torch.isnan(p).all()
    # ... and is refused where it would vanish (a rank, a fit, an irradiance of 0 W/m²)
    with pytest.raises(ValueError, match="ensemble"):
        d.rank_histogram(torch.zeros(2), torch.tensor([[0.0, float("nan")], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="lat"):
        d.clear_sky_ghi(float("nan"), 11.0, 172, 12.0)


def test_valid_edge_values_still_work():
    # integer and bf16 tensors are real numbers: converted, as before
    assert d.bicubic_upsample(torch.arange(16).reshape(4, 4)).dtype == torch.float32
    assert d.crps_ensemble(torch.zeros(4, dtype=torch.bfloat16), torch.ones(3, 4)).shape == (4,)
    # an empty batch gives an empty result, not an error
    assert d.bicubic_upsample(torch.ones(0, 2, 2)).shape == (0, 8, 8)
    # generators of hours are still accepted
    seq = d.make_weather_sequence(iter([10.0, 11.0]), random_state=0)
    assert seq.fine.shape[0] == 2
