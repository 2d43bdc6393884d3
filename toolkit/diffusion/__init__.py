"""Gradients of log-density: score-based diffusion for solar-weather downscaling.

Plain PyTorch/NumPy core (usable without Lightning or Jupyter):
  weather    synthetic cloud fields, clear-sky GHI, coarse NWP, make_weather_pairs / _sequence,
             make_sequence_pairs (training pairs with the previous hour)
  toy        Gaussian mixtures with exact noised density, score and denoiser
  unet, edm  small conditional U-Net, EDM preconditioning, loss and EMA
  samplers   karras_sigmas, sample (euler, heun, churn, ddim, ancestral, sde, dpmpp_2m, dpmpp_2m_sde, unipc)
  metrics    crps_ensemble, spread–skill, rank histogram, power spectra
  baselines  bicubic, bicubic / MSE U-Net + spectral noise, MSE U-Net (+ heteroscedastic Gaussian)
  model      Downscaler (the pretrained default: load_pretrained())
  userdata   your own (coarse, fine) pairs from NetCDF / Zarr
  scenarios  day-ahead members coherent in time: shared noise or autoregressive (autoregressive_day)
  evaluation CRPSS vs the best baseline with bootstrap intervals, per lead time; conditional verification
Lightning wrappers live in toolkit.diffusion.lightning, notebook panels in toolkit.diffusion.widgets.
"""

from .baselines import BinnedGaussian, RegressionUNet, SpectralNoise, bicubic_upsample
from .edm import EMA, EDMDenoiser, edm_coefficients, edm_loss, sample_training_sigmas
from .evaluation import crpss, evaluate_downscaler, fixed_test_set, score_ensemble, verify
from .metrics import (
    crps_ensemble,
    crps_gaussian,
    ensemble_mean_rmse,
    high_frequency_power_ratio,
    power_law_slope,
    radial_power_spectrum,
    rank_histogram,
    spread_skill,
    spread_skill_ratio,
)
from .model import (
    CHECKPOINT_KIND,
    DEFAULT_CHECKPOINT,
    SEQUENCE_CHECKPOINT,
    Downscaler,
    DownscalerConfig,
    downscaler_config,
    load_downscaler,
    load_pretrained,
    save_downscaler,
)
from .samplers import METHODS, SampleResult, karras_sigmas, nfe_for, sample, sample_trajectory
from .scenarios import autoregressive_day
from .toy import GaussianMixture, gaussian_denoiser, gaussian_mixture_1d, gaussian_mixture_2d
from .unet import UNet, UNetConfig, count_parameters
from .userdata import load_paired_data, save_paired_data
from .weather import (
    REGIMES,
    WeatherConfig,
    WeatherPairs,
    WeatherSequence,
    advect,
    block_average,
    clear_sky_ghi,
    clear_sky_index,
    coarse_nwp,
    gaussian_random_field,
    make_sequence_pairs,
    make_weather_pairs,
    make_weather_sequence,
    nwp_error_scales,
    smooth,
    solar_zenith_cos,
)

__all__ = [
    "BinnedGaussian",
    "downscaler_config",
    "crpss",
    "verify",
    "REGIMES",
    "nwp_error_scales",
    "RegressionUNet",
    "SpectralNoise",
    "bicubic_upsample",
    "EMA",
    "EDMDenoiser",
    "edm_coefficients",
    "edm_loss",
    "sample_training_sigmas",
    "crps_ensemble",
    "crps_gaussian",
    "ensemble_mean_rmse",
    "high_frequency_power_ratio",
    "power_law_slope",
    "radial_power_spectrum",
    "rank_histogram",
    "spread_skill",
    "spread_skill_ratio",
    "CHECKPOINT_KIND",
    "DEFAULT_CHECKPOINT",
    "SEQUENCE_CHECKPOINT",
    "Downscaler",
    "DownscalerConfig",
    "load_downscaler",
    "load_pretrained",
    "save_downscaler",
    "METHODS",
    "SampleResult",
    "karras_sigmas",
    "nfe_for",
    "sample",
    "sample_trajectory",
    "GaussianMixture",
    "gaussian_denoiser",
    "gaussian_mixture_1d",
    "gaussian_mixture_2d",
    "UNet",
    "UNetConfig",
    "count_parameters",
    "WeatherConfig",
    "WeatherPairs",
    "WeatherSequence",
    "advect",
    "block_average",
    "clear_sky_ghi",
    "clear_sky_index",
    "coarse_nwp",
    "gaussian_random_field",
    "make_weather_pairs",
    "make_weather_sequence",
    "make_sequence_pairs",
    "autoregressive_day",
    "smooth",
    "solar_zenith_cos",
    "load_paired_data",
    "save_paired_data",
    "evaluate_downscaler",
    "score_ensemble",
    "fixed_test_set",
]
