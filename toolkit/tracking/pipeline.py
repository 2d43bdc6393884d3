"""Glue between the edge classifier and the per-layer-pair assignment.

Edge scores → one cost matrix per (event, layer pair) → assignment → linked edges → tracks.
``edges_to_dense`` scatters per-edge values into a padded (P, R, C) tensor (``inf`` = no candidate
edge, i.e. forbidden), so one batched solver call covers a whole PyG batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from ..validation import check_choice, check_float
from .assignment import (DEFAULT_NO_MATCH, blackbox_assignment, sinkhorn_assignment, solve_assignment,
                         straight_through_assignment)
from .metrics import edge_precision_recall, m_minmax, track_purity_efficiency, trackml_score, tracks_from_edges

__all__ = ["one_thread", "track_labels", "truth_labels", "ESTIMATORS", "edges_to_dense", "assign_edges", "edge_costs", "lambda_scale", "predict_tracks", "instability",
           "evaluate", "edge_decisions"]

ESTIMATORS = ("blackbox", "straight_through", "sinkhorn")


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block.

    The graphs are tiny: thread start-up costs more than it saves, and on a busy shared machine
    spinning threads make training 5-10x slower.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _graph_of_edge(data: Data) -> torch.Tensor:
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(data.edge_index.shape[1], dtype=torch.long, device=data.edge_index.device)
    return batch[data.edge_index[0]]


def edges_to_dense(values: torch.Tensor, data: Data, n_layers: int, fill: float = float("inf")
                   ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Scatter per-edge ``values`` into (P, R, C) with P = graphs × (n_layers − 1).

    Returns the dense tensor (differentiable w.r.t. ``values``) and the (problem, row, col)
    index of every edge, so ``dense[idx]`` gives the values back.
    """
    n_graphs = int(getattr(data, "num_graphs", 1) or 1)
    layer = getattr(data, "layer", None)
    top = int(layer.max()) if layer is not None and layer.numel() else int(data.edge_lp.max()) + 1 if data.edge_lp.numel() else 0
    if top >= n_layers:
        raise ValueError(f"n_layers must match the graphs: they have hits on layer {top}, but n_layers = {n_layers}")
    prob = _graph_of_edge(data) * (n_layers - 1) + data.edge_lp
    row, col = data.edge_row, data.edge_col
    R = int(row.max()) + 1 if row.numel() else 1
    C = int(col.max()) + 1 if col.numel() else 1
    dense = torch.full((n_graphs * (n_layers - 1), R, C), fill, dtype=values.dtype, device=values.device)
    dense = dense.index_put((prob, row, col), values)
    return dense, (prob, row, col)


def edge_costs(logits: torch.Tensor) -> torch.Tensor:
    """Assignment cost of an edge: ``1 − sigmoid(logit)`` (in [0, 1], low = likely true)."""
    return 1.0 - torch.sigmoid(logits)


def assign_edges(logits: torch.Tensor, data: Data, n_layers: int, *, estimator: str = "blackbox",
                 lam: float = 0.1, no_match: float = DEFAULT_NO_MATCH, epsilon: float = 0.05) -> torch.Tensor:
    """Per-edge assignment decisions y_e (differentiable through the chosen estimator).

    ``lam`` is in cost units for the mean Hamming loss over this batch's edges: the blackbox
    backward pass moves each cost by ±lam (internally λ·E because the mean divides ∂L/∂y by E).
    """
    estimator = check_choice("estimator", estimator, ESTIMATORS)
    cost = edge_costs(logits)
    dense, idx = edges_to_dense(cost, data, n_layers)
    if estimator == "blackbox":
        y = blackbox_assignment(dense, check_float("lam", lam, low=0.0, low_open=True) * max(logits.numel(), 1),
                                no_match)
    elif estimator == "straight_through":
        y = straight_through_assignment(dense, no_match)
    else:
        y = sinkhorn_assignment(dense, no_match, epsilon=epsilon)
    return y[idx]


def lambda_scale(logits: torch.Tensor, lam: float, no_match: float = DEFAULT_NO_MATCH) -> dict[str, float]:
    """How big is λ? Compare the backward shift ±λ with the margins |c − τ| of the current decisions.

    Returns the median margin, ``lam / median margin`` and the fraction of edges whose decision the
    perturbation can flip on its own (margin < λ).
    """
    margin = (edge_costs(logits.detach()) - no_match).abs()
    med = float(margin.median()) if margin.numel() else float("nan")
    return dict(median_margin=med, lam_over_margin=lam / med if med > 0 else float("inf"),
                flippable=float((margin < lam).float().mean()) if margin.numel() else 0.0)


