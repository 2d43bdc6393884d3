"""Loss landscapes: the straight line between two trained models, and 1-D slices of f_λ.

* :func:`linear_path` evaluates loss and purity at θ(α) = (1 − α) θ_A + α θ_B;
  :func:`barrier_height` is ``max_α [L(θ(α)) − ((1 − α) L(θ_A) + α L(θ_B))]`` (0 = linearly
  connected, as Kortus et al. find for most pairs).
* :func:`loss_slice` moves one cost matrix along a direction, ``c(t) = c + t d``, and records the
  piecewise-constant true loss L(y(c(t))), the interpolation f_λ(c(t)) and its slope
  ⟨∂f_λ/∂c, d⟩ — what the blackbox estimator hands to the network.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from ..validation import check_array, check_choice, check_float, check_instance, check_int
from .assignment import DEFAULT_NO_MATCH, assignment_objective, solve_assignment
from .graph import check_graphs
from .losses import bce_loss, solver_lambda
from .metrics import track_purity_efficiency, tracks_from_edges
from .pipeline import edge_decisions, one_thread

__all__ = [
    "interpolate_models",
    "linear_path",
    "barrier_height",
    "loss_slice",
    "hamming",
    "stability_sweep",
    "flip_margin",
    "descend",
    "bce_of_costs",
    "random_direction",
]


def interpolate_models(model_a: torch.nn.Module, model_b: torch.nn.Module, alpha: float) -> torch.nn.Module:
    """A copy of ``model_a`` with weights (1 − alpha) θ_A + alpha θ_B."""
    check_instance("model_a", model_a, torch.nn.Module, "a torch Module")
    check_instance("model_b", model_b, torch.nn.Module, "a torch Module")
    alpha = check_float("alpha", alpha)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("model_a and model_b must have the same architecture")
    out = copy.deepcopy(model_a)
    out.load_state_dict(
        {k: (1 - alpha) * sa[k] + alpha * sb[k] if sa[k].is_floating_point() else sa[k] for k in sa}
    )
    return out.eval()


def linear_path(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    *,
    n_points: int = 11,
    no_match: float = DEFAULT_NO_MATCH,
) -> list[dict]:
    """Rows ``{alpha, bce, hamming, purity, efficiency}`` along the straight line A → B."""
    check_instance("model_a", model_a, torch.nn.Module, "a torch Module")
    check_instance("model_b", model_b, torch.nn.Module, "a torch Module")
    graphs = check_graphs("graphs", graphs)
    n_layers = check_int("n_layers", n_layers, low=2, high=200)
    n_points = check_int("n_points", n_points, low=2, high=1001)
    no_match = None if no_match is None else check_float("no_match", no_match)
    batch = Batch.from_data_list(graphs)
    rows = []
    for alpha in np.linspace(0.0, 1.0, n_points):
        m = interpolate_models(model_a, model_b, float(alpha))
        with torch.no_grad(), one_thread():
            bce = float(bce_loss(m(batch.x, batch.edge_index, batch.edge_attr), batch.y))
        _, linked = edge_decisions(m, batch, n_layers, no_match)
        labels = tracks_from_edges(batch.num_nodes, batch.edge_index, linked)
        # graph offsets keep labels of different events apart, so the pooled counts are per event
        pe = track_purity_efficiency(
            labels, batch.particle_id + batch.batch * 10**6 * (batch.particle_id > 0)
        )
        rows.append(
            dict(
                alpha=float(alpha),
                bce=bce,
                hamming=float(np.mean(linked != batch.y.numpy().astype(bool))),
                purity=pe["purity"],
                efficiency=pe["efficiency"],
            )
        )
    return rows


def barrier_height(values: Sequence[float], alphas: Sequence[float] | None = None) -> float:
    """``max_α [v(α) − ((1 − α) v(0) + α v(1))]`` for values on a grid from α = 0 to 1 (≥ 0 by α = 0)."""
    v = check_array("values", values, ndim=1, min_size=2, finite=False)  # a NaN loss shows as a NaN barrier
    a = np.linspace(0, 1, v.size) if alphas is None else check_array("alphas", alphas, ndim=1)
    if a.shape != v.shape:
        raise ValueError(f"alphas must have the same length as values ({v.size}), got {a.size}")
    return float(np.max(v - ((1 - a) * v[0] + a * v[-1])))


def hamming(y: np.ndarray, target: np.ndarray) -> float:
    """Summed Hamming distance Σ |y − t| of 0/1 matrices."""
    return float(np.abs(np.asarray(y) - np.asarray(target)).sum())


def loss_slice(
    cost: np.ndarray,
    target: np.ndarray,
    lam: float,
    *,
    direction: np.ndarray | None = None,
    entry: tuple[int, int] | None = None,
    t: np.ndarray | None = None,
    no_match: float | None = DEFAULT_NO_MATCH,
    alpha: float = 0.0,
) -> list[dict]:
    """Rows ``{t, true_loss, f_lambda, grad}`` along ``c(t) = cost + t·direction`` for the Hamming loss.

    Give ``direction`` (same shape as cost) or ``entry=(i, j)`` (move only that cost). The Hamming
    loss Σ|y − t| is linear in y (∂L/∂y = 1 − 2 t), so f_λ is exact and continuous and ``grad``
    is the slope the blackbox estimator reports. ``alpha`` > 0 mixes in the two-step loss as training's
    ``mixed`` mode does, L = α BCE + (1 − α) Hamming: the solver then sees ∂L/∂y = (1 − α)(1 − 2t), so it is
    perturbed by λ(1 − α), and ``f_lambda = α BCE + (1 − α) f_λ'`` with λ' = λ(1 − α) (:func:`bce_of_costs`).
    """
    alpha = check_float("alpha", alpha, low=0.0, high=1.0)
    lam = check_float("lam", lam, low=0.0, low_open=True)
    c, tgt = _cost_target(cost, target)
    no_match = None if no_match is None else check_float("no_match", no_match)
    if direction is None:
        if entry is None:
            raise ValueError("give direction or entry")
        direction = np.zeros_like(c)
        direction[_check_entry(entry, c.shape)] = 1.0
    d = check_array("direction", direction, ndim=2)
    if d.shape != c.shape:
        raise ValueError(f"direction must have shape {c.shape}, got {d.shape}")
    d = np.where(np.isfinite(c), d, 0.0)
    t = np.linspace(-1.0, 1.0, 201) if t is None else check_array("t", t, ndim=1)
    g = 1.0 - 2.0 * tgt  # ∂(Σ|y − t|)/∂y
    lam = _hamming_lambda(lam, alpha)
    cs = c[None] + t[:, None, None] * d[None]
    y = solve_assignment(cs, no_match)
    y_lam = solve_assignment(cs + lam * g[None], no_match)
    true = np.abs(y - tgt[None]).sum((1, 2))
    f_lam = (
        np.abs(y_lam - tgt[None]).sum((1, 2))
        + (assignment_objective(cs, y_lam, no_match) - assignment_objective(cs, y, no_match)) / lam
    )
    grad = (-(y - y_lam) / lam * d[None]).sum((1, 2))
    if alpha > 0:
        bce = np.array([bce_of_costs(ci, tgt) for ci in cs], dtype=object)
        b_val = np.array([v for v, _ in bce], dtype=float)
        b_grad = np.array([(g * d).sum() for _, g in bce], dtype=float)
        true, f_lam, grad = (
            alpha * b_val + (1 - alpha) * true,
            alpha * b_val + (1 - alpha) * f_lam,
            alpha * b_grad + (1 - alpha) * grad,
        )
    return [
        dict(t=float(a), true_loss=float(b), f_lambda=float(f), grad=float(gr))
        for a, b, f, gr in zip(t, true, f_lam, grad)
    ]


def _hamming_lambda(lam: float, alpha: float) -> float:
    """The λ the Hamming part's blackbox works with in L = α BCE + (1 − α) Hamming: λ(1 − α).

    Training's ``mixed`` mode scales the Hamming loss by (1 − α) before the solver's backward pass, so the
    perturbation is λ(1 − α)·∂Hamming/∂y. (At α = 1 that part has weight 0; λ is returned to avoid 0/0.)
    """
    return solver_lambda(lam, "mixed", alpha) if alpha < 1.0 else lam


def _cost_target(cost, target) -> tuple[np.ndarray, np.ndarray]:
    """A cost matrix (finite, or +inf for a forbidden pair) and a 0/1 target matrix of its shape."""
    c = check_array("cost", cost, ndim=2, finite=False)
    if np.isnan(c).any() or (c == -np.inf).any():
        raise ValueError("cost must hold finite numbers or +inf (a forbidden pair), not NaN or -inf")
    tgt = check_array("target", target, ndim=2)
    if tgt.shape != c.shape or not np.isin(tgt, (0.0, 1.0)).all():
        raise ValueError(f"target must be a 0/1 matrix of the shape of cost {c.shape}, got shape {tgt.shape}")
    return c, tgt


def _check_entry(entry, shape: tuple[int, int]) -> tuple[int, int]:
    """``entry = (i, j)``: a valid (row, column) of a matrix of ``shape``."""
    if isinstance(entry, (str, bytes)) or not isinstance(entry, (tuple, list)) or len(entry) != 2:
        raise TypeError(f"entry must be a pair (i, j) of integers, got {entry!r}")
    return (
        check_int("entry", entry[0], low=0, high=shape[0] - 1),
        check_int("entry", entry[1], low=0, high=shape[1] - 1),
    )


def bce_of_costs(cost: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Two-step loss on a cost matrix: ``BCE = −Σ [t log(1 − c) + (1 − t) log c]`` over finite entries
    (p = 1 − c is the edge probability) and its gradient ∂BCE/∂c (0 on forbidden entries)."""
    c = np.clip(np.asarray(cost, float), 1e-6, 1 - 1e-6)
    t = np.asarray(target, float)
    ok = np.isfinite(np.asarray(cost, float))
    value = -np.where(ok, t * np.log(1 - c) + (1 - t) * np.log(c), 0.0).sum()
    grad = np.where(ok, t / (1 - c) - (1 - t) / c, 0.0)
    return float(value), grad


