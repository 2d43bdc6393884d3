"""Glue between the edge classifier and the per-layer-pair assignment.

Edge scores → one cost matrix per (event, layer pair) → assignment → linked edges → tracks.
``edges_to_dense`` scatters per-edge values into a padded (P, R, C) tensor (``inf`` = no candidate
edge, i.e. forbidden), so one batched solver call covers a whole PyG batch. ``assign_edges`` solves
the same padded problems but keeps autograd on the edges: the exact estimators (blackbox,
straight-through) need y and its gradient only there, so no (P, R, C) tensor is built, scattered
and gathered in the training step (equal values and gradients, tests/test_tracking_pipeline.py).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from ..cliopts import torch_threads
from ..validation import (
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_instance,
    check_int,
    check_tensor,
)
from .assignment import (
    DEFAULT_NO_MATCH,
    _assign_entries,
    sinkhorn_assignment,
    solve_assignment,
)
from .metrics import (
    edge_precision_recall,
    exact_match_purity_efficiency,
    m_minmax,
    paper_purity_efficiency,
    trackml_score,
    tracks_from_edges,
)

__all__ = [
    "one_thread",
    "track_labels",
    "truth_labels",
    "ESTIMATORS",
    "edges_to_dense",
    "assign_edges",
    "edge_costs",
    "lambda_scale",
    "predict_tracks",
    "instability",
    "evaluate",
    "edge_decisions",
    "solve_layer_pairs",
    "PAPER",
    "tune_threshold",
    "edge_logits",
    "score_decisions",
    "lambda_paper",
    "DEGENERATE_FRACTION",
    "has_skip_edges",
]

PAPER = None  # ``no_match=PAPER``: the paper's assignment (deep → shallow, maximum cardinality, no τ)

_log = logging.getLogger(__name__)

ESTIMATORS = ("blackbox", "straight_through", "sinkhorn")
MAX_LAYERS = 1000  # n_layers above this is a typo, not a detector


def _check_model(name: str, model) -> torch.nn.Module:
    return check_instance(name, model, torch.nn.Module, "a torch.nn.Module (e.g. EdgeClassifier)")


def _check_graph(name: str, data, needs: tuple[str, ...] = ()) -> Data:
    """A graph (or PyG batch) from ``build_graphs``; the per-edge layer-pair fields must be there."""
    check_instance(name, data, Data, "a graph from build_graphs (torch_geometric Data or Batch)")
    for field in ("edge_index", "edge_lp", "edge_row", "edge_col", *needs):
        if getattr(data, field, None) is None:
            raise ValueError(f"{name} must be a graph from build_graphs; it has no '{field}'")
    return data


def _check_graphs(graphs, needs: tuple[str, ...] = (), *, empty: bool = False) -> list[Data]:
    """A list/tuple of graphs from ``build_graphs`` (non-empty unless ``empty``)."""
    if not isinstance(graphs, (list, tuple)):
        raise TypeError(f"graphs must be a list of graphs from build_graphs, got {type(graphs).__name__}")
    if not graphs and not empty:
        raise ValueError("graphs must not be empty")
    for i, g in enumerate(graphs):
        _check_graph(f"graphs[{i}]", g, needs)
    return list(graphs)


def _check_n_layers(n_layers) -> int:
    return check_int("n_layers", n_layers, low=2, high=MAX_LAYERS)


def _check_no_match(no_match) -> float | None:
    return None if no_match is None else check_float("no_match", no_match)


def _check_logits(logits, data: Data) -> torch.Tensor:
    logits = check_tensor("logits", logits, ndim=1, min_size=0)
    if logits.numel() != data.edge_index.shape[1]:
        raise ValueError(
            f"logits must hold one value per edge of data ({data.edge_index.shape[1]}), got {logits.numel()}"
        )
    return logits


def one_thread() -> contextlib.AbstractContextManager[None]:
    """Run torch on one intra-op thread inside the block (the shared :func:`toolkit.cliopts.torch_threads`).

    The graphs are tiny: thread start-up costs more than it saves, and on a busy shared machine
    spinning threads make training 5-10x slower.
    """
    return torch_threads(1)


def _graph_of_edge(data: Data) -> torch.Tensor:
    batch = getattr(data, "batch", None)
    if batch is None:
        return torch.zeros(data.edge_index.shape[1], dtype=torch.long, device=data.edge_index.device)
    return batch[data.edge_index[0]]


def has_skip_edges(data: Data) -> bool:
    """True when a candidate edge jumps a layer (graphs built with ``skip_layers`` ≥ 1 that have one)."""
    return _has_skip_edges(_check_graph("data", data))


def _has_skip_edges(data: Data) -> bool:
    layer = getattr(data, "layer", None)
    if layer is None or data.edge_index.numel() == 0:
        return False
    # edge_lp is the source layer: one gather instead of two
    return bool((layer[data.edge_index[1]] - data.edge_lp).max() > 1)


def _dense_layout(data: Data, n_layers: int) -> tuple[tuple[int, int, int], tuple[torch.Tensor, ...]]:
    """The (P, R, C) shape of :func:`edges_to_dense` and the (problem, row, col) index of every edge."""
    n_graphs = int(getattr(data, "num_graphs", 1) or 1)
    layer = getattr(data, "layer", None)
    top = (
        int(layer.max())
        if layer is not None and layer.numel()
        else int(data.edge_lp.max()) + 1
        if data.edge_lp.numel()
        else 0
    )
    if top >= n_layers:
        raise ValueError(
            f"n_layers must match the graphs: they have hits on layer {top}, but n_layers = {n_layers}"
        )
    if _has_skip_edges(data):  # one problem per event: rows = source hits, columns = target hits
        graph = _graph_of_edge(data)
        ptr = getattr(data, "ptr", None)
        first = ptr[graph] if ptr is not None else 0
        prob, row, col = graph, data.edge_index[0] - first, data.edge_index[1] - first
        n_problems = n_graphs
    else:
        prob = _graph_of_edge(data) * (n_layers - 1) + data.edge_lp
        row, col = data.edge_row, data.edge_col
        n_problems = n_graphs * (n_layers - 1)
    R = int(row.max()) + 1 if row.numel() else 1
    C = int(col.max()) + 1 if col.numel() else 1
    return (n_problems, R, C), (prob, row, col)


def edges_to_dense(
    values: torch.Tensor, data: Data, n_layers: int, fill: float = float("inf")
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Scatter per-edge ``values`` into (P, R, C) with P = graphs × (n_layers − 1).

    With skip-layer edges (:func:`has_skip_edges`) a layer pair is no longer a problem of its own:
    then P = graphs, and each event is one (hits × hits) problem, row = source hit, column = target
    hit. An assignment there gives every hit at most one successor and one predecessor, i.e. chains
    across missed layers (a path cover of the event), which is what a track needs. Such a problem grows
    with the event (≈ 300 × 300 at the default density, ≈ 1,200 × 1,300 at 5×, where the paper's no-τ
    assignment takes ≈ 40 ms per event, on the shipped model's costs, ``bench_tracking.py``).

    Returns the dense tensor (differentiable w.r.t. ``values``) and the (problem, row, col)
    index of every edge, so ``dense[idx]`` gives the values back.
    """
    data = _check_graph("data", data)
    n_layers = _check_n_layers(n_layers)
    values = check_tensor("values", values, ndim=1, min_size=0)
    if values.numel() != data.edge_index.shape[1]:
        raise ValueError(
            f"values must hold one value per edge of data ({data.edge_index.shape[1]}), got {values.numel()}"
        )
    if (
        isinstance(fill, bool)
        or not isinstance(fill, (int, float, np.floating, np.integer))
        or np.isnan(fill)
    ):
        raise TypeError(f"fill must be a number (inf allowed), got {fill!r}")
    (n_problems, R, C), (prob, row, col) = _dense_layout(data, n_layers)
    dense = torch.full((n_problems, R, C), fill, dtype=values.dtype, device=values.device)
    dense = dense.index_put((prob, row, col), values)
    return dense, (prob, row, col)


