"""Baselines for downscaling: bicubic interpolation, bicubic + noise with the right spectrum, a
deterministic MSE U-Net (regression to the conditional mean; CorrDiff's first stage) and two
probabilistic versions of it that a forecaster would use:

* MSE U-Net + heteroscedastic Gaussian: N(μ, σ(μ)²) per pixel, σ fitted as the RMS error of μ in
  bins of the predicted value μ on cases not used for training (`BinnedGaussian`); its CRPS is
  closed-form (`crps_gaussian`).
* MSE U-Net + matched-spectrum noise: μ plus stationary Gaussian noise with the power spectrum of
  the residual truth − μ (`SpectralNoise`).

An MSE model predicts E[fine | coarse]: the best single guess, but too smooth — its small-scale
power is far below the truth's. Adding noise with the residual's spectrum restores the spectrum
but not the cloud structure.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.validation import check_instance, check_int

from ._checks import real_tensor
from .unet import UNet, UNetConfig

MAX_UPSAMPLED = 2**28  # values in bicubic_upsample's output (1 GiB of float32): beyond this is a mistake

__all__ = ["bicubic_upsample", "RegressionUNet", "SpectralNoise", "BinnedGaussian"]


def bicubic_upsample(coarse: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Bicubic upsampling of (..., h, w) periodic fields to (..., h·factor, w·factor).

    The field is padded periodically first so that the edges are interpolated like the interior.
    """
    factor = check_int("factor", factor, low=1, high=64)
    coarse = real_tensor(
        "coarse", coarse, min_ndim=2, int_dtype=torch.float32
    )  # integers -> float32, as before
    if coarse.numel() * factor**2 > MAX_UPSAMPLED:
        raise ValueError(
            f"coarse is too large: {tuple(coarse.shape)} × factor² = {coarse.numel() * factor**2} values "
            f"(at most {MAX_UPSAMPLED})"
        )
    lead, (h, w) = coarse.shape[:-2], coarse.shape[-2:]
    if coarse.numel() == 0:
        return coarse.new_zeros(*lead, h * factor, w * factor)
    if min(h, w) < 2:  # the periodic padding wraps 2 pixels
        raise ValueError(f"coarse must be at least 2x2 in its last two dimensions, got {h}x{w}")
    x = coarse.reshape(-1, 1, h, w)
    p = 2
    xp = F.pad(x, (p, p, p, p), mode="circular")
    up = F.interpolate(xp, scale_factor=factor, mode="bicubic", align_corners=False)
    up = up[..., p * factor : (p + h) * factor, p * factor : (p + w) * factor]
    return up.reshape(*lead, h * factor, w * factor)


class RegressionUNet(nn.Module):
    """MSE U-Net: fine ≈ bicubic(coarse) + F([bicubic(coarse), extra]); in normalised units.

    `extra` are in_channels - 1 further input planes (B, C, H, W), e.g. the forecast lead time.
    """

    def __init__(self, config: UNetConfig | None = None, factor: int = 4):
        super().__init__()
        if config is not None:
            check_instance("config", config, UNetConfig, "None or a UNetConfig")
        cfg = config if config is not None else UNetConfig(in_channels=1, noise_embedding=False)
        if cfg.noise_embedding:
            raise ValueError("RegressionUNet needs a UNetConfig with noise_embedding=False")
        self.net = UNet(cfg)
        self.factor = check_int("factor", factor, low=1, high=64)

    def forward(self, coarse: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """coarse (B, h, w) normalised (+ extra (B, C, H, W)) -> (B, H, W)."""
        up = bicubic_upsample(coarse, self.factor)[:, None]
        n_extra = self.net.config.in_channels - 1
        if (extra is None) != (n_extra == 0) or (extra is not None and extra.shape[1] != n_extra):
            raise ValueError(
                f"extra must hold {n_extra} input plane(s) (B, {n_extra}, H, W) for this network, "
                f"got {None if extra is None else tuple(extra.shape)}"
            )
        inp = up if extra is None else torch.cat([up, extra.to(up.dtype)], dim=1)
        return (up + self.net(inp))[:, 0]


class SpectralNoise(nn.Module):
    """Stationary Gaussian noise with a given 2-D power spectrum (periodic fields).

    fit(residuals) stores the mean |FFT|² of example residual fields; sample() colours white noise
    with its square root, so samples have the residuals' power spectrum and variance.
    """

    def __init__(self, size: int = 32):
        super().__init__()
        size = check_int("size", size, low=2, high=4096)
        self.register_buffer("power", torch.zeros(size, size))

    @torch.no_grad()
    def fit(self, residuals: torch.Tensor) -> SpectralNoise:
        r = torch.as_tensor(residuals).float()
        if r.shape[-2:] != self.power.shape:
            raise ValueError(f"residuals must end with shape {tuple(self.power.shape)}, got {tuple(r.shape)}")
        r = r - r.mean(dim=(-2, -1), keepdim=True)
        self.power.copy_((torch.fft.fft2(r).abs() ** 2).reshape(-1, *r.shape[-2:]).mean(0))
        return self

    def sample(self, shape, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise of shape (..., size, size)."""
        shape = tuple(shape)
        if shape[-2:] != tuple(self.power.shape):
            raise ValueError(f"shape must end with {tuple(self.power.shape)}, got {shape}")
        white = torch.randn(shape, generator=generator)
        # |FFT(white)|² has mean H·W, hence the normalisation
        n = self.power.shape[0] * self.power.shape[1]
        return torch.fft.ifft2(torch.fft.fft2(white) * torch.sqrt(self.power / n)).real


class BinnedGaussian(nn.Module):
    """Heteroscedastic Gaussian error model σ(μ): the RMS error of a point forecast μ in bins of μ.

    fit(pred, truth) sets equal-count bin edges of pred and σ_b = √mean((truth - pred)²) per bin;
    sigma(pred) looks the bin up. Fit it on cases the forecast was not trained on.
    """

    def __init__(self, n_bins: int = 16):
        super().__init__()
        n_bins = check_int("n_bins", n_bins, low=1, high=1000)
        self.register_buffer("edges", torch.zeros(n_bins + 1))
        self.register_buffer("sigmas", torch.ones(n_bins))

    @torch.no_grad()
    def fit(self, pred: torch.Tensor, truth: torch.Tensor) -> BinnedGaussian:
        pred, truth = torch.as_tensor(pred).double().flatten(), torch.as_tensor(truth).double().flatten()
        if pred.shape != truth.shape or pred.numel() < len(self.sigmas):
            raise ValueError(
                f"pred and truth must have the same number (>= n_bins) of values, "
                f"got {pred.numel()} and {truth.numel()}"
            )
        q = torch.linspace(0, 1, len(self.sigmas) + 1, dtype=torch.float64)
        edges = torch.quantile(
            pred[torch.randperm(pred.numel(), generator=torch.Generator().manual_seed(0))[: 10**6]], q
        )
        idx = torch.bucketize(pred, edges[1:-1])
        err2 = torch.zeros(len(self.sigmas), dtype=torch.float64).index_add_(0, idx, (truth - pred) ** 2)
        count = torch.bincount(idx, minlength=len(self.sigmas)).clamp_min(1)
        self.edges.copy_(edges)
        self.sigmas.copy_(torch.sqrt(err2 / count).clamp_min(1e-6))
        return self

    def sigma(self, pred: torch.Tensor) -> torch.Tensor:
        """σ(μ) for every value of pred (same shape)."""
        return self.sigmas[torch.bucketize(pred.contiguous(), self.edges[1:-1].to(pred.dtype))].to(pred.dtype)
