"""Run a study of an :class:`Experiment` on an Optuna storage, resumably and in parallel.

How trials are enumerated so that a crash never loses or repeats a finished trial:

* Every trial is *enqueued* before it runs (``study.enqueue_trial``), tagged with the key of its
  parameter set (grid search: one per grid point, in :func:`grid_points` order; adaptive search:
  ``n_trials`` empty placeholders whose parameters the sampler fills in when they start).
  Enqueueing happens under a study-wide lock built on the database's unique study names, so two
  machines starting the same study at once never enqueue a point twice.
* Workers *pop* waiting trials. Optuna moves WAITING → RUNNING with a row lock
  (``SELECT … FOR UPDATE``), so a trial is handed to exactly one worker.
* A running trial sends heartbeats. A worker that is killed stops sending them; after the grace
  period its trial is marked FAIL (Optuna's ``fail_stale_trials``) and its parameter set is
  enqueued again. Ctrl-C marks the running trial FAIL (``gl_interrupted``) the same way.
* A trial that *fails by itself* (an exception, a NaN metric) is recorded FAIL with the error in
  ``gl_error`` and is not retried: re-running the study does not repeat it.

So re-running the same command resumes: finished trials stay, the rest run.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import socket
import sys
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import DuplicatedStudyError, UpdateFinishedTrialError
from optuna.trial import TrialState

from ..validation import check_choice, check_int
from .registry import Experiment, get_experiment, grid_points, param_key, suggest

optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours

__all__ = ["DEFAULT_STORAGE", "SweepOptions", "storage_url", "open_storage", "prepare_study",
           "run_worker", "run_study", "study_counts"]

DEFAULT_STORAGE = "runs/sweeps.db"
RESERVED_PREFIX = "gl_"
RESERVED_NAMES = frozenset({"number", "state", "value", "seconds", "error", "worker"})
_LOCK_SUFFIX = ".gl-enqueue-lock"


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
        if self.threads is not None:
            self.threads = check_int("threads", self.threads, low=1, high=1024)
        if self.timeout is not None and not (isinstance(self.timeout, (int, float)) and self.timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {self.timeout!r}")


# -- storage -----------------------------------------------------------------------------------
def storage_url(storage: str | os.PathLike) -> str:
    """A database URL: URLs pass through; a plain path means a SQLite file (folders created)."""
    text = os.fspath(storage)
    if not isinstance(text, str) or not text:
        raise ValueError(f"storage must be a database URL or a file path, got {storage!r}")
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


_STORAGES: dict[tuple[str, int], optuna.storages.RDBStorage] = {}


def open_storage(storage: str | os.PathLike | optuna.storages.RDBStorage, *,
                 heartbeat: int = 10) -> optuna.storages.RDBStorage:
    """An Optuna ``RDBStorage`` with heartbeats, one per URL per process.

    SQLite gets a WAL journal (readers such as the dashboard do not block writers),
    ``synchronous=NORMAL`` (safe against a killed process, ~10x fewer disk syncs) and a 60 s
    lock timeout (several worker processes share the file).
    """
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage
    url = storage_url(storage)
    if (url, heartbeat) in _STORAGES:
        return _STORAGES[url, heartbeat]
    engine_kwargs: dict[str, Any] = {}
    sqlite = url.startswith("sqlite")
    if sqlite:
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with contextlib.closing(sqlite3.connect(path, timeout=60)) as con:
                con.execute("PRAGMA journal_mode=WAL")  # a property of the file: set once
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since v2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        store = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat,
                                           grace_period=3 * heartbeat)
    if sqlite:
        import sqlalchemy

        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        sqlalchemy.event.listen(store.engine, "connect", _pragmas)
        store.engine.dispose()  # reconnect with the pragma
    _STORAGES[url, heartbeat] = store
    return store


def _alive(holder: str) -> bool:
    """False only if ``host:pid`` names a process of this machine that no longer exists."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: only the time-out can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a killed process nobody has reaped yet is a zombie
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


@contextlib.contextmanager
def _study_lock(storage: optuna.storages.RDBStorage, study_name: str, *, stale_after: float = 30.0
                ) -> Iterator[None]:
    """Mutual exclusion across processes and machines: holding the lock = owning a study row
    named ``<study>.gl-enqueue-lock`` (study names are unique in every Optuna database).

    A holder that died leaves the row behind. It is removed (by id, so only one waiter can break
    it) at once if the holder was a process of this machine that no longer exists, otherwise
    after ``stale_after`` s of waiting on the same row.
    """
    name = study_name + _LOCK_SUFFIX
    me = f"{socket.gethostname()}:{os.getpid()}"
    waited_on, since = None, time.monotonic()
    while True:
        try:
            lock_id = storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], name)
            break
        except DuplicatedStudyError:
            try:
                holder = storage.get_study_id_from_name(name)
                who = storage.get_study_user_attrs(holder).get("holder")
            except KeyError:
                continue
            if holder != waited_on:
                waited_on, since = holder, time.monotonic()
            elif (who is not None and not _alive(who)) or time.monotonic() - since > stale_after:
                with contextlib.suppress(KeyError):
                    storage.delete_study(holder)
                continue
            time.sleep(0.05)
    try:
        storage.set_study_user_attr(lock_id, "holder", me)
        yield
    finally:
        with contextlib.suppress(KeyError):
            storage.delete_study(lock_id)


