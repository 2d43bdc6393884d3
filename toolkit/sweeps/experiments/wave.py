"""The start-here MLP (``toolkit.intro.WaveRegressor``) as a study: hidden × lr × seed → MSE.

The training loss is reported to the trial after every epoch (:class:`PruningCallback`), so with
``--prune`` a hopeless learning rate is stopped early.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import FloatDistribution, IntDistribution

from ..registry import Experiment


def objective(params: dict[str, Any], trial: optuna.Trial | None) -> dict[str, float]:
    from toolkit.intro import train_wave

    from ..pruning import PruningCallback

    prune = PruningCallback(trial, "train_loss", on="train")
    _, mse = train_wave(
        hidden=int(params["hidden"]),
        lr=float(params["lr"]),
        epochs=int(params["epochs"]),
        noise=float(params["noise"]),
        seed=int(params["seed"]),
        callbacks=[prune],
    )
    prune.check_pruned()
    return {"mse": mse, "epochs_run": float(len(prune.reported) or params["epochs"])}


def experiment() -> Experiment:
    return Experiment(
        name="intro-wave",
        topic="intro",
        objective=objective,
        metric="mse",
        direction="minimize",
        space={
            "hidden": IntDistribution(1, 256, log=True),
            "lr": FloatDistribution(1e-4, 1.0, log=True),
            "seed": IntDistribution(0, 10_000),
        },
        grid={"hidden": [4, 16], "lr": [0.003, 0.03], "seed": [0, 1]},
        defaults={"hidden": 16, "lr": 0.01, "seed": 0, "epochs": 20, "noise": 0.1},
        description="a 1-hidden-layer tanh MLP on a noisy sine (the start-here notebook)",
    )
