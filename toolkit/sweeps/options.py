"""How a study runs (:class:`SweepOptions`) and the Optuna sampler and pruner those options imply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import optuna

from ..validation import check_bool, check_choice, check_int
from .registry import Experiment

__all__ = ["SweepOptions", "study_config", "make_sampler", "make_pruner"]


@dataclass
class SweepOptions:
    """How a study runs (the experiment says *what* runs).

    search : ``"grid"`` (every grid point once) or ``"adaptive"`` (``n_trials`` TPE trials).
    workers : worker processes on this machine (1 = run in this process).
    prune : stop hopeless trials early (median pruner on the values the objective reports).
    heartbeat : seconds between heartbeats; a trial silent for 3 heartbeats counts as dead.
    timeout : stop starting new trials after this many seconds (None = no limit).
    threads : torch threads per worker (None = cores // workers).
    """

    search: str = "grid"
    n_trials: int | None = None
    workers: int = 1
    prune: bool = False
    heartbeat: int = 10
    timeout: float | None = None
    seed: int = 0
    threads: int | None = None
    verbose: bool = True

    def __post_init__(self) -> None:
        self.search = check_choice("search", self.search, ("grid", "adaptive"))
        if self.n_trials is not None:
            self.n_trials = check_int("n_trials", self.n_trials, low=1, high=100_000)
        self.workers = check_int("workers", self.workers, low=1, high=256)
        self.heartbeat = check_int("heartbeat", self.heartbeat, low=1, high=3600)
        self.seed = check_int("seed", self.seed, low=0)
        self.prune = check_bool("prune", self.prune)
        self.verbose = check_bool("verbose", self.verbose)
        if self.threads is not None:
            self.threads = check_int("threads", self.threads, low=1, high=1024)
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not (isinstance(self.timeout, (int, float)) and self.timeout > 0)
        ):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {self.timeout!r}")


def study_config(experiment: Experiment, options: SweepOptions) -> dict[str, Any]:
    """What a study records about itself (user attributes): a resume must ask for the same study."""
    import json

    plain = json.loads(
        json.dumps({"defaults": dict(experiment.defaults), "grid": dict(experiment.grid)}, default=str)
    )
    return {
        "gl_experiment": experiment.name,
        "gl_metric": experiment.metric,
        "gl_search": options.search,
        "gl_defaults": plain["defaults"],
        "gl_grid": plain["grid"],
        "gl_n_trials": options.n_trials,
    }


def make_sampler(experiment: Experiment, options: SweepOptions, worker: int):
    """Optuna's sampler for ``options.search``: TPE with constant liar, or the grid (claims grid points)."""
    if options.search == "adaptive":
        return optuna.samplers.TPESampler(seed=options.seed + worker, constant_liar=True, n_startup_trials=5)
    # one seed: one order for all workers. Queued trials carry their point; a retry of a trial killed
    # before it had one gets a grid point from the sampler too (never a random off-grid value)
    return optuna.samplers.GridSampler(dict(experiment.grid), seed=0)


def make_pruner(options: SweepOptions) -> optuna.pruners.BasePruner:
    """The median pruner when ``options.prune``, else none."""
    if not options.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
