"""Where studies live: an Optuna ``RDBStorage`` (a SQLite file by default, any database URL).

Dead-worker recovery is Optuna's: ``RDBStorage(heartbeat_interval=h, grace_period=3h,
heartbeat_stale_trial_callback=...)`` fails a trial whose heartbeat is older than 3h and the
callback (``RetryHeartbeatStaleTrialCallback``) queues it again with the same parameters.
SQLite needs two precautions for several processes: tables created under a file lock, and
transactions that take the write lock at their start (see :func:`_serialize_sqlite`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback

from ..validation import check_int

# heartbeats and the retry callback are "experimental" in Optuna (since v2.8/v2.9)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

__all__ = ["DEFAULT_STORAGE", "RETRY", "storage_url", "open_storage", "redact", "check_study_name"]

DEFAULT_STORAGE = "runs/sweeps.db"
RETRY = RetryHeartbeatStaleTrialCallback(max_retry=3)  # a trial that kills its worker 4 times stays FAIL


def retry(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a failed trial again with its parameters (Optuna's retry callback), minus the dead
    worker's name: the retry must not look like a trial of that dead process."""
    trial = copy.deepcopy(trial)
    trial.user_attrs = {k: v for k, v in trial.user_attrs.items() if k != "gl_worker"}
    RETRY(study, trial)


# -- storage -----------------------------------------------------------------------------------
def storage_url(storage: str | os.PathLike) -> str:
    """A database URL: URLs pass through; a plain path means a SQLite file (folders created)."""
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(f"storage must be a database URL or a file path, got {type(storage).__name__}")
    text = os.fspath(storage)
    if not isinstance(text, str) or not text:
        raise ValueError(f"storage must be a database URL or a file path, got {storage!r}")
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@contextlib.contextmanager
def _file_lock(path: str):
    """Hold an exclusive lock on ``path`` (released by the kernel even if this process is killed)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; a SQLite study there is used by one process at a time
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _serialize_sqlite(engine: Any) -> None:
    """Make every SQLite transaction take the write lock at its start (``BEGIN IMMEDIATE``).

    Python's sqlite3 otherwise starts a transaction only at the first write, so two processes
    can both read a trial as WAITING and both claim it. SQLAlchemy's documented pysqlite recipe.
    """
    import sqlalchemy

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit BEGIN: we issue our own
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, far fewer disk syncs

    sqlalchemy.event.listen(engine, "connect", on_connect)
    sqlalchemy.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    engine.dispose()  # reconnect with the listeners


_STORAGES: dict[tuple[str, int], optuna.storages.RDBStorage] = {}


def open_storage(storage: Any, *, heartbeat: int = 10) -> optuna.storages.RDBStorage:
    """An Optuna ``RDBStorage`` with heartbeats and retry of dead workers' trials (one per URL).

    A SQLite file gets a WAL journal (readers do not block writers), a 60 s lock timeout, and its
    tables are created under a file lock (``<file>.lock``) so processes starting together on a
    new file do not race.
    """
    heartbeat = check_int("heartbeat", heartbeat, low=1, high=3600)
    if isinstance(storage, optuna.storages.RDBStorage):
        return storage
    url = storage_url(storage)
    if (url, heartbeat) in _STORAGES:
        return _STORAGES[url, heartbeat]
    path = url.split(":///", 1)[1] if url.startswith("sqlite:///") else ""
    kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    )
    with _file_lock(path + ".lock") if path and path != ":memory:" else contextlib.nullcontext():
        if path and path != ":memory:":
            import sqlite3

            with contextlib.closing(sqlite3.connect(path, timeout=60)) as con:
                con.execute("PRAGMA journal_mode=WAL")  # a property of the file: set once
        store = optuna.storages.RDBStorage(
            url,
            engine_kwargs=kwargs,
            heartbeat_interval=heartbeat,
            grace_period=3 * heartbeat,
            heartbeat_stale_trial_callback=retry,
        )
    if url.startswith("sqlite"):
        _serialize_sqlite(store.engine)
    _STORAGES[url, heartbeat] = store
    return store


def check_study_name(study: Any) -> None:
    """A study name given by the caller: None (the experiment's name) or a non-empty string."""
    if study is not None and (not isinstance(study, str) or not study):
        raise TypeError(f"study must be None or a non-empty study name, got {study!r}")


def redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
