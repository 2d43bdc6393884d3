"""The conditional downscaler: coarse NWP (8×8) -> ensemble of fine clear-sky-index fields (32×32).

Fields are normalised: transform="linear" uses z = (kc - center) / scale; transform="logit" maps
the physical range (kc_low, kc_high) onto the real line, z = (logit(p) - center) / scale with
p = (kc - kc_low) / (kc_high - kc_low) clipped to [ε, 1 - ε], so every sample mapped back,
kc = kc_low + (kc_high - kc_low) σ(scale z + center), is inside the physical range by construction.
Conditioning = bicubic upsampling of the coarse field (+ the regression mean in CorrDiff mode,
+ a constant plane of the forecast lead time when lead_time=True; + the previous hour's field moved
one hour by the wind, and a mask plane, when previous=True, for autoregressive scenarios). The
diffusion model learns the distribution of the residual r = z - mean, where mean is 0 ("none"),
bicubic ("bicubic") or the MSE U-Net ("regression", CorrDiff: Mardani et al. 2023), with EDM
preconditioning and σ_data = std(r).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from toolkit.io import CheckpointError, load_checkpoint, save_checkpoint
from toolkit.validation import check_bool, check_choice, check_float, check_instance, check_int

from ._checks import int_sequence
from .baselines import BinnedGaussian, RegressionUNet, SpectralNoise, bicubic_upsample
from .edm import EDMDenoiser
from .samplers import karras_sigmas, sample_trajectory
from .unet import UNet, UNetConfig
from .weather import advect

__all__ = [
    "DownscalerConfig",
    "downscaler_config",
    "Downscaler",
    "save_downscaler",
    "load_downscaler",
    "load_pretrained",
    "DEFAULT_CHECKPOINT",
    "SEQUENCE_CHECKPOINT",
    "CHECKPOINT_KIND",
]

CHECKPOINT_KIND = "diffusion-downscaler"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "datasets" / "diffusion" / "downscaler.pt"
SEQUENCE_CHECKPOINT = DEFAULT_CHECKPOINT.with_name("sequence.pt")  # the autoregressive (previous=True) model


@dataclass
class DownscalerConfig:
    size: int = 32
    factor: int = 4
    residual: str = "regression"  # "none" | "bicubic" | "regression"
    sigma_data: float = 0.5
    center: float = 0.6  # kc normalisation
    scale: float = 0.35
    sigma_min: float = 0.002
    sigma_max: float = 10.0  # >> sigma_data of the residual (~0.5) is enough
    channels: tuple[int, ...] = (16, 32, 48)
    emb_dim: int = 32
    transform: str = "linear"  # "linear" | "logit" (bounded between kc_low and kc_high)
    kc_low: float = 0.15  # physical limits of kc (logit transform)
    kc_high: float = 1.12
    lead_time: bool = False  # lead time (hours) is an input of both networks
    lead_scale: float = 24.0  # lead plane = lead / lead_scale - 0.5
    previous: bool = False  # the denoiser also sees the previous hour's field (autoregressive scenarios)

    def __post_init__(self):
        check_int("size", self.size, low=4, high=1024)
        check_int("factor", self.factor, low=1, high=self.size)
        check_choice("residual", self.residual, ("none", "bicubic", "regression"))
        check_float("sigma_data", self.sigma_data, low=0.0, low_open=True, high=1e6)
        check_float("center", self.center, low=-100.0, high=100.0)
        check_float("scale", self.scale, low=0.0, low_open=True)
        check_float("sigma_min", self.sigma_min, low=0.0, low_open=True)
        check_float("sigma_max", self.sigma_max, low=self.sigma_min)
        self.channels = tuple(
            check_int("channels", c, low=8, high=512) for c in int_sequence("channels", self.channels)
        )
        check_int("emb_dim", self.emb_dim, low=4, high=1024)
        check_choice("transform", self.transform, ("linear", "logit"))
        check_float("kc_low", self.kc_low, low=-10.0, high=10.0)
        check_float("kc_high", self.kc_high, low=self.kc_low, low_open=True, high=10.0)
        check_bool("lead_time", self.lead_time)
        check_float("lead_scale", self.lead_scale, low=0.0, low_open=True)
        check_bool("previous", self.previous)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


def downscaler_config(
    residual: str = "regression", transform: str = "logit", *, lead_time: bool = True, weather=None, **kwargs
) -> DownscalerConfig:
    """The recipe's config: in logit space the limits are the generator's physical range of kc
    (WeatherConfig.kc_range) and center/scale put the latent field at about zero mean, unit std."""
    from .weather import WeatherConfig

    check_choice("residual", residual, ("none", "bicubic", "regression"))
    check_choice("transform", transform, ("linear", "logit"))
    check_bool("lead_time", lead_time)
    if weather is not None:
        check_instance("weather", weather, WeatherConfig, "None or a WeatherConfig")
    if transform == "logit":
        lo, hi = (weather if weather is not None else WeatherConfig()).kc_range
        kwargs = {"kc_low": lo, "kc_high": hi, "center": -0.3, "scale": 2.8, **kwargs}
    return DownscalerConfig(residual=residual, transform=transform, lead_time=lead_time, **kwargs)


class Downscaler(nn.Module):
    """Regression U-Net + EDM denoiser + spectral-noise baseline, with normalisation built in."""

    def __init__(self, config: DownscalerConfig | None = None, **kwargs):
        super().__init__()
        if config is not None:
            check_instance("config", config, DownscalerConfig, "None or a DownscalerConfig")
        cfg = config if config is not None else DownscalerConfig(**kwargs)
        self.config = cfg
        n_lead = int(cfg.lead_time)
        self.regression = RegressionUNet(
            UNetConfig(
                in_channels=1 + n_lead, channels=cfg.channels, emb_dim=cfg.emb_dim, noise_embedding=False
            ),
            factor=cfg.factor,
        )
        n_cond = (2 if cfg.residual == "regression" else 1) + n_lead + 2 * int(cfg.previous)
        self.denoiser = EDMDenoiser(
            UNet(UNetConfig(in_channels=1 + n_cond, channels=cfg.channels, emb_dim=cfg.emb_dim)),
            sigma_data=cfg.sigma_data,
        )
        self.noise_baseline = SpectralNoise(cfg.size)  # bicubic + matched-spectrum noise
        self.mse_noise = SpectralNoise(cfg.size)  # MSE U-Net + matched-spectrum noise (normalised units)
        self.hetero = BinnedGaussian()  # MSE U-Net + heteroscedastic Gaussian (kc units)
        self.hetero_latent = BinnedGaussian()  # the same in normalised units (bounded after mapping)

    # ------------------------------------------------------------ normalisation / conditioning
    EPS = 0.01  # logit transform: p is clipped to [EPS, 1 - EPS] (kc within 1 % of the range of a limit)

    def normalize(self, kc) -> torch.Tensor:
        kc = torch.as_tensor(kc, dtype=torch.float32)
        cfg = self.config
        if cfg.transform == "logit":
            p = ((kc - cfg.kc_low) / (cfg.kc_high - cfg.kc_low)).clamp(self.EPS, 1 - self.EPS)
            kc = torch.logit(p)
        return (kc - cfg.center) / cfg.scale

    def denormalize(self, z: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        u = z * cfg.scale + cfg.center
        if cfg.transform == "logit":
            # clamp: float rounding of kc_low + Δ·σ(u) must not step outside the range it maps to
            return (cfg.kc_low + (cfg.kc_high - cfg.kc_low) * torch.sigmoid(u)).clamp(cfg.kc_low, cfg.kc_high)
        return u

    def lead_plane(self, lead, batch: int) -> torch.Tensor | None:
        """(B, 1, H, W) constant planes lead / lead_scale - 0.5, or None for a model without lead input."""
        if not self.config.lead_time:
            return None
        if lead is None:
            raise ValueError(
                "lead (forecast lead time in hours, scalar or one per case) is required: "
                "this model was trained with lead_time=True"
            )
        lead = torch.as_tensor(lead, dtype=torch.float32).reshape(-1)
        if not torch.all(torch.isfinite(lead)) or torch.any(lead < 0):
            raise ValueError(f"lead must be finite hours >= 0, got {lead.tolist()}")
        if lead.numel() == 1:
            lead = lead.expand(batch)
        if lead.numel() != batch:
            raise ValueError(f"lead must be a scalar or one value per case ({batch}), got {lead.numel()}")
        n = self.config.size
        return (lead / self.config.lead_scale - 0.5).reshape(-1, 1, 1, 1).expand(batch, 1, n, n)

    def _check_coarse(self, coarse) -> torch.Tensor:
        c = torch.as_tensor(coarse, dtype=torch.float32)
        if c.ndim == 2:
            c = c[None]
        n = self.config.size // self.config.factor
        if c.ndim != 3 or c.shape[-2:] != (n, n):
            raise ValueError(f"coarse must have shape (B, {n}, {n}) or ({n}, {n}), got {tuple(c.shape)}")
        return c

    def regress(self, coarse_z: torch.Tensor, lead=None) -> torch.Tensor:
        """MSE U-Net mean (B, H, W) in normalised units."""
        return self.regression(coarse_z, self.lead_plane(lead, coarse_z.shape[0]))

    def condition(self, coarse_z: torch.Tensor, lead=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond (B, C, H, W), mean (B, H, W)) in normalised units from normalised coarse (B, h, w)."""
        up = bicubic_upsample(coarse_z, self.config.factor)
        plane = self.lead_plane(lead, coarse_z.shape[0])
        if self.config.residual == "regression":
            mean = self.regression(coarse_z, plane)
            cond = torch.stack([up, mean], 1)
        else:
            mean = up if self.config.residual == "bicubic" else torch.zeros_like(up)
            cond = up[:, None]
        return (cond if plane is None else torch.cat([cond, plane], 1)), mean

    def previous_planes(self, previous, wind, members: int, batch: int) -> torch.Tensor | None:
        """(members·B, 2, H, W) conditioning planes of a previous=True model: the previous hour's field
        carried one hour by the wind, advect(x_{t-1}, wind) (normalised), and a mask (1 = given);
        None for a model without that input. Moving the field before the network sees it leaves the
        network to learn how clouds grow and decay, not how to shift an image by a given vector.

        previous: kc fields (B, H, W) shared by the members or (members, B, H, W) one per member, with
        wind (2,) or (B, 2) in pixels per hour (an NWP forecasts it); or both None (no previous hour:
        the first hour of a day). A case whose field holds NaN counts as not given (training hides
        some previous hours so that one model also makes the first hour).
        """
        if (previous is None) != (wind is None):
            raise ValueError("previous and wind must be given together (or both None)")
        if not self.config.previous:
            if previous is not None:
                raise ValueError(
                    "previous must be None: this model was trained without a previous-hour input"
                )
            return None
        n = self.config.size
        if previous is None:
            return torch.zeros(members * batch, 2, n, n)
        p = torch.as_tensor(previous, dtype=torch.float32)
        if p.shape not in ((batch, n, n), (members, batch, n, n)):
            raise ValueError(
                f"previous must be kc fields ({batch}, {n}, {n}) or ({members}, {batch}, {n}, {n}), "
                f"got {tuple(p.shape)}"
            )
        w = torch.as_tensor(wind, dtype=torch.float64)
        if w.shape not in ((2,), (batch, 2)) or not torch.all(torch.isfinite(w)):
            raise ValueError(f"wind must be finite (dy, dx) pixels per hour, (2,) or ({batch}, 2); got {w}")
        p = p.expand(members, batch, n, n)
        moved = advect(torch.nan_to_num(p).double().numpy(), w.expand(batch, 2).numpy()[None])
        p, moved = p.reshape(-1, n, n), torch.from_numpy(moved).float().reshape(-1, n, n)
        given = torch.isfinite(p).all(dim=(-2, -1))[:, None, None]
        field = torch.where(given, self.normalize(moved), 0.0)
        return torch.stack([field, given.float().expand_as(field)], 1)

    def residual_target(
        self, coarse_z, fine_z, lead=None, previous=None, wind=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(residual (B, 1, H, W), cond) used for the diffusion loss; previous (kc, B × H × W) and
        wind (B × 2) as in previous_planes."""
        with torch.no_grad():
            cond, mean = self.condition(coarse_z, lead)
            planes = self.previous_planes(previous, wind, 1, coarse_z.shape[0])
        return (fine_z - mean)[:, None], (cond if planes is None else torch.cat([cond, planes], 1))

    # ------------------------------------------------------------ prediction
    @torch.no_grad()
    def predict_mean(self, coarse, lead=None) -> torch.Tensor:
        """Deterministic MSE U-Net forecast in kc units, (B, H, W)."""
        return self.denormalize(self.regress(self.normalize(self._check_coarse(coarse)), lead))

    @torch.no_grad()
    def mse_noise_ensemble(self, coarse, members: int = 16, *, lead=None, generator=None) -> torch.Tensor:
        """MSE U-Net + matched-spectrum noise (normalised units), (members, B, H, W) in kc units."""
        members = check_int("members", members, low=1, high=10000)
        mean = self.regress(self.normalize(self._check_coarse(coarse)), lead)
        noise = self.mse_noise.sample((members,) + tuple(mean.shape), generator=generator)
        return self.denormalize(mean[None] + noise)

    @torch.no_grad()
    def hetero_gaussian(self, coarse, lead=None) -> tuple[torch.Tensor, torch.Tensor]:
        """MSE U-Net + heteroscedastic Gaussian: (μ, σ(μ)) in kc units, each (B, H, W)."""
        mu = self.predict_mean(coarse, lead)
        return mu, self.hetero.sigma(mu)

    @torch.no_grad()
    def hetero_latent_ensemble(self, coarse, members: int = 16, *, lead=None, generator=None) -> torch.Tensor:
        """MSE U-Net + heteroscedastic Gaussian in normalised units, mapped back: (members, B, H, W) kc."""
        members = check_int("members", members, low=1, high=10000)
        mu = self.regress(self.normalize(self._check_coarse(coarse)), lead)
        eps = torch.randn((members,) + tuple(mu.shape), generator=generator)
        return self.denormalize(mu[None] + self.hetero_latent.sigma(mu)[None] * eps)

    @torch.no_grad()
    def bicubic(self, coarse) -> torch.Tensor:
        return bicubic_upsample(self._check_coarse(coarse), self.config.factor)

    @torch.no_grad()
    def noise_ensemble(self, coarse, members: int = 16, *, generator=None) -> torch.Tensor:
        """Bicubic + spectrally matched Gaussian noise, (members, B, H, W) in kc units."""
        members = check_int("members", members, low=1, high=10000)
        up = self.normalize(self.bicubic(coarse))  # noise_baseline is fitted on normalised residuals
        noise = self.noise_baseline.sample((members,) + tuple(up.shape), generator=generator)
        return self.denormalize(up[None] + noise)

    def sigmas(self, steps: int = 18, rho: float = 7.0) -> torch.Tensor:
        return karras_sigmas(steps, self.config.sigma_min, self.config.sigma_max, rho)

    @torch.no_grad()
    def ensemble(
        self,
        coarse,
        members: int = 16,
        *,
        lead=None,
        steps: int = 18,
        method: str = "heun",
        rho: float = 7.0,
        churn: float = 0.0,
        generator: torch.Generator | None = None,
        return_result: bool = False,
        noise: torch.Tensor | None = None,
        previous=None,
        wind=None,
        **options,
    ):
        """Diffusion ensemble (members, B, H, W) in kc units; with return_result also the
        SampleResult (NFE, trajectory in normalised residual units, shaped (members·B, 1, H, W)).

        `noise` (members, B, H, W) replaces the initial white noise (e.g. noise correlated in time
        for coherent scenarios); `previous` and `wind` are the previous hour's kc and the wind
        for a previous=True model (see previous_planes); other keyword options (gamma, eta, ...) go
        to sample_trajectory.
        """
        members = check_int("members", members, low=1, high=10000)
        c = self.normalize(self._check_coarse(coarse))
        cond, mean = self.condition(c, lead)
        b = c.shape[0]
        cond_m = cond.repeat(members, 1, 1, 1)
        planes = self.previous_planes(previous, wind, members, b)
        if planes is not None:
            cond_m = torch.cat([cond_m, planes], 1)
        shape = (members * b, 1) + tuple(mean.shape[-2:])
        if noise is None:
            noise = torch.randn(shape, generator=generator)
        else:
            noise = torch.as_tensor(noise, dtype=torch.float32)
            if noise.numel() != members * b * mean.shape[-1] * mean.shape[-2]:
                raise ValueError(
                    f"noise must have shape {(members, b) + tuple(mean.shape[-2:])}, got {tuple(noise.shape)}"
                )
            noise = noise.reshape(shape)
        res = sample_trajectory(
            self.denoiser,
            noise,
            self.sigmas(steps, rho),
            method,
            cond_m,
            churn,
            generator,
            keep=return_result,
            **options,
        )
        z = res.x[:, 0].reshape(members, b, *mean.shape[-2:]) + mean[None]
        out = self.denormalize(z)
        return (out, res) if return_result else out


def save_downscaler(model: Downscaler, path, *, extra: dict | None = None) -> Path:
    """Atomic checkpoint with the config, loadable with torch.load(weights_only=True)."""
    if not isinstance(model, Downscaler):
        raise TypeError(f"model must be a Downscaler, got {type(model).__name__}")
    return save_checkpoint(
        path, model.state_dict(), kind=CHECKPOINT_KIND, config=model.config.to_dict(), extra=extra
    )


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


def load_pretrained(path=None, *, sequence: bool = False) -> Downscaler:
    """The shipped default model (datasets/diffusion/downscaler.pt), or with sequence=True the
    autoregressive one that also sees the previous hour (datasets/diffusion/sequence.pt)."""
    if path is None:
        path = SEQUENCE_CHECKPOINT if check_bool("sequence", sequence) else DEFAULT_CHECKPOINT
    return load_downscaler(path)
