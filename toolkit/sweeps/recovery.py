"""Which trial accounts for which grid point, and recovery of trials whose worker is gone.

A worker names itself on each trial it runs (``gl_worker = host:pid``) and on the study when it
starts (``gl_pid:host:pid``). A RUNNING trial of a process of this machine that no longer exists
is failed and queued again at once; trials of other machines wait for Optuna's heartbeat grace
period (``fail_stale_trials``), whose callback queues them again too.
"""

from __future__ import annotations

import os
import socket
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from .storage import RETRY, retry

__all__ = ["me", "redone_numbers", "claims", "fail_dead"]


def me() -> str:
    """This process as ``host:pid`` (the ``gl_worker`` of the trials it runs)."""
    return f"{socket.gethostname()}:{os.getpid()}"


# -- study bookkeeping -------------------------------------------------------------------------
def redone_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of failed trials that were queued again (their retry carries the result)."""
    return {n for t in trials for n in RETRY.retry_history(t)}


def claims(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    """Grid point key → lowest number of a trial that accounts for it (every trial but hidden
    duplicates and failed trials that were queued again: their retry accounts for the point)."""
    redone, out = redone_numbers(trials), {}
    for t in sorted(trials, key=lambda t: t.number):
        key = t.user_attrs.get("gl_key")
        if key and key not in out and not t.user_attrs.get("gl_duplicate") and t.number not in redone:
            out[key] = t.number
    return out


def _fail(study: optuna.Study, number: int) -> None:
    """Fail a RUNNING trial and queue it again (the retry keeps its parameters)."""
    frozen = [t for t in study.get_trials(deepcopy=True) if t.number == number][0]
    try:
        study.tell(number, state=TrialState.FAIL)
    except RuntimeError:  # GridSampler.after_trial calls study.stop(), allowed only inside optimize
        pass
    except (UpdateFinishedTrialError, ValueError):  # it finished meanwhile: its worker is alive
        return
    retry(study, frozen)


def fail_dead(study: optuna.Study, heartbeat: int, leaving: str = "") -> None:
    """Fail and re-queue trials of workers that are gone: at once for processes of this machine
    that no longer exist, after 3 silent heartbeats for the others (Optuna's ``fail_stale_trials``).

    A trial killed between its claim and its first line (no ``gl_worker`` yet) is failed at once
    if no registered worker of the study can still be alive (see :func:`run_worker`).
    """
    dead = lambda who: who == leaving or _dead(who)  # noqa: E731  (``leaving``: this worker, stopping)
    workers = {k[len("gl_pid:") :]: since for k, since in study.user_attrs.items() if k.startswith("gl_pid:")}
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = t.user_attrs.get("gl_worker")
        started = t.datetime_start.timestamp() if t.datetime_start else time.time()
        # an unnamed trial can belong only to a worker that had started before it (1 s: clock slack)
        owner_alive = any(since < started + 1 and not dead(w) for w, since in workers.items())
        silent = time.time() - started > max(300, 30 * heartbeat)
        if (who and dead(who)) or (not who and (not owner_alive or silent)):
            _fail(study, t.number)
    optuna.storages.fail_stale_trials(study)


def _dead(worker: str) -> bool:
    """True only if ``host:pid`` names a process of this machine that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: only its heartbeats can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process
        return False
    try:  # killed but not yet reaped by whoever adopted it (a zombie) is dead too
        import psutil  # (comes with jupyterlab, through ipykernel)

        return psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
    except Exception:  # no psutil (then the heartbeats decide), or it was reaped meanwhile
        return False
