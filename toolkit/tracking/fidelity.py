"""How close is the blackbox gradient to an exact one? (the tracking column of notebook 04)

The solver ``y(c) = argmin_y ⟨c, y⟩`` is piecewise constant, so the exact gradient of ``L(y(c))``
is zero almost everywhere. Two gradients that *are* informative:

* the blackbox gradient of Vlastelica et al., the exact gradient of the interpolation ``f_λ``:
  ``g_λ = −(y(c) − y(c + λ ∂L/∂y)) / λ``;
* the exact gradient of a *smoothed* solver: entropic (Sinkhorn) assignment ``P_ε(c)``,
  differentiated by autograd, ``g_ref = ∂ L(P_ε(c)) / ∂c``.

For a Hamming loss to a target ``y*``, ``L(y) = Σ |y − y*| = ⟨1 − 2y*, y⟩ + const``, linear in y.
:func:`blackbox_alignment` reports, per λ, the cosine between ``g_λ`` and ``g_ref`` averaged over
random problems (a zero ``g_λ`` counts as cosine 0: it carries no direction), and the fraction
of problems where ``g_λ ≠ 0``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from toolkit.validation import as_rng, check_float, check_int

from .assignment import sinkhorn_assignment, solve_assignment

__all__ = ["blackbox_alignment", "planted_problems"]


def planted_problems(
    n_problems: int = 48,
    size: int = 8,
    *,
    noise: float = 0.3,
    random_state: int | np.random.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Assignment problems whose solution misses a planted target.

    ``c* ~ U[0, 1]^(size×size)``, target ``y* = y(c*)``, observed cost ``c = c* + noise·N(0, 1)``;
    problems where ``y(c) = y*`` (loss 0, nothing to learn) are drawn again. Returns float64
    tensors ``(cost, target)`` of shape (n_problems, size, size).
    """
    n_problems = check_int("n_problems", n_problems, low=1, high=10_000)
    size = check_int("size", size, low=2, high=64)
    noise = check_float("noise", noise, low=0.0, high=10.0, low_open=True)
    rng = as_rng(random_state)
    costs, targets = [], []
    while len(costs) < n_problems:
        truth = rng.uniform(0.0, 1.0, (size, size))
        cost = truth + noise * rng.standard_normal((size, size))
        target = solve_assignment(truth)
        if not np.array_equal(solve_assignment(cost), target):
            costs.append(cost)
            targets.append(target)
    return torch.tensor(np.stack(costs)), torch.tensor(np.stack(targets), dtype=torch.float64)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine of flattened (B, n, m) tensors; 0 where either is zero."""
    a, b = a.flatten(1), b.flatten(1)
    norms = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(norms > 0, (a * b).sum(1) / norms.clamp_min(1e-300), torch.zeros_like(norms))


@functools.lru_cache(maxsize=8)  # a slider move re-solves only the perturbed problems
def _reference(n_problems: int, size: int, noise: float, epsilon: float, seed: int):
    """Problems, ∂L/∂y, their solutions and the smoothed solver's exact gradient ∂L(P_ε(c))/∂c."""
    cost, target = planted_problems(n_problems, size, noise=noise, random_state=seed)
    dl_dy = 1.0 - 2.0 * target  # ∂ Hamming / ∂y
    soft_cost = cost.clone().requires_grad_(True)
    soft = sinkhorn_assignment(soft_cost, None, epsilon=epsilon, n_iter=300)
    (reference,) = torch.autograd.grad((soft * dl_dy).sum(), soft_cost)
    return cost, dl_dy, solve_assignment(cost), reference


def blackbox_alignment(
    lams: Sequence[float],
    *,
    n_problems: int = 48,
    size: int = 8,
    noise: float = 0.3,
    epsilon: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Cosine between the blackbox gradient at each λ and the smoothed solver's exact gradient.

    Returns one row per λ: ``factor`` (λ), ``cosine`` (mean over problems), ``nonzero`` (fraction
    of problems with a non-zero blackbox gradient).
    """
    lams = [check_float("lams", lam, low=0.0, high=1e6, low_open=True) for lam in lams]
    if not lams:
        raise ValueError("lams must list at least one λ > 0")
    epsilon = check_float("epsilon", epsilon, low=1e-3, high=10.0)
    n_problems = check_int("n_problems", n_problems, low=1, high=10_000)
    size = check_int("size", size, low=2, high=64)
    noise = check_float("noise", noise, low=0.0, high=10.0, low_open=True)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    cost, dl_dy, y, reference = _reference(n_problems, size, noise, epsilon, seed)
    rows = []
    for lam in lams:
        grad = -(y - solve_assignment(cost + lam * dl_dy)) / lam
        cos = _cosine(grad, reference)
        nonzero = grad.flatten(1).abs().sum(1) > 0
        rows.append({"factor": lam, "cosine": float(cos.mean()), "nonzero": float(nonzero.double().mean())})
    return pd.DataFrame(rows)