# -- study bookkeeping -------------------------------------------------------------------------
def _settled_or_pending(t: optuna.trial.FrozenTrial) -> bool:
    """True if this trial accounts for its parameter set (it needs no new trial)."""
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING):
        return True
    # FAIL: a genuine failure (error recorded) stays failed; an interrupted trial is redone.
    return t.state == TrialState.FAIL and "gl_error" in t.user_attrs


def _fail_stale(study: optuna.Study, storage: optuna.storages.RDBStorage) -> None:
    """Mark trials of dead workers FAIL (no heartbeat for the grace period)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    # _claim records a heartbeat before a trial turns RUNNING; a RUNNING trial without one (made by
    # another tool, or a claim interrupted inside the database) gets a generous delay.
    limit = max(300, 30 * (storage.heartbeat_interval or 10))
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if "gl_worker" not in t.user_attrs and t.datetime_start is not None:
            if (time.time() - t.datetime_start.timestamp()) > limit:
                with contextlib.suppress(UpdateFinishedTrialError):
                    storage.set_trial_state_values(t._trial_id, TrialState.FAIL)


def _enqueue_missing(study: optuna.Study, experiment: Experiment, options: SweepOptions) -> int:
    """Enqueue what is neither done, failed by itself, waiting nor running. Call under the lock."""
    trials = study.get_trials(deepcopy=False)
    accounted = [t for t in trials if _settled_or_pending(t)]
    if options.search == "grid":
        have = {t.user_attrs.get("gl_key") for t in accounted}
        todo = [p for p in grid_points(experiment.grid) if param_key(p) not in have]
        for point in todo:
            study.enqueue_trial(point, user_attrs={"gl_key": param_key(point)})
        return len(todo)
    target = options.n_trials or 20
    n_new = max(0, target - len(accounted))
    for _ in range(n_new):
        study.enqueue_trial({}, user_attrs={"gl_key": "adaptive"})
    return n_new


def _study_config(experiment: Experiment, options: SweepOptions) -> dict[str, Any]:
    return {
        "gl_experiment": experiment.name,
        "gl_metric": experiment.metric,
        "gl_search": options.search,
        "gl_defaults": _jsonable(dict(experiment.defaults)),
        "gl_grid": _jsonable({k: list(v) for k, v in experiment.grid.items()}),
        "gl_n_trials": options.n_trials,
    }


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _make_sampler(options: SweepOptions, worker: int) -> optuna.samplers.BaseSampler:
    if options.search == "grid":  # every value is enqueued; the sampler is never asked
        return optuna.samplers.RandomSampler(seed=options.seed)
    return optuna.samplers.TPESampler(seed=options.seed + worker, constant_liar=True,
                                      n_startup_trials=5)


def _make_pruner(options: SweepOptions) -> optuna.pruners.BasePruner:
    if not options.prune:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)


def prepare_study(experiment: Experiment | str, *, storage: Any = DEFAULT_STORAGE, study: str | None = None,
                  options: SweepOptions | None = None) -> optuna.Study:
    """Create or load the study, check it was made for the same experiment set-up, mark dead
    workers' trials FAIL and enqueue every missing trial. Safe to call from many processes."""
    experiment = get_experiment(experiment)
    options = options or SweepOptions()
    storage = open_storage(storage, heartbeat=options.heartbeat)
    name = study or experiment.name
    config = _study_config(experiment, options)
    with _study_lock(storage, name):
        st = optuna.create_study(storage=storage, study_name=name, direction=experiment.direction,
                                 load_if_exists=True, sampler=_make_sampler(options, 0),
                                 pruner=_make_pruner(options))
        old = st.user_attrs
        if "gl_experiment" in old:
            for key in ("gl_experiment", "gl_metric", "gl_search", "gl_defaults"):
                if old.get(key) != config[key]:
                    raise ValueError(
                        f"study {name!r} was created with {key[3:]}={old.get(key)!r}, not "
                        f"{config[key]!r}; resume it with the same settings or pick another --study name")
        if st.direction.name.lower() != experiment.direction:
            raise ValueError(f"study {name!r} has direction {st.direction.name.lower()}, "
                             f"the experiment wants {experiment.direction}")
        for key, value in config.items():  # the grid may grow (more seeds): keep the latest
            if old.get(key) != value:
                st.set_user_attr(key, value)
        _fail_stale(st, storage)
        _enqueue_missing(st, experiment, options)
    return st