def random_direction(cost: np.ndarray, seed: int = 0) -> np.ndarray:
    """A random unit direction over all finite costs (0 on forbidden pairs), for :func:`loss_slice`."""
    c = check_array("cost", cost, ndim=2, finite=False)
    seed = check_int("seed", seed, low=0)
    d = np.where(np.isfinite(c), np.random.default_rng(seed).standard_normal(c.shape), 0.0)
    return d / max(np.linalg.norm(d), 1e-12)


def flip_margin(
    cost: np.ndarray,
    target: np.ndarray,
    no_match: float | None = DEFAULT_NO_MATCH,
    *,
    high: float = 100.0,
    tol: float = 1e-9,
) -> float:
    """The margin m: the smallest λ with ``y(c + λ ∂L/∂y) ≠ y(c)`` for the Hamming loss (∂L/∂y = 1 − 2t).

    The blackbox gradient ``−(y(c) − y(c + λ ∂L/∂y))/λ`` is exactly 0 for every λ < m. The optimum
    along the ray c + λ d (d = 1 − 2t) changes at most once per solution (the minimum of lines in λ
    is concave), so {λ : y_λ = y} is an interval [0, m) and bisection finds m. Returns ``inf`` if
    no λ ≤ ``high`` changes the solution (e.g. y(c) is already the target).
    """
    c, tgt = _cost_target(cost, target)
    d = 1.0 - 2.0 * tgt
    no_match = None if no_match is None else check_float("no_match", no_match)
    high = check_float("high", high, low=0.0, low_open=True, high=1e12)
    tol = check_float("tol", tol, low=0.0, low_open=True, high=1.0)
    y0 = solve_assignment(c, no_match)

    def moved(lam: float) -> bool:
        return not np.array_equal(solve_assignment(c + lam * d, no_match), y0)

    if not moved(high):
        return float("inf")
    lo, hi = 0.0, high
    while hi - lo > tol * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if moved(mid) else (mid, hi)
    return hi


