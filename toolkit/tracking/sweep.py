"""Tracking: λ × seed pairs of end-to-end training through the assignment solver (Kortus et al.).

A trial trains *two* edge classifiers that differ only in their seed (initialisation and batch
order: seeds ``2s`` and ``2s + 1``) on the same events with the blackbox estimator's λ, then
measures on fixed test events: track purity and efficiency (mean of the two), prediction
instability between the two seeds (``m_minmax`` of their assignment decisions) and the loss
barrier on the straight line between their weights (Hamming and BCE). Pairs inside one trial keep
every number a per-trial metric, so the study can run in any order, in parallel, and resume.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution


@functools.lru_cache(maxsize=4)
def _data(n_train: int, n_test: int, data_seed: int):
    from toolkit.tracking import DetectorConfig, make_dataset

    det = DetectorConfig()
    return det, make_dataset(n_train, det, seed=data_seed), make_dataset(n_test, det, seed=10**6)


def objective(params: dict[str, Any], trial: optuna.Trial | None) -> dict[str, float]:
    import torch
    from torch_geometric.data import Batch

    from toolkit.tracking import (
        TrainConfig,
        barrier_height,
        evaluate,
        fit,
        lambda_scale,
        linear_path,
        m_minmax,
        one_thread,
    )

    det, train, test = _data(int(params["n_train"]), int(params["n_test"]), int(params["data_seed"]))
    lam, s = float(params["lam"]), int(params["seed"])
    models, results, ratios = [], [], []
    batch = Batch.from_data_list(test)
    for seed in (2 * s, 2 * s + 1):
        cfg = TrainConfig(
            mode=params["mode"],
            estimator=params["estimator"],
            lam=lam,
            epochs=int(params["epochs"]),
            seed=seed,
        )
        model, _ = fit(train, cfg, n_layers=det.n_layers, warn_lambda=False)  # λ is swept
        with one_thread():
            results.append(evaluate(model, test, det.n_layers))
            with torch.no_grad():
                logits = model(batch.x, batch.edge_index, batch.edge_attr)
                ratios.append(lambda_scale(logits, lam)["lam_over_margin"])
        models.append(model)
        if trial is not None:  # purity of each finished model, for the dashboard and the pruner
            trial.report(float(results[-1]["purity"]), step=len(models))
    path = linear_path(models[0], models[1], test, det.n_layers, n_points=int(params["n_points"]))
    return {
        "purity": float(np.mean([r["purity"] for r in results])),
        "efficiency": float(np.mean([r["efficiency"] for r in results])),
        "trackml": float(np.mean([r["trackml"] for r in results])),
        "instability": float(
            m_minmax(results[0]["decisions"], results[1]["decisions"], results[0]["target"])
        ),
        "barrier_hamming": barrier_height([r["hamming"] for r in path]),
        "barrier_bce": barrier_height([r["bce"] for r in path]),
        "lam_over_margin": float(np.mean(ratios)),
    }


def experiment() -> dict[str, Any]:
    """The study's declaration: ``toolkit.sweeps`` builds its ``Experiment`` from these fields."""
    return dict(
        name="tracking-lambda",
        topic="tracking",
        objective=objective,
        metric="purity",
        direction="maximize",
        space={
            "lam": FloatDistribution(1e-5, 100.0, log=True),
            "seed": IntDistribution(0, 10_000),
            "mode": CategoricalDistribution(["two_step", "e2e", "mixed"]),
        },
        # the informative range: above λ ≈ 0.03 y_λ is the target for almost every problem (degenerate)
        grid={"lam": [1e-4, 1e-3, 1e-2, 0.1], "seed": [0, 1]},
        defaults={
            "mode": "e2e",
            "estimator": "blackbox",
            "epochs": 3,
            "n_train": 160,
            "n_test": 60,
            "data_seed": 1,
            "n_points": 7,
        },
        description="λ × seed pairs, end-to-end through the solver: purity, efficiency, instability, barrier",
        plot={"x": "lam", "y": "instability", "log_x": True},
    )
