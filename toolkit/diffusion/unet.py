"""A small conditional U-Net (about 0.1-0.3 M parameters) for 32×32 fields.

Input = the noisy field concatenated with conditioning images (e.g. the bicubically upsampled
coarse forecast). The noise level enters through a sinusoidal embedding of c_noise = ln(σ)/4 that
scales and shifts every residual block (FiLM). With noise_embedding=False the same network is the
deterministic MSE regression baseline.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from toolkit.validation import check_bool, check_instance, check_int

from ._checks import int_sequence

__all__ = ["UNetConfig", "UNet", "count_parameters"]


@dataclass
class UNetConfig:
    in_channels: int = 2  # noisy field + conditioning channels
    out_channels: int = 1
    channels: tuple[int, ...] = (16, 32, 48)  # width at 32², 16², 8²
    emb_dim: int = 32
    noise_embedding: bool = True

    def __post_init__(self):
        check_int("in_channels", self.in_channels, low=1, high=64)
        check_int("out_channels", self.out_channels, low=1, high=64)
        self.channels = tuple(
            check_int("channels", c, low=8, high=512) for c in int_sequence("channels", self.channels)
        )
        if not 1 <= len(self.channels) <= 5:
            raise ValueError(f"channels must list 1 to 5 widths, got {self.channels}")
        for c in self.channels:
            if c % 8:
                raise ValueError(
                    f"channels must be multiples of 8 (GroupNorm with 8 groups), got {self.channels}"
                )
        check_int("emb_dim", self.emb_dim, low=4, high=1024)
        check_bool("noise_embedding", self.noise_embedding)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int | None):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout) if emb_dim else None
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.norm2(h)
        if self.film is not None:
            scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = self.conv2(F.silu(h))
        return (h + self.skip(x)) / math.sqrt(2)


class UNet(nn.Module):
    """forward(x, c_noise=None) with x (B, in_channels, H, W), H and W divisible by 2^(levels-1)."""

    def __init__(self, config: UNetConfig | None = None, **kwargs):
        super().__init__()
        if config is not None:
            check_instance("config", config, UNetConfig, "None or a UNetConfig")
        cfg = config if config is not None else UNetConfig(**kwargs)
        self.config = cfg
        ch = cfg.channels
        e = cfg.emb_dim if cfg.noise_embedding else None
        if e:
            self.emb = nn.Sequential(
                nn.Linear(cfg.emb_dim, cfg.emb_dim), nn.SiLU(), nn.Linear(cfg.emb_dim, cfg.emb_dim)
            )
        self.stem = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = ch[0]
        for i, c in enumerate(ch):
            self.down.append(ResBlock(prev, c, e))
            prev = c
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid = ResBlock(prev, prev, e)
        self.up = nn.ModuleList()
        for i in reversed(range(len(ch))):
            self.up.append(ResBlock(prev + ch[i], ch[i], e))
            prev = ch[i]
        self.out_norm = nn.GroupNorm(8, ch[0])
        self.out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # start as the identity of the preconditioning (D = c_skip x)
        nn.init.zeros_(self.out.bias)

    def _embed(self, c_noise, batch, ref):
        if not self.config.noise_embedding:
            return None
        if c_noise is None:
            raise ValueError("c_noise is required for a noise-conditioned UNet")
        c = torch.as_tensor(c_noise, dtype=ref.dtype, device=ref.device).reshape(-1).expand(batch)
        half = self.config.emb_dim // 2
        freqs = torch.exp(-math.log(1000.0) * torch.arange(half, dtype=ref.dtype, device=ref.device) / half)
        ang = c[:, None] * freqs[None, :] * 100.0  # c_noise ~ [-2, 1]: spread it over the frequencies
        emb = torch.cat([torch.cos(ang), torch.sin(ang)], dim=1)
        if emb.shape[1] < self.config.emb_dim:
            emb = F.pad(emb, (0, self.config.emb_dim - emb.shape[1]))
        return self.emb(emb)

    def forward(self, x: torch.Tensor, c_noise=None) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.config.in_channels:
            raise ValueError(f"x must have shape (B, {self.config.in_channels}, H, W), got {tuple(x.shape)}")
        f = 2 ** (len(self.config.channels) - 1)
        if x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"H and W must be divisible by {f}, got {tuple(x.shape[-2:])}")
        emb = self._embed(c_noise, x.shape[0], x)
        h = self.stem(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, emb)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.mid(h, emb)
        for j, block in enumerate(self.up):
            skip = skips[-1 - j]
            if h.shape[-1] != skip.shape[-1]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), emb)
        return self.out(F.silu(self.out_norm(h)))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (those with requires_grad) of a torch module."""
    check_instance("module", module, nn.Module, "a torch.nn.Module")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
