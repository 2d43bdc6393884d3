"""EDM preconditioning, training loss and EMA (Karras et al. 2022, NVlabs/edm).

D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x; c_noise(σ)) with
  c_skip = σ_d² / (σ² + σ_d²),  c_out = σ σ_d / √(σ² + σ_d²),  c_in = 1 / √(σ² + σ_d²),  c_noise = ln(σ) / 4,
so the network input and its training target both have unit variance at every noise level.
Training: ln σ ~ N(P_mean, P_std²), loss λ(σ) ‖D(y + σn; σ) - y‖² with λ = (σ² + σ_d²) / (σ σ_d)².
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from toolkit.validation import check_float, check_instance, check_int, check_tensor

from ._checks import check_generator, real_tensor
from .unet import UNet

MAX_SIGMA_DATA = 1e6  # σ_d² must stay finite in float32 arithmetic

__all__ = ["edm_coefficients", "EDMDenoiser", "sample_training_sigmas", "edm_loss", "EMA"]


def edm_coefficients(sigma: torch.Tensor, sigma_data: float) -> tuple[torch.Tensor, ...]:
    """(c_skip, c_out, c_in, c_noise) for finite noise levels sigma >= 0 (any shape)."""
    sigma = real_tensor("sigma", sigma, finite=True)
    if bool((sigma.detach() < 0).any()):
        raise ValueError("sigma must hold noise levels >= 0")
    sigma_data = check_float("sigma_data", sigma_data, low=0.0, low_open=True, high=MAX_SIGMA_DATA)
    sd2 = sigma_data**2
    c_skip = sd2 / (sigma**2 + sd2)
    c_out = sigma * sigma_data / torch.sqrt(sigma**2 + sd2)
    c_in = 1 / torch.sqrt(sigma**2 + sd2)
    c_noise = torch.log(sigma.clamp_min(1e-20)) / 4
    return c_skip, c_out, c_in, c_noise


class EDMDenoiser(nn.Module):
    """Preconditioned denoiser D(x; σ, cond) around a UNet F whose input is [c_in x, cond]."""

    def __init__(self, net: UNet, sigma_data: float = 0.5):
        super().__init__()
        self.net = check_instance("net", net, nn.Module, "a torch.nn.Module (a UNet)")
        self.sigma_data = check_float("sigma_data", sigma_data, low=0.0, low_open=True, high=MAX_SIGMA_DATA)

    def forward(self, x: torch.Tensor, sigma, cond: torch.Tensor | None = None) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
        if sigma.numel() == 1:
            sigma = sigma.expand(x.shape[0])
        if sigma.shape[0] != x.shape[0]:
            raise ValueError(
                f"sigma must be a scalar or one value per sample ({x.shape[0]}), got {sigma.shape[0]}"
            )
        c_skip, c_out, c_in, c_noise = (
            c.reshape(-1, 1, 1, 1) for c in edm_coefficients(sigma, self.sigma_data)
        )
        inp = c_in * x if cond is None else torch.cat([c_in * x, cond.to(x.dtype)], dim=1)
        return c_skip * x + c_out * self.net(inp, c_noise.reshape(-1))


def sample_training_sigmas(
    n: int, *, p_mean: float = -1.2, p_std: float = 1.2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Log-normal noise levels: ln σ ~ N(p_mean, p_std²), n of them.

    p_mean in [-20, 20] and p_std in [0, 5] keep every σ finite and positive in float32.
    """
    n = check_int("n", n, low=1, high=10**8)
    p_mean = check_float("p_mean", p_mean, low=-20.0, high=20.0)
    p_std = check_float("p_std", p_std, low=0.0, high=5.0)
    generator = check_generator("generator", generator)
    return torch.exp(p_mean + p_std * torch.randn(n, generator=generator))


def edm_loss(
    denoiser: EDMDenoiser,
    y: torch.Tensor,
    cond: torch.Tensor | None = None,
    *,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Mean of λ(σ) ‖D(y + σ n; σ) - y‖² over the batch with EDM's log-normal σ and weighting.

    y: clean fields (B, C, H, W); cond: None or conditioning planes (B, C', H, W).
    """
    check_instance("denoiser", denoiser, EDMDenoiser)
    y = check_tensor("y", y, ndim=4)
    if cond is not None:
        cond = check_tensor("cond", cond, ndim=4)
        if cond.shape[0] != y.shape[0] or cond.shape[-2:] != y.shape[-2:]:
            raise ValueError(
                f"cond must be (B, C, H, W) with y's B, H, W {(y.shape[0], *y.shape[-2:])}, "
                f"got {tuple(cond.shape)}"
            )
    sigma = sample_training_sigmas(y.shape[0], p_mean=p_mean, p_std=p_std, generator=generator).to(y)
    n = torch.randn(y.shape, generator=generator).to(y)
    s = sigma.reshape(-1, *([1] * (y.ndim - 1)))
    weight = (s**2 + denoiser.sigma_data**2) / (s * denoiser.sigma_data) ** 2
    d = denoiser(y + s * n, sigma, cond)
    return (weight * (d - y) ** 2).mean()


class EMA:
    """Exponential moving average of a module's parameters: θ_ema ← β θ_ema + (1 - β) θ.

    The average of the noisy late-training weights samples better than the last weights. Warm-up
    β_t = min(β, (1 + t) / (10 + t)) lets the average follow quickly at the start.
    """

    def __init__(self, module: nn.Module, decay: float = 0.999):
        check_instance("module", module, nn.Module)
        self.decay = check_float("decay", decay, low=0.0, high=1.0)
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.steps = 0

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        check_instance("module", module, nn.Module)
        beta = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for pe, p in zip(self.module.parameters(), module.parameters()):
            pe.lerp_(p.detach(), 1 - beta)
        for be, b in zip(self.module.buffers(), module.buffers()):
            be.copy_(b)
        self.steps += 1

    def state_dict(self) -> dict:
        return self.module.state_dict()