def descend(
    cost: np.ndarray,
    target: np.ndarray,
    lam: float,
    *,
    steps: int = 30,
    lr: float = 0.05,
    alpha: float = 0.0,
    no_match: float | None = DEFAULT_NO_MATCH,
) -> list[dict]:
    """Gradient descent on the costs themselves: ``c ← c − lr · g / max|g|`` with
    ``g = α ∂BCE/∂c + (1 − α) ∂f_λ'/∂c`` (blackbox gradient of the Hamming loss at λ' = λ(1 − α), as in
    training's ``mixed`` mode: see :func:`loss_slice`).

    Normalising by max|g| (a sign-like step, as Adam roughly does) makes the step size independent
    of the 1/λ scale, so what differs between λ values is only *whether* the gradient is non-zero.
    Rows ``{step, hamming, bce, grad_norm}``; step 0 is the start.
    """
    lam = check_float("lam", lam, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=0, high=10000)
    lr = check_float("lr", lr, low=0.0, low_open=True)
    alpha = check_float("alpha", alpha, low=0.0, high=1.0)
    no_match = None if no_match is None else check_float("no_match", no_match)
    c, t = _cost_target(cost, target)
    c = c.copy()
    ok = np.isfinite(c)
    rows = []
    lam = _hamming_lambda(lam, alpha)
    for k in range(steps + 1):
        y = solve_assignment(c, no_match)
        y_lam = solve_assignment(c + lam * (1 - 2 * t), no_match)
        bce, g_bce = bce_of_costs(c, t)
        g = alpha * g_bce + (1 - alpha) * np.where(ok, -(y - y_lam) / lam, 0.0)
        gmax = float(np.abs(g).max()) if g.size else 0.0
        rows.append(dict(step=k, hamming=hamming(y, t), bce=bce, grad_norm=gmax))
        if k < steps and gmax > 0:
            c = np.where(ok, np.clip(c - lr * g / gmax, 0.0, 1.0), c)
    return rows


