"""Learning on digits: BP, RBP and SRBP all reach >= 90 % in seconds; top-only is clearly worse;
random-feedback updates align with the gradient (angles fall below 90°)."""

from __future__ import annotations

import pytest

from toolkit.feedback import TrainConfig, compare_rules, load_digits_split


@pytest.fixture(scope="module")
def digits_run():
    split = load_digits_split(random_state=0)
    cfg = TrainConfig(hidden=[64, 64], epochs=8, lr=3e-3, seed=0)
    history = compare_rules(["bp", "rbp", "srbp", "top"], split, cfg)
    first = {r["rule"]: r for r in history if r["epoch"] == 0}
    last = {r["rule"]: r for r in history if r["epoch"] == history[-1]["epoch"]}
    return first, last  # step times are measured side by side in benchmarks/bench_feedback.py, not asserted


@pytest.mark.parametrize("rule", ["bp", "rbp", "srbp"])
def test_rules_reach_90_percent_on_digits(digits_run, rule):
    _, last = digits_run
    assert last[rule]["test_acc"] >= 0.90, last[rule]


def test_top_layer_only_is_clearly_worse(digits_run):
    _, last = digits_run
    assert last["top"]["test_acc"] < last["bp"]["test_acc"] - 0.04


@pytest.mark.parametrize("rule", ["rbp", "srbp"])
def test_angles_fall_below_90_degrees(digits_run, rule):
    first, last = digits_run
    for a0, a1 in zip(first[rule]["angles"][:-1], last[rule]["angles"][:-1]):
        assert a1 < 80 and a1 < a0 - 15, (first[rule]["angles"], last[rule]["angles"])
    assert max(last["bp"]["angles"]) < 1e-3


def test_the_sweep_experiment_lists_every_rule_of_the_engine():
    from toolkit.feedback import sweep
    from toolkit.feedback.engine import RULES

    assert tuple(sweep.RULES) == tuple(RULES)  # written out in the declaration: must not drift
    assert set(sweep.experiment()["space"]["rule"].choices) == set(RULES)
