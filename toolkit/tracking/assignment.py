"""Linear assignment with a "no match" option, and three ways to differentiate through it.

The problem for one layer pair (rows = hits of layer l, columns = hits of layer l+1)::

    y(c) = argmin_y  Σ_ij c_ij y_ij + τ/2 · (#unmatched rows + #unmatched columns)
           s.t. y_ij ∈ {0,1}, each row and column has at most one 1, y_ij = 0 where c_ij = inf.

Leaving a pair unmatched costs τ (``no_match``), so a pair is only linked when ``c_ij < τ`` is
worth it; forbidden pairs (``inf``) can never make the problem infeasible. Because
Σ c y + τ/2 (n + m − 2|y|) = Σ (c − τ) y + const, it is solved exactly as a rectangular
assignment on ``min(c − τ, 0)`` (zeros are free "stay unmatched" slots) followed by dropping the
pairs with ``c_ij ≥ τ`` — no padding to (n+m)×(n+m) needed.

With the default ``no_match=None`` the no-match cost is taken larger than any possible saving, so
the solver returns a *maximum-cardinality* minimum-cost assignment: exactly what
``scipy.optimize.linear_sum_assignment`` returns whenever that is feasible, and still an answer
when rows or columns are entirely forbidden. The tracking pipeline passes a threshold
(``DEFAULT_NO_MATCH = 0.5`` for costs ``1 − p``) so that weak links are left unmatched.

Gradients (L is a loss of y):

* :func:`blackbox_assignment` — Vlastelica et al. (ICLR 2020): with ``c' = c + λ ∂L/∂y``,
  ``∂f_λ/∂c = −(y(c) − y(c'))/λ``, the exact gradient of the piecewise-linear interpolation
  ``f_λ(c) = L(y(c')) + (⟨w, y(c')⟩ − ⟨w, y(c)⟩)/λ`` with ``w = c − τ`` (exact for losses linear in
  y such as the Hamming loss).
* :func:`straight_through_assignment` — the identity estimator (Sahoo et al. 2022): the solver is
  treated as ``y ≈ −c`` in the backward pass, i.e. ``∂L/∂c = −∂L/∂y``.
* :func:`sinkhorn_assignment` — an entropic relaxation (dustbin row/column for "no match") that is
  smooth and differentiated by autograd; it tends to ``y(c)`` as ``epsilon → 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import lap  # the lapx package: batched LAPJV (see _links_dense)
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..validation import check_array, check_choice, check_float, check_int

__all__ = [
    "solve_assignment",
    "blackbox_assignment",
    "straight_through_assignment",
    "sinkhorn_assignment",
    "assignment_objective",
    "f_lambda",
    "DEFAULT_NO_MATCH",
    "SOLVER_METHODS",
]

DEFAULT_NO_MATCH = 0.5  # with costs 1 − p in [0, 1]: link a pair only if p > 0.5 is worth it


def _check_cost_array(cost: np.ndarray | torch.Tensor, name: str = "cost") -> np.ndarray:
    """The cost as a numpy array of shape (n, m) or (B, n, m), dtype kept (checked for NaN / −inf)."""
    if isinstance(cost, torch.Tensor):
        cost = cost.detach().cpu()
        # numpy has no bfloat16 (and float16 costs would lose ties): the solver works in float32
        arr = (cost.float() if cost.dtype in (torch.bfloat16, torch.float16) else cost).numpy()
    elif isinstance(cost, np.ndarray):
        arr = cost
    else:
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(cost).__name__}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (n, m) or (B, n, m), got shape {tuple(arr.shape)}")
    if arr.dtype.kind not in "fiu" or arr.dtype == np.float16:
        raise TypeError(f"{name} must hold real numbers (float32/float64 or integers), got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and arr.size:
        low = arr.min()  # one pass: NaN propagates through min, and −inf is the minimum
        if np.isnan(low):
            raise ValueError(f"{name} must not contain NaN (use inf for forbidden pairs)")
        if low == -np.inf:
            raise ValueError(f"{name} must not contain -inf (use inf for forbidden pairs)")
    return arr


def _as_numpy_cost(cost: np.ndarray | torch.Tensor, name: str = "cost") -> np.ndarray:
    return _check_cost_array(cost, name).astype(np.float64, copy=False)


def _resolve_no_match(no_match: float | None, cost: np.ndarray) -> float:
    """``None`` -> a no-match cost above any saving: τ > K·(c_max − c_min) + |c_max| (K = min(n, m)).

    Then adding one more link always lowers Σ (c − τ) y, so the optimum has maximum cardinality
    and, among those, minimum Σ c y.
    """
    if no_match is not None:
        return check_float("no_match", no_match)
    finite = cost[np.isfinite(cost)]
    if finite.size == 0:
        return 1.0
    return _above_any_saving(min(cost.shape[-2:]), float(finite.min()), float(finite.max()))


def _above_any_saving(k: int, lo: float, hi: float) -> float:
    """τ = K·(c_max − c_min) + |c_max| + 1 for K = min(n, m) and finite costs in [lo, hi]."""
    return k * (hi - lo) + abs(hi) + 1.0


def _solve_loop(cost: np.ndarray, no_match: float) -> np.ndarray:
    """Reference: one dense scipy call per problem, for a (B, n, m) float64 array (validated)."""
    w = np.minimum(cost - no_match, 0.0)  # inf -> 0: never linked
    y = np.zeros(cost.shape, dtype=np.float64)
    useful = w < 0
    for b in range(cost.shape[0]):
        ub = useful[b]
        rows = np.flatnonzero(ub.any(1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(ub.any(0))
        if rows.size == 1 or cols.size == 1:  # trivial: best single entry
            sub = w[b][np.ix_(rows, cols)]
            k = np.unravel_index(np.argmin(sub), sub.shape)
            y[b, rows[k[0]], cols[k[1]]] = 1.0
            continue
        sub = w[b][np.ix_(rows, cols)]
        r, c = linear_sum_assignment(sub)
        ok = sub[r, c] < 0
        y[b, rows[r[ok]], cols[c[ok]]] = 1.0
    return y


def _links_dense(cost: np.ndarray) -> np.ndarray:
    """Flat indices of the links, for finite costs without τ: one batched LAPJV call (``lapx``).

    A finite problem always has a full matching of its smaller side, so maximum cardinality needs no
    no-match column and no shift: the solver's answer is used as it is.
    """
    B, n, m = cost.shape
    rows, cols = lap.lapjvh_batch(cost, extend_cost=True, return_cost=False, n_threads=1)
    k = min(n, m)
    return np.repeat(np.arange(B) * (n * m), k) + np.concatenate(rows) * m + np.concatenate(cols)


def _links_limited(cost: np.ndarray, no_match: float, precision: str = "native") -> np.ndarray:
    """Flat indices of the links for the threshold τ: one batched LAPJV call with lapx's ``cost_limit``.

    lapx charges ``cost_limit / 2`` for every unmatched row and column — exactly the τ/2 of our problem
    (module docstring) — and takes ``inf`` as forbidden, so the costs go in as they are: no no-match columns.
    A rectangular batch is padded square with forbidden rows or columns (each adds the constant τ/2 to every
    assignment, so the optimum is the same): measured in ``benchmarks/bench_tracking.py``, lapx is up to 1.7×
    faster on the square form (a few rectangular problems took 10× scipy's time). Pairs with ``c = τ``
    (linking them changes nothing) are dropped, as the loop does.
    """
    B, n, m = cost.shape
    square = cost
    if n != m:  # padded square with forbidden entries: exact, and lapx is several times faster on some
        dtype = np.float64 if precision == "float64" else cost.dtype  # (converted in the same copy)
        square = np.full((B, max(n, m), max(n, m)), np.inf, dtype=dtype)  # rectangular batches
        square[:, :n, :m] = cost
    rows, cols = lap.lapjvh_batch(
        square, extend_cost=True, cost_limit=no_match, return_cost=False, n_threads=1, precision=precision
    )
    counts = np.fromiter(map(len, rows), dtype=np.int64, count=B)
    r, c = np.concatenate(rows), np.concatenate(cols)
    flat = np.repeat(np.arange(0, B * n * m, n * m), counts) + r * m + c
    if n != m:  # (the padding is forbidden, so never linked: kept out all the same)
        flat = flat[(r < n) & (c < m)]
    return flat[cost.reshape(-1)[flat] < no_match]


# without τ, costs beyond this magnitude could overflow the no-match cost: the scipy loop takes over
_SAFE = 1e100


def _solve_links(cost: np.ndarray, no_match: float | None) -> np.ndarray:
    """Flat indices of the links of the batched solver, for a validated (B, n, m) array.

    Measured fastest per mode (``benchmarks/bench_tracking.py``): with τ, one batched call with
    ``cost_limit = τ`` in the costs' own precision (float32 costs of order 1: rounding far below any
    cost difference that matters); without τ, finite costs as a plain LAP and sparse ones with a no-match
    cost above any saving (maximum cardinality), both in float64 (that cost grows with the problem size).
    Padded square (``_links_limited``), that worst-case no-match cost is also the fastest way on the large
    per-event problems of skip-layer graphs (a growing threshold checked against Hopcroft–Karp was faster
    only on the unpadded rectangular form, and is gone).
    """
    if cost.size == 0:
        return np.zeros(0, dtype=np.int64)
    if no_match is not None:
        return _links_limited(cost, no_match)
    flat = cost.reshape(-1)
    finite = flat[np.flatnonzero(flat < np.inf)]  # (a little faster than a boolean-mask copy)
    if finite.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo, hi = float(finite.min()), float(finite.max())
    tau = _above_any_saving(min(cost.shape[1:]), lo, hi)
    if max(abs(lo), abs(hi)) > _SAFE:  # extreme magnitudes: the reference loop
        return np.flatnonzero(_solve_loop(cost.astype(np.float64), tau))
    if finite.size == cost.size:
        return _links_dense(cost.astype(np.float64, copy=False))
    return _links_limited(cost, tau, precision="float64")


SOLVER_METHODS = ("components", "loop")


def solve_assignment(
    cost: np.ndarray | torch.Tensor, no_match: float | None = None, *, method: str = "components"
) -> np.ndarray | torch.Tensor:
    """The 0/1 assignment ``y(cost)`` (module docstring), for shape (n, m) or batched (B, n, m).

    ``no_match=None``: maximum-cardinality minimum-cost assignment (scipy's answer when feasible);
    a number τ: pairs are linked only where that beats leaving both ends unmatched (``c_ij < τ``).
    ``method="components"`` (default; the name is historical) is the batched solver: the whole batch in
    one call of lapx's Jonker-Volgenant solver (a plain LAP for dense finite costs without τ, otherwise
    with lapx's ``cost_limit``, whose unmatched penalty is exactly our τ/2). ``"loop"`` is the reference
    (one dense scipy call per problem). Both return an optimal assignment (ties may be broken
    differently). Returns the same type as ``cost`` (a float tensor on the same device, or a float64
    array).
    """
    arr = _check_cost_array(cost)
    if no_match is not None:
        no_match = check_float("no_match", no_match)
    method = check_choice("method", method, SOLVER_METHODS)
    batch = arr[None] if arr.ndim == 2 else arr
    if method == "loop":
        batch = batch.astype(np.float64, copy=False)
        y = _solve_loop(batch, _resolve_no_match(no_match, batch)).reshape(arr.shape)
    else:
        links = _solve_links(batch, no_match)
        if isinstance(cost, torch.Tensor):  # built in place: no float64 detour
            y = torch.zeros(arr.shape, dtype=cost.dtype if cost.is_floating_point() else torch.float32)
            y.view(-1)[torch.from_numpy(links)] = 1.0
            return y.to(cost.device)
        y = np.zeros(arr.shape)
        y.reshape(-1)[links] = 1.0
    if isinstance(cost, torch.Tensor):
        return torch.as_tensor(
            y, dtype=cost.dtype if cost.is_floating_point() else torch.float32, device=cost.device
        )
    return y


def assignment_objective(
    cost: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, no_match: float | None = None
) -> np.ndarray:
    """Solver objective ``Σ (c − τ) y`` per problem (0 for no pair); inf if y uses a forbidden pair.

    With ``no_match=None`` it is ``Σ c y`` (τ = 0): maximum-cardinality assignments of the same
    cost pattern all have the same size, so a constant τ would cancel in every difference.
    """
    c = _as_numpy_cost(cost)
    no_match = 0.0 if no_match is None else check_float("no_match", no_match)
    y = check_array("y", y, ndim=c.ndim, min_size=0, finite=False)
    if y.shape != c.shape:
        raise ValueError(f"y must have the shape of cost {c.shape}, got {y.shape}")
    if np.isnan(y).any():  # `y > 0` is False for NaN: the term would silently vanish
        raise ValueError("y must not hold NaN")
    with np.errstate(invalid="ignore"):
        terms = np.where(y > 0, (c - no_match) * y, 0.0)
    return terms.sum(axis=(-2, -1))


class _Blackbox(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cost: torch.Tensor, lam: float, no_match: float) -> torch.Tensor:  # type: ignore[override]
        y = solve_assignment(cost, no_match)
        ctx.save_for_backward(cost, y)
        ctx.lam, ctx.no_match = lam, no_match
        return y

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        cost, y = ctx.saved_tensors
        # inf + finite stays inf: forbidden pairs stay forbidden in the perturbed problem
        y_lam = solve_assignment(torch.add(cost, grad_y, alpha=ctx.lam), ctx.no_match)
        return y_lam.sub_(y).div_(ctx.lam), None, None  # = −(y − y_λ)/λ, in place on a fresh tensor


def _solve_entries(
    values: torch.Tensor, flat: np.ndarray, shape: tuple[int, int, int], no_match
) -> torch.Tensor:
    """y at the candidate entries only: ``values[k]`` sits at flat index ``flat[k]`` of a (B, n, m) batch
    whose other entries are forbidden. The same dense array as ``solve_assignment`` gets, so the same
    links; but no dense tensor goes through autograd (the pipeline's training step, forward and backward)."""
    c = _check_cost_array(values.detach().reshape(1, -1))[0]
    dense = np.full(shape[0] * shape[1] * shape[2], np.inf, dtype=c.dtype)
    dense[flat] = c
    dense = dense.reshape(shape)
    y = np.zeros(dense.size, dtype=bool)
    y[_solve_links(dense, no_match)] = True
    return torch.from_numpy(y[flat]).to(device=values.device, dtype=values.dtype)


class _BlackboxEntries(torch.autograd.Function):
    """:class:`_Blackbox` on the candidate entries of a batch (see :func:`_solve_entries`)."""

    @staticmethod
    def forward(ctx, values, flat, shape, lam, no_match):  # type: ignore[override]
        y = _solve_entries(values, flat, shape, no_match)
        ctx.save_for_backward(values, y)
        ctx.flat, ctx.shape, ctx.lam, ctx.no_match = flat, shape, lam, no_match
        return y

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        values, y = ctx.saved_tensors
        y_lam = _solve_entries(torch.add(values, grad_y, alpha=ctx.lam), ctx.flat, ctx.shape, ctx.no_match)
        return y_lam.sub_(y).div_(ctx.lam), None, None, None, None


class _StraightThroughEntries(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, flat, shape, no_match):  # type: ignore[override]
        return _solve_entries(values, flat, shape, no_match)

    @staticmethod
    def backward(ctx, grad_y):  # type: ignore[override]
        return -grad_y, None, None, None


def _assign_entries(
    values: torch.Tensor,
    flat: np.ndarray,
    shape: tuple[int, int, int],
    *,
    estimator: str,
    lam: float = 0.1,
    no_match: float | None = None,
) -> torch.Tensor:
    """:func:`blackbox_assignment` / :func:`straight_through_assignment` of a batch given by its candidate
    entries (``values[k]`` at flat index ``flat[k]`` of shape ``(B, n, m)``, every other entry ``inf``),
    returning y at those entries. For finite values at distinct positions (the edges of a graph: costs in
    [0, 1], one edge per hit pair) it equals ``estimator(dense)[idx]`` in value and gradient, without
    building the dense tensors in autograd (used by the pipeline's training step)."""
    if estimator == "blackbox":
        return _BlackboxEntries.apply(values, flat, shape, lam, no_match)
    return _StraightThroughEntries.apply(values, flat, shape, no_match)


def _check_cost_tensor(cost: torch.Tensor) -> torch.Tensor:
    if not isinstance(cost, torch.Tensor):
        raise TypeError(f"cost must be a torch tensor, got {type(cost).__name__}")
    if cost.dim() not in (2, 3):
        raise ValueError(f"cost must have shape (n, m) or (B, n, m), got shape {tuple(cost.shape)}")
    if not cost.is_floating_point():
        raise TypeError(f"cost must be a floating point tensor, got dtype {cost.dtype}")
    return cost


def blackbox_assignment(cost: torch.Tensor, lam: float, no_match: float | None = None) -> torch.Tensor:
    """Differentiable exact assignment (Vlastelica et al. 2020).

    Forward: ``y(cost)`` (0/1, each row and column at most one 1; ``inf`` forbidden; rectangular and
    batched (B, n, m) allowed; ``no_match=None`` links as many pairs as possible, as scipy's
    ``linear_sum_assignment`` does; a number τ links a pair only if its cost is below τ).
    Backward: ``−(y(cost) − y(cost + λ·∂L/∂y)) / λ``. ``lam`` > 0 is in cost units: the backward
    pass shifts each cost by ``λ·∂L/∂y``.
    """
    _check_cost_tensor(cost)
    lam = check_float("lam", lam, low=0.0, low_open=True)
    if no_match is not None:
        no_match = check_float("no_match", no_match)
    return _Blackbox.apply(cost, lam, no_match)


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, cost: torch.Tensor, no_match: float) -> torch.Tensor:  # type: ignore[override]
        y = solve_assignment(cost, no_match)
        ctx.save_for_backward(torch.isinf(cost))
        return y

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):  # type: ignore[override]
        (forbidden,) = ctx.saved_tensors
        return (-grad_y).masked_fill(forbidden, 0.0), None