@torch.no_grad()
def edge_decisions(model: torch.nn.Module, data: Data, n_layers: int, no_match: float = DEFAULT_NO_MATCH
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(edge probabilities, 0/1 assignment decisions) of a model on a graph or batch."""
    was = model.training
    model.eval()
    with one_thread():
        logits = model(data.x, data.edge_index, data.edge_attr)
    model.train(was)
    dense, idx = edges_to_dense(edge_costs(logits), data, n_layers)
    y = solve_assignment(dense, no_match)[idx]
    return torch.sigmoid(logits).numpy(), y.numpy().astype(bool)


def predict_tracks(model: torch.nn.Module, data: Data, n_layers: int, no_match: float = DEFAULT_NO_MATCH
                   ) -> np.ndarray:
    """Track label per hit of one event: model → assignment → chains."""
    _, linked = edge_decisions(model, data, n_layers, no_match)
    return tracks_from_edges(data.num_nodes, data.edge_index, linked)


def track_labels(model: torch.nn.Module, graphs: Sequence[Data], n_layers: int,
                 no_match: float = DEFAULT_NO_MATCH) -> list[np.ndarray]:
    """Track label per hit for each graph (one batched model + solver call for all of them)."""
    if not graphs:
        return []
    batch = Batch.from_data_list(list(graphs))
    _, linked = edge_decisions(model, batch, n_layers, no_match)
    ebatch = batch.batch[batch.edge_index[0]].numpy()
    starts = np.searchsorted(ebatch, np.arange(len(graphs) + 1))
    return [tracks_from_edges(g.num_nodes, g.edge_index, linked[starts[i]:starts[i + 1]])
            for i, g in enumerate(graphs)]


def truth_labels(graphs: Sequence[Data]) -> list[np.ndarray]:
    """The true tracks as labels (particle id; every noise hit is its own one-hit 'track')."""
    out = []
    for g in graphs:
        pid = g.particle_id.numpy()
        out.append(np.where(pid > 0, pid, -1 - np.arange(g.num_nodes)))
    return out


def evaluate(model: torch.nn.Module, graphs: Sequence[Data], n_layers: int, *, no_match: float = DEFAULT_NO_MATCH,
             per_event: bool = False) -> dict:
    """Edge P/R (of the assignment), track purity/efficiency (pooled counts) and TrackML score.

    With ``per_event=True`` also returns ``events``: a list of per-event dicts (multiplicity,
    purity, efficiency, score) for a breakdown by multiplicity. ``decisions`` holds the
    concatenated 0/1 edge decisions (for :func:`m_minmax`).
    """
    if not graphs:
        raise ValueError("graphs must not be empty")
    batch = Batch.from_data_list(list(graphs))
    _, linked = edge_decisions(model, batch, n_layers, no_match)
    target = batch.y.numpy().astype(bool)
    precision, recall = edge_precision_recall(linked, target)
    counts = dict(n_correct=0, n_tracks=0, n_particles=0)
    scores, rows = [], []
    ebatch = batch.batch[batch.edge_index[0]].numpy()
    e_starts = np.searchsorted(ebatch, np.arange(len(graphs) + 1))
    for g, data in enumerate(graphs):
        ea, eb = e_starts[g], e_starts[g + 1]
        labels = tracks_from_edges(data.num_nodes, data.edge_index, linked[ea:eb])
        pe = track_purity_efficiency(labels, data.particle_id)
        sc = trackml_score(labels, data.particle_id)
        for k in counts:
            counts[k] += pe[k]
        scores.append(sc)
        if per_event:
            rows.append(dict(event=g, multiplicity=pe["n_particles"], purity=pe["purity"],
                             efficiency=pe["efficiency"], trackml=sc))
    out = dict(
        edge_precision=precision, edge_recall=recall,
        purity=counts["n_correct"] / max(counts["n_tracks"], 1),
        efficiency=counts["n_correct"] / max(counts["n_particles"], 1),
        trackml=float(np.mean(scores)), decisions=linked, target=target, **counts,
    )
    if per_event:
        out["events"] = rows
    return out


def instability(model_a: torch.nn.Module, model_b: torch.nn.Module, graphs: Sequence[Data], n_layers: int,
                no_match: float = DEFAULT_NO_MATCH) -> float:
    """:func:`m_minmax` of two models' assignment decisions on the same graphs."""
    batch = Batch.from_data_list(list(graphs))
    _, a = edge_decisions(model_a, batch, n_layers, no_match)
    _, b = edge_decisions(model_b, batch, n_layers, no_match)
    return m_minmax(a, b, batch.y.numpy().astype(bool))