def edge_costs(logits: torch.Tensor) -> torch.Tensor:
    """Assignment cost of an edge: ``1 − sigmoid(logit)`` (in [0, 1], low = likely true)."""
    return 1.0 - torch.sigmoid(logits)


def assign_edges(
    logits: torch.Tensor,
    data: Data,
    n_layers: int,
    *,
    estimator: str = "blackbox",
    lam: float = 0.1,
    no_match: float | None = DEFAULT_NO_MATCH,
    epsilon: float = 0.05,
) -> torch.Tensor:
    """Per-edge assignment decisions y_e (differentiable through the chosen estimator).

    ``lam`` is in cost units for the mean Hamming loss over this batch's edges: the blackbox
    backward pass moves each cost by ±lam (internally λ·E because the mean divides ∂L/∂y by E;
    λ·E is the paper's λ, :func:`lambda_paper`). ``no_match=None``: the paper's maximum-cardinality
    assignment without threshold.
    """
    data = _check_graph("data", data)
    logits = _check_logits(logits, data)
    n_layers = _check_n_layers(n_layers)
    estimator = check_choice("estimator", estimator, ESTIMATORS)
    lam = check_float("lam", lam, low=0.0, low_open=True)
    no_match = _check_no_match(no_match)
    epsilon = check_float("epsilon", epsilon, low=0.0, low_open=True)
    cost = edge_costs(logits)
    if estimator == "sinkhorn":  # a relaxation of the whole matrix: dense through autograd
        dense, idx = edges_to_dense(cost, data, n_layers)
        return sinkhorn_assignment(dense, no_match, epsilon=epsilon)[idx]
    # the exact estimators need y only at the edges: = blackbox/straight_through(edges_to_dense(cost))[idx]
    (P, R, C), (prob, row, col) = _dense_layout(data, n_layers)
    flat = ((prob * R + row) * C + col).cpu().numpy()
    return _assign_entries(
        cost, flat, (P, R, C), estimator=estimator, lam=lam * max(logits.numel(), 1), no_match=no_match
    )


