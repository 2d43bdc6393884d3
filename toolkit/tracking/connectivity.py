"""Mode connectivity along a quadratic Bézier curve (Garipov et al. 2018), beside the straight line.

Kortus et al. (TMLR 2025, Tables 2–3) connect two trained trackers θ_A, θ_B by

    θ(t) = (1 − t)² θ_A + 2 t (1 − t) θ_C + t² θ_B,   t ∈ [0, 1],

start the control point θ_C at the midpoint (θ_A + θ_B)/2 (where the curve *is* the straight line)
and train it to minimise E_{t ~ U(0,1)} L(θ(t)) on training graphs with the loss the models were
trained with (Hamming through the solver, or BCE). They then report the Hamming error (and the edge
true-positive rate) on a grid of t: its minimum, maximum and mean along the path.

* :func:`bezier_point` — the model at θ(t) for a given control point;
* :func:`fit_bezier_control` — trains θ_C;
* :func:`bezier_path` — trains θ_C and returns rows along t like
  :func:`~toolkit.tracking.landscape.linear_path`, so
  :func:`~toolkit.tracking.landscape.barrier_height` applies to both;
* :func:`connectivity_study` — the shipped study ``datasets/tracking/connectivity.json``
  (``python -m toolkit.tracking.cli study connectivity --out FILE``).

We store θ_C as its offset δ = θ_C − (θ_A + θ_B)/2, so that
θ(t) = (1 − t) θ_A + t θ_B + 2 t (1 − t) δ — the same curve, and at δ = 0 the very numbers of
``interpolate_models`` (the straight line), not a rounding-level copy of them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch.func import functional_call
from torch_geometric.data import Batch, Data

from ..validation import check_float, check_instance, check_int
from .assignment import DEFAULT_NO_MATCH
from .graph import check_graphs
from .losses import bce_loss
from .metrics import track_purity_efficiency, tracks_from_edges
from .pipeline import edge_decisions, one_thread
from .train import STUDY_SCHEDULE, TrainConfig

__all__ = ["bezier_point", "fit_bezier_control", "bezier_path"]


def _float_states(model_a: torch.nn.Module, model_b: torch.nn.Module) -> tuple[dict, dict]:
    """The two models' state dicts, checked to share one architecture."""
    check_instance("model_a", model_a, torch.nn.Module, "a torch Module")
    check_instance("model_b", model_b, torch.nn.Module, "a torch Module")
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("model_a and model_b must have the same architecture")
    return sa, sb


def _curve(sa: dict, sb: dict, offset: dict, t: float) -> dict:
    """θ(t) = (1 − t) θ_A + t θ_B + 2 t (1 − t) δ per tensor (non-float buffers taken from A)."""
    w = 2.0 * t * (1.0 - t)
    out = {}
    for k in sa:
        if not sa[k].is_floating_point():
            out[k] = sa[k]
            continue
        line = (1 - t) * sa[k] + t * sb[k]  # the expression of interpolate_models: δ = 0 gives its numbers
        out[k] = line + w * offset[k] if k in offset else line
    return out


def bezier_point(
    model_a: torch.nn.Module, model_b: torch.nn.Module, control: torch.nn.Module | None, t: float
) -> torch.nn.Module:
    """A copy of ``model_a`` with weights θ(t) = (1 − t)² θ_A + 2t(1 − t) θ_C + t² θ_B.

    ``control`` is a model holding θ_C (e.g. from :func:`fit_bezier_control`); ``None`` = the
    midpoint, where the curve is the straight line. θ(0) = θ_A and θ(1) = θ_B exactly.
    """
    sa, sb = _float_states(model_a, model_b)
    t = check_float("t", t, low=0.0, high=1.0)
    offset = {} if control is None else _offset(sa, sb, control)
    out = copy.deepcopy(model_a)
    out.load_state_dict(_curve(sa, sb, offset, t))
    return out.eval()


def _offset(sa: dict, sb: dict, control: torch.nn.Module) -> dict:
    """δ = θ_C − (θ_A + θ_B)/2 for the float tensors of ``control``."""
    check_instance("control", control, torch.nn.Module, "a torch Module (the control point θ_C) or None")
    sc = control.state_dict()
    if sc.keys() != sa.keys() or any(sc[k].shape != sa[k].shape for k in sa):
        raise ValueError("control must have the architecture of model_a and model_b")
    return {k: sc[k] - 0.5 * (sa[k] + sb[k]) for k in sa if sa[k].is_floating_point()}


