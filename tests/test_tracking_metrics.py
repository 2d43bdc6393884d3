"""Metrics on hand-made events, tracks from edges, instability and landscape helpers."""

import numpy as np
import pytest

from toolkit.tracking import (
    barrier_height,
    edge_precision_recall,
    m_minmax,
    track_purity_efficiency,
    trackml_score,
    tracks_from_edges,
)


def test_edge_precision_recall_hand_made():
    p, r = edge_precision_recall([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])
    assert (p, r) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert edge_precision_recall([0, 0], [0, 0]) == (1.0, 1.0)
    with pytest.raises(ValueError, match="same length"):
        edge_precision_recall([1], [1, 0])


def test_tracks_from_edges_chains():
    # hits 0-1-2 chained, 3-4 chained, 5 alone; edge 1->4 candidate but not linked
    ei = np.array([[0, 1, 3, 1], [1, 2, 4, 4]])
    labels = tracks_from_edges(6, ei, [1, 1, 1, 0])
    np.testing.assert_array_equal(labels, [0, 0, 0, 3, 3, 5])
    with pytest.raises(ValueError, match="chains"):
        tracks_from_edges(6, ei, [1, 1, 1, 1])  # hit 4 would get two predecessors
    # a long chain (pointer doubling must reach the root)
    n = 50
    chain = np.stack([np.arange(n - 1), np.arange(1, n)])
    assert np.all(tracks_from_edges(n, chain, np.ones(n - 1)) == 0)


def test_purity_efficiency_hand_made():
    pid = np.array([1, 1, 1, 2, 2, 2, 3, 3, 0])
    # track A = particle 1 exactly (correct); B = 2's first two hits + 3's first (impure);
    # 2's last hit alone, 3's last alone, the noise hit alone
    lab = np.array([0, 0, 0, 1, 1, 2, 1, 3, 4])
    r = track_purity_efficiency(lab, pid)
    assert r["n_tracks"] == 2 and r["n_correct"] == 1 and r["n_particles"] == 3
    assert r["purity"] == pytest.approx(0.5) and r["efficiency"] == pytest.approx(1 / 3)
    perfect = track_purity_efficiency(np.where(pid > 0, pid, 100), pid)
    assert perfect["purity"] == 1.0 and perfect["efficiency"] == 1.0
    # an incomplete track (particle 1 missing a hit) is not correct
    r = track_purity_efficiency(np.array([0, 0, 2]), np.array([1, 1, 1]))
    assert r["n_correct"] == 0


def test_trackml_score_hand_made():
    pid = np.array([1, 1, 1, 1, 2, 2, 0])
    # track 0 has 3 hits of particle 1 (3/4 of it, 3/3 of the track) -> counts 3
    # track 1 = {1, 2, 2}: particle 2 has 2/3 of the track and 2/2 of its hits -> counts 2
    lab = np.array([0, 0, 0, 1, 1, 1, 2])
    assert trackml_score(lab, pid) == pytest.approx(5 / 6)
    assert trackml_score(pid, pid) == 1.0
    # a 50/50 split satisfies neither strict majority
    assert trackml_score(np.array([0, 0, 1, 1]), np.array([1, 2, 1, 2])) == 0.0


def test_m_minmax_bounds():
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    a = t.copy()
    a[0] = False  # 1 error
    assert m_minmax(a, a, t) == 0.0  # identical models
    b = t.copy()
    b[1] = False  # 1 different error -> errors never overlap
    assert m_minmax(a, b, t) == 1.0
    c = t.copy()
    c[:2] = False  # errors of a are a subset of c's -> minimal disagreement
    assert m_minmax(a, c, t) == 0.0
    d = t.copy()
    d[[0, 4]] = [False, True]  # shares one error, adds one
    # d = 1/8, e_a = 1/8, e_d = 2/8 -> lo = 1/8, hi = 3/8 -> 0
    assert m_minmax(a, d, t) == pytest.approx(0.0)
    e = t.copy()
    e[[1, 4]] = [False, True]
    # disagree on 3 of 8: (3/8 - 1/8) / (3/8 - 1/8) = 1
    assert m_minmax(a, e, t) == pytest.approx(1.0)


def test_m_minmax_random_in_unit_interval():
    rng = np.random.default_rng(0)
    for _ in range(100):
        t = rng.random(40) < 0.5
        a = t ^ (rng.random(40) < 0.2)
        b = t ^ (rng.random(40) < 0.3)
        assert 0.0 <= m_minmax(a, b, t) <= 1.0


def test_barrier_height():
    assert barrier_height([1.0, 1.5, 2.0]) == pytest.approx(0.0)  # on the chord
    assert barrier_height([1.0, 3.0, 1.0]) == pytest.approx(2.0)
    assert barrier_height([0.0, 1.0, 1.0, 0.0], alphas=[0, 0.25, 0.75, 1]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="values"):
        barrier_height([1.0])