def straight_through_assignment(cost: torch.Tensor, no_match: float | None = None) -> torch.Tensor:
    """Exact assignment forward; identity backward ``∂L/∂c = −∂L/∂y`` (Sahoo et al. 2022).

    The minus sign: raising a cost lowers the chance of linking it. Forbidden pairs get 0.
    """
    _check_cost_tensor(cost)
    if no_match is not None:
        no_match = check_float("no_match", no_match)
    return _StraightThrough.apply(cost, no_match)


def sinkhorn_assignment(
    cost: torch.Tensor, no_match: float | None = None, *, epsilon: float = 0.05, n_iter: int = 50
) -> torch.Tensor:
    """Entropic (soft) assignment in [0, 1], differentiable by autograd.

    Log-domain Sinkhorn on the (n+1)×(m+1) matrix with a dustbin row and column of cost τ/2 each
    (row marginals ``[1…1, m]``, column marginals ``[1…1, n]``); returns the (n, m) block.
    As ``epsilon → 0`` it approaches :func:`solve_assignment` (for a unique optimum).
    """
    _check_cost_tensor(cost)
    no_match = _resolve_no_match(no_match, _as_numpy_cost(cost))
    epsilon = check_float("epsilon", epsilon, low=0.0, low_open=True)
    n_iter = check_int("n_iter", n_iter, low=1, high=100000)
    squeeze = cost.dim() == 2
    c = cost[None] if squeeze else cost
    B, n, m = c.shape
    finite = torch.isfinite(c)
    logits = torch.where(finite, -c / epsilon, torch.full_like(c, -math.inf))
    dust_col = torch.full((B, n, 1), -no_match / 2 / epsilon, dtype=c.dtype, device=c.device)
    dust_row = torch.full((B, 1, m + 1), -no_match / 2 / epsilon, dtype=c.dtype, device=c.device)
    dust_row[:, 0, m] = 0.0
    z = torch.cat([torch.cat([logits, dust_col], 2), dust_row], 1)
    log_a = torch.cat([torch.zeros(n), torch.tensor([math.log(max(m, 1))])]).to(c)
    log_b = torch.cat([torch.zeros(m), torch.tensor([math.log(max(n, 1))])]).to(c)
    u = torch.zeros(B, n + 1, dtype=c.dtype, device=c.device)
    v = torch.zeros(B, m + 1, dtype=c.dtype, device=c.device)
    for _ in range(n_iter):
        u = log_a - torch.logsumexp(z + v[:, None, :], dim=2)
        v = log_b - torch.logsumexp(z + u[:, :, None], dim=1)
    p = torch.exp(z + u[:, :, None] + v[:, None, :])[:, :n, :m]
    p = torch.where(finite, p, torch.zeros_like(p))
    return p[0] if squeeze else p


