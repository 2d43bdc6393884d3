"""toolkit.sweeps engine: registry, grid enumeration, failures, resume after SIGKILL and Ctrl-C,
parallel workers (exactly once), adaptive search, pruning through Lightning, results, CLI, dashboard.

The toy experiment writes each parameter set that reaches the end of its objective to a log file
(one O_APPEND write per line): an independent record, besides the database, of what really ran.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import optuna
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from toolkit import sweeps
from toolkit.sweeps import engine
from toolkit.sweeps.registry import Experiment, check_value, grid_points, param_key

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _toy(**fixed):
    return sweeps.get_experiment("toy").with_options(fixed=fixed)


def _log_counts(path: Path) -> collections.Counter:
    if not path.exists():
        return collections.Counter()
    return collections.Counter(line for line in path.read_text().splitlines() if line)


def _db_trials(db: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=engine.open_storage(db)).get_trials()


# -- registry ------------------------------------------------------------------------------------
def test_grid_points_order_and_keys():
    pts = grid_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert pts == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
                   {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]
    assert param_key({"b": 1, "a": 0.5}) == param_key({"a": 0.5, "b": 1}) == '{"a":0.5,"b":1}'


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from("abcd"), st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True),
                       min_size=1, max_size=4))
def test_grid_points_is_the_full_product_without_repeats(grid):
    pts = grid_points(grid)
    n = 1
    for v in grid.values():
        n *= len(v)
    assert len(pts) == n == len({param_key(p) for p in pts})
    assert all(p[k] in grid[k] for p in pts for k in grid)


def test_experiment_validation_names_the_parameter():
    space = {"lr": FloatDistribution(1e-4, 1.0, log=True), "rule": CategoricalDistribution(["bp", "rbp"]),
             "seed": IntDistribution(0, 10)}
    ok = Experiment("e", lambda p, t: {"m": 1.0}, space, {"rule": ["bp"], "seed": [0, 1]}, "m",
                    defaults={"lr": 0.01})
    with pytest.raises(ValueError, match="rule must be one of"):
        ok.with_options(grid={"rule": ["bp", "nope"]})
    with pytest.raises(ValueError, match="lr must be a number in"):
        ok.with_options(grid={"lr": [0.01, 5.0]})
    with pytest.raises(ValueError, match="unknown parameter"):
        ok.with_options(fixed={"nope": 1})
    with pytest.raises(ValueError, match="grid parameter 'width'"):
        Experiment("e", lambda p, t: {}, space, {"width": [1]}, "m", defaults={"lr": 0.01})
    with pytest.raises(ValueError, match="need a default"):
        Experiment("e", lambda p, t: {}, space, {"rule": ["bp"]}, "m")
    with pytest.raises(ValueError, match="repeated"):
        ok.with_options(grid={"seed": [1, 1]})
    with pytest.raises(ValueError, match="direction"):
        Experiment("e", lambda p, t: {}, space, {"rule": ["bp"], "seed": [0]}, "m", "up", defaults={"lr": 0.1})
    with pytest.raises(TypeError, match="seed must be an integer"):
        check_value("seed", 1.5, space["seed"])
    with pytest.raises(ValueError, match="results columns"):
        engine._check_metrics({"seconds": 1.0})  # would clash with the results table's column
    with pytest.raises(TypeError, match="must be a number"):
        engine._check_metrics({"acc": "high"})
    assert engine._check_metrics({"acc": 1}) == {"acc": 1.0}
    pinned = ok.with_options(fixed={"rule": "rbp"})
    assert "rule" not in pinned.grid and "rule" not in pinned.space and pinned.defaults["rule"] == "rbp"
    with pytest.raises(ValueError, match="experiment must be one of"):
        sweeps.get_experiment("no-such-experiment")


# -- running, failures, resume -------------------------------------------------------------------
def test_failures_are_recorded_and_not_rerun(tmp_path):
    log = tmp_path / "log.txt"
    exp = _toy(fail_above=0.7, nan_below=-0.7, log=str(log))
    db = tmp_path / "s.db"
    df = sweeps.run_study(exp, storage=db, study="f", grid={"x": [-1.0, 0.0, 0.5, 1.0], "seed": [0, 1]},
                          verbose=False)
    assert len(df) == 8
    by_x = df.groupby("x")["state"].apply(set).to_dict()
    assert by_x == {-1.0: {"FAIL"}, 0.0: {"COMPLETE"}, 0.5: {"COMPLETE"}, 1.0: {"FAIL"}}
    errors = df.set_index("x")["error"]
    assert errors.loc[1.0].str.contains("ValueError: x must be at most fail_above").all()
    assert errors.loc[-1.0].str.contains("FloatingPointError: loss is nan").all()
    # the complete trials hold the analytic value
    import numpy as np
    done = df[df.state == "COMPLETE"]
    eps = {s: np.random.default_rng(s).standard_normal() for s in (0, 1)}
    expect = [(x - 0.5) ** 2 + 0.1 * eps[s] for x, s in zip(done.x, done.seed)]
    np.testing.assert_allclose(done.loss, expect, rtol=1e-12)
    np.testing.assert_allclose(done.value, done.loss)
    # re-running neither repeats finished trials nor retries genuine failures
    again = sweeps.run_study(exp, storage=db, study="f", grid={"x": [-1.0, 0.0, 0.5, 1.0], "seed": [0, 1]},
                             verbose=False)
    assert len(again) == 8 and list(again.number) == list(df.number)
    # (NaN trials reach the end of the objective, so they are in the log; ValueError ones are not)
    assert all(c == 1 for c in _log_counts(log).values()) and len(_log_counts(log)) == 6
    # growing the grid runs only the new points; changing a pinned value is refused
    more = sweeps.run_study(exp, storage=db, study="f", grid={"x": [-1.0, 0.0, 0.5, 1.0], "seed": [0, 1, 2]},
                            verbose=False)
    assert len(more) == 12 and (more.number[:8] == df.number).all()
    assert len(_log_counts(log)) == 9 and max(_log_counts(log).values()) == 1
    with pytest.raises(ValueError, match="defaults"):
        sweeps.run_study(_toy(fail_above=0.9), storage=db, study="f", verbose=False)


def _wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _n_complete(db: Path, study: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
            return con.execute(
                "SELECT COUNT(*) FROM trials JOIN studies USING (study_id) "
                "WHERE studies.study_name = ? AND trials.state = 'COMPLETE'", (study,)).fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


GRID = {"x": [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0], "seed": [0, 1]}
SMALL = {"x": [0.0, 0.5, 1.0], "seed": [0, 1]}


def _sweep_cmd(db, log, workers, delay, grid=GRID):
    return [PYTHON, "-m", "toolkit.sweeps", "toy", "--storage", str(db), "--study", "r",
            "--grid", "x=" + ",".join(map(str, grid["x"])), "--grid", "seed=0,1",
            "--set", f"delay={delay}", "--set", f"log={log}", "--heartbeat", "1", "--workers", str(workers),
            "--quiet"]


def _check_complete_once(db, study, log, before, grid=GRID):
    trials = _db_trials(db, study)
    complete = collections.Counter(t.user_attrs["gl_key"] for t in trials if t.state.name == "COMPLETE")
    keys = {param_key(p) for p in grid_points(grid)}
    assert set(complete) == keys and set(complete.values()) == {1}, complete
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    now = {t.number: t for t in trials}
    for number, (key, value, finished) in before.items():  # finished before the kill: untouched
        assert now[number].state.name == "COMPLETE" and now[number].user_attrs["gl_key"] == key
        assert now[number].value == value and now[number].datetime_complete == finished
    counts = _log_counts(log)
    assert set(counts) == keys
    for _, (key, _, _) in before.items():
        assert counts[key] == 1, f"{key} finished before the kill but ran again"
    return trials


@pytest.mark.slow
def test_resume_after_sigkill_of_two_workers(tmp_path):
    """Kill a 2-worker study mid-way with SIGKILL (no clean-up at all), then resume it."""
    db, log = tmp_path / "k.db", tmp_path / "log.txt"
    proc = subprocess.Popen(_sweep_cmd(db, log, workers=2, delay=0.6), cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready() -> bool:  # both workers have finished work and one is inside a trial
        if proc.poll() is not None:
            return True
        try:
            trials = _db_trials(db, "r")
        except Exception:  # no database or study yet, or busy: look again
            return False
        done = [t for t in trials if t.state.name == "COMPLETE"]
        return (
            len(done) >= 3 and len({t.user_attrs.get("gl_worker") for t in done}) == 2
            and any(t.state.name == "RUNNING" for t in trials))

    try:
        _wait_for(ready, 120, "3 finished trials from both workers and one running")
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and both workers, mid-trial
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    trials = _db_trials(db, "r")
    before = {t.number: (t.user_attrs["gl_key"], t.value, t.datetime_complete)
              for t in trials if t.state.name == "COMPLETE"}
    running = {t.number for t in trials if t.state.name == "RUNNING"}
    assert 3 <= len(before) < 12
    assert 1 <= len(running) <= 2  # killed mid-trial (a trial lasts 0.6 s; the kill follows at once)
    exp = _toy(delay=0.6, log=str(log))  # same settings as the killed run (a changed one is refused)
    start = time.monotonic()
    sweeps.run_study(exp, storage=db, study="r", grid=GRID, heartbeat=1, verbose=False)
    assert time.monotonic() - start < 45  # no wait on a lock left by the killed processes
    trials = _check_complete_once(db, "r", log, before)
    dead = [t for t in trials if t.state.name == "FAIL"]
    assert {t.number for t in dead} == running  # exactly the killed trials, marked failed and re-run
    assert all("gl_error" not in t.user_attrs for t in dead)
    workers = {t.user_attrs["gl_worker"] for t in trials if t.number in before}
    assert len(workers) == 2  # both processes really worked on the study


def test_resume_after_ctrl_c(tmp_path):
    db, log = tmp_path / "c.db", tmp_path / "log.txt"
    proc = subprocess.Popen(_sweep_cmd(db, log, workers=1, delay=0.4, grid=SMALL), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: _n_complete(db, "r") >= 2 or proc.poll() is not None, 90, "2 finished trials")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert b"run the same command again to resume" in proc.stderr.read()
    trials = _db_trials(db, "r")
    interrupted = [t for t in trials if t.user_attrs.get("gl_interrupted")]
    # Ctrl-C lands in a trial (-> FAIL, gl_interrupted) or between two trials (nothing to undo)
    assert len(interrupted) <= 1 and all(t.state.name == "FAIL" for t in interrupted)
    assert not [t for t in trials if t.state.name in ("RUNNING", "PRUNED")]
    assert len([t for t in trials if t.state.name == "FAIL"]) == len(interrupted)
    before = {t.number: (t.user_attrs["gl_key"], t.value, t.datetime_complete)
              for t in trials if t.state.name == "COMPLETE"}
    df = sweeps.run_study(_toy(delay=0.4, log=str(log)), storage=db, study="r", grid=SMALL, heartbeat=1,
                          verbose=False)
    _check_complete_once(db, "r", log, before, SMALL)
    assert (df.error.str.startswith("interrupted") == (df.state == "FAIL")).all()


def test_adaptive_search_runs_exactly_n_trials_and_resumes(tmp_path):
    db = tmp_path / "a.db"
    exp = _toy(noise=0.0)
    df = sweeps.run_study(exp, storage=db, study="tpe", search="adaptive", n_trials=16, seed=3, verbose=False)
    assert len(df) == 16 and (df.state == "COMPLETE").all()
    assert df.x.between(-2, 2).all() and df.seed.between(0, 10_000).all()
    assert abs(df.loc[df.value.idxmin(), "x"] - 0.5) < 0.3  # TPE found the minimum's neighbourhood
    assert len(sweeps.run_study(exp, storage=db, study="tpe", search="adaptive", n_trials=16,
                                verbose=False)) == 16
    assert len(sweeps.run_study(exp, storage=db, study="tpe", search="adaptive", n_trials=19,
                                verbose=False)) == 19
    with pytest.raises(ValueError, match="search"):
        sweeps.run_study(exp, storage=db, study="tpe", verbose=False)  # it is not a grid study


def test_study_lock_is_exclusive_and_breaks_when_stale(tmp_path):
    db = tmp_path / "l.db"
    storages = [engine.open_storage(db) for _ in range(4)]
    inside, overlaps, entered = [0], [0], [0]
    guard = threading.Lock()

    def work(storage):
        for _ in range(5):
            with engine._study_lock(storage, "s"):
                with guard:
                    inside[0] += 1
                    overlaps[0] += inside[0] > 1
                    entered[0] += 1
                time.sleep(0.01)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=work, args=(s,)) for s in storages]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert entered[0] == 20 and overlaps[0] == 0
    # a holder that died leaves its lock row; a waiter breaks it after stale_after seconds
    storages[0].create_new_study([optuna.study.StudyDirection.MINIMIZE], "s" + engine._LOCK_SUFFIX)
    start = time.monotonic()
    with engine._study_lock(storages[1], "s", stale_after=0.5):
        waited = time.monotonic() - start
    assert 0.5 <= waited < 10
    # ... at once if the holder was a process of this machine that has exited
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = storages[0].create_new_study([optuna.study.StudyDirection.MINIMIZE], "s" + engine._LOCK_SUFFIX)
    storages[0].set_study_user_attr(lock, "holder", f"{__import__('socket').gethostname()}:{dead.pid}")
    start = time.monotonic()
    with engine._study_lock(storages[1], "s", stale_after=60):
        assert time.monotonic() - start < 10
    assert [s.study_name for s in optuna.get_all_study_summaries(storages[0])] == []


def test_pruning_through_lightning_callback(tmp_path):
    """A learning rate 300× too small is worse than the median after epoch 1: pruned early."""
    exp = sweeps.get_experiment("intro-wave").with_options(fixed={"hidden": 8, "epochs": 6})
    df = sweeps.run_study(exp, storage=tmp_path / "p.db", study="p", grid={"lr": [0.05, 0.03, 1e-4], "seed": [0]},
                          prune=True, verbose=False)
    assert list(df.state) == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert df.epochs_run.isna().iloc[2]  # pruned before returning metrics
    trials = _db_trials(tmp_path / "p.db", "p")
    assert len(trials[2].intermediate_values) < 6 and len(trials[0].intermediate_values) == 6
    last = max(trials[2].intermediate_values)  # pruned: worse than both others at that epoch
    assert trials[2].intermediate_values[last] > max(t.intermediate_values[last] for t in trials[:2])


def test_pruning_callback_validates_and_is_inert_without_trial():
    with pytest.raises(ValueError, match="monitor"):
        sweeps.PruningCallback(None, "")
    with pytest.raises(ValueError, match="on must be one of"):
        sweeps.PruningCallback(None, "loss", on="test")
    cb = sweeps.PruningCallback(None, "loss")
    cb.check_pruned()  # never pruned: nothing raised


# -- results, CLI, dashboard -----------------------------------------------------------------------
def test_results_table_summary_chart_and_cli(tmp_path, capsys):
    from toolkit.sweeps.cli import ACTIONS, action, main

    db, out = tmp_path / "cli.db", tmp_path / "out"
    code = main(["toy", "--storage", str(db), "--study", "t", "--grid", "seed=0:3", "--grid", "x=0,0.5",
                 "--set", "noise=0.5", "--out", str(out), "--chart", "json", "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "loss_mean" in text and "6 trials {'COMPLETE': 6}" in text
    df = sweeps.load_results(db, "t")
    assert list(df.columns) == ["number", "state", "x", "seed", "loss", "abs_x", "value", "seconds", "error",
                                "worker"]
    assert df.attrs["params"] == ["x", "seed"] and df.attrs["experiment"] == "toy"
    shipped = sweeps.read_results(out / "t.csv")
    pd.testing.assert_frame_equal(shipped[["x", "seed", "state"]], df[["x", "seed", "state"]])
    assert (shipped.loss - df.loss).abs().max() < 1e-5
    meta = json.loads((out / "t.json").read_text())
    assert meta["command"].startswith("python -m toolkit.sweeps toy --storage") and meta["states"] == {"COMPLETE": 6}
    summary = pd.read_csv(out / "t-summary.csv")
    for x in (0.0, 0.5):
        group = df[df.x == x].loss
        row = summary[summary.x == x].iloc[0]
        assert row.n == 3 and abs(row.loss_mean - group.mean()) < 1e-5 and abs(row.loss_std - group.std()) < 1e-5
    chart = json.loads((out / "t-chart.json").read_text())
    assert len(chart["layer"]) == 3 and chart["layer"][1]["encoding"]["y"]["field"] == "mean"
    stats = [rows for rows in chart["datasets"].values() if "mean" in rows[0]]
    means = {r["x"]: r["mean"] for r in stats[0]}
    assert means == pytest.approx(df.groupby("x").loss.mean().to_dict(), rel=1e-9)
    with pytest.raises(ValueError, match="y must be a column"):
        sweeps.results_chart(df, "x", "nope")
    with pytest.raises(ValueError, match="study must be one of"):
        sweeps.load_results(db, "nope")
    with pytest.raises(ValueError, match="no such SQLite file"):
        sweeps.load_results(tmp_path / "missing.db", "t")
    assert main(["toy", "--storage", str(db), "--study", "t", "--show"]) == 0
    assert main(["toy", "--storage", str(db), "--grid", "x=9"]) == 2
    assert "x must be a number in [-2.0, 2.0]" in capsys.readouterr().err
    help_text, add_arguments, run = action("feedback")
    import argparse
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--workers", "2", "--grid", "seed=0:4"])
    assert args.sweep_topic == "feedback" and args.workers == 2 and run is ACTIONS["tracking"][2]
    with pytest.raises(ValueError, match="topic must be one of"):
        action("nope")


def test_dashboard_serves_the_study(tmp_path):
    db = tmp_path / "d.db"
    sweeps.run_study(_toy(), storage=db, study="dash", grid={"x": [0.0], "seed": [0]}, verbose=False)
    server = sweeps.serve_dashboard(db, "dash", port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:") and "/dashboard/studies/" in server.url
        with urllib.request.urlopen(server.url, timeout=30) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        api = server.url.split("/dashboard")[0] + "/api/studies"
        with urllib.request.urlopen(api, timeout=30) as r:
            assert "dash" in [s["study_name"] for s in json.loads(r.read())["study_summaries"]]
    finally:
        server.stop()
    with pytest.raises(ValueError, match="study must be one of"):
        sweeps.serve_dashboard(db, "nope")
