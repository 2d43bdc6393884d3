"""Toy data with a known density: isotropic Gaussian mixtures in 1-D or 2-D.

Noising with N(0, σ² I) keeps a mixture a mixture, p_σ(x) = Σ_k w_k N(x; μ_k, (s_k² + σ²) I), so
the score ∇ log p_σ and the ideal denoiser D(x; σ) = E[y | x] = x + σ² ∇ log p_σ(x) are exact:

    D(x; σ) = Σ_k r_k(x) (s_k² x + σ² μ_k) / (s_k² + σ²),   r_k = posterior responsibility.

For a single Gaussian this is D = (s² x + σ² μ) / (s² + σ²) (Tweedie / Wiener filter).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from toolkit.validation import check_array, check_float, check_int

__all__ = ["GaussianMixture", "gaussian_mixture_1d", "gaussian_mixture_2d", "gaussian_denoiser"]


class GaussianMixture:
    """Isotropic Gaussian mixture in d dimensions with exact noised density, score and denoiser.

    weights (K,), means (K, d) (or (K,) for d = 1), stds (K,). Tensors are float64 by default.
    """

    def __init__(self, weights, means, stds, *, dtype=torch.float64):
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch dtype, got {dtype!r}")
        w = torch.as_tensor(check_array("weights", weights, ndim=1), dtype=dtype)
        mu = torch.as_tensor(check_array("means", means, ndim=(1, 2)), dtype=dtype)
        if mu.ndim == 1:
            mu = mu[:, None]
        s = torch.as_tensor(check_array("stds", stds, ndim=1), dtype=dtype)
        if w.ndim != 1 or mu.ndim != 2 or s.ndim != 1 or not (len(w) == len(mu) == len(s)) or len(w) == 0:
            raise ValueError(
                "weights (K,), means (K, d) and stds (K,) must agree in K >= 1, got "
                f"{tuple(w.shape)}, {tuple(mu.shape)}, {tuple(s.shape)}"
            )
        if torch.any(w < 0) or not torch.isclose(w.sum(), torch.ones((), dtype=dtype)):
            raise ValueError(f"weights must be non-negative and sum to 1, got {w.tolist()}")
        if torch.any(s <= 0):
            raise ValueError(f"stds must be positive, got {s.tolist()}")
        self.weights, self.means, self.stds = w, mu, s

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def _prep(self, x, sigma):
        x = torch.as_tensor(x, dtype=self.means.dtype)
        if x.ndim == 0 or x.shape[-1] != self.dim:
            if self.dim == 1:
                x = x[..., None]
            else:
                raise ValueError(f"x must have last dimension {self.dim}, got shape {tuple(x.shape)}")
        sigma = torch.as_tensor(sigma, dtype=x.dtype)
        if torch.any(sigma < 0):
            raise ValueError("sigma must be >= 0")
        # one sigma per point: broadcast against x without its feature dim
        sigma = sigma.reshape(sigma.shape + (1,) * (x.ndim - 1 - sigma.ndim)) if sigma.ndim else sigma
        var = self.stds**2 + sigma[..., None] ** 2  # (..., K)
        return x, var

    def _log_components(self, x, var):
        d = self.dim
        sq = ((x[..., None, :] - self.means) ** 2).sum(-1)  # (..., K)
        return torch.log(self.weights) - 0.5 * sq / var - 0.5 * d * torch.log(2 * math.pi * var)

    def log_prob(self, x, sigma=0.0) -> torch.Tensor:
        """log p_σ(x); x has shape (..., d) (or (...) when d = 1)."""
        x, var = self._prep(x, sigma)
        return torch.logsumexp(self._log_components(x, var), dim=-1)

    def score(self, x, sigma=0.0) -> torch.Tensor:
        """∇_x log p_σ(x) = Σ_k r_k (μ_k - x) / (s_k² + σ²), shape (..., d)."""
        x, var = self._prep(x, sigma)
        r = torch.softmax(self._log_components(x, var), dim=-1)
        return (r[..., None] * (self.means - x[..., None, :]) / var[..., None]).sum(-2)

    def denoise(self, x, sigma, cond=None) -> torch.Tensor:
        """Exact D(x; σ) = E[y | y + σn = x]; signature matches toolkit.diffusion.sample."""
        squeeze = torch.as_tensor(x).ndim == 0 or (self.dim == 1 and torch.as_tensor(x).shape[-1:] != (1,))
        xx, var = self._prep(x, sigma)
        r = torch.softmax(self._log_components(xx, var), dim=-1)
        s2 = self.stds**2
        sig2 = var - s2
        comp = (s2[..., None] * xx[..., None, :] + sig2[..., None] * self.means) / var[..., None]
        out = (r[..., None] * comp).sum(-2)
        return out[..., 0] if squeeze else out

    __call__ = denoise

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws, shape (n, d)."""
        n = check_int("n", n, low=1, high=10**8)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.stds[k, None] * z

    @property
    def mean(self) -> torch.Tensor:
        return (self.weights[:, None] * self.means).sum(0)

    @property
    def variance(self) -> torch.Tensor:
        """Per-dimension variance Σ w (s² + μ²) - mean²."""
        return (self.weights[:, None] * (self.stds[:, None] ** 2 + self.means**2)).sum(0) - self.mean**2


def gaussian_mixture_1d(separation: float = 4.0, std: float = 0.5) -> GaussianMixture:
    """Three-bump 1-D mixture: weights (0.3, 0.5, 0.2) at (-sep, 0, sep·0.75)."""
    separation = check_float("separation", separation, low=0.0, high=100.0)
    std = check_float("std", std, low=0.0, low_open=True, high=100.0)
    return GaussianMixture([0.3, 0.5, 0.2], [-separation, 0.0, 0.75 * separation], [std, std, std])


def gaussian_mixture_2d(radius: float = 3.0, std: float = 0.4, modes: int = 6) -> GaussianMixture:
    """`modes` equal bumps on a circle of `radius` (the classic ring toy)."""
    radius = check_float("radius", radius, low=0.0, high=100.0)
    std = check_float("std", std, low=0.0, low_open=True, high=100.0)
    modes = check_int("modes", modes, low=1, high=100)
    a = 2 * math.pi * np.arange(modes) / modes
    return GaussianMixture(
        np.full(modes, 1.0 / modes),
        np.stack([radius * np.cos(a), radius * np.sin(a)], 1),
        np.full(modes, std),
    )


def gaussian_denoiser(mean: float = 0.0, std: float = 1.0):
    """Exact denoiser of N(mean, std²) data, D = (s² x + σ² μ) / (s² + σ²), for any tensor shape."""
    mean = check_float("mean", mean)
    s2 = check_float("std", std, low=0.0, low_open=True) ** 2

    def denoiser(x, sigma, cond=None):
        sig = torch.as_tensor(sigma, dtype=x.dtype)
        sig = sig.reshape(sig.shape + (1,) * (x.ndim - sig.ndim)) if sig.ndim else sig
        return (s2 * x + sig**2 * mean) / (s2 + sig**2)

    return denoiser
