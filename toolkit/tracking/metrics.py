"""Tracking metrics: edge precision/recall, track purity/efficiency, TrackML score, instability.

Definitions (hits with ``particle_id`` 0 are noise):

* tracks: connected chains of linked edges (each chain is one root-to-leaf path).
* :func:`paper_purity_efficiency` — the definition of Kortus et al. (their evaluation code,
  ``src/utils/eval.py`` of SIVERT-pCT/e2e-tracking), for one readout frame: keep tracks with at
  least ``min_hits`` = 5 hits (their "more than 4"); among kept tracks made only of particle hits
  (no noise hit), a track is *correct* when all its hits share one particle id (pure; it need not
  be complete). purity = correct / those tracks; efficiency = correct / number of particles in
  the frame. Frames are averaged (mean over events), as the paper does.
* :func:`exact_match_purity_efficiency` — a stricter variant of our own (NOT the paper's): a
  track of ≥ 2 hits is correct only when it holds exactly the hits of one particle (pure and
  complete); purity = correct / tracks of ≥ 2 hits; efficiency = correct / particles with ≥ 2 hits.
  ``track_purity_efficiency`` is its old name, kept as an alias.
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

from ..validation import check_array, check_float, check_int

__all__ = [
    "edge_precision_recall",
    "tracks_from_edges",
    "paper_purity_efficiency",
    "exact_match_purity_efficiency",
    "track_purity_efficiency",
    "trackml_score",
    "m_minmax",
    "disagreement",
]


def _arr(name: str, a, dtype=None) -> np.ndarray:
    """A 1-D array (list, numpy, tensor) of real numbers, finite; ``np.int64`` = integer ids (see _ids)."""
    if dtype is np.int64:
        return _ids(name, a)
    a = check_array(name, a, ndim=1, min_size=0)
    return a if dtype is None else a.astype(dtype)


def _ids(name: str, a) -> np.ndarray:
    """1-D integer ids as int64; floats are accepted only when they hold whole numbers in the int64 range."""
    try:
        return check_array(name, a, ndim=1, min_size=0, integer=True)
    except TypeError:
        f = check_array(name, a, ndim=1, min_size=0)  # raises for what is not an array of numbers at all
        if not np.all(f == np.round(f)) or (f.size and np.abs(f).max() >= 2.0**63):
            raise ValueError(f"{name} must hold integer ids, got non-integer values") from None
        return f.astype(np.int64)


def _particle_ids(name: str, a) -> np.ndarray:
    pid = _ids(name, a)
    if pid.size and pid.min() < 0:
        raise ValueError(f"{name} must hold particle ids >= 0 (0 = noise), got {pid.min()}")
    return pid


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
    n_hits = check_int("n_hits", n_hits, low=0)
    if ei.size and (ei.dtype.kind not in "iu" or ei.min() < 0 or ei.max() >= n_hits):
        raise ValueError(f"edge_index must hold integer hit ids in [0, n_hits - 1] = [0, {n_hits - 1}]")
    on = _arr("linked", linked).astype(bool)
    if on.size != ei.shape[1]:
        raise ValueError(f"linked must have one entry per edge ({ei.shape[1]}), got {on.size}")
    src, dst = ei[0, on], ei[1, on]
    if np.unique(src).size != src.size or np.unique(dst).size != dst.size:
        raise ValueError(
            "linked edges must form chains: a hit has at most one linked successor and predecessor"
        )
    parent = np.arange(n_hits)
    parent[dst] = src
    for _ in range(int(np.ceil(np.log2(max(n_hits, 2)))) + 1):  # pointer doubling
        parent = parent[parent]
    return parent


def paper_purity_efficiency(
    track_labels,
    particle_ids,
    *,
    min_hits: int = 5,
    edep=None,
    layer=None,
    min_last_edep: float | None = None,
) -> tuple[float, float]:
    """``(purity, efficiency)`` of one event as Kortus et al. define them (module docstring).

    ``track_labels[i]`` is the track of hit i (any integers; a chain of linked edges), and
    ``particle_ids[i]`` its true particle (0 = noise). With ``K`` = kept tracks (≥ ``min_hits``
    hits) containing no noise hit and ``C`` = those whose hits all share one particle id::

        purity = |C| / |K|   (0 when K is empty, as in the authors' code)
        efficiency = |C| / #particles in the event

    Optional energy cut (the paper cuts on the deposit in the track's last layer): give ``edep``
    and ``layer`` per hit and ``min_last_edep``; a track is kept only if its hit on its deepest
    layer deposited more than ``min_last_edep``.
    """
    lab = _arr("track_labels", track_labels, np.int64)
    pid = _particle_ids("particle_ids", particle_ids)
    if lab.shape != pid.shape:
        raise ValueError(
            f"track_labels and particle_ids must have the same length, got {lab.size} and {pid.size}"
        )
    min_hits = check_int("min_hits", min_hits, low=1)
    if lab.size == 0:
        return 0.0, 0.0
    _, tr = np.unique(lab, return_inverse=True)
    size = np.bincount(tr)
    keep = size >= min_hits
    if min_last_edep is not None:
        if edep is None or layer is None:
            raise ValueError("min_last_edep needs edep and layer (one value per hit)")
        e, ly = _arr("edep", edep, float), _arr("layer", layer, np.int64)
        if e.shape != lab.shape or ly.shape != lab.shape:
            raise ValueError("edep and layer must have one entry per hit")
        min_last_edep = check_float("min_last_edep", min_last_edep)
        order = np.lexsort((ly, tr))  # by track, then layer: the last entry of each track is its deepest hit
        last = order[np.r_[np.flatnonzero(np.diff(tr[order])), order.size - 1]]
        keep &= e[last] > min_last_edep
    tmin = np.full(size.size, np.iinfo(np.int64).max)
    np.minimum.at(tmin, tr, pid)
    tmax = np.full(size.size, np.iinfo(np.int64).min)
    np.maximum.at(tmax, tr, pid)
    primary = keep & (tmin > 0)  # no noise hit in the track
    correct = int(np.sum(primary & (tmin == tmax)))
    n_primary = int(primary.sum())
    n_particles = int(np.unique(pid[pid > 0]).size)
    return (correct / n_primary if n_primary else 0.0, correct / n_particles if n_particles else 0.0)


def exact_match_purity_efficiency(track_label, particle_id) -> dict[str, float]:
    """Our strict exact-match purity, efficiency and counts (NOT the paper's; module docstring)."""
    lab = _arr("track_label", track_label, np.int64)
    pid = _particle_ids("particle_id", particle_id)
    if lab.shape != pid.shape:
        raise ValueError(f"track_label and particle_id must have the same length, got {lab.size}, {pid.size}")
    _, tr = np.unique(lab, return_inverse=True)
    n_tr = np.bincount(tr)
    # a track is pure when min pid == max pid > 0
    tmin = np.full(n_tr.size, np.iinfo(np.int64).max)
    np.minimum.at(tmin, tr, pid)
    tmax = np.full(n_tr.size, -1)
    np.maximum.at(tmax, tr, pid)
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
        n_correct=correct,
        n_tracks=n_recon,
        n_particles=n_particles,
    )


track_purity_efficiency = exact_match_purity_efficiency  # old name


def trackml_score(track_label, particle_id, weight=None) -> float:
    """TrackML double-majority score (uniform weights by default; noise hits weigh 0)."""
    lab = _arr("track_label", track_label, np.int64)
    pid = _particle_ids("particle_id", particle_id)
    if lab.shape != pid.shape:
        raise ValueError(f"track_label and particle_id must have the same length, got {lab.size}, {pid.size}")
    w = np.ones(lab.size) if weight is None else _arr("weight", weight, float).copy()
    if w.shape != lab.shape or (w < 0).any():
        raise ValueError(f"weight must hold one number >= 0 per hit ({lab.size}), got shape {w.shape}")
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
