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

from ..validation import check_float, check_int
from .assignment import DEFAULT_NO_MATCH, assignment_objective, solve_assignment
from .losses import bce_loss
from .metrics import track_purity_efficiency, tracks_from_edges
from .pipeline import edge_decisions, one_thread

__all__ = ["interpolate_models", "linear_path", "barrier_height", "loss_slice", "hamming", "stability_sweep"]


def interpolate_models(model_a: torch.nn.Module, model_b: torch.nn.Module, alpha: float) -> torch.nn.Module:
    """A copy of ``model_a`` with weights (1 − alpha) θ_A + alpha θ_B."""
    alpha = check_float("alpha", alpha)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("model_a and model_b must have the same architecture")
    out = copy.deepcopy(model_a)
    out.load_state_dict({k: (1 - alpha) * sa[k] + alpha * sb[k] if sa[k].is_floating_point() else sa[k] for k in sa})
    return out.eval()


def linear_path(model_a: torch.nn.Module, model_b: torch.nn.Module, graphs: Sequence[Data], n_layers: int, *,
                n_points: int = 11, no_match: float = DEFAULT_NO_MATCH) -> list[dict]:
    """Rows ``{alpha, bce, hamming, purity, efficiency}`` along the straight line A → B."""
    n_points = check_int("n_points", n_points, low=2, high=1001)
    batch = Batch.from_data_list(list(graphs))
    rows = []
    for alpha in np.linspace(0.0, 1.0, n_points):
        m = interpolate_models(model_a, model_b, float(alpha))
        with torch.no_grad(), one_thread():
            bce = float(bce_loss(m(batch.x, batch.edge_index, batch.edge_attr), batch.y))
        _, linked = edge_decisions(m, batch, n_layers, no_match)
        labels = tracks_from_edges(batch.num_nodes, batch.edge_index, linked)
        # graph offsets keep labels of different events apart, so the pooled counts are per event
        pe = track_purity_efficiency(labels, batch.particle_id + batch.batch * 10**6 * (batch.particle_id > 0))
        rows.append(dict(alpha=float(alpha), bce=bce, hamming=float(np.mean(linked != batch.y.numpy().astype(bool))),
                         purity=pe["purity"], efficiency=pe["efficiency"]))
    return rows


