"""The ready-made studies (tracking λ × seeds, feedback rule × width × seeds, diffusion sampler ×
NFE): each, at a tiny size, is started from the command line, killed with SIGKILL after its first
finished trial, and resumed; every grid point must end COMPLETE exactly once, the trials finished
before the kill untouched, and a resumed trial's metrics equal a direct call of the objective
(the runs are seeded, so the numbers repeat exactly). The three run side by side to share the
start-up time. Also: the shipped default results are complete and consistent with their grid.
"""

from __future__ import annotations

import collections
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from toolkit import sweeps
from toolkit.sweeps.registry import grid_points, param_key

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "feedback-rules": (
        ["--grid", "rule=bp,rbp,srbp", "--grid", "width=16", "--grid", "seed=0"],
        {"epochs": 2},
    ),
    "tracking-lambda": (
        ["--grid", "lam=0.01,0.1,1", "--grid", "seed=0"],
        {"epochs": 1, "n_train": 24, "n_test": 12, "n_points": 3},
    ),
    "diffusion-nfe": (
        ["--grid", "method=euler,heun", "--grid", "nfe=8,16", "--grid", "seed=0"],
        {"members": 4, "n_cases": 8},
    ),
}


def _n_complete(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _experiment(name: str):
    grid_args, fixed = TINY[name]
    grid = {}
    for i in range(1, len(grid_args), 2):
        k, v = grid_args[i].split("=")
        exp = sweeps.get_experiment(name)
        grid[k] = [
            type(exp.grid[k][0])(x) if not isinstance(exp.grid[k][0], str) else x for x in v.split(",")
        ]
    return sweeps.get_experiment(name).with_options(grid=grid, fixed=fixed)


@pytest.mark.slow
def test_ready_made_studies_run_killed_and_resumed(tmp_path):
    names = list(TINY)  # every topic is part of the package: a broken one fails here, never skips
    procs = {}
    for name in names:
        grid_args, fixed = TINY[name]
        sets = [a for k, v in fixed.items() for a in ("--set", f"{k}={v}")]
        cmd = [
            sys.executable,
            "-m",
            "toolkit.sweeps",
            name,
            "--storage",
            str(tmp_path / f"{name}.db"),
            *grid_args,
            *sets,
            "--heartbeat",
            "1",
            "--threads",
            "1",
            "--quiet",
        ]
        procs[name] = subprocess.Popen(
            cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    before = {}
    try:
        pending, deadline = set(names), time.monotonic() + 240
        while pending:
            assert time.monotonic() < deadline, f"no trial finished in time: {pending}"
            for name in list(pending):
                p = procs[name]
                if _n_complete(tmp_path / f"{name}.db") >= 1:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                    pending.discard(name)
                elif p.poll() is not None:
                    raise AssertionError(f"{name} exited early: {p.stderr.read().decode()[-3000:]}")
            time.sleep(0.05)
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    for name in names:
        db = tmp_path / f"{name}.db"
        exp = _experiment(name)
        trials = optuna.load_study(study_name=name, storage=sweeps.open_storage(db)).get_trials()
        before = {t.number: (t.value, t.datetime_complete) for t in trials if t.state.name == "COMPLETE"}
        n_points = len(grid_points(exp.grid))
        assert 1 <= len(before) < n_points, f"{name}: the kill did not land mid-way ({len(before)} done)"
        df = sweeps.run_study(exp, storage=db, study=name, heartbeat=1, verbose=False)
        after = optuna.load_study(study_name=name, storage=sweeps.open_storage(db)).get_trials()
        done = collections.Counter(t.user_attrs["gl_key"] for t in after if t.state.name == "COMPLETE")
        assert set(done) == {param_key(p) for p in grid_points(exp.grid)} and set(done.values()) == {1}, name
        for t in after:
            if t.number in before:
                assert (t.value, t.datetime_complete) == before[t.number], f"{name}: trial {t.number} re-run"
        # a resumed trial's numbers are those of a direct, independent call of the objective
        last = df[df.state == "COMPLETE"].iloc[-1]
        direct = exp.run(**{k: _py(last[k]) for k in exp.grid})
        for metric, value in direct.items():
            if metric == "sample_seconds":
                continue
            assert math.isclose(last[metric], value, rel_tol=1e-9, abs_tol=1e-12) or (
                math.isnan(value) and math.isnan(last[metric])
            ), (name, metric, last[metric], value)
        assert df.attrs["metric"] == exp.metric and df[df.state == "COMPLETE"][exp.metric].notna().all()
        killed = df[df.state != "COMPLETE"]  # the trial running at the kill, if any: failed, then redone
        assert (killed.state == "REDONE").all() and killed.error.str.startswith("interrupted").all()


def _py(value):
    return value.item() if hasattr(value, "item") else value


def _shipped():
    folder = sweeps.results.DATASET_DIR
    return (
        sorted(p.stem for p in folder.glob("*.csv") if not p.stem.endswith("-summary"))
        if folder.is_dir()
        else []
    )


@pytest.mark.parametrize("name", _shipped() or ["(none shipped)"])
def test_shipped_results_are_complete(name):
    if name == "(none shipped)":
        pytest.skip("datasets/sweeps holds no results yet")
    df = sweeps.load_shipped(name)
    meta = json.loads((sweeps.results.DATASET_DIR / f"{name}.json").read_text())
    assert meta["command"].startswith("python -m toolkit")
    exp = sweeps.get_experiment(meta["experiment"])
    grid = meta["grid"]
    assert len(df) == len(grid_points(grid)) and (df.state == "COMPLETE").all()
    assert {param_key({k: _py(row[k]) for k in grid}) for _, row in df.iterrows()} == {
        param_key(p) for p in grid_points(grid)
    }
    assert df[exp.metric].notna().all()
    summary = sweeps.summarize(df, by=[k for k in grid if k != "seed"])
    assert summary["n"].sum() == len(df)


def test_the_diffusion_declaration_lists_every_sampler():
    """The study declaration writes the sampler list out (so reading it does not import torch): it must
    stay the samplers' own list."""
    from toolkit.diffusion import sweep
    from toolkit.diffusion.samplers import METHODS

    assert tuple(sweep.METHODS) == tuple(METHODS)
    assert tuple(sweep.experiment()["space"]["method"].choices) == tuple(METHODS)
