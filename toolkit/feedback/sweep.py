"""Feedback: learning rule × hidden width × seed on the bundled digits (Baldi, Sadowski & Lu).

Each trial trains one :class:`toolkit.feedback.FeedbackMLP` (two hidden tanh layers of ``width``)
with its rule and reports the final test accuracy and the angle between the rule's update and the
true gradient for each hidden layer (0° for BP; RBP/SRBP align over training). Test error is
reported every epoch, so ``--prune`` stops runs that are clearly behind.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

# every rule of toolkit.feedback.engine.RULES, written out so that reading this declaration (sweep --list)
# does not import torch; tests/test_feedback_learning.py checks the two agree. kp/dkp train with their own
# weight decay.
RULES = (
    "bp",
    "rbp",
    "srbp",
    "arbp",
    "asrbp",
    "sign",
    "sign-resampled",
    "rbp-resampled",
    "top",
    "nonlinear",
    "kp",
    "dkp",
    "usf",
    "drtp",
    "wm",
)


@functools.lru_cache(maxsize=4)
def _split(dataset: str, data_seed: int):
    from toolkit.feedback import load_dataset

    return load_dataset(dataset, random_state=data_seed)


def objective(params: dict[str, Any], trial: optuna.Trial | None) -> dict[str, float]:
    from toolkit.feedback import TrainConfig, fit

    split = _split(params["dataset"], int(params["data_seed"]))
    width, depth = int(params["width"]), int(params["depth"])
    cfg = TrainConfig(
        hidden=[width] * depth,
        epochs=int(params["epochs"]),
        lr=float(params["lr"]),
        batch_size=int(params["batch_size"]),
        seed=int(params["seed"]),
    )
    net = cfg.build(params["rule"], split.n_features, split.n_classes)

    def report(row: dict) -> None:
        if trial is not None and row["epoch"] > 0:
            trial.report(1.0 - row["test_acc"], step=int(round(row["epoch"])))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {row['epoch']:g}")

    history = fit(net, split, cfg, on_epoch=report)
    last = history[-1]
    if not math.isfinite(last["loss"]):
        raise FloatingPointError(f"training diverged (loss {last['loss']})")
    out = {"test_acc": last["test_acc"], "train_acc": last["train_acc"], "loss": last["loss"]}
    for layer, angle in enumerate(last["angles"][:-1]):  # the top layer gets the true error: 0°
        out[f"angle_{layer + 1}"] = float(angle)
    return out


def experiment() -> dict[str, Any]:
    """The study's declaration: ``toolkit.sweeps`` builds its ``Experiment`` from these fields."""
    return dict(
        name="feedback-rules",
        topic="feedback",
        objective=objective,
        metric="test_acc",
        direction="maximize",
        space={
            "rule": CategoricalDistribution(RULES),
            "width": IntDistribution(4, 1024, log=True),
            "seed": IntDistribution(0, 10_000),
            "lr": FloatDistribution(1e-4, 0.1, log=True),
        },
        grid={"rule": ["bp", "rbp", "srbp"], "width": [16, 64], "seed": [0, 1, 2]},
        defaults={"lr": 3e-3, "depth": 2, "epochs": 5, "batch_size": 32, "dataset": "digits", "data_seed": 0},
        description="rule × width × seeds on digits: test accuracy and update–gradient angles",
        plot={"x": "width", "y": "test_acc", "color": "rule", "log_x": True},
    )
