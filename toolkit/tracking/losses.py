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

from ..validation import check_choice, check_float
from .assignment import DEFAULT_NO_MATCH
from .pipeline import assign_edges

__all__ = ["MODES", "bce_loss", "hamming_loss", "tracking_loss"]

MODES = ("two_step", "e2e", "mixed")


def bce_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of edge logits against 0/1 labels."""
    return F.binary_cross_entropy_with_logits(logits, target.float())


def hamming_loss(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Hamming distance between (0/1 or soft) decisions and 0/1 labels, written linearly in y."""
    t = target.float()
    return (y * (1 - 2 * t) + t).mean()


def tracking_loss(logits: torch.Tensor, data: Data, n_layers: int, *, mode: str = "two_step",
                  estimator: str = "blackbox", lam: float = 0.1, alpha: float = 0.5,
                  no_match: float | None = DEFAULT_NO_MATCH) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of ``mode`` and a dict of its parts (for logging)."""
    mode = check_choice("mode", mode, MODES)
    alpha = check_float("alpha", alpha, low=0.0, high=1.0)
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
