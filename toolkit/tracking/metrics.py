"""Tracking metrics: edge precision/recall, track purity/efficiency, TrackML score, instability.

Definitions (hits with ``particle_id`` 0 are noise):

* tracks: connected chains of linked edges; a *reconstructed track* has at least 2 hits.
* a reconstructed track is *correct* when its hits are exactly the hits of one particle
  (pure: no foreign or noise hit; complete: no hit of that particle missing).
* purity = correct / reconstructed tracks; efficiency = correct / particles with ≥ 2 hits
  (the pCT convention used by Kortus et al.).
* TrackML double-majority score: a (track, particle) pair counts when the particle owns > 50 % of
  the track's hits and the track holds > 50 % of the particle's hits; the score is the summed
  weight of those intersections over the total weight (uniform weights, noise weight 0).
* ``m_minmax``: disagreement d of two models' binary decisions, min-max normalised between its
  attainable bounds given their error rates e_a, e_b: ``|e_a − e_b| ≤ d ≤ min(e_a + e_b, 1)``.
  0 = they disagree only as much as their different error rates force; 1 = their errors never
  overlap.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "edge_precision_recall", "tracks_from_edges", "track_purity_efficiency", "trackml_score",
    "m_minmax", "disagreement",
]


def _arr(name: str, a, dtype=None) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=dtype)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def edge_precision_recall(pred, target) -> tuple[float, float]:
    """Precision and recall of binary edge decisions (1.0 when the denominator is empty)."""
    p, t = _arr("pred", pred).astype(bool), _arr("target", target).astype(bool)
    if p.shape != t.shape:
        raise ValueError(f"pred and target must have the same length, got {p.size} and {t.size}")
    tp = np.sum(p & t)
    precision = tp / p.sum() if p.sum() else 1.0
    recall = tp / t.sum() if t.sum() else 1.0
    return float(precision), float(recall)


def tracks_from_edges(n_hits: int, edge_index, linked) -> np.ndarray:
    """Track label of every hit (the index of its chain's first hit) from the linked edges.

    ``linked`` edges must form chains (each hit at most one linked successor and predecessor),
    which any assignment output satisfies.
    """
    ei = edge_index.detach().cpu().numpy() if hasattr(edge_index, "detach") else np.asarray(edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise ValueError(f"edge_index must have shape (2, E), got {ei.shape}")
    on = _arr("linked", linked).astype(bool)
    if on.size != ei.shape[1]:
        raise ValueError(f"linked must have one entry per edge ({ei.shape[1]}), got {on.size}")
    src, dst = ei[0, on], ei[1, on]
    if np.unique(src).size != src.size or np.unique(dst).size != dst.size:
        raise ValueError("linked edges must form chains: a hit has at most one linked successor and predecessor")
    parent = np.arange(n_hits)
    parent[dst] = src
    for _ in range(int(np.ceil(np.log2(max(n_hits, 2)))) + 1):  # pointer doubling
        parent = parent[parent]
    return parent


def track_purity_efficiency(track_label, particle_id) -> dict[str, float]:
    """Purity, efficiency and counts (see module docstring)."""
    lab = _arr("track_label", track_label, np.int64)
    pid = _arr("particle_id", particle_id, np.int64)
    if lab.shape != pid.shape:
        raise ValueError("track_label and particle_id must have the same length")
    _, tr = np.unique(lab, return_inverse=True)
    n_tr = np.bincount(tr)
    # a track is pure when min pid == max pid > 0
    tmin = np.full(n_tr.size, np.iinfo(np.int64).max); np.minimum.at(tmin, tr, pid)
    tmax = np.full(n_tr.size, -1); np.maximum.at(tmax, tr, pid)
    upid, pinv = np.unique(pid, return_inverse=True)
    n_p = np.bincount(pinv)
    size_of_pid = dict(zip(upid.tolist(), n_p.tolist()))
    recon = n_tr >= 2
    pure = recon & (tmin == tmax) & (tmin > 0)
    complete = np.array([size_of_pid.get(int(p), 0) for p in tmin]) == n_tr
    correct = int(np.sum(pure & complete))
    n_recon = int(recon.sum())
    n_particles = int(np.sum((upid > 0) & (n_p >= 2)))
    return dict(
        purity=correct / n_recon if n_recon else 0.0,
        efficiency=correct / n_particles if n_particles else 0.0,
        n_correct=correct, n_tracks=n_recon, n_particles=n_particles,
    )


def trackml_score(track_label, particle_id, weight=None) -> float:
    """TrackML double-majority score (uniform weights by default; noise hits weigh 0)."""
    lab = _arr("track_label", track_label, np.int64)
    pid = _arr("particle_id", particle_id, np.int64)
    if lab.shape != pid.shape:
        raise ValueError("track_label and particle_id must have the same length")
    w = np.ones(lab.size) if weight is None else _arr("weight", weight, float).copy()
    if w.shape != lab.shape:
        raise ValueError("weight must have one entry per hit")
    w[pid == 0] = 0.0
    total = w.sum()
    if total == 0:
        return 1.0
    _, tr = np.unique(lab, return_inverse=True)
    _, pp = np.unique(pid, return_inverse=True)
    n_tr, n_pp = np.bincount(tr), np.bincount(pp)
    pair = tr.astype(np.int64) * (pp.max() + 1) + pp
    upair, pinv = np.unique(pair, return_inverse=True)
    count = np.bincount(pinv)
    wsum = np.bincount(pinv, weights=w)
    t_of, p_of = upair // (pp.max() + 1), upair % (pp.max() + 1)
    good = (2 * count > n_tr[t_of]) & (2 * count > n_pp[p_of])
    return float(wsum[good].sum() / total)


def disagreement(pred_a, pred_b) -> float:
    """Fraction of decisions on which two models differ."""
    a, b = _arr("pred_a", pred_a).astype(bool), _arr("pred_b", pred_b).astype(bool)
    if a.shape != b.shape:
        raise ValueError("pred_a and pred_b must have the same length")
    return float(np.mean(a != b)) if a.size else 0.0


def m_minmax(pred_a, pred_b, target) -> float:
    """Min-max normalised prediction instability of two models (module docstring), in [0, 1]."""
    a, b = _arr("pred_a", pred_a).astype(bool), _arr("pred_b", pred_b).astype(bool)
    t = _arr("target", target).astype(bool)
    if not (a.shape == b.shape == t.shape):
        raise ValueError("pred_a, pred_b and target must have the same length")
    if a.size == 0:
        return 0.0
    d = np.mean(a != b)
    ea, eb = np.mean(a != t), np.mean(b != t)
    lo, hi = abs(ea - eb), min(ea + eb, 1.0)
    if hi - lo <= 0:
        return 0.0
    return float(np.clip((d - lo) / (hi - lo), 0.0, 1.0))
