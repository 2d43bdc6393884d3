"""An analytic toy experiment for exercising the engine: ``loss = (x − 0.5)² + noise·ε_seed``.

Knobs that make trials misbehave on purpose: ``fail_above`` (raise ValueError when x is larger),
``nan_below`` (return NaN when x is smaller), ``delay`` (seconds of "training", reported in ten
steps so the pruner can act), ``log`` (append the finished parameter set to a file: the tests'
independent record of which trials really ran to the end), ``gate`` (wait until this file exists:
lets a test start several workers' first trials at the same moment).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution, IntDistribution

from .registry import Experiment, param_key

STEPS = 10


def objective(params: dict[str, Any], trial: optuna.Trial | None) -> dict[str, float]:
    x, seed = float(params["x"]), int(params["seed"])
    if params["gate"]:
        deadline = time.monotonic() + 300
        while not os.path.exists(params["gate"]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate file {params['gate']} never appeared")
            time.sleep(0.05)
    if x > params["fail_above"]:
        raise ValueError(f"x must be at most fail_above={params['fail_above']}, got {x}")
    eps = np.random.default_rng(seed).standard_normal()
    loss = (x - 0.5) ** 2 + params["noise"] * eps
    for step in range(STEPS):
        if params["delay"]:
            time.sleep(params["delay"] / STEPS)
        if trial is not None:
            trial.report(loss + 1.0 / (step + 1), step)  # a decreasing "training curve"
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step}")
    if x < params["nan_below"]:
        loss = float("nan")
    if params["log"]:
        line = param_key({"x": x, "seed": seed}) + "\n"
        fd = os.open(params["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:  # one write() with O_APPEND: lines from several processes never interleave
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    return {"loss": loss, "abs_x": abs(x)}


def experiment() -> Experiment:
    return Experiment(
        name="toy",
        topic="toy",
        objective=objective,
        metric="loss",
        direction="minimize",
        space={"x": FloatDistribution(-2.0, 2.0), "seed": IntDistribution(0, 10_000)},
        grid={"x": [-1.0, -0.5, 0.0, 0.5, 1.0], "seed": [0, 1]},
        defaults={
            "x": 0.0,
            "seed": 0,
            "noise": 0.1,
            "delay": 0.0,
            "fail_above": 10.0,
            "nan_below": -10.0,
            "log": "",
            "gate": "",
        },
        description="analytic (x − 0.5)² + noise; knobs to fail, return NaN or be slow on purpose",
    )
