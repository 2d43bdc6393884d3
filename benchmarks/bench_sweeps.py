"""Sweep engine timings on this machine (toy objective, SQLite storage), printed, never asserted.

    python benchmarks/bench_sweeps.py [--trials 40] [--delay 0.2] [--heartbeat 10]

Prints:
* bookkeeping per trial (an objective that returns at once: claim, heartbeat, metrics, tell);
* wall time of the same grid of ``delay``-second trials with 1 and 2 worker processes;
* resume after SIGKILL: a 2-worker run of 12 trials of 0.6 s is killed (parent and workers)
  mid-way, then resumed with the default heartbeat; the seconds the resume takes, against the
  time of the trials left (Optuna's heartbeat alone would first wait 3 heartbeats = 30 s);
* orphaned workers: SIGKILL of the parent of a 2-worker run only; seconds until both workers
  are gone, in heartbeats (the acceptance bound is 2);
* ``--kills 10``: a 30-point 2-worker study SIGKILLed 10 times (each time 2 more trials done and
  one running), then finished; how many points COMPLETE, and how often each objective ran to its end.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from toolkit import sweeps

ROOT = Path(__file__).resolve().parents[1]


def _cmd(db: Path, workers: int, delay: float, heartbeat: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit.sweeps",
        "toy",
        "--storage",
        str(db),
        "--study",
        "k",
        "--grid",
        "x=-1,-0.5,0,0.25,0.5,1",
        "--grid",
        "seed=0,1",
        "--set",
        f"delay={delay}",
        "--workers",
        str(workers),
        "--heartbeat",
        str(heartbeat),
        "--quiet",
    ]


def _trials(db: Path) -> list[optuna.trial.FrozenTrial]:
    try:
        return optuna.load_study(study_name="k", storage=sweeps.open_storage(db)).get_trials()
    except Exception:  # not created yet
        return []


def _wait(pred, timeout: float = 300) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise TimeoutError
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # an unreaped zombie is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def resume_after_kill(tmp: Path, heartbeat: int) -> None:
    db = tmp / "kill.db"
    proc = subprocess.Popen(
        _cmd(db, 2, 0.6, heartbeat),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait(
        lambda: (
            sum(t.state.name == "COMPLETE" for t in _trials(db)) >= 4
            and any(t.state.name == "RUNNING" for t in _trials(db))
        )
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    left = sum(t.state.name != "COMPLETE" for t in _trials(db)) + 12 - len(_trials(db))
    exp = sweeps.get_experiment("toy").with_options(fixed={"delay": 0.6})
    start = time.perf_counter()
    df = sweeps.run_study(
        exp,
        storage=db,
        study="k",
        grid={"x": [-1, -0.5, 0, 0.25, 0.5, 1], "seed": [0, 1]},
        heartbeat=heartbeat,
        verbose=False,
    )
    wall = time.perf_counter() - start
    print(
        f"resume after SIGKILL (heartbeat {heartbeat} s): {wall:.1f} s for ~{left} trial(s) of 0.6 s left "
        f"(1 worker: >= {0.6 * left:.1f} s of trials); states {df.state.value_counts().to_dict()}"
    )


def orphans(tmp: Path, heartbeat: int) -> None:
    db = tmp / "orphans.db"
    proc = subprocess.Popen(
        _cmd(db, 2, 5.0, heartbeat),
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = lambda: [t for t in _trials(db) if t.state.name == "RUNNING" and "gl_worker" in t.user_attrs]  # noqa: E731
    _wait(lambda: len(running()) == 2)
    pids = [int(t.user_attrs["gl_worker"].rsplit(":", 1)[1]) for t in running()]
    os.kill(proc.pid, signal.SIGKILL)
    start = time.perf_counter()
    proc.wait()
    _wait(lambda: all(_gone(p) for p in pids), 10 * heartbeat)
    gone = time.perf_counter() - start
    print(
        f"orphaned workers gone {gone:.2f} s after the parent's SIGKILL = {gone / heartbeat:.2f} heartbeats; "
        f"their trials: {sorted(t.state.name for t in _trials(db) if t.state.name != 'COMPLETE')}"
    )


def repeated_kills(tmp: Path, kills: int, heartbeat: int) -> None:
    import collections

    db, log = tmp / "kills.db", tmp / "kills.log"
    cmd = _cmd(db, 2, 0.3, heartbeat)
    cmd[cmd.index("x=-1,-0.5,0,0.25,0.5,1")] = "x=" + ",".join(str(round(-1 + i / 7, 4)) for i in range(15))
    cmd += ["--set", f"log={log}"]
    done = lambda: sum(t.state.name == "COMPLETE" for t in _trials(db))  # noqa: E731
    for _ in range(kills):
        before = done()
        proc = subprocess.Popen(
            cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait(  # the predicate is used within this iteration: bind its loop variables now
            lambda proc=proc, before=before: (
                proc.poll() is not None
                or (done() >= before + 2 and any(t.state.name == "RUNNING" for t in _trials(db)))
            )
        )
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    df = sweeps.load_results(db, "k")
    ran = collections.Counter(line for line in log.read_text().splitlines() if line)
    print(
        f"{kills} SIGKILLs of a 30-point study: {(df.state == 'COMPLETE').sum()} points COMPLETE, states "
        f"{df.state.value_counts().to_dict()}; objective runs to the end per point "
        f"{dict(collections.Counter(ran.values()))} "
        "(2 = killed after its objective, before its result was stored)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--heartbeat", type=int, default=10)
    parser.add_argument("--kills", type=int, default=0, help="also run the repeated-SIGKILL check")
    args = parser.parse_args()
    grid = {"x": [round(-1 + 2 * i / (args.trials - 1), 6) for i in range(args.trials)], "seed": [0]}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        exp = sweeps.get_experiment("toy")
        start = time.perf_counter()
        sweeps.run_study(exp, storage=db, study="overhead", grid=grid, verbose=False)
        overhead = (time.perf_counter() - start) / args.trials
        print(f"bookkeeping per trial (SQLite, 1 worker): {1000 * overhead:.1f} ms")
        slow = exp.with_options(fixed={"delay": args.delay})
        for workers in (1, 2):
            start = time.perf_counter()
            sweeps.run_study(slow, storage=db, study=f"w{workers}", grid=grid, workers=workers, verbose=False)
            wall = time.perf_counter() - start
            ideal = args.trials * args.delay / workers
            print(
                f"{args.trials} trials of {args.delay:.2f} s, {workers} worker(s): {wall:.1f} s "
                f"(ideal {ideal:.1f} s)"
            )
        resume_after_kill(Path(tmp), args.heartbeat)
        orphans(Path(tmp), args.heartbeat)
        if args.kills:
            repeated_kills(Path(tmp), args.kills, args.heartbeat)


if __name__ == "__main__":
    main()
