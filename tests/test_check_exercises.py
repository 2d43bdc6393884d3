"""Exercises that teach: no answer given away, a message per known mistake, the answer after the hints."""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from toolkit.check import Exercise, compare


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)


def _numbers(message: str) -> list[float]:
    body = message.split("] ", 1)[1]  # drop the "[key] " prefix
    return [float(token) for token in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", body)]


@given(
    expected=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
    factor=st.sampled_from([0.5, 2.0, -1.0, 1.5, 0.9]),
)
def test_a_wrong_number_never_shows_the_expected_value(expected, factor):
    ex = Exercise("t.1", "?", expected)
    answer = expected * factor
    result = ex.check(answer)
    assert not result
    shown = _numbers(result.message)
    assert shown and all(math.isclose(v, answer, rel_tol=1e-5) for v in shown), result.message
    assert ("too large" in result.message) == (answer > expected)
    assert ("too small" in result.message) == (answer < expected)


def test_each_listed_mistake_gets_its_own_message():
    ex = Exercise(
        "t.2",
        "angle in degrees",
        90.0,
        misconceptions=[
            (lambda a, e: math.isclose(a, -e), "flipped sign"),
            (lambda a, e: math.isclose(a, 2 * e) or math.isclose(2 * a, e), "factor 2"),
            (lambda a, e: math.isclose(a, math.radians(e)), "radians, not degrees"),
        ],
    )
    messages = {ex.check(answer).message for answer in (-90.0, 180.0, 45.0, math.pi / 2)}
    assert any("flipped sign" in m for m in messages)
    assert any("radians" in m for m in messages)
    assert sum("factor 2" in m for m in messages) == 1  # 180 and 45 give the same message
    other = ex.check(37.0).message
    assert (
        "flipped" not in other and "radians" not in other and "factor" not in other and "too small" in other
    )
    assert ex.check(90.0)


def test_a_predicate_that_raises_is_skipped():
    ex = Exercise(
        "t.3", "?", 1.0, misconceptions=[(lambda a, e: 1 / 0, "never"), (lambda a, e: True, "caught")]
    )
    assert "caught" in ex.check(2.0).message


def test_the_answer_is_revealed_only_after_the_last_hint():
    ex = Exercise("t.4", "?", 0.74117, hints=("nudge", "idea"))
    assert "0.74117" not in ex.check(0.370585).message
    assert "0.74117" not in ex.hint() and "0.74117" not in ex.hint()
    assert "0.74117" not in ex.check(0.370585).message
    assert "0.74117" in ex.hint()
    assert "expected 0.74117" in ex.check(0.370585).message


def test_a_callable_reference_reveals_the_last_checked_value():
    ex = Exercise("t.5", "?", lambda w: 3 * w, hints=("h",))
    ex.hint()
    assert "check cell" in ex.hint()  # nothing checked yet: no answer to show
    ex.check(1.0, 2.0)
    assert ex.hint().endswith("the answer: 6")


def test_an_unfinished_function_is_not_answered_yet():
    ex = Exercise("t.6", "?", lambda x: x * 2, inputs=[(1.0,), (2.0,)])

    def stub(x): ...

    result = ex.check(stub)
    assert not result and "not answered yet" in result.message and "None" in result.message


def test_function_misconception_sees_the_output_and_the_expected_output():
    ex = Exercise(
        "t.7",
        "?",
        lambda x: 2 * x,
        inputs=[(3.0,)],
        misconceptions=[(lambda got, want: got == -want, "sign")],
    )
    assert "sign" in ex.check(lambda x: -2 * x).message


def test_choices_are_listed_for_an_answer_outside_them():
    ex = Exercise("t.8", "?", "under-dispersed", choices=("over-dispersed", "under-dispersed", "biased"))
    assert "not one of the choices" in ex.check("dome").message
    wrong = ex.check("over-dispersed").message
    assert "under-dispersed" not in wrong
    assert ex.check("under-dispersed")
    assert "Choices" in ex._repr_markdown_()


@pytest.mark.parametrize(
    "answer", [torch.eye(2).to_sparse(), torch.ones(2, 2, dtype=torch.bfloat16), np.ones((2, 2), dtype=bool)]
)
def test_unusual_tensors_never_raise(answer):
    result = Exercise("t.9", "?", np.eye(2)).check(answer)
    assert result.status in ("exact", "close", "not yet")
    assert Exercise("t.9", "?", np.eye(2)).check(torch.eye(2).to_sparse())


def test_strict_mode_raises_with_the_expected_value(monkeypatch):
    monkeypatch.setenv("GRADIENT_LAB_STRICT", "1")
    with pytest.raises(AssertionError, match="expected 3"):
        Exercise("t.10", "?", 3.0).check(2.0)


def test_compare_alone_still_reveals():
    assert compare(2.5, 3).message == "not yet: expected 3, got 2.5"
    assert "3" not in compare(2.5, 3, reveal=False).message.replace("2.5", "")


def test_a_predicate_can_see_the_exercise_data():
    ex = Exercise(
        "t.11",
        "?",
        lambda a, b: a + b,
        misconceptions=[(lambda ans, exp, a, b: ans == a * b, "you multiplied")],
    )
    assert "you multiplied" in ex.check(6.0, 2.0, 3.0).message
    assert "you multiplied" not in ex.check(7.0, 2.0, 3.0).message
