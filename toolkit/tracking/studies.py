"""The studies behind notebook 01: a fair tracker comparison, its realism check and a stability study.

* :func:`compare_trackers` — for each seed: two-step (BCE) and end-to-end (Hamming through the
  blackbox solver) edge classifiers, each evaluated with (a) the fixed threshold τ = 0.5,
  (b) the paper's assignment (maximum cardinality, no τ) and (c) a τ tuned on validation events;
  plus the no-learning geometric baseline (cost = |slope|, tuned τ). Both metric families.
* :func:`realism_study` — :func:`compare_trackers` again on detectors with the realism options of
  :class:`DetectorConfig` (Highland in sub-steps through each absorber, noise hits with proton-like
  deposits, both): does the comparison's lesson survive them?
* :func:`stability_study` — Kortus et al.'s instability question with a protocol that can show
  an effect: per λ, ``seeds`` runs of ``steps`` Adam steps with a step learning-rate schedule and
  the best checkpoint on validation; m_minmax between every seed pair; the *noise floor* = m_minmax
  between a run and the same run started from weights perturbed by 1e-6; the excess
  ``mean m_minmax − floor`` with a bootstrap confidence interval over test events; the loss
  barrier on the straight line between seed pairs.

``python -m toolkit.tracking.cli study stability|compare|realism --out FILE`` runs them and writes JSON.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Batch

from ..validation import check_float, check_int
from .detector import DetectorConfig, as_config
from .landscape import barrier_height, linear_path
from .model import EdgeClassifier, GeometricBaseline, ModelConfig
from .pipeline import DECISION_METRICS, PAPER, edge_decisions, evaluate, lambda_scale, tune_threshold
from .train import STUDY_SCHEDULE, TrainConfig, fit, make_dataset, one_thread

__all__ = [
    "DATASET_DIR",
    "compare_trackers",
    "realism_study",
    "REALISM_VARIANTS",
    "stability_study",
    "pair_counts",
    "bootstrap_excess",
    "METRIC_KEYS",
]

DATASET_DIR = Path(__file__).resolve().parents[2] / "datasets" / "tracking"  # shipped models and study JSON
METRIC_KEYS = (*DECISION_METRICS, "ceiling_purity", "ceiling_efficiency")
VAL_SEED, TEST_SEED = 2, 10**6


def _metrics(model, graphs, n_layers, no_match) -> dict:
    r = evaluate(model, graphs, n_layers, no_match=no_match)
    return {k: r[k] for k in METRIC_KEYS}


def compare_trackers(
    seeds: Sequence[int] = (0, 1, 2),
    *,
    n_train: int = 400,
    n_val: int = 100,
    n_test: int = 200,
    steps: int = 500,
    lam: float = 0.015,
    batch_size: int = 8,
    detector: DetectorConfig | None = None,
    skip_layers: int = 0,
    callback: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Rows ``{tracker, seed, assignment, tau, <METRIC_KEYS>}`` (see module docstring); τ is tuned twice,
    for the paper's efficiency and for the TrackML score. ``skip_layers``: graphs with skip-layer
    edges (:func:`~toolkit.tracking.build_graphs`), then every assignment is one problem per event."""
    seeds = [check_int("seeds", int(s), low=0) for s in seeds]
    det = as_config(detector, "detector")
    L = det.n_layers
    data = partial(make_dataset, config=det, skip_layers=skip_layers)
    train, val, test = data(n_train, seed=1), data(n_val, seed=VAL_SEED), data(n_test, seed=TEST_SEED)
    rows = []

    def add(tracker, seed, model, seconds=None):
        # τ tuned on validation for the paper's efficiency (rewards pure fragments) and for TrackML (rewards
        # complete tracks): the right τ depends on what the tracks are for
        tau_paper = tune_threshold(model, val, L, metric="paper_efficiency")["tau"]
        tau_trackml = tune_threshold(model, val, L, metric="trackml")["tau"]
        for assignment, tau in (
            ("tau=0.5", 0.5),
            ("paper", PAPER),
            ("tuned tau (paper eff.)", tau_paper),
            ("tuned tau (TrackML)", tau_trackml),
        ):
            row = dict(
                tracker=tracker, seed=seed, assignment=assignment, tau=tau, **_metrics(model, test, L, tau)
            )
            if seconds is not None:
                row["train_seconds"] = seconds
            rows.append(row)
            if callback is not None:
                callback(row)

    add("geometric", None, GeometricBaseline())
    for seed in seeds:
        # e2e: trained through our τ = 0.5 assignment; e2e_paper: through the paper's (no τ)
        for tracker, mode, no_match in (
            ("two_step", "two_step", 0.5),
            ("e2e", "e2e", 0.5),
            ("e2e_paper", "e2e", PAPER),
        ):
            cfg = TrainConfig(
                mode=mode,
                lam=lam,
                steps=steps,
                batch_size=batch_size,
                seed=seed,
                no_match=no_match,
                **STUDY_SCHEDULE,
            )
            t0 = time.process_time()
            model, _ = fit(train, cfg, n_layers=L, val_graphs=val, eval_every=100)
            add(tracker, seed, model, time.process_time() - t0)
    return rows


