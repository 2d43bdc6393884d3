"""Concrete bad calls to the shared and sweeps API: each is a ValueError/TypeError naming the parameter.

These are the fuzz module's findings (tests/test_fuzz_public_api.py) written out as plain calls, so a
regression shows as a readable failure here. Valid calls keep working (the last tests).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from toolkit import check, sidebyside, sweeps
from toolkit.sweeps.registry import Experiment


def _raises_naming(param: str, call, *args, **kwargs) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert re.search(rf"(?<![\w]){re.escape(param)}(?![\w])", message), message


def _curve(factors, seed=0):
    return pd.DataFrame({"factor": factors, "cosine": np.ones(len(factors)), "acc": np.zeros(len(factors))})


def _toy_objective(params, trial):
    return {"loss": params["x"]}


def _toy(**kwargs) -> Experiment:
    from optuna.distributions import FloatDistribution

    base = dict(
        name="bad-call-toy",
        objective=_toy_objective,
        space={"x": FloatDistribution(0, 1)},
        grid={"x": [0.0, 1.0]},
        metric="loss",
    )
    return Experiment(**{**base, **kwargs})


# -- toolkit.check ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "param, kwargs",
    [
        ("status", {"status": "maybe"}),
        ("message", {"message": None}),
        ("max_diff", {"max_diff": object()}),
        ("max_diff", {"max_diff": float("nan")}),
        ("max_diff", {"max_diff": -1.0}),
    ],
)
def test_check_result_refuses(param, kwargs):
    _raises_naming(param, check.CheckResult, **{"status": "exact", "message": "ok", **kwargs})


@pytest.mark.parametrize(
    "param, kwargs",
    [
        ("key", {"key": None}),
        ("question", {"question": object()}),
        ("hints", {"hints": None}),
        ("hints", {"hints": "one string, not a list"}),
        ("rtol", {"rtol": object()}),
        ("atol", {"atol": "∞"}),
        ("rtol", {"rtol": float("nan")}),
        ("inputs", {"inputs": 3}),
        ("misconceptions", {"misconceptions": [("not callable", "message")]}),
        ("choices", {"choices": []}),
        ("reference", {"reference": object()}),
    ],
)
def test_exercise_constructor_refuses(param, kwargs):
    _raises_naming(param, check.Exercise, **{"key": "1.1", "question": "q?", "reference": 1.0, **kwargs})


@pytest.mark.parametrize(
    "param, kwargs",
    [
        ("rtol", {"rtol": float("nan")}),
        ("rtol", {"rtol": "1e999"}),
        ("atol", {"atol": -1.0}),
        ("reveal", {"reveal": "yes"}),
    ],
)
def test_compare_refuses_bad_tolerances(param, kwargs):
    _raises_naming(param, check.compare, 1.0, 1.0, **kwargs)


def test_exercise_check_still_never_raises_on_an_answer(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)  # strict mode raises on purpose
    ex = check.Exercise("1.1", "q?", 2.0)
    for answer in (object(), None, "two", torch.ones(2).to_sparse(), torch.ones((), dtype=torch.bfloat16)):
        assert ex.check(answer).status == "not yet"


# -- toolkit.sidebyside --------------------------------------------------------------------------------
def test_sidebyside_refuses():
    base = dict(
        name="toy", factor="t", curve=_curve, grid=(0.0, 1.0), default=0.5, extra="acc", extra_title="acc"
    )
    _raises_naming("grid", sidebyside.Surrogate, **{**base, "grid": None})
    _raises_naming("grid", sidebyside.Surrogate, **{**base, "grid": (0.0, float("nan"))})
    _raises_naming("default", sidebyside.Surrogate, **{**base, "default": "half"})
    _raises_naming("log", sidebyside.Surrogate, **{**base, "log": 1})
    frame = _curve([0.0, 1.0])
    chart = dict(title="t", factor="f", extra="acc", extra_title="acc")
    _raises_naming("frame", sidebyside.alignment_chart, object(), **chart)
    _raises_naming("frame", sidebyside.alignment_chart, [[1.0]], **chart)
    _raises_naming("factor", sidebyside.alignment_chart, frame, **{**chart, "factor": float("nan")})
    _raises_naming("marker", sidebyside.alignment_chart, frame, **chart, marker="")
    _raises_naming("log", sidebyside.alignment_chart, frame, **chart, log=object())
    _raises_naming("surrogates", sidebyside.alignment_panel, None)
    _raises_naming("surrogates", sidebyside.alignment_panel, 0.0)


# -- toolkit.sweeps ------------------------------------------------------------------------------------
def test_experiment_and_registry_refuse():
    _raises_naming("space", _toy, space=10**400)
    _raises_naming("grid", _toy, grid=True)
    _raises_naming("description", _toy, description=None)
    _raises_naming("summarize", _toy, summarize=object())
    _raises_naming("metric", _toy, metric=3)
    _raises_naming("experiment", sweeps.register, 4, "x")
    _raises_naming("name", sweeps.register, _toy, float("-inf"))
    _raises_naming("replace", sweeps.register, _toy, "bad-call-factory", replace="yes")
    for bad in (float("inf"), 0, None, [], torch.ones(4, 4), ""):
        _raises_naming("name", sweeps.get_experiment, bad)
    assert "bad-call-factory" not in sweeps.experiment_names()  # nothing was registered by the bad calls


def test_grid_and_param_key_refuse():
    for bad in (float("inf"), None, True, torch.ones(4, 4), object()):
        _raises_naming("grid", sweeps.grid_points, bad)
        _raises_naming("params", sweeps.param_key, bad)
    _raises_naming("grid", sweeps.grid_points, {"x": 5})
    _raises_naming("grid", sweeps.grid_points, {1: [1, 2]})
    _raises_naming("params", sweeps.param_key, {"x": torch.ones(2)})
    _raises_naming("params", sweeps.param_key, [[1.0]])


def test_study_entry_points_refuse(tmp_path):
    db = str(tmp_path / "s.db")
    for fn in (sweeps.prepare_study, sweeps.run_worker, sweeps.run_study):
        _raises_naming("experiment", fn, 4, storage=db)
        _raises_naming("experiment", fn, "no-such-experiment", storage=db)
        _raises_naming("storage", fn, "toy", storage=float("nan"))
        _raises_naming("study", fn, "toy", storage=db, study=torch.ones(3))
    _raises_naming("options", sweeps.prepare_study, "toy", storage=db, options=-0.0)
    _raises_naming("worker", sweeps.run_worker, "toy", storage=db, worker=-1)
    _raises_naming("grid", sweeps.run_study, "toy", storage=db, grid=torch.ones(4, 4, dtype=torch.bool))
    _raises_naming("fixed", sweeps.run_study, "toy", storage=db, fixed=torch.ones(4))
    _raises_naming("prune", sweeps.run_study, "toy", storage=db, prune=float("inf"))
    _raises_naming("verbose", sweeps.run_study, "toy", storage=db, verbose=None)
    _raises_naming("heartbeat", sweeps.run_study, "toy", storage=db, heartbeat=-170)
    assert not (tmp_path / "s.db").exists() or sweeps.load_results(db, "toy").empty


def test_storage_and_files_refuse(tmp_path):
    for bad in (float("inf"), 0, None, True, [], torch.ones(2), object(), ""):
        _raises_naming("storage", sweeps.storage_url, bad)
        _raises_naming("storage", sweeps.open_storage, bad)
        _raises_naming("path", sweeps.read_results, bad)
        _raises_naming("path", sweeps.save_results, pd.DataFrame({"a": [1]}), bad)
    _raises_naming("heartbeat", sweeps.open_storage, str(tmp_path / "s.db"), heartbeat=float("nan"))
    _raises_naming("heartbeat", sweeps.open_storage, str(tmp_path / "s.db"), heartbeat=0)
    _raises_naming("storage", sweeps.load_results, 0.0, "toy")
    _raises_naming("df", sweeps.save_results, [[1]], tmp_path / "r.csv")
    _raises_naming("meta", sweeps.save_results, pd.DataFrame({"a": [1]}), tmp_path / "r.csv", meta=3)
    _raises_naming("name", sweeps.load_shipped, np.ones((5, 1)))
    _raises_naming("df", sweeps.show_results, 1.5)
    _raises_naming("x", sweeps.show_results, pd.DataFrame({"a": [1]}), x=0)
    _raises_naming("storage", sweeps.serve_dashboard, 0.0)
    _raises_naming("background", sweeps.serve_dashboard, str(tmp_path / "s.db"), background=None)
    _raises_naming("study", sweeps.serve_dashboard, str(tmp_path / "s.db"), study=float("nan"))


def test_pruning_callback_refuses_a_non_trial():
    _raises_naming("trial", sweeps.PruningCallback, float("-inf"), "loss")


# -- valid calls still work --------------------------------------------------------------------------
def test_valid_calls_are_unchanged(tmp_path):
    assert sweeps.grid_points({"a": [1, 2], "b": ("x",)}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert sweeps.grid_points({}) == [{}]
    assert sweeps.param_key({"b": 1, "a": "x"}) == '{"a":"x","b":1}'
    assert sweeps.storage_url("sqlite:///:memory:") == "sqlite:///:memory:"
    assert sweeps.storage_url(tmp_path / "s.db").startswith("sqlite:///")
    assert check.compare(object(), 1.0).status == "not yet"  # compare's promise: a verdict, never a crash
    assert check.compare(1.0, 1.0 + 1e-9)
    assert check.CheckResult("close", "c", float("inf")).max_diff == float("inf")
    ex = check.Exercise("1.2", "q?", lambda x: 2 * x, inputs=[(1.0,), (2.0,)], hints=["double it"])
    assert ex.check(lambda x: 2 * x)
    assert sweeps.get_experiment("toy").name == "toy"
    assert sweeps.get_experiment("feedback").name == "feedback-rules"
