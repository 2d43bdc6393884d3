"""Bad input to the assignment and pipeline functions: a clean ValueError/TypeError naming the parameter.

Concrete calls found by tests/test_fuzz_public_api.py (and a few more), plus the batched solver's
agreement with the dense scipy loop on larger batches than test_tracking_assignment.py draws: every
path of ``method="components"`` (the batched dense call, the connected components, the padded call
without τ) against ``method="loop"``.
"""

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from toolkit.tracking import (
    DetectorConfig,
    EdgeClassifier,
    assign_edges,
    assignment_objective,
    edge_decisions,
    edge_logits,
    edges_to_dense,
    evaluate,
    f_lambda,
    instability,
    lambda_paper,
    lambda_scale,
    make_dataset,
    predict_tracks,
    score_decisions,
    solve_assignment,
    solve_layer_pairs,
    track_labels,
    truth_labels,
    tune_threshold,
)

L = DetectorConfig().n_layers


@pytest.fixture(scope="module")
def setup():
    graphs = make_dataset(3, seed=5)
    torch.manual_seed(0)
    model = EdgeClassifier()
    batch = Batch.from_data_list(graphs)
    return model, graphs, batch, torch.zeros(batch.num_edges)


def hamming(y):
    return y.sum()


BAD_ASSIGNMENT = [
    (
        "assignment_objective(y of another shape)",
        lambda: assignment_objective(np.zeros((8, 2)), np.zeros((4, 4))),
        "y",
    ),
    (
        "assignment_objective(y with NaN)",
        lambda: assignment_objective(np.zeros((2, 2)), np.full((2, 2), np.nan)),
        "y",
    ),
    ("assignment_objective(y text)", lambda: assignment_objective(np.zeros((2, 2)), "ab"), "y"),
    (
        "assignment_objective(cost NaN)",
        lambda: assignment_objective(np.full((2, 2), np.nan), np.eye(2)),
        "cost",
    ),
    ("f_lambda(loss=0)", lambda: f_lambda(np.zeros((2, 2)), 0, 0.1), "loss"),
    ("f_lambda(loss returns a float)", lambda: f_lambda(np.zeros((2, 2)), lambda y: 1.0, 0.1), "loss"),
    (
        "f_lambda(loss ignores y)",
        lambda: f_lambda(np.zeros((2, 2)), lambda y: torch.tensor(1.0), 0.1),
        "loss",
    ),
    ("f_lambda(lam=0)", lambda: f_lambda(np.zeros((2, 2)), hamming, 0.0), "lam"),
    ("f_lambda(no_match=nan)", lambda: f_lambda(np.zeros((2, 2)), hamming, 0.1, float("nan")), "no_match"),
    ("solve_assignment(float16)", lambda: solve_assignment(np.zeros((2, 2), np.float16)), "cost"),
    ("solve_assignment(-inf)", lambda: solve_assignment(torch.tensor([[0.0, -np.inf]])), "cost"),
    ("solve_assignment(method)", lambda: solve_assignment(np.zeros((2, 2)), method="lap"), "method"),
    ("solve_assignment(no_match=True)", lambda: solve_assignment(np.zeros((2, 2)), True), "no_match"),
]