#: The detectors of :func:`realism_study`: DetectorConfig fields changed from the defaults (and
#: ``skip_layers`` for the graphs built on them).
REALISM_VARIANTS = {
    "baseline": {},
    "Highland sub-steps": {"scatter_substeps": 4},
    "proton-like noise": {"noise_edep": "proton-like"},
    "both": {"scatter_substeps": 4, "noise_edep": "proton-like"},
    "95 % hit efficiency": {"efficiency": 0.95},
    "95 % + skip-layer edges": {"efficiency": 0.95, "skip_layers": 1},
}


def realism_study(
    variants: Sequence[str] = tuple(REALISM_VARIANTS),
    seeds: Sequence[int] = (0, 1, 2),
    *,
    callback: Callable[[dict], None] | None = None,
    **compare: object,
) -> list[dict]:
    """:func:`compare_trackers`' rows (plus ``variant``) on each detector of ``variants`` (keys of
    REALISM_VARIANTS); ``compare`` passes its sizes (n_train, steps, ...). Same seeds and data seeds
    for every variant, so only the detector differs."""
    if isinstance(variants, str):
        raise TypeError("variants must be a list of names from REALISM_VARIANTS, got a string")
    unknown = [v for v in variants if v not in REALISM_VARIANTS]
    if unknown or not variants:
        raise ValueError(f"variants must be names from {list(REALISM_VARIANTS)}, got {list(variants)}")
    rows = []
    for name in variants:
        fields = dict(REALISM_VARIANTS[name])
        skip = fields.pop("skip_layers", 0)
        detector = replace(DetectorConfig(), **fields)
        tag = (lambda row, name=name: callback({"variant": name, **row})) if callback else None
        rows += [
            {"variant": name, **row}
            for row in compare_trackers(seeds, detector=detector, skip_layers=skip, callback=tag, **compare)
        ]
    return rows


