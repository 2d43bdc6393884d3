"""The start-here MLP (``toolkit.intro.train_wave``) as a study: hidden × lr × seed → MSE.

The training loss goes to the trial after every epoch (:class:`toolkit.training.PruningCallback`), so with
``--prune`` a hopeless learning rate is stopped early. (Torch and Lightning load only when a trial runs.)
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import FloatDistribution, IntDistribution


def objective(params: dict[str, Any], trial: Any) -> dict[str, float]:
    from toolkit.intro import train_wave
    from toolkit.training import PruningCallback

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


def experiment() -> dict[str, Any]:
    """The study's declaration (the fields of its ``Experiment``)."""
    return dict(
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