DEGENERATE_FRACTION = 0.95  # above this share of problems with y_λ == target, λ is in the degenerate regime


def lambda_paper(lam: float, n_edges: int) -> float:
    """λ in the paper's units: ``λ_paper = λ · E_batch`` (E_batch = E·B candidate edges in a batch).

    Kortus et al. perturb ``c' = c + λ_paper ∂L/∂y`` with L the *mean* Hamming loss over the batch's
    edges, so ∂L/∂y = ±1/E_batch and each cost moves by λ_paper/E_batch; our ``lam`` is that move.
    """
    lam = check_float("lam", lam, low=0.0, low_open=True)
    return lam * check_int("n_edges", n_edges, low=1, high=2**53)


def lambda_scale(
    logits: torch.Tensor,
    lam: float,
    no_match: float | None = DEFAULT_NO_MATCH,
    *,
    data: Data | None = None,
    n_layers: int | None = None,
    warn: bool = True,
) -> dict[str, float]:
    """How big is λ? Compare the backward shift ±λ with the margins of the current decisions.

    Always: ``median_margin`` (median |c − τ|; with ``no_match=None`` the margin to 0.5), ``lam_over_margin``,
    ``flippable`` (share of edges with margin < λ) and ``lam_paper`` = λ · E (E = ``logits.numel()``,
    the edges of this batch: :func:`lambda_paper`).
    With ``data`` (the batch the logits belong to, with labels ``y``) and ``n_layers`` also
    ``frac_target``: the share of assignment problems (layer pairs; whole events for graphs with
    skip-layer edges, where a problem is larger and so matches its target less often) whose perturbed solution
    ``y_λ = y(c + λ(1 − 2t))`` *equals the target* t, and ``frac_fixed``: the same share among the
    problems whose current solution y(c) is wrong. When both exceed 95 % (``degenerate``) λ is so large that
    the backward pass just returns ``−(y − t)/λ``: every larger λ gives a proportional gradient,
    so training cannot tell them apart — a warning is issued and logged.
    """
    logits = check_tensor("logits", logits, ndim=1, min_size=0)
    lam = check_float("lam", lam, low=0.0, low_open=True)
    no_match = _check_no_match(no_match)
    warn = check_bool("warn", warn)
    if data is not None:
        data = _check_graph("data", data, ("y",))
        logits = _check_logits(logits, data)
    if n_layers is not None:
        n_layers = _check_n_layers(n_layers)
    cost = edge_costs(logits.detach())
    margin = (cost - (0.5 if no_match is None else no_match)).abs()
    med = float(margin.median()) if margin.numel() else float("nan")
    out = dict(
        median_margin=med,
        lam_over_margin=lam / med if med > 0 else float("inf"),
        flippable=float((margin < lam).float().mean()) if margin.numel() else 0.0,
        lam_paper=lam * max(logits.numel(), 1),
    )
    if data is None:
        return out
    if n_layers is None:
        raise ValueError("lambda_scale needs n_layers together with data")
    dense, idx = edges_to_dense(cost, data, n_layers)
    target, _ = edges_to_dense(data.y.float(), data, n_layers, fill=0.0)
    y_lam = solve_layer_pairs(dense + lam * (1 - 2 * target), no_match)
    has_edges = torch.isfinite(dense).flatten(1).any(1)
    same = (y_lam == target).flatten(1).all(1)[has_edges]
    wrong = ~(solve_layer_pairs(dense, no_match) == target).flatten(1).all(1)[has_edges]
    out["frac_target"] = float(same.float().mean()) if same.numel() else 0.0
    # among problems the solver currently gets wrong: how many does the perturbation turn into the target?
    out["frac_fixed"] = float(same[wrong].float().mean()) if wrong.any() else float("nan")
    # degenerate: y_λ is the target almost everywhere, including where y(c) is wrong (a trained model
    # already solves most problems, so frac_target alone would flag even a tiny λ)
    out["degenerate"] = bool(
        out["frac_target"] > DEGENERATE_FRACTION
        and (not wrong.any() or out["frac_fixed"] > DEGENERATE_FRACTION)
    )
    if out["degenerate"] and warn:
        msg = (
            f"λ = {lam:.3g} is in the degenerate regime: y_λ equals the target on {out['frac_target']:.1%} "
            f"of the problems (> {DEGENERATE_FRACTION:.0%}), so larger λ only rescales the gradient"
        )
        _log.warning(msg)
        warnings.warn(msg, stacklevel=2)
    return out


