"""Run a study of an :class:`Experiment` on Optuna's own machinery, resumably and in parallel.

* **Claiming.** A grid study uses ``optuna.samplers.GridSampler``: the database numbers trials
  0, 1, 2, … without gaps or repeats, and the sampler gives trial *k* grid point *k*, so workers
  on any number of machines share a grid without a lock. Points still missing later (the grid
  grew) are put in Optuna's queue (``study.enqueue_trial``); ``study.ask`` pops a queued trial
  for exactly one worker (a row lock on PostgreSQL/MySQL, ``BEGIN IMMEDIATE`` on SQLite).
  Should two trials still land on one point (two processes extending a grid at the same
  instant), the later-numbered one steps aside as a hidden duplicate. Adaptive search uses TPE.
* **Dead workers.** ``RDBStorage(heartbeat_interval=h, grace_period=3h,
  heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback())``: ``study.optimize``
  records heartbeats; a trial silent for 3h is failed and re-queued with the same parameters.
  A trial whose worker was a process of *this* machine that no longer exists is failed and
  re-queued at once (no wait). A worker whose parent dies stops (and gives its trial back).
* **Failures.** An exception or a NaN metric fails the trial with the reason in ``gl_error``;
  it is not retried. Ctrl-C fails the running trial and re-queues it.

So re-running the same command resumes: finished trials stay, the rest run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from ..validation import check_instance, check_int
from .options import SweepOptions, make_pruner, make_sampler, study_config
from .recovery import claims, fail_dead, me, redone_numbers
from .registry import Experiment, grid_points, lookup, param_key, suggest
from .storage import DEFAULT_STORAGE, check_study_name, open_storage, retry

optuna.logging.set_verbosity(optuna.logging.ERROR)  # one line per trial is ours

__all__ = ["SweepOptions", "prepare_study", "run_worker", "study_counts"]

RESERVED_NAMES = frozenset({"number", "state", "value", "seconds", "error", "worker"})


def _arguments(experiment: Any, study: Any, options: Any) -> tuple[Experiment, SweepOptions]:
    """The checked arguments shared by prepare_study and run_worker."""
    experiment = lookup(experiment, "experiment")
    check_study_name(study)
    options = SweepOptions() if options is None else check_instance("options", options, SweepOptions)
    return experiment, options


def prepare_study(
    experiment: Experiment | str,
    *,
    storage: Any = DEFAULT_STORAGE,
    study: str | None = None,
    options: SweepOptions | None = None,
) -> optuna.Study:
    """Create or load the study, check it was made for the same set-up, fail and re-queue dead
    workers' trials, and queue the grid points no trial accounts for (a grown or changed grid)."""
    experiment, options = _arguments(experiment, study, options)
    store = open_storage(storage, heartbeat=options.heartbeat)
    name, config = study or experiment.name, study_config(experiment, options)
    st = optuna.create_study(
        storage=store, study_name=name, direction=experiment.direction, load_if_exists=True
    )
    old = st.user_attrs
    for key in ("gl_experiment", "gl_metric", "gl_search", "gl_defaults"):
        if key in old and old[key] != config[key]:
            raise ValueError(
                f"study {name!r} was created with {key[3:]}={old[key]!r}, not {config[key]!r}; "
                "resume it with the same settings or pick another --study name"
            )
    if st.direction.name.lower() != experiment.direction:
        raise ValueError(
            f"study {name!r} has direction {st.direction.name.lower()}, the experiment wants "
            f"{experiment.direction}"
        )
    trials = st.get_trials(deepcopy=False)
    n_points = len(grid_points(experiment.grid))
    if trials and (old.get("gl_grid") != config["gl_grid"] or len(trials) >= n_points):
        config["gl_queue"] = True  # the numbered first pass is over (or was for another grid)
    for key, value in config.items():
        if old.get(key) != value:
            st.set_user_attr(key, value)
    fail_dead(st, options.heartbeat)
    if options.search == "grid" and config.get("gl_queue", old.get("gl_queue")):
        trials = st.get_trials(deepcopy=False)
        claimed = claims(trials)
        for point in grid_points(experiment.grid):
            if param_key(point) not in claimed:
                st.enqueue_trial(point, user_attrs={"gl_key": param_key(point)})
    return st


def _work_left(study: optuna.Study, experiment: Experiment, options: SweepOptions) -> int:
    """Trials this worker may still start: queued ones, plus unclaimed grid points / adaptive budget."""
    trials = study.get_trials(deepcopy=False)
    waiting = sum(t.state == TrialState.WAITING for t in trials)
    if options.search == "grid":
        if study.user_attrs.get("gl_queue"):
            return waiting
        claimed = claims(trials)
        return waiting + sum(param_key(p) not in claimed for p in grid_points(experiment.grid))
    redone = redone_numbers(trials)
    used = [t for t in trials if t.number not in redone and t.state != TrialState.WAITING]
    return max(waiting, (options.n_trials or 20) - len(used))


# -- running trials ----------------------------------------------------------------------------
def _check_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"the objective must return a dict of metrics, got {type(metrics).__name__}")
    out = {}
    for k, v in metrics.items():
        if not isinstance(k, str) or k.startswith("gl_") or k in RESERVED_NAMES:
            raise ValueError(
                f"metric names must be strings, not starting with 'gl_' and not one of "
                f"{sorted(RESERVED_NAMES)} (results columns); got {k!r}"
            )
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise TypeError(f"metric {k!r} must be a number, got {v!r}")
        out[k] = float(v)
    return out


