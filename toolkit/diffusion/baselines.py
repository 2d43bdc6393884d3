"""Baselines for downscaling: bicubic interpolation, bicubic + noise with the right spectrum, and a
deterministic MSE U-Net (regression to the conditional mean; CorrDiff's first stage).

An MSE model predicts E[fine | coarse]: the best single guess, but too smooth — its small-scale
power is far below the truth's. Adding Gaussian noise with the residual's power spectrum restores
the spectrum but not the cloud structure.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.validation import check_int

from .unet import UNet, UNetConfig

__all__ = ["bicubic_upsample", "RegressionUNet", "SpectralNoise"]


def bicubic_upsample(coarse: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Bicubic upsampling of (..., h, w) periodic fields to (..., h·factor, w·factor).

    The field is padded periodically first so that the edges are interpolated like the interior.
    """
    factor = check_int("factor", factor, low=1, high=64)
    coarse = torch.as_tensor(coarse)
    if coarse.ndim < 2:
        raise ValueError(f"coarse must have at least 2 dimensions (..., h, w), got shape {tuple(coarse.shape)}")
    lead, (h, w) = coarse.shape[:-2], coarse.shape[-2:]
    x = coarse.reshape(-1, 1, h, w).float() if not coarse.is_floating_point() else coarse.reshape(-1, 1, h, w)
    p = 2
    xp = F.pad(x, (p, p, p, p), mode="circular")
    up = F.interpolate(xp, scale_factor=factor, mode="bicubic", align_corners=False)
    up = up[..., p * factor:(p + h) * factor, p * factor:(p + w) * factor]
    return up.reshape(*lead, h * factor, w * factor)


class RegressionUNet(nn.Module):
    """MSE U-Net: fine ≈ bicubic(coarse) + F(bicubic(coarse)); in normalised units."""

    def __init__(self, config: UNetConfig | None = None, factor: int = 4):
        super().__init__()
        cfg = config or UNetConfig(in_channels=1, noise_embedding=False)
        if cfg.noise_embedding or cfg.in_channels != 1:
            raise ValueError("RegressionUNet needs a UNetConfig with in_channels=1 and noise_embedding=False")
        self.net = UNet(cfg)
        self.factor = check_int("factor", factor, low=1, high=64)

    def forward(self, coarse: torch.Tensor) -> torch.Tensor:
        """coarse (B, h, w) normalised -> (B, H, W)."""
        up = bicubic_upsample(coarse, self.factor)[:, None]
        return (up + self.net(up))[:, 0]


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
    def fit(self, residuals: torch.Tensor) -> "SpectralNoise":
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