def solve_layer_pairs(cost: torch.Tensor, no_match: float | None = DEFAULT_NO_MATCH) -> torch.Tensor:
    """0/1 decisions for dense (P, R, C) layer-pair costs (rows = layer l, columns = layer l+1).

    ``no_match`` = τ: ours — link a pair only if its cost is below τ. ``no_match=None`` (``PAPER``):
    the paper's semantics — every problem is solved deep → shallow (rows = hits of layer l+1,
    i.e. the transposed problem) as a maximum-cardinality minimum-cost assignment with no
    threshold, so every hit that *can* be linked is linked.
    """
    cost = check_instance("cost", cost, torch.Tensor, "a torch tensor of shape (P, R, C)")
    if cost.dim() != 3:
        raise ValueError(f"cost must have shape (P, R, C), got shape {tuple(cost.shape)}")
    if no_match is None:  # deep -> shallow; only tie-breaking can differ from the shallow -> deep order
        return solve_assignment(cost.transpose(1, 2), None).transpose(1, 2)
    return solve_assignment(cost, check_float("no_match", no_match))


@torch.no_grad()
def edge_logits(model: torch.nn.Module, data: Data) -> torch.Tensor:
    """The model's edge logits in eval mode on one thread (training mode restored afterwards)."""
    model = _check_model("model", model)
    data = _check_graph("data", data, ("x", "edge_attr"))
    was = model.training
    model.eval()
    with one_thread():
        logits = model(data.x, data.edge_index, data.edge_attr)
    model.train(was)
    return logits


@torch.no_grad()
def edge_decisions(
    model: torch.nn.Module, data: Data, n_layers: int, no_match: float | None = DEFAULT_NO_MATCH
) -> tuple[np.ndarray, np.ndarray]:
    """(edge probabilities, 0/1 assignment decisions) of a model on a graph or batch.

    ``no_match=None`` (``PAPER``) uses the paper's assignment (:func:`solve_layer_pairs`).
    """
    model, data = _check_model("model", model), _check_graph("data", data, ("x", "edge_attr"))
    n_layers, no_match = _check_n_layers(n_layers), _check_no_match(no_match)
    logits = edge_logits(model, data)
    dense, idx = edges_to_dense(edge_costs(logits), data, n_layers)
    y = solve_layer_pairs(dense, no_match)[idx]
    return torch.sigmoid(logits).numpy(), y.numpy().astype(bool)


def predict_tracks(
    model: torch.nn.Module, data: Data, n_layers: int, no_match: float | None = DEFAULT_NO_MATCH
) -> np.ndarray:
    """Track label per hit of one event: model → assignment → chains (``no_match=None``: the paper's)."""
    _, linked = edge_decisions(model, data, n_layers, no_match)
    return tracks_from_edges(data.num_nodes, data.edge_index, linked)