def fit_bezier_control(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    *,
    train_config: TrainConfig | None = None,
    steps: int = 60,
    lr: float = 3e-3,
    batch_size: int = 8,
    seed: int = 0,
) -> tuple[torch.nn.Module, list[float]]:
    """Train θ_C to minimise E_{t~U(0,1)} L(θ(t)) with Adam, starting at the midpoint.

    Each step draws one t ~ U(0, 1) and ``batch_size`` training graphs; L is
    :func:`~toolkit.tracking.losses.tracking_loss` with the mode, λ, α, estimator and τ of
    ``train_config`` (the models' own training loss; default: two-step BCE). Only θ_C moves
    (through its offset δ from the midpoint); θ_A and θ_B stay fixed. Returns (a model holding
    θ_C, the loss of each step). (Kortus et al. use RMSprop at lr 1e-3 for 2000 steps of 8 samples,
    each with its own t; here Adam with one t per step flattened the e2e curves in 400 steps.)
    """
    sa, sb = _float_states(model_a, model_b)
    graphs = check_graphs("graphs", graphs)
    n_layers = check_int("n_layers", n_layers, low=2, high=200)
    if train_config is not None:
        check_instance("train_config", train_config, TrainConfig, "a TrainConfig or None")
    cfg = (train_config or TrainConfig()).validate()
    steps = check_int("steps", steps, low=0, high=100_000)
    lr = check_float("lr", lr, low=0.0, low_open=True, high=1.0)
    batch_size = check_int("batch_size", batch_size, low=1, high=100_000)
    seed = check_int("seed", seed, low=0)
    offset = {k: torch.zeros_like(v, requires_grad=True) for k, v in sa.items() if v.is_floating_point()}
    opt = torch.optim.Adam(list(offset.values()), lr=lr)
    rng = np.random.default_rng(seed)
    base = copy.deepcopy(model_a).train()
    losses = []
    with one_thread():
        for _ in range(steps):
            t = float(rng.uniform())
            batch = Batch.from_data_list([graphs[i] for i in rng.integers(len(graphs), size=batch_size)])
            logits = functional_call(
                base, _curve(sa, sb, offset, t), (batch.x, batch.edge_index, batch.edge_attr)
            )
            loss, _ = cfg.loss(logits, batch, n_layers)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    control = copy.deepcopy(model_a)
    with torch.no_grad():  # θ_C = midpoint + δ
        control.load_state_dict(
            {k: 0.5 * (sa[k] + sb[k]) + offset[k].detach() if k in offset else sa[k] for k in sa}
        )
    return control.eval(), losses


def _row(model: torch.nn.Module, batch: Batch, n_layers: int, no_match, cfg: TrainConfig, t: float) -> dict:
    """Loss and metrics of one model on a batch: the columns of ``linear_path`` plus ``loss`` and ``tpr``."""
    with torch.no_grad(), one_thread():
        logits = model(batch.x, batch.edge_index, batch.edge_attr)
        bce = float(bce_loss(logits, batch.y))
        loss = float(cfg.loss(logits, batch, n_layers)[0])
    _, linked = edge_decisions(model, batch, n_layers, no_match)
    labels = tracks_from_edges(batch.num_nodes, batch.edge_index, linked)
    # graph offsets keep labels of different events apart, so the pooled counts are per event
    pe = track_purity_efficiency(labels, batch.particle_id + batch.batch * 10**6 * (batch.particle_id > 0))
    target = batch.y.numpy().astype(bool)
    return dict(
        alpha=t,
        loss=loss,
        bce=bce,
        hamming=float(np.mean(linked != target)),
        tpr=float(linked[target].mean()) if target.any() else float("nan"),
        purity=pe["purity"],
        efficiency=pe["efficiency"],
    )


def bezier_path(
    model_a: torch.nn.Module,
    model_b: torch.nn.Module,
    graphs: Sequence[Data],
    n_layers: int,
    *,
    train_config: TrainConfig | None = None,
    steps: int = 60,
    lr: float = 3e-3,
    batch_size: int = 8,
    n_points: int = 11,
    seed: int = 0,
    eval_graphs: Sequence[Data] | None = None,
    no_match: float | None = DEFAULT_NO_MATCH,
) -> list[dict]:
    """Rows ``{alpha, loss, bce, hamming, tpr, purity, efficiency}`` along the trained Bézier curve.

    θ(t) = (1 − t)² θ_A + 2t(1 − t) θ_C + t² θ_B with θ_C from :func:`fit_bezier_control` (trained on
    ``graphs`` for ``steps`` steps; ``steps=0`` leaves it at the midpoint, i.e. the straight line).
    Rows at ``n_points`` evenly spaced t (key ``alpha``, as in ``linear_path``), evaluated on
    ``eval_graphs`` (default: the training ``graphs``, as Kortus et al. do): ``loss`` is the
    training loss of ``train_config``, ``hamming`` the share of wrong edge decisions at threshold
    ``no_match`` (``None`` = the paper's assignment), ``tpr`` the share of true edges linked.
    """
    n_points = check_int("n_points", n_points, low=2, high=1001)
    evals = None if eval_graphs is None else check_graphs("eval_graphs", eval_graphs)
    no_match = None if no_match is None else check_float("no_match", no_match)
    control, _ = fit_bezier_control(
        model_a,
        model_b,
        graphs,
        n_layers,
        train_config=train_config,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        seed=seed,
    )
    return _path_rows(
        model_a,
        model_b,
        control,
        evals or list(graphs),
        n_layers,
        no_match,
        train_config or TrainConfig(),
        n_points,
    )