def _duplicate(trial: optuna.Trial, key: str) -> bool:
    """Does an earlier-numbered trial account for this point? (Waits up to 5 s for earlier trials
    that are between their claim and their first line, so both sides of a race agree.)"""
    for _ in range(100):
        trials = trial.study.get_trials(deepcopy=False)
        if not any(
            t.number < trial.number and t.state == TrialState.RUNNING and "gl_key" not in t.user_attrs
            for t in trials
        ):
            break
        time.sleep(0.05)
    return claims(trials).get(key, trial.number) < trial.number


def _objective(experiment: Experiment, options: SweepOptions):
    """The function ``study.optimize`` calls: suggest, check the claim, run, record metrics."""
    n_points = len(grid_points(experiment.grid))

    def objective(trial: optuna.Trial) -> float:
        start = time.perf_counter()
        trial.set_user_attr("gl_worker", me())
        names = experiment.grid if options.search == "grid" else experiment.space
        chosen = {name: suggest(trial, name, experiment.space[name]) for name in names}
        if options.search == "grid":
            trial.set_user_attr("gl_key", param_key(chosen))
            # GridSampler gives trial k < n point k of a grid it numbered: only others can clash
            numbered = trial.number < n_points and not trial.study.user_attrs.get("gl_queue")
            if not numbered and _duplicate(trial, param_key(chosen)):
                trial.set_user_attr("gl_duplicate", True)  # an earlier trial has this point
                raise optuna.TrialPruned("duplicate of an earlier trial")
        try:
            metrics = _check_metrics(experiment.objective({**experiment.defaults, **chosen}, trial))
            if experiment.metric not in metrics:
                raise KeyError(
                    f"the objective returned no {experiment.metric!r} metric (it returned {sorted(metrics)})"
                )
            if not math.isfinite(metrics[experiment.metric]):
                raise FloatingPointError(f"{experiment.metric} is {metrics[experiment.metric]}")
        except Exception as exc:  # failed by itself: record why; study.optimize marks it FAIL
            if not isinstance(exc, optuna.TrialPruned):
                trial.set_user_attr("gl_error", f"{type(exc).__name__}: {exc}"[:1000])
            raise
        finally:
            trial.set_user_attr("gl_seconds", time.perf_counter() - start)
        for k, v in metrics.items():
            trial.set_user_attr(k, v)
        return metrics[experiment.metric]

    return objective


def _report(tag: str, metric: str):
    def callback(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        if t.user_attrs.get("gl_duplicate"):
            return
        shown = (
            f"{metric}={t.value:.4g}"
            if t.state == TrialState.COMPLETE
            else t.user_attrs.get("gl_error", "")[:200]
        )
        params = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
        print(
            f"{tag}trial {t.number:>4} {t.state.name:<8} {params}  {shown} "
            f"({t.user_attrs.get('gl_seconds', 0.0):.1f} s)",
            flush=True,
        )

    return callback


def run_worker(
    experiment: Experiment | str,
    *,
    storage: Any = DEFAULT_STORAGE,
    study: str | None = None,
    options: SweepOptions | None = None,
    worker: int = 0,
) -> dict[str, int]:
    """Run trials until none is left to start or running; returns counts by final state.

    While the queue is empty but other workers still run trials, wait: if one of them dies its
    trial is re-queued (at once for a local process, else after the grace period) and run here.
    """
    experiment, options = _arguments(experiment, study, options)
    worker = check_int("worker", worker, low=0)
    store = open_storage(storage, heartbeat=options.heartbeat)
    name = study or experiment.name
    optuna.load_study(study_name=name, storage=store).set_user_attr(f"gl_pid:{me()}", time.time())
    st = optuna.load_study(
        study_name=name,
        storage=store,
        pruner=make_pruner(options),
        sampler=make_sampler(experiment, options, worker),
    )
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}

    def tally(_study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        counts["duplicates"] = counts.get("duplicates", 0) + 1 if t.user_attrs.get("gl_duplicate") else 0
        if not t.user_attrs.get("gl_duplicate"):
            counts[t.state.name] += 1

    callbacks = [tally] + (
        [_report(f"[worker {worker}] " if options.workers > 1 else "", experiment.metric)]
        if options.verbose
        else []
    )
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    while (deadline is None or time.monotonic() < deadline) and counts.get("duplicates", 0) <= 10:
        if _work_left(st, experiment, options) > 0:
            try:
                st.optimize(
                    _objective(experiment, options), n_trials=1, catch=(Exception,), callbacks=callbacks
                )
            except UpdateFinishedTrialError:  # declared dead by another worker meanwhile: it was re-queued
                pass
            except KeyError:  # GridSampler.after_trial on a queued trial (no grid_id); the trial is stored
                pass
            except KeyboardInterrupt:  # give the interrupted trial back to the queue, then stop
                fail_dead(st, options.heartbeat, leaving=me())  # (Ctrl-C before the trial started)
                trials = st.get_trials(deepcopy=False)
                for t in trials:  # the trial study.optimize failed
                    if (
                        t.state == TrialState.FAIL
                        and t.user_attrs.get("gl_worker") == me()
                        and "gl_error" not in t.user_attrs
                        and t.number not in redone_numbers(trials)
                    ):
                        retry(st, t)
                raise
            continue
        if not st.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            break
        time.sleep(min(1.0, options.heartbeat / 2))
        fail_dead(st, options.heartbeat)
    counts.pop("duplicates", None)  # (10 in a row: a sampler that cannot find the missing point; stop)
    return counts


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state of the results table (REDONE = failed, then run again)."""
    trials = study.get_trials(deepcopy=False)
    redone, counts = redone_numbers(trials), {}
    for t in trials:
        if not t.user_attrs.get("gl_duplicate"):
            state = "REDONE" if t.number in redone else t.state.name
            counts[state] = counts.get(state, 0) + 1
    return counts