def track_labels(
    model: torch.nn.Module, graphs: Sequence[Data], n_layers: int, no_match: float | None = DEFAULT_NO_MATCH
) -> list[np.ndarray]:
    """Track label per hit for each graph (one batched model + solver call for all of them)."""
    model, graphs = _check_model("model", model), _check_graphs(graphs, ("x", "edge_attr"), empty=True)
    n_layers, no_match = _check_n_layers(n_layers), _check_no_match(no_match)
    if not graphs:
        return []
    batch = Batch.from_data_list(list(graphs))
    _, linked = edge_decisions(model, batch, n_layers, no_match)
    ebatch = batch.batch[batch.edge_index[0]].numpy()
    starts = np.searchsorted(ebatch, np.arange(len(graphs) + 1))
    return [
        tracks_from_edges(g.num_nodes, g.edge_index, linked[starts[i] : starts[i + 1]])
        for i, g in enumerate(graphs)
    ]


def truth_labels(graphs: Sequence[Data]) -> list[np.ndarray]:
    """The true tracks as labels (particle id; every noise hit is its own one-hit 'track')."""
    graphs = _check_graphs(graphs, ("particle_id",), empty=True)
    out = []
    for g in graphs:
        pid = g.particle_id.numpy()
        out.append(np.where(pid > 0, pid, -1 - np.arange(g.num_nodes)))
    return out


def evaluate(
    model: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    *,
    no_match: float | None = DEFAULT_NO_MATCH,
    per_event: bool = False,
    min_hits: int = 5,
) -> dict:
    """Both metric families, edge errors and the truth ceiling of a model on ``graphs``.

    * ``purity`` / ``efficiency`` (= ``paper_purity`` / ``paper_efficiency``): the paper's definition
      (:func:`~toolkit.tracking.metrics.paper_purity_efficiency`, tracks ≥ ``min_hits`` hits), mean over
      events;
    * ``exact_purity`` / ``exact_efficiency``: our stricter exact-match variant (pooled counts);
    * ``trackml`` (mean over events), ``edge_precision`` / ``edge_recall``, ``edge_fp`` / ``edge_fn``
      (counts of wrongly linked true-negative / unlinked true edges);
    * ``ceiling_purity`` / ``ceiling_efficiency``: the paper metric of the true edges themselves
      (what the true tracks score on these candidate graphs: a lost hit breaks a track unless skip-layer
      edges bridge it; not a strict upper bound, since the paper's efficiency counts a particle cut into
      two pure tracks of ≥ ``min_hits`` hits twice).

    ``no_match=None`` evaluates with the paper's assignment (deep → shallow, maximum cardinality).
    With ``per_event=True`` also returns ``events`` (per-event rows for a breakdown by multiplicity).
    ``decisions`` / ``target`` hold the concatenated 0/1 edge decisions and labels (for :func:`m_minmax`).
    """
    model = _check_model("model", model)
    graphs = _check_graphs(graphs, ("x", "edge_attr", "y", "particle_id"))
    n_layers, no_match = _check_n_layers(n_layers), _check_no_match(no_match)
    per_event, min_hits = check_bool("per_event", per_event), check_int("min_hits", min_hits, low=1)
    batch = Batch.from_data_list(graphs)
    _, linked = edge_decisions(model, batch, n_layers, no_match)
    return score_decisions(graphs, linked, per_event=per_event, min_hits=min_hits)