def pair_counts(
    decisions: Sequence[np.ndarray], target: np.ndarray, event_of_edge: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-event counts for bootstrapping m_minmax: ``errors[k, e]`` = edges model k gets wrong in
    event e, ``n[e]`` = edges of event e (disagreements are computed from the decisions as needed)."""
    n_events = int(event_of_edge.max()) + 1 if event_of_edge.size else 0
    n = np.bincount(event_of_edge, minlength=n_events)
    errors = np.stack(
        [np.bincount(event_of_edge, weights=(d != target), minlength=n_events) for d in decisions]
    )
    return errors, n


def _m_minmax_counts(dis, ea, eb, n) -> float:
    """m_minmax from summed counts (same formula as :func:`~toolkit.tracking.metrics.m_minmax`)."""
    d, ea, eb = dis / n, ea / n, eb / n
    lo, hi = abs(ea - eb), min(ea + eb, 1.0)
    return 0.0 if hi - lo <= 0 else float(np.clip((d - lo) / (hi - lo), 0.0, 1.0))


def bootstrap_excess(
    decisions: Sequence[np.ndarray],
    floor_pair: tuple[np.ndarray, np.ndarray],
    target: np.ndarray,
    event_of_edge: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """``mean over seed pairs of m_minmax − floor m_minmax`` and its 95 % bootstrap CI over test events.

    Events are resampled with replacement; every pair and the floor pair are recomputed on the same
    resample, so the interval includes the finite test set's noise.
    """
    n_boot = check_int("n_boot", n_boot, low=10)
    models = list(decisions) + list(floor_pair)
    errors, n = pair_counts(models, target, event_of_edge)
    k = len(decisions)
    pairs = list(itertools.combinations(range(k), 2)) + [(k, k + 1)]
    n_events = n.size
    dis = np.stack(
        [np.bincount(event_of_edge, weights=(models[i] != models[j]), minlength=n_events) for i, j in pairs]
    )

    def stat(w):
        vals = [
            _m_minmax_counts(dis[p] @ w, errors[i] @ w, errors[j] @ w, n @ w)
            for p, (i, j) in enumerate(pairs)
        ]
        return float(np.mean(vals[:-1])), vals[-1]

    seeds_mean, floor = stat(np.ones(n_events))
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        w = np.bincount(rng.integers(0, n_events, n_events), minlength=n_events).astype(float)
        m, f = stat(w)
        boots.append(m - f)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return dict(
        m_minmax=seeds_mean, floor=floor, excess=seeds_mean - floor, excess_lo=float(lo), excess_hi=float(hi)
    )


def _perturbed(model: torch.nn.Module, scale: float, seed: int) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(10**5 + seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    return model


def stability_study(
    lams: Sequence[float] = (1e-4, 1e-3, 1e-2, 0.1, 0.5),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    mode: str = "e2e",
    steps: int = 800,
    n_train: int = 200,
    n_val: int = 60,
    n_test: int = 80,
    batch_size: int = 4,
    hidden: int = 16,
    eval_every: int = 200,
    lr: float = 3e-3,
    perturbation: float = 1e-6,
    n_points: int = 5,
    n_boot: int = 1000,
    include_two_step: bool = True,
    detector: DetectorConfig | None = None,
    callback: Callable[[dict], None] | None = None,
) -> list[dict]:
    """One row per λ (and one ``two_step`` reference row): see module docstring.

    Row keys: ``lam``, ``lam_paper`` (λ·E_batch), ``mode``, ``purity_mean/std``, ``efficiency_mean``,
    ``m_minmax``, ``m_minmax_std`` (over pairs), ``floor``, ``excess``, ``excess_lo``, ``excess_hi``
    (95 % bootstrap CI), ``barrier_hamming``, ``frac_target_init`` (share of problems with
    y_λ == target at initialisation), ``best_step_mean``, ``cpu_seconds``.
    """
    lams = [check_float("lams", float(v), low=0.0, low_open=True) for v in lams]
    seeds = [check_int("seeds", int(s), low=0) for s in seeds]
    if len(seeds) < 2 or not lams:
        raise ValueError("stability_study needs at least 2 seeds and 1 λ")
    det = as_config(detector, "detector")
    L = det.n_layers
    train = make_dataset(n_train, det, seed=1)
    val, test = make_dataset(n_val, det, seed=VAL_SEED), make_dataset(n_test, det, seed=TEST_SEED)
    batch = Batch.from_data_list(test)
    target = batch.y.numpy().astype(bool)
    event_of_edge = batch.batch[batch.edge_index[0]].numpy()
    probe = Batch.from_data_list(train[:batch_size])
    settings = [(mode, lam) for lam in lams] + ([("two_step", lams[0])] if include_two_step else [])
    rows = []
    for run_mode, lam in settings:
        t0 = time.process_time()

        def cfg(s, run_mode=run_mode, lam=lam):  # bound now: used within this iteration
            return TrainConfig(
                mode=run_mode,
                lam=lam,
                steps=steps,
                batch_size=batch_size,
                lr=lr,
                seed=s,
                **STUDY_SCHEDULE,
                model=ModelConfig(hidden=hidden),
            )

        models, hists = [], []
        for s in seeds:
            m, h = fit(train, cfg(s), n_layers=L, val_graphs=val, eval_every=eval_every, warn_lambda=False)
            models.append(m)
            hists.append(h)
        torch.manual_seed(cfg(seeds[0]).seed)
        twin = _perturbed(EdgeClassifier(cfg(seeds[0]).model), perturbation, seeds[0])
        twin, _ = fit(
            train,
            cfg(seeds[0]),
            n_layers=L,
            model=twin,
            val_graphs=val,
            eval_every=eval_every,
            warn_lambda=False,
        )
        with one_thread():
            decisions = [edge_decisions(m, batch, L)[1] for m in models]
            floor_pair = (decisions[0], edge_decisions(twin, batch, L)[1])
            results = [evaluate(m, test, L) for m in models]
            boot = bootstrap_excess(decisions, floor_pair, target, event_of_edge, n_boot=n_boot)
            pairs = list(itertools.combinations(range(len(seeds)), 2))
            per_pair = [
                _m_minmax_counts(
                    np.sum(decisions[i] != decisions[j]),
                    np.sum(decisions[i] != target),
                    np.sum(decisions[j] != target),
                    target.size,
                )
                for i, j in pairs
            ]
            barriers = [
                barrier_height(
                    [r["hamming"] for r in linear_path(models[i], models[j], test, L, n_points=n_points)]
                )
                for i, j in pairs
            ]
            torch.manual_seed(seeds[0])
            init = EdgeClassifier(cfg(seeds[0]).model)
            with torch.no_grad():
                scale = lambda_scale(
                    init(probe.x, probe.edge_index, probe.edge_attr), lam, data=probe, n_layers=L, warn=False
                )
        best_steps = [
            max((r for r in h if "val_hamming" in r), key=lambda r: -r["val_hamming"])["step"] for h in hists
        ]
        row = dict(
            mode=run_mode,
            lam=lam if run_mode != "two_step" else None,
            lam_paper=scale["lam_paper"] if run_mode != "two_step" else None,
            purity_mean=float(np.mean([r["purity"] for r in results])),
            purity_std=float(np.std([r["purity"] for r in results])),
            efficiency_mean=float(np.mean([r["efficiency"] for r in results])),
            edge_error_mean=float(np.mean([np.mean(d != target) for d in decisions])),
            m_minmax_std=float(np.std(per_pair)),
            barrier_hamming=float(np.mean(barriers)),
            frac_target_init=scale.get("frac_target") if run_mode != "two_step" else None,
            best_step_mean=float(np.mean(best_steps)),
            cpu_seconds=time.process_time() - t0,
            seeds=len(seeds),
            steps=steps,
            batch_size=batch_size,
            hidden=hidden,
            **boot,
        )
        rows.append(row)
        if callback is not None:
            callback(row)
    return rows
