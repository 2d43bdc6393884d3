"""The conditional downscaler: coarse NWP (8×8) -> ensemble of fine clear-sky-index fields (32×32).

Fields are normalised z = (kc - center) / scale. Conditioning = bicubic upsampling of the coarse
field (+ the regression mean in CorrDiff mode). The diffusion model learns the distribution of the
residual r = z - mean, where mean is 0 ("none"), bicubic ("bicubic") or the MSE U-Net
("regression", CorrDiff: Mardani et al. 2023), with EDM preconditioning and σ_data = std(r).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from toolkit.io import CheckpointError, load_checkpoint, save_checkpoint
from toolkit.validation import check_choice, check_float, check_int

from .baselines import RegressionUNet, SpectralNoise, bicubic_upsample
from .edm import EDMDenoiser
from .samplers import karras_sigmas, sample_trajectory
from .unet import UNet, UNetConfig

__all__ = ["DownscalerConfig", "Downscaler", "save_downscaler", "load_downscaler", "load_pretrained",
           "DEFAULT_CHECKPOINT", "CHECKPOINT_KIND"]

CHECKPOINT_KIND = "diffusion-downscaler"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "datasets" / "diffusion" / "downscaler.pt"


@dataclass
class DownscalerConfig:
    size: int = 32
    factor: int = 4
    residual: str = "regression"      # "none" | "bicubic" | "regression"
    sigma_data: float = 0.5
    center: float = 0.6               # kc normalisation
    scale: float = 0.35
    sigma_min: float = 0.002
    sigma_max: float = 10.0           # >> sigma_data of the residual (~0.5) is enough
    channels: tuple[int, ...] = (16, 32, 48)
    emb_dim: int = 32

    def __post_init__(self):
        check_int("size", self.size, low=4, high=1024)
        check_int("factor", self.factor, low=1, high=self.size)
        check_choice("residual", self.residual, ("none", "bicubic", "regression"))
        check_float("sigma_data", self.sigma_data, low=0.0, low_open=True)
        check_float("scale", self.scale, low=0.0, low_open=True)
        check_float("sigma_min", self.sigma_min, low=0.0, low_open=True)
        check_float("sigma_max", self.sigma_max, low=self.sigma_min)
        self.channels = tuple(int(c) for c in self.channels)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class Downscaler(nn.Module):
    """Regression U-Net + EDM denoiser + spectral-noise baseline, with normalisation built in."""

    def __init__(self, config: DownscalerConfig | None = None, **kwargs):
        super().__init__()
        cfg = config or DownscalerConfig(**kwargs)
        self.config = cfg
        self.regression = RegressionUNet(UNetConfig(in_channels=1, channels=cfg.channels, emb_dim=cfg.emb_dim,
                                                    noise_embedding=False), factor=cfg.factor)
        n_cond = 2 if cfg.residual == "regression" else 1
        self.denoiser = EDMDenoiser(UNet(UNetConfig(in_channels=1 + n_cond, channels=cfg.channels,
                                                    emb_dim=cfg.emb_dim)), sigma_data=cfg.sigma_data)
        self.noise_baseline = SpectralNoise(cfg.size)

    # ------------------------------------------------------------ normalisation / conditioning
    def normalize(self, kc) -> torch.Tensor:
        return (torch.as_tensor(kc, dtype=torch.float32) - self.config.center) / self.config.scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.config.scale + self.config.center

    def _check_coarse(self, coarse) -> torch.Tensor:
        c = torch.as_tensor(coarse, dtype=torch.float32)
        if c.ndim == 2:
            c = c[None]
        n = self.config.size // self.config.factor
        if c.ndim != 3 or c.shape[-2:] != (n, n):
            raise ValueError(f"coarse must have shape (B, {n}, {n}) or ({n}, {n}), got {tuple(c.shape)}")
        return c

    def condition(self, coarse_z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond (B, C, H, W), mean (B, H, W)) in normalised units from normalised coarse (B, h, w)."""
        up = bicubic_upsample(coarse_z, self.config.factor)
        if self.config.residual == "regression":
            mean = self.regression(coarse_z)
            return torch.stack([up, mean], 1), mean
        mean = up if self.config.residual == "bicubic" else torch.zeros_like(up)
        return up[:, None], mean

    def residual_target(self, coarse_z, fine_z) -> tuple[torch.Tensor, torch.Tensor]:
        """(residual (B, 1, H, W), cond) used for the diffusion loss."""
        with torch.no_grad():
            cond, mean = self.condition(coarse_z)
        return (fine_z - mean)[:, None], cond

    # ------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict_mean(self, coarse) -> torch.Tensor:
        """Deterministic MSE U-Net forecast in kc units, (B, H, W)."""
        return self.denormalize(self.regression(self.normalize(self._check_coarse(coarse))))

    @torch.no_grad()
    def bicubic(self, coarse) -> torch.Tensor:
        return bicubic_upsample(self._check_coarse(coarse), self.config.factor)

    @torch.no_grad()
    def noise_ensemble(self, coarse, members: int = 16, *, generator=None) -> torch.Tensor:
        """Bicubic + spectrally matched Gaussian noise, (members, B, H, W) in kc units."""
        members = check_int("members", members, low=1, high=10000)
        up = self.normalize(self.bicubic(coarse))
        noise = self.noise_baseline.sample((members,) + tuple(up.shape), generator=generator)
        return self.denormalize(up[None] + noise)

    def sigmas(self, steps: int = 18, rho: float = 7.0) -> torch.Tensor:
        return karras_sigmas(steps, self.config.sigma_min, self.config.sigma_max, rho)

    @torch.no_grad()
    def ensemble(self, coarse, members: int = 16, *, steps: int = 18, method: str = "heun", rho: float = 7.0,
                 churn: float = 0.0, generator: torch.Generator | None = None,
                 return_result: bool = False):
        """Diffusion ensemble (members, B, H, W) in kc units; with return_result also the
        SampleResult (NFE, trajectory in normalised residual units, shaped (members·B, 1, H, W))."""
        members = check_int("members", members, low=1, high=10000)
        c = self.normalize(self._check_coarse(coarse))
        cond, mean = self.condition(c)
        b = c.shape[0]
        cond_m = cond.repeat(members, 1, 1, 1)
        noise = torch.randn((members * b, 1) + tuple(mean.shape[-2:]), generator=generator)
        res = sample_trajectory(self.denoiser, noise, self.sigmas(steps, rho), method, cond_m, churn, generator,
                                keep=return_result)
        z = res.x[:, 0].reshape(members, b, *mean.shape[-2:]) + mean[None]
        out = self.denormalize(z)
        return (out, res) if return_result else out