# -- running trials ----------------------------------------------------------------------------
class _Heartbeat:
    """Record a heartbeat for one trial now and every ``interval`` s in a daemon thread."""

    def __init__(self, storage: optuna.storages.RDBStorage, trial_id: int, interval: float) -> None:
        self._stop = threading.Event()
        storage.record_heartbeat(trial_id)

        def beat() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(Exception):  # a missed beat is harmless; dying is not
                    storage.record_heartbeat(trial_id)

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _pop(study: optuna.Study, storage: optuna.storages.RDBStorage) -> optuna.Trial | None:
    """Claim one WAITING trial: WAITING → RUNNING for exactly one worker.

    PostgreSQL and MySQL make Optuna's state change atomic with a row lock (SELECT … FOR
    UPDATE). SQLite has no row locks and Python's sqlite3 reads outside the write transaction,
    so two processes can both see WAITING and both claim the trial: there the claim runs under
    the study lock.
    """
    if storage.url.startswith("sqlite"):
        with _study_lock(storage, study.study_name, stale_after=20.0):
            return _claim(study, storage)
    return _claim(study, storage)


def _claim(study: optuna.Study, storage: optuna.storages.RDBStorage) -> optuna.Trial | None:
    # read through the study so Optuna's trial cache knows the trial before we use it
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = frozen._trial_id
        # Heartbeat first: a worker killed right after the claim then leaves a RUNNING trial whose
        # heartbeat goes stale after the normal grace period (a beat on a WAITING trial is inert).
        storage.record_heartbeat(trial_id)
        try:
            if not storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                continue
        except UpdateFinishedTrialError:
            continue
        return optuna.Trial(study, trial_id)
    return None