def f_lambda(
    cost: np.ndarray | torch.Tensor,
    loss: Callable[[torch.Tensor], torch.Tensor],
    lam: float,
    no_match: float | None = None,
) -> float:
    """The interpolated loss ``f_λ(c) = L(y_λ) + (⟨w, y_λ⟩ − ⟨w, y⟩)/λ`` of Vlastelica et al.

    ``w = c − τ`` is the solver's linear objective, ``y = y(c)``, ``y_λ = y(c + λ ∂L/∂y)``.
    Piecewise linear and continuous in ``c`` for losses linear in ``y``; its gradient is what
    :func:`blackbox_assignment` returns. ``loss`` maps a y tensor to a scalar tensor.
    """
    c = torch.as_tensor(_as_numpy_cost(cost))
    if not callable(loss):
        raise TypeError(f"loss must be a function of y returning a scalar tensor, got {type(loss).__name__}")
    lam = check_float("lam", lam, low=0.0, low_open=True)
    if no_match is not None:
        no_match = check_float("no_match", no_match)
    y = solve_assignment(c, no_match).requires_grad_(True)
    value = loss(y)
    if not isinstance(value, torch.Tensor) or value.numel() != 1 or not value.requires_grad:
        raise TypeError("loss must return a scalar tensor computed from y (differentiable in y)")
    (g,) = torch.autograd.grad(value, y)
    y_lam = solve_assignment(c + lam * g, no_match)
    gap = assignment_objective(c, y_lam, no_match) - assignment_objective(c, y.detach(), no_match)
    return float(loss(y_lam)) + float(np.sum(gap)) / lam
