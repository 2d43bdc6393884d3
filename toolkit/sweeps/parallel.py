"""``run_study``: prepare a study, then run it in this process or in N worker processes.

Workers are spawned processes, each running :func:`~toolkit.sweeps.engine.run_worker` on the same
storage. The parent watches them: when one dies (killed, out of memory), its running trial is
failed and re-queued at once, and the others pick it up. Each worker watches its parent: if the
parent dies (a kernel restart, the OOM killer), the worker gives its trial back and exits.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from .engine import SweepOptions, prepare_study, run_worker, study_counts
from .recovery import fail_dead
from .registry import Experiment, lookup
from .storage import DEFAULT_STORAGE, check_study_name, redact, storage_url

__all__ = ["run_study"]


def run_study(
    experiment: Experiment | str,
    *,
    storage: Any = DEFAULT_STORAGE,
    study: str | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    fixed: Mapping[str, Any] | None = None,
    search: str = "grid",
    n_trials: int | None = None,
    workers: int = 1,
    prune: bool = False,
    heartbeat: int = 10,
    timeout: float | None = None,
    seed: int = 0,
    threads: int | None = None,
    verbose: bool = True,
):
    """Run (or resume) a study and return its results as a DataFrame (see :func:`load_results`).

    ``grid`` replaces grid axes (e.g. ``{"seed": [0, 1, 2, 3]}``); ``fixed`` pins parameters.
    ``workers > 1`` starts that many processes (spawned; the experiment must be importable,
    i.e. its objective defined in a module, not in a notebook cell).
    Re-running the same call after a crash, a kill or Ctrl-C continues where it stopped.
    """
    from .results import load_results

    experiment = lookup(experiment, "experiment")
    check_study_name(study)
    for label, value in (("grid", grid), ("fixed", fixed)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(
                f"{label} must be None or a dict of parameter name -> value(s), got {type(value).__name__}"
            )
    if grid or fixed:
        experiment = experiment.with_options(grid=grid, fixed=fixed)
    options = SweepOptions(
        search=search,
        n_trials=n_trials,
        workers=workers,
        prune=prune,
        heartbeat=heartbeat,
        timeout=timeout,
        seed=seed,
        threads=threads,
        verbose=verbose,
    )
    url = storage.url if isinstance(storage, optuna.storages.RDBStorage) else storage_url(storage)
    name = study or experiment.name
    st = prepare_study(experiment, storage=url, study=name, options=options)
    if verbose:
        waiting = len(st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
        print(f"study {name!r} on {redact(url)}: {workers} worker(s), {waiting} queued trial(s)", flush=True)
    if workers == 1:
        if threads is not None:
            _set_threads(options)
        run_worker(experiment, storage=url, study=name, options=options)
    else:
        _run_parallel(experiment, url, name, options, st)
    if verbose:
        print(f"study {name!r}: {study_counts(st)}", flush=True)
    return load_results(url, name)


def _set_threads(options: SweepOptions) -> None:
    threads = options.threads or max(1, (os.cpu_count() or 1) // options.workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch when the objective imports it
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _leave_with_parent(heartbeat: int) -> None:
    """Block until the parent process ends, then stop this worker: Ctrl-C first (the running trial
    is failed and re-queued), a hard exit one heartbeat later if the trial does not let go."""
    mp.parent_process().join()
    signal.raise_signal(signal.SIGINT)
    time.sleep(heartbeat)
    os._exit(1)


def _worker_main(experiment: Experiment, url: str, study: str, options: SweepOptions, worker: int) -> None:
    threading.Thread(target=_leave_with_parent, args=(options.heartbeat,), daemon=True).start()
    _set_threads(options)
    try:
        run_worker(experiment, storage=url, study=study, options=options, worker=worker)
    except KeyboardInterrupt:
        sys.exit(130)


def _run_parallel(
    experiment: Experiment, url: str, name: str, options: SweepOptions, st: optuna.Study
) -> None:
    import pickle

    try:
        pickle.dumps(experiment)
    except Exception as exc:
        raise TypeError(
            f"workers > 1 needs an importable experiment (objective defined in a module, "
            f"not in a notebook cell or a lambda): {exc}"
        ) from exc
    ctx = mp.get_context("spawn")  # fork + torch threads can deadlock
    procs = [
        ctx.Process(target=_worker_main, args=(experiment, url, name, options, w))
        for w in range(options.workers)
    ]
    for p in procs:
        p.start()
    try:
        running = {p.sentinel: p for p in procs}
        while running:
            for sentinel in multiprocessing.connection.wait(list(running)):
                p = running.pop(sentinel)
                p.join()
                if p.exitcode:  # died inside a trial: fail and re-queue it now, the others run it
                    fail_dead(st, options.heartbeat)
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
        raise
    bad = [p.exitcode for p in procs if p.exitcode]
    states = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    left = st.get_trials(deepcopy=False, states=states)
    if bad and left:
        raise RuntimeError(f"{len(bad)} worker process(es) died (exit codes {bad}); re-run to resume")