def stability_sweep(
    lams: Sequence[float],
    seeds: Sequence[int],
    detector=None,
    *,
    mode: str = "e2e",
    epochs: int = 3,
    n_train: int = 200,
    n_test: int = 100,
    n_points: int = 11,
    data_seed: int = 1,
    callback=None,
    skip_layers: int = 0,
) -> list[dict]:
    """Train one model per (λ, seed) on the same data; per λ report purity, m_minmax over seed pairs
    (mean/std) and the loss barrier on the straight line between seed pairs (mean).
    ``skip_layers``: graphs with skip-layer edges (see :func:`~toolkit.tracking.build_graphs`).

    Seeds change only the initialisation and batch order, as in Kortus et al.'s instability study.
    ``callback(row)`` receives each finished λ row (for live charts).
    """
    import itertools

    from .detector import as_config
    from .losses import MODES
    from .metrics import m_minmax
    from .pipeline import evaluate, lambda_scale
    from .train import TrainConfig, fit, make_dataset, one_thread

    det = as_config(detector, "detector")
    lams = check_array("lams", lams, ndim=1)
    if (lams <= 0).any():
        raise ValueError(f"lams must hold numbers > 0, got {lams.tolist()}")
    lams = lams.tolist()
    seeds = check_array("seeds", seeds, ndim=1, integer=True, min_size=0)
    if seeds.size < 2 or (seeds < 0).any():
        raise ValueError(f"seeds must hold at least 2 seeds >= 0 to compare models, got {seeds.tolist()}")
    seeds = seeds.tolist()
    mode = check_choice("mode", mode, MODES)
    epochs = check_int("epochs", epochs, low=1, high=10000)
    n_train = check_int("n_train", n_train, low=1, high=1_000_000)
    n_test = check_int("n_test", n_test, low=1, high=1_000_000)
    n_points = check_int("n_points", n_points, low=2, high=1001)
    data_seed = check_int("data_seed", data_seed, low=0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    train = make_dataset(n_train, det, seed=data_seed, skip_layers=skip_layers)
    test = make_dataset(n_test, det, seed=10**6, skip_layers=skip_layers)
    batch = Batch.from_data_list(test)
    rows = []
    for lam in lams:
        models, results, ratios = [], [], []
        for s in seeds:
            m, _ = fit(
                train,
                TrainConfig(mode=mode, lam=lam, epochs=epochs, seed=s),
                n_layers=det.n_layers,
                warn_lambda=False,  # a λ sweep: degenerate values are part of the point
            )
            with one_thread():
                results.append(evaluate(m, test, det.n_layers))
                with torch.no_grad():
                    ratios.append(
                        lambda_scale(m(batch.x, batch.edge_index, batch.edge_attr), lam)["lam_over_margin"]
                    )
            models.append(m)
        target = results[0]["target"]
        pairs = list(itertools.combinations(range(len(seeds)), 2))
        ms = [m_minmax(results[i]["decisions"], results[j]["decisions"], target) for i, j in pairs]
        b_bce, b_ham = [], []
        with one_thread():
            for i, j in pairs:
                path = linear_path(models[i], models[j], test, det.n_layers, n_points=n_points)
                b_bce.append(barrier_height([r["bce"] for r in path]))
                b_ham.append(barrier_height([r["hamming"] for r in path]))
        pur = [r["purity"] for r in results]
        row = dict(
            lam=lam,
            purity_mean=float(np.mean(pur)),
            purity_std=float(np.std(pur)),
            efficiency_mean=float(np.mean([r["efficiency"] for r in results])),
            m_minmax_mean=float(np.mean(ms)),
            m_minmax_std=float(np.std(ms)),
            barrier_bce=float(np.mean(b_bce)),
            barrier_hamming=float(np.mean(b_ham)),
            lam_over_margin=float(np.mean(ratios)),
        )
        rows.append(row)
        if callback is not None:
            callback(row)
    return rows