def barrier_height(values: Sequence[float], alphas: Sequence[float] | None = None) -> float:
    """``max_α [v(α) − ((1 − α) v(0) + α v(1))]`` for values on a grid from α = 0 to 1 (≥ 0 by α = 0)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be a 1-D sequence of at least 2 numbers, got shape {v.shape}")
    a = np.linspace(0, 1, v.size) if alphas is None else np.asarray(alphas, dtype=float)
    if a.shape != v.shape:
        raise ValueError("alphas must have the same length as values")
    return float(np.max(v - ((1 - a) * v[0] + a * v[-1])))


def hamming(y: np.ndarray, target: np.ndarray) -> float:
    """Summed Hamming distance Σ |y − t| of 0/1 matrices."""
    return float(np.abs(np.asarray(y) - np.asarray(target)).sum())


def loss_slice(cost: np.ndarray, target: np.ndarray, lam: float, *, direction: np.ndarray | None = None,
               entry: tuple[int, int] | None = None, t: np.ndarray | None = None,
               no_match: float = DEFAULT_NO_MATCH) -> list[dict]:
    """Rows ``{t, true_loss, f_lambda, grad}`` along ``c(t) = cost + t·direction`` for the Hamming loss.

    Give ``direction`` (same shape as cost) or ``entry=(i, j)`` (move only that cost). The Hamming
    loss Σ|y − t| is linear in y (∂L/∂y = 1 − 2 t), so f_λ is exact and continuous and ``grad``
    is the slope the blackbox estimator reports.
    """
    lam = check_float("lam", lam, low=0.0, low_open=True)
    c = np.asarray(cost, dtype=float)
    tgt = np.asarray(target, dtype=float)
    if c.ndim != 2 or tgt.shape != c.shape:
        raise ValueError(f"cost and target must be matrices of the same shape, got {c.shape} and {tgt.shape}")
    if direction is None:
        if entry is None:
            raise ValueError("give direction or entry")
        direction = np.zeros_like(c)
        direction[entry] = 1.0
    d = np.asarray(direction, dtype=float)
    if d.shape != c.shape:
        raise ValueError(f"direction must have shape {c.shape}, got {d.shape}")
    d = np.where(np.isfinite(c), d, 0.0)
    t = np.linspace(-1.0, 1.0, 201) if t is None else np.asarray(t, dtype=float)
    g = 1.0 - 2.0 * tgt  # ∂(Σ|y − t|)/∂y
    cs = c[None] + t[:, None, None] * d[None]
    y = solve_assignment(cs, no_match)
    y_lam = solve_assignment(cs + lam * g[None], no_match)
    true = np.abs(y - tgt[None]).sum((1, 2))
    f_lam = np.abs(y_lam - tgt[None]).sum((1, 2)) + (assignment_objective(cs, y_lam, no_match)
                                                     - assignment_objective(cs, y, no_match)) / lam
    grad = (-(y - y_lam) / lam * d[None]).sum((1, 2))
    return [dict(t=float(a), true_loss=float(b), f_lambda=float(f), grad=float(gr))
            for a, b, f, gr in zip(t, true, f_lam, grad)]


def stability_sweep(lams: Sequence[float], seeds: Sequence[int], detector=None, *, mode: str = "e2e",
                    epochs: int = 3, n_train: int = 200, n_test: int = 100, n_points: int = 11,
                    data_seed: int = 1, callback=None) -> list[dict]:
    """Train one model per (λ, seed) on the same data; per λ report purity, m_minmax over seed pairs
    (mean/std) and the loss barrier on the straight line between seed pairs (mean).

    Seeds change only the initialisation and batch order, as in Kortus et al.'s instability study.
    ``callback(row)`` receives each finished λ row (for live charts).
    """
    import itertools

    from .detector import DetectorConfig
    from .metrics import m_minmax
    from .pipeline import evaluate, lambda_scale
    from .train import TrainConfig, fit, make_dataset, one_thread

    det = detector or DetectorConfig()
    lams = [check_float("lams", float(v), low=0.0, low_open=True) for v in lams]
    seeds = [check_int("seeds", int(s), low=0) for s in seeds]
    if len(seeds) < 2:
        raise ValueError(f"seeds must hold at least 2 seeds to compare models, got {len(seeds)}")
    if not lams:
        raise ValueError("lams must not be empty")
    train = make_dataset(n_train, det, seed=data_seed)
    test = make_dataset(n_test, det, seed=10**6)
    batch = Batch.from_data_list(test)
    rows = []
    for lam in lams:
        models, results, ratios = [], [], []
        for s in seeds:
            m, _ = fit(train, TrainConfig(mode=mode, lam=lam, epochs=epochs, seed=s), n_layers=det.n_layers)
            with one_thread():
                results.append(evaluate(m, test, det.n_layers))
                with torch.no_grad():
                    ratios.append(lambda_scale(m(batch.x, batch.edge_index, batch.edge_attr), lam)["lam_over_margin"])
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
        row = dict(lam=lam, purity_mean=float(np.mean(pur)), purity_std=float(np.std(pur)),
                   efficiency_mean=float(np.mean([r["efficiency"] for r in results])),
                   m_minmax_mean=float(np.mean(ms)), m_minmax_std=float(np.std(ms)),
                   barrier_bce=float(np.mean(b_bce)), barrier_hamming=float(np.mean(b_ham)),
                   lam_over_margin=float(np.mean(ratios)))
        rows.append(row)
        if callback is not None:
            callback(row)
    return rows