def _path_rows(model_a, model_b, control, graphs, n_layers, no_match, cfg, n_points) -> list[dict]:
    """:func:`_row` at ``n_points`` evenly spaced t on the curve of ``control`` (``None`` = the line)."""
    batch = Batch.from_data_list(list(graphs))
    return [
        _row(bezier_point(model_a, model_b, control, float(t)), batch, n_layers, no_match, cfg, float(t))
        for t in np.linspace(0.0, 1.0, n_points)
    ]


def _summary(rows: list[dict]) -> dict:
    """Barriers (``barrier_height``) and the paper's min / max / mean along the path."""
    from .landscape import barrier_height

    ham, tpr = [r["hamming"] for r in rows], [r["tpr"] for r in rows]
    return dict(
        barrier_loss=barrier_height([r["loss"] for r in rows]),
        barrier_hamming=barrier_height(ham),
        hamming_max=max(ham),
        hamming_mean=float(np.mean(ham)),
        tpr_min=min(tpr),
        tpr_mean=float(np.mean(tpr)),
    )


def connectivity_study(
    *,
    lams: Sequence[float] = (0.01, 0.1, 0.5),
    seeds: Sequence[int] = (0, 1, 2),
    train_steps: int = 800,
    curve_steps: int = 400,
    n_train: int = 200,
    n_val: int = 60,
    n_eval: int = 100,
    n_test: int = 80,
    n_points: int = 21,
    callback=None,
) -> list[dict]:
    """Linear vs Bézier connectivity of every pair of ``seeds`` per setting (two-step and e2e at each λ,
    trained as in ``studies.stability_study``) and of the shipped two-step ↔ e2e pair (curve trained with
    BCE and with the e2e Hamming loss, as the paper's two Bézier rows). One row per (pair, curve loss)."""
    import itertools
    import time

    from .model import ModelConfig
    from .studies import DATASET_DIR, TEST_SEED, VAL_SEED
    from .train import fit, load_model, make_dataset

    lams = [check_float("lams", float(v), low=0.0, low_open=True) for v in lams]
    seeds = [check_int("seeds", int(v), low=0) for v in seeds]
    if len(set(seeds)) < 2:
        raise ValueError(f"seeds must hold at least 2 different seeds, got {seeds}")
    train = make_dataset(n_train, seed=1)
    val, test = make_dataset(n_val, seed=VAL_SEED), make_dataset(n_test, seed=TEST_SEED)
    evals = train[:: max(1, n_train // n_eval)][:n_eval]  # a training subset, as the paper evaluates
    L = 10
    pairs = []
    for mode, lam in [("two_step", 0.1)] + [("e2e", float(v)) for v in lams]:
        cfg = [
            TrainConfig(
                mode=mode,
                lam=lam,
                steps=train_steps,
                batch_size=4,
                seed=s,
                **STUDY_SCHEDULE,
                model=ModelConfig(hidden=16),
            )
            for s in seeds
        ]
        models = [
            fit(train, c, n_layers=L, val_graphs=val, eval_every=200, warn_lambda=False)[0] for c in cfg
        ]
        for i, j in itertools.combinations(range(len(seeds)), 2):
            name = f"{mode} seeds {seeds[i]}-{seeds[j]}"
            pairs.append((name, mode, lam if mode == "e2e" else None, [models[i], models[j]], [cfg[0]]))
    (a, ca, _, _), (b, cb, _, _) = (load_model(DATASET_DIR / m / "model.pt") for m in ("two_step", "e2e"))
    pairs.append(("shipped two_step-e2e", "inter", cb.lam, [a, b], [ca, cb]))
    rows = []
    for name, mode, lam, (ma, mb), curve_cfgs in pairs:
        for cc in curve_cfgs:
            t0 = time.process_time()
            row = dict(
                pair=name,
                mode=mode,
                lam=lam,
                curve_loss="bce" if cc.mode == "two_step" else "hamming",
                curve_lam=cc.lam if cc.mode == "e2e" else None,
                curve_steps=curve_steps,
                n_points=n_points,
            )
            control, _ = fit_bezier_control(ma, mb, train, L, train_config=cc, steps=curve_steps)
            for split, graphs in (("train", evals), ("test", test)):
                lin = _path_rows(ma, mb, None, graphs, L, DEFAULT_NO_MATCH, cc, n_points)
                bez = _path_rows(ma, mb, control, graphs, L, DEFAULT_NO_MATCH, cc, n_points)
                row[f"linear_{split}"], row[f"bezier_{split}"] = lin, bez
                row[f"linear_{split}_summary"], row[f"bezier_{split}_summary"] = _summary(lin), _summary(bez)
            row["cpu_seconds"] = time.process_time() - t0
            rows.append(row)
            if callback is not None:
                callback(row)
    return rows