@pytest.mark.parametrize("call, name", [c[1:] for c in BAD_ASSIGNMENT], ids=[c[0] for c in BAD_ASSIGNMENT])
def test_assignment_bad_input_names_the_parameter(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def _bad_pipeline_calls(model, graphs, batch, logits):
    g0 = graphs[0] if graphs else None
    return [
        ("edges_to_dense(data=int)", lambda: edges_to_dense(logits, 5, L), "data"),
        ("edges_to_dense(values too short)", lambda: edges_to_dense(logits[:3], batch, L), "values"),
        (
            "edges_to_dense(values NaN)",
            lambda: edges_to_dense(torch.full_like(logits, np.nan), batch, L),
            "values",
        ),
        ("edges_to_dense(n_layers=0)", lambda: edges_to_dense(logits, batch, 0), "n_layers"),
        ("edges_to_dense(fill=NaN)", lambda: edges_to_dense(logits, batch, L, fill=float("nan")), "fill"),
        ("edges_to_dense(fill tensor)", lambda: edges_to_dense(logits, batch, L, fill=torch.ones(2)), "fill"),
        ("assign_edges(logits list)", lambda: assign_edges([0.0], batch, L), "logits"),
        ("assign_edges(data text)", lambda: assign_edges(logits, "not-a-value", L), "data"),
        ("assign_edges(lam=-0.0)", lambda: assign_edges(logits, batch, L, lam=-0.0), "lam"),
        ("assign_edges(epsilon='')", lambda: assign_edges(logits, batch, L, epsilon=""), "epsilon"),
        (
            "assign_edges(no_match object)",
            lambda: assign_edges(logits, batch, L, no_match=object()),
            "no_match",
        ),
        ("assign_edges(n_layers NaN)", lambda: assign_edges(logits, batch, float("nan")), "n_layers"),
        ("edge_logits(model=None)", lambda: edge_logits(None, batch), "model"),
        ("edge_logits(data tensor)", lambda: edge_logits(model, torch.ones(4, 4)), "data"),
        ("edge_decisions(model=True)", lambda: edge_decisions(True, batch, L), "model"),
        ("edge_decisions(no_match=inf)", lambda: edge_decisions(model, batch, L, float("inf")), "no_match"),
        ("edge_decisions(n_layers=10**400)", lambda: edge_decisions(model, batch, 10**400), "n_layers"),
        ("predict_tracks(model=0.0)", lambda: predict_tracks(0.0, g0, L), "model"),
        ("predict_tracks(no_match=True)", lambda: predict_tracks(model, g0, L, True), "no_match"),
        ("track_labels(model=None)", lambda: track_labels(None, graphs, L), "model"),
        ("track_labels(model=None, no graphs)", lambda: track_labels(None, [], L), "model"),
        ("track_labels(graphs tensor)", lambda: track_labels(model, torch.ones(4), L), "graphs"),
        ("track_labels(n_layers text)", lambda: track_labels(model, graphs, "not-a-value"), "n_layers"),
        ("track_labels(no_match NaN)", lambda: track_labels(model, graphs, L, float("nan")), "no_match"),
        ("truth_labels(graphs=None)", lambda: truth_labels(None), "graphs"),
        ("truth_labels(graphs of tensors)", lambda: truth_labels([torch.ones(2)]), "graphs"),
        ("evaluate(graphs text)", lambda: evaluate(model, "not-a-value", L), "graphs"),
        ("evaluate(graphs empty)", lambda: evaluate(model, [], L), "graphs"),
        ("evaluate(min_hits=0)", lambda: evaluate(model, graphs, L, min_hits=0), "min_hits"),
        ("evaluate(per_event='yes')", lambda: evaluate(model, graphs, L, per_event="yes"), "per_event"),
        ("score_decisions(graphs=True)", lambda: score_decisions(True, np.zeros(3)), "graphs"),
        ("score_decisions(linked wrong length)", lambda: score_decisions(graphs, np.zeros(3)), "linked"),
        (
            "score_decisions(linked 0.5)",
            lambda: score_decisions(graphs, np.full(batch.num_edges, 0.5)),
            "linked",
        ),
        (
            "score_decisions(linked NaN)",
            lambda: score_decisions(graphs, np.full(batch.num_edges, np.nan)),
            "linked",
        ),
        (
            "score_decisions(min_hits=inf)",
            lambda: score_decisions(graphs, np.zeros(batch.num_edges), min_hits=np.inf),
            "min_hits",
        ),
        ("tune_threshold(graphs=10**400)", lambda: tune_threshold(model, 10**400, L), "graphs"),
        ("tune_threshold(taus NaN)", lambda: tune_threshold(model, graphs, L, taus=[float("nan")]), "taus"),
        ("tune_threshold(taus text)", lambda: tune_threshold(model, graphs, L, taus="ab"), "taus"),
        ("instability(model_a int)", lambda: instability(-5924, model, graphs, L), "model_a"),
        ("instability(model_b float)", lambda: instability(model, 0.0, graphs, L), "model_b"),
        ("instability(graphs=None)", lambda: instability(model, model, None, L), "graphs"),
        ("instability(no_match text)", lambda: instability(model, model, graphs, L, "inf"), "no_match"),
        ("lambda_paper(n_edges=10**400)", lambda: lambda_paper(0.1, 10**400), "n_edges"),
        ("lambda_scale(logits=True)", lambda: lambda_scale(True, 0.1), "logits"),
        ("lambda_scale(no_match tensor)", lambda: lambda_scale(logits, 0.1, torch.ones(2, 3)), "no_match"),
        ("lambda_scale(n_layers NaN)", lambda: lambda_scale(logits, 0.1, n_layers=float("nan")), "n_layers"),
        ("lambda_scale(warn=None)", lambda: lambda_scale(logits, 0.1, warn=None), "warn"),
        ("lambda_scale(data without n_layers)", lambda: lambda_scale(logits, 0.1, data=batch), "n_layers"),
        (
            "lambda_scale(logits of another batch)",
            lambda: lambda_scale(logits[:2], 0.1, data=batch, n_layers=L),
            "logits",
        ),
        ("solve_layer_pairs(2-D cost)", lambda: solve_layer_pairs(torch.zeros(2, 2), None), "cost"),
        ("solve_layer_pairs(numpy cost)", lambda: solve_layer_pairs(np.zeros((1, 2, 2))), "cost"),
        (
            "solve_layer_pairs(no_match text)",
            lambda: solve_layer_pairs(torch.zeros(1, 2, 2), "x"),
            "no_match",
        ),
    ]


_NAMES = [c[0] for c in _bad_pipeline_calls(None, [], None, torch.zeros(4))]


@pytest.mark.parametrize("index", range(len(_NAMES)), ids=_NAMES)
def test_pipeline_bad_input_names_the_parameter(setup, index):
    _, call, name = _bad_pipeline_calls(*setup)[index]
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_valid_calls_still_work(setup):
    """The checks refuse only bad values: the paper's None, booleans as decisions and inf fill pass."""
    model, graphs, batch, logits = setup
    assert len(track_labels(model, graphs, L, None)) == 3 and track_labels(model, [], L) == []
    assert predict_tracks(model, graphs[0], L, None).shape == (graphs[0].num_nodes,)
    r = score_decisions(graphs, batch.y.numpy().astype(bool))  # booleans
    assert r["edge_fp"] == 0 and r["edge_fn"] == 0
    assert (
        score_decisions(graphs, batch.y.numpy().astype(float))["paper_purity"] == r["paper_purity"]
    )  # 0/1 floats
    dense, idx = edges_to_dense(logits, batch, L)
    assert torch.isinf(dense).any() and torch.equal(dense[idx], logits)
    assert tune_threshold(model, graphs, L, taus=(0.3, 0.6))["tau"] in (0.3, 0.6)
    assert lambda_paper(0.1, 10) == pytest.approx(1.0)
    assert len(truth_labels([])) == 0


@pytest.mark.parametrize("no_match, inf_share", [(None, 0.0), (None, 0.6), (0.5, 0.0), (0.5, 0.6)])
def test_batched_solver_matches_loop_on_larger_batches(no_match, inf_share):
    """1000 random batches (up to 12 × 12, ties on a coarse grid): every path of the batched solver reaches
    the reference objective; without τ also the same number of links (maximum cardinality)."""
    rng = np.random.default_rng(7)
    for _ in range(1000):
        B, n, m = rng.integers(1, 5), rng.integers(1, 13), rng.integers(1, 13)
        cost = rng.integers(0, 6, (B, n, m)) / 5.0
        cost[rng.random(cost.shape) < inf_share * rng.random()] = np.inf
        fast = solve_assignment(torch.tensor(cost, dtype=torch.float32), no_match).numpy()
        ref = solve_assignment(cost, no_match, method="loop")
        np.testing.assert_allclose(
            assignment_objective(cost, fast, no_match), assignment_objective(cost, ref, no_match), atol=1e-6
        )
        if no_match is None:
            assert np.array_equal(fast.sum((1, 2)), ref.sum((1, 2)))
        assert fast.sum(2).max(initial=0) <= 1 and fast.sum(1).max(initial=0) <= 1
        assert not np.any(fast[np.isinf(cost)])
