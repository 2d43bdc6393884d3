"""Training losses: two-step (predict then track), end-to-end (predict and track), and a mix.

* two-step: binary cross-entropy on the edge logits; the solver is only used at inference.
* end-to-end: the mean Hamming loss ``(1/E) Σ_e |y_e − t_e| = (1/E) Σ_e [y_e (1 − 2 t_e) + t_e]``
  of the solver's decisions y_e, differentiated through the chosen estimator. It is linear in y,
  so the blackbox gradient is the exact gradient of f_λ.
* mixed: ``alpha · BCE + (1 − alpha) · Hamming``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch_geometric.data import Data

from ..validation import check_choice, check_float, check_instance, check_int, check_tensor
from .assignment import DEFAULT_NO_MATCH
from .pipeline import ESTIMATORS, assign_edges

__all__ = ["MODES", "bce_loss", "hamming_loss", "tracking_loss"]

MODES = ("two_step", "e2e", "mixed")


_SLACK = 1e-4  # soft decisions (Sinkhorn) may overshoot [0, 1] by rounding


def _unit_interval(name: str, value: torch.Tensor, shape: torch.Size | None = None) -> torch.Tensor:
    """A finite float tensor with entries in [0, 1] (bool/integer labels converted), of ``shape`` if given."""
    if isinstance(value, torch.Tensor) and not value.is_floating_point() and not value.is_complex():
        value = value.float()  # 0/1 labels may come as bool or integer tensors
    value = check_tensor(name, value, min_size=0, finite=False)  # one pass below checks both
    if shape is not None and value.shape != shape:
        raise ValueError(f"{name} must have the predictions' shape {tuple(shape)}, got {tuple(value.shape)}")
    if value.numel():
        lo, hi = torch.aminmax(value.detach())  # NaN propagates: the test below fails for it too
        if not (bool(lo >= -_SLACK) and bool(hi <= 1 + _SLACK)):
            if not bool(torch.isfinite(value.detach()).all()):
                raise ValueError(f"{name} must hold only finite numbers (no NaN or inf)")
            raise ValueError(f"{name} must hold values in [0, 1]")
    return value


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of edge logits against 0/1 labels."""
    logits = check_tensor("logits", logits, finite=False, min_size=0)  # a diverged net's NaN: a NaN loss
    target = _unit_interval("target", target, logits.shape)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def hamming_loss(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Hamming distance between (0/1 or soft) decisions and 0/1 labels, written linearly in y."""
    y = _unit_interval("y", y)
    t = _unit_interval("target", target, y.shape).to(y.dtype)
    return (y * (1 - 2 * t) + t).mean()


def solver_lambda(lam: float, mode: str, alpha: float) -> float:
    """The λ the blackbox solver is perturbed with, in cost units, in a run of ``mode``.

    :func:`tracking_loss` weighs the Hamming term by (1 − α) in ``mixed`` mode, so ∂L/∂y — and with it the
    perturbation λ·∂L/∂y — carries that factor: λ(1 − α) (0 at α = 1, where there is no Hamming term).
    """
    return lam * (1.0 - alpha) if mode == "mixed" else lam


def tracking_loss(
    logits: torch.Tensor,
    data: Data,
    n_layers: int,
    *,
    mode: str = "two_step",
    estimator: str = "blackbox",
    lam: float = 0.1,
    alpha: float = 0.5,
    no_match: float | None = DEFAULT_NO_MATCH,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of ``mode`` and a dict of its parts (for logging)."""
    logits = check_tensor("logits", logits, ndim=1, finite=False, min_size=0)
    check_instance("data", data, Data, "a hit graph or batch (torch_geometric Data)")
    if getattr(data, "y", None) is None or data.y.shape != logits.shape:
        raise ValueError(f"data must carry one edge label y per logit ({logits.numel()})")
    n_layers = check_int("n_layers", n_layers, low=2, high=200)
    mode = check_choice("mode", mode, MODES)
    estimator = check_choice("estimator", estimator, ESTIMATORS)
    lam = check_float("lam", lam, low=0.0, low_open=True)
    alpha = check_float("alpha", alpha, low=0.0, high=1.0)
    no_match = None if no_match is None else check_float("no_match", no_match)
    parts: dict[str, float] = {}
    total = logits.new_zeros(())
    if logits.numel() == 0:  # a batch without candidate edges: nothing to learn, but no NaN
        return logits.sum() * 0.0, parts
    if mode in ("two_step", "mixed"):
        bce = bce_loss(logits, data.y)
        parts["bce"] = float(bce.detach())
        total = total + (alpha if mode == "mixed" else 1.0) * bce
    if mode in ("e2e", "mixed"):
        y = assign_edges(logits, data, n_layers, estimator=estimator, lam=lam, no_match=no_match)
        ham = hamming_loss(y, data.y)
        parts["hamming"] = float(ham.detach())
        total = total + ((1 - alpha) if mode == "mixed" else 1.0) * ham
    return total, parts