def _check_metrics(metrics: Any) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"the objective must return a dict of metrics, got {type(metrics).__name__}")
    out = {}
    for k, v in metrics.items():
        if not isinstance(k, str) or k.startswith(RESERVED_PREFIX) or k in RESERVED_NAMES:
            raise ValueError(f"metric names must be strings, not starting with {RESERVED_PREFIX!r} and not "
                             f"one of {sorted(RESERVED_NAMES)} (results columns); got {k!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise TypeError(f"metric {k!r} must be a number, got {v!r}")
        out[k] = float(v)
    return out


def _format(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def _run_trial(experiment: Experiment, study: optuna.Study, trial: optuna.Trial,
               storage: optuna.storages.RDBStorage, options: SweepOptions, tag: str) -> TrialState:
    beat = _Heartbeat(storage, trial._trial_id, options.heartbeat)
    start = time.perf_counter()
    state, shown = TrialState.FAIL, ""
    try:
        trial.set_user_attr("gl_worker", f"{socket.gethostname()}:{os.getpid()}")
        try:
            names = experiment.grid if options.search == "grid" else experiment.space
            chosen = {name: suggest(trial, name, experiment.space[name]) for name in names}
            metrics = _check_metrics(experiment.objective({**experiment.defaults, **chosen}, trial))
            if experiment.metric not in metrics:
                raise KeyError(f"the objective returned no {experiment.metric!r} metric "
                               f"(it returned {sorted(metrics)})")
            for k, v in metrics.items():
                trial.set_user_attr(k, v)
            value = metrics[experiment.metric]
            if not math.isfinite(value):
                raise FloatingPointError(f"{experiment.metric} is {value}")
        except optuna.TrialPruned as exc:
            trial.set_user_attr("gl_seconds", time.perf_counter() - start)
            study.tell(trial, state=TrialState.PRUNED)
            state, shown = TrialState.PRUNED, str(exc)
        except (KeyboardInterrupt, SystemExit):
            trial.set_user_attr("gl_interrupted", True)
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as exc:  # the trial failed by itself: record why, keep the study going
            trial.set_user_attr("gl_error", f"{type(exc).__name__}: {exc}"[:1000])
            trial.set_user_attr("gl_seconds", time.perf_counter() - start)
            study.tell(trial, state=TrialState.FAIL)
            shown = f"{type(exc).__name__}: {exc}"[:200]
        else:
            trial.set_user_attr("gl_seconds", time.perf_counter() - start)
            study.tell(trial, value)
            state = TrialState.COMPLETE
            shown = f"{experiment.metric}={value:.4g}"
    except UpdateFinishedTrialError:
        # another worker declared this trial dead (no heartbeat for too long) and re-enqueued it
        state, shown = TrialState.FAIL, "declared dead by another worker; result dropped"
    finally:
        beat.stop()
    if options.verbose:
        print(f"{tag}trial {trial.number:>4} {state.name:<8} {_format(trial.params)}  {shown} "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
    return state


def run_worker(experiment: Experiment | str, *, storage: Any = DEFAULT_STORAGE, study: str | None = None,
               options: SweepOptions | None = None, worker: int = 0) -> dict[str, int]:
    """Pop and run trials until none is waiting or running; returns counts by final state.

    When the queue is empty but other workers still run trials, wait: if one of them dies its
    trial is re-enqueued after the grace period and this worker runs it.
    """
    experiment = get_experiment(experiment)
    options = options or SweepOptions()
    storage = open_storage(storage, heartbeat=options.heartbeat)
    name = study or experiment.name
    st = optuna.load_study(study_name=name, storage=storage, sampler=_make_sampler(options, worker),
                           pruner=_make_pruner(options))
    tag = f"[worker {worker}] " if options.workers > 1 else ""
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
    deadline = None if options.timeout is None else time.monotonic() + options.timeout
    while deadline is None or time.monotonic() < deadline:
        trial = None
        try:
            trial = _pop(st, storage)
            if trial is not None:
                counts[_run_trial(experiment, st, trial, storage, options, tag).name] += 1
                continue
        except KeyboardInterrupt:
            # Ctrl-C between claiming a trial and starting it: give the trial back for the resume
            if trial is not None and storage.get_trial(trial._trial_id).state == TrialState.RUNNING:
                with contextlib.suppress(UpdateFinishedTrialError):
                    storage.set_trial_user_attr(trial._trial_id, "gl_interrupted", True)
                    storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            raise
        with _study_lock(storage, name):
            _fail_stale(st, storage)
            added = _enqueue_missing(st, experiment, options)
        if added:
            continue
        if not st.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            break
        time.sleep(min(1.0, options.heartbeat / 2))
    return counts


def _set_threads(options: SweepOptions) -> None:
    threads = options.threads or max(1, (os.cpu_count() or 1) // options.workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch when the objective imports it
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def _worker_main(experiment: Experiment, url: str, study: str, options: SweepOptions, worker: int,
                 results: Any) -> None:
    try:
        _set_threads(options)
        results.put((worker, run_worker(experiment, storage=url, study=study, options=options,
                                        worker=worker)))
    except KeyboardInterrupt:
        results.put((worker, "interrupted"))


def study_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state."""
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def run_study(experiment: Experiment | str, *, storage: Any = DEFAULT_STORAGE, study: str | None = None,
              grid: Mapping[str, Sequence[Any]] | None = None, fixed: Mapping[str, Any] | None = None,
              search: str = "grid", n_trials: int | None = None, workers: int = 1, prune: bool = False,
              heartbeat: int = 10, timeout: float | None = None, seed: int = 0,
              threads: int | None = None, verbose: bool = True):
    """Run (or resume) a study and return its results as a DataFrame (see :func:`load_results`).

    ``grid`` replaces grid axes (e.g. ``{"seed": [0, 1, 2, 3]}``); ``fixed`` pins parameters.
    ``workers > 1`` starts that many processes (spawned; the experiment must be importable,
    i.e. its objective defined in a module, not in a notebook cell).
    Re-running the same call after a crash or Ctrl-C continues where it stopped.
    """
    from .results import load_results

    experiment = get_experiment(experiment)
    if grid or fixed:
        experiment = experiment.with_options(grid=grid, fixed=fixed)
    options = SweepOptions(search=search, n_trials=n_trials, workers=workers, prune=prune,
                           heartbeat=heartbeat, timeout=timeout, seed=seed, threads=threads,
                           verbose=verbose)
    url = storage_url(storage) if not isinstance(storage, optuna.storages.RDBStorage) else storage.url
    name = study or experiment.name
    st = prepare_study(experiment, storage=url, study=name, options=options)
    if verbose:
        waiting = len(st.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
        print(f"study {name!r} on {_redact(url)}: {waiting} trial(s) to run, {workers} worker(s)",
              flush=True)
    if workers == 1:
        if threads is not None:
            _set_threads(options)
        run_worker(experiment, storage=url, study=name, options=options)
    else:
        _run_parallel(experiment, url, name, options)
    if verbose:
        print(f"study {name!r}: {study_counts(st)}", flush=True)
    return load_results(url, name)


def _run_parallel(experiment: Experiment, url: str, name: str, options: SweepOptions) -> None:
    import pickle

    try:
        pickle.dumps(experiment)
    except Exception as exc:
        raise TypeError(f"workers > 1 needs an importable experiment (objective defined in a module, "
                        f"not in a notebook cell or a lambda): {exc}") from exc
    ctx = mp.get_context("spawn")  # fork + torch threads can deadlock
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker_main, args=(experiment, url, name, options, w, results))
             for w in range(options.workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        for p in procs:
            p.join(timeout=30)
        raise
    bad = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if bad:
        raise RuntimeError(f"{len(bad)} worker process(es) died (exit codes {bad}); re-run to resume")


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