def save_downscaler(model: Downscaler, path, *, extra: dict | None = None) -> Path:
    """Atomic checkpoint with the config, loadable with torch.load(weights_only=True)."""
    if not isinstance(model, Downscaler):
        raise TypeError(f"model must be a Downscaler, got {type(model).__name__}")
    return save_checkpoint(path, model.state_dict(), kind=CHECKPOINT_KIND, config=model.config.to_dict(),
                           extra=extra)


def load_downscaler(path) -> Downscaler:
    """Rebuild a Downscaler from a checkpoint; CheckpointError for missing/corrupt/mismatched files."""
    ck = load_checkpoint(path, kind=CHECKPOINT_KIND)
    try:
        cfg = DownscalerConfig(**ck["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path} has an invalid diffusion config: {e}") from e
    model = Downscaler(cfg)
    try:
        model.load_state_dict(ck["state_dict"])
    except (RuntimeError, KeyError) as e:
        raise CheckpointError(f"checkpoint {path} does not match the Downscaler architecture: {e}") from e
    model.extra = ck.get("extra") or {}
    return model.eval()


def load_pretrained(path=None) -> Downscaler:
    """The shipped default model (datasets/diffusion/downscaler.pt)."""
    return load_downscaler(DEFAULT_CHECKPOINT if path is None else path)