def score_decisions(
    graphs: Sequence[Data], linked: np.ndarray, *, per_event: bool = False, min_hits: int = 5
) -> dict:
    """The metrics of :func:`evaluate` for given concatenated 0/1 edge decisions of ``graphs``."""
    graphs = _check_graphs(graphs, ("y", "particle_id"))
    per_event, min_hits = check_bool("per_event", per_event), check_int("min_hits", min_hits, low=1)
    target = np.concatenate([g.y.numpy() for g in graphs]).astype(bool)
    linked = check_array("linked", linked, ndim=1, min_size=0)
    if linked.shape != target.shape:
        raise ValueError(f"linked must have one entry per edge ({target.size}), got shape {linked.shape}")
    if not np.isin(linked, (0.0, 1.0)).all():
        raise ValueError("linked must hold 0/1 (or boolean) edge decisions")
    linked = linked.astype(bool)
    precision, recall = edge_precision_recall(linked, target)
    counts = dict(n_correct=0, n_tracks=0, n_particles=0)
    paper, ceiling, scores, rows = [], [], [], []
    start = 0
    for g, data in enumerate(graphs):
        stop = start + data.num_edges
        labels = tracks_from_edges(data.num_nodes, data.edge_index, linked[start:stop])
        truth = tracks_from_edges(data.num_nodes, data.edge_index, target[start:stop])
        start = stop
        pe = exact_match_purity_efficiency(labels, data.particle_id)
        pp = paper_purity_efficiency(labels, data.particle_id, min_hits=min_hits)
        paper.append(pp)
        ceiling.append(paper_purity_efficiency(truth, data.particle_id, min_hits=min_hits))
        sc = trackml_score(labels, data.particle_id)
        for k in counts:
            counts[k] += pe[k]
        scores.append(sc)
        if per_event:
            rows.append(
                dict(
                    event=g,
                    multiplicity=pe["n_particles"],
                    purity=pp[0],
                    efficiency=pp[1],
                    exact_purity=pe["purity"],
                    exact_efficiency=pe["efficiency"],
                    trackml=sc,
                )
            )
    paper_pur, paper_eff = (float(v) for v in np.mean(paper, axis=0))
    out = dict(
        purity=paper_pur,
        efficiency=paper_eff,
        paper_purity=paper_pur,
        paper_efficiency=paper_eff,
        exact_purity=counts["n_correct"] / max(counts["n_tracks"], 1),
        exact_efficiency=counts["n_correct"] / max(counts["n_particles"], 1),
        ceiling_purity=float(np.mean([c[0] for c in ceiling])),
        ceiling_efficiency=float(np.mean([c[1] for c in ceiling])),
        edge_precision=precision,
        edge_recall=recall,
        edge_fp=int(np.sum(linked & ~target)),
        edge_fn=int(np.sum(~linked & target)),
        trackml=float(np.mean(scores)),
        decisions=linked,
        target=target,
        **counts,
    )
    if per_event:
        out["events"] = rows
    return out


# what score_decisions reports about one set of decisions (the columns of tune_threshold's curve)
DECISION_METRICS = (
    "paper_purity",
    "paper_efficiency",
    "exact_purity",
    "exact_efficiency",
    "trackml",
    "edge_fp",
    "edge_fn",
)


def tune_threshold(
    model: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    *,
    taus: Sequence[float] | None = None,
    metric: str = "paper_efficiency",
) -> dict:
    """Choose the no-match threshold τ that maximises ``metric`` on validation ``graphs``.

    The edge scores are computed once; each τ re-solves the assignment (the model is unchanged).
    Returns ``{tau, score, curve}`` with ``curve`` = rows ``{tau, <DECISION_METRICS>}``. Ties go to
    the smallest τ.
    """
    model = _check_model("model", model)
    graphs = _check_graphs(graphs, ("x", "edge_attr", "y", "particle_id"))
    n_layers = _check_n_layers(n_layers)
    metric = check_choice(
        "metric", metric, ("paper_efficiency", "paper_purity", "trackml", "exact_purity", "exact_efficiency")
    )
    taus = (
        np.round(np.linspace(0.05, 0.95, 19), 3)
        if taus is None
        else [
            check_float("taus", float(t), low=0.0, low_open=True, high=1.0)
            for t in check_array("taus", taus, ndim=1, finite=False)
        ]
    )
    batch = Batch.from_data_list(graphs)
    dense, idx = edges_to_dense(edge_costs(edge_logits(model, batch)), batch, n_layers)
    curve = []
    for tau in taus:
        r = score_decisions(graphs, solve_layer_pairs(dense, float(tau))[idx].numpy().astype(bool))
        curve.append(dict(tau=float(tau), **{k: r[k] for k in DECISION_METRICS}))
    best = max(curve, key=lambda row: (row[metric], -row["tau"]))
    return dict(tau=best["tau"], score=best[metric], curve=curve)


def instability(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    no_match: float | None = DEFAULT_NO_MATCH,
) -> float:
    """:func:`m_minmax` of two models' assignment decisions on the same graphs."""
    model_a, model_b = _check_model("model_a", model_a), _check_model("model_b", model_b)
    graphs = _check_graphs(graphs, ("x", "edge_attr", "y"))
    n_layers, no_match = _check_n_layers(n_layers), _check_no_match(no_match)
    batch = Batch.from_data_list(graphs)
    _, a = edge_decisions(model_a, batch, n_layers, no_match)
    _, b = edge_decisions(model_b, batch, n_layers, no_match)
    return m_minmax(a, b, batch.y.numpy().astype(bool))
