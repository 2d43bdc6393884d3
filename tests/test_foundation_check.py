"""toolkit.check: verdicts (exact / close / not yet), never a crash on a learner's answer, strict mode
for nbval, and progressive hints."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.check import CheckResult, Exercise, compare, strict_mode
from toolkit.intro import ex_mse_gradient, make_wave


@pytest.fixture(autouse=True)
def _not_strict(monkeypatch):
    """The project's test command sets GRADIENT_LAB_STRICT=1; these tests choose it themselves."""
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)


# -- compare ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, expected, status",
    [
        (3, 3, "exact"),
        (3.0, 3, "exact"),
        (0.1 + 0.2, 0.3, "close"),
        (1.0 + 1e-7, 1.0, "close"),
        (1.01, 1.0, "not yet"),
        (np.float32(0.5), 0.5, "exact"),
        ([1, 2, 3], np.array([1.0, 2.0, 3.0]), "exact"),
        (torch.tensor([1.0, 2.0], requires_grad=True), np.array([1.0, 2.0]), "exact"),
        (np.array([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-6], dtype=torch.float64), "close"),
        (torch.tensor([[1, 2], [3, 4]]), [[1, 2], [3, 5]], "not yet"),
        ((1, 2), [1, 2], "exact"),
        (np.array([math.nan, 1.0]), [math.nan, 1.0], "exact"),
        (math.nan, 1.0, "not yet"),
        (math.inf, math.inf, "exact"),
        (math.inf, 1e300, "not yet"),
        (1 + 2j, 1 + 2j, "exact"),
        ("relu", "relu", "exact"),
        ("ReLU", "relu", "not yet"),
        (True, True, "exact"),
        (None, None, "exact"),
        ({"a": 1}, {"a": 1}, "exact"),
        ({"a": 1}, {"a": 2}, "not yet"),
    ],
)
def test_verdicts(answer, expected, status):
    result = compare(answer, expected)
    assert isinstance(result, CheckResult) and result.status == status
    assert bool(result) == (status != "not yet")
    assert result.message.startswith(status)


def test_close_reports_the_largest_difference():
    result = compare(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0 + 2e-6, 3.0 - 5e-6]))
    assert result.status == "close" and result.max_diff == pytest.approx(5e-6)
    assert "max diff 5e-06" in result.message


def test_tolerances_are_honoured():
    assert compare(1.05, 1.0, rtol=0.1).status == "close"
    assert compare(1.05, 1.0).status == "not yet"
    assert compare(0.0, 1e-9).status == "close"  # atol
    assert compare(0.0, 1e-9, atol=0.0).status == "not yet"


def test_shape_mismatch_says_both_shapes():
    result = compare(np.zeros((2, 3)), np.zeros((3, 2)))
    assert result.status == "not yet" and "(3, 2)" in result.message and "(2, 3)" in result.message
    assert not compare(np.zeros(3), np.zeros((3, 1)))
    assert not compare([1.0], 1.0)


def test_scalar_not_yet_shows_expected_and_got():
    result = compare(2.5, 3.0)
    assert result.message == "not yet: expected 3, got 2.5" and result.max_diff == 0.5


def test_bools_are_not_numbers_here():
    assert not compare(True, 1)
    assert not compare("1", 1)
    assert not compare("abc", np.array([1, 2]))


def test_unanswered_ellipsis():
    for expected in (1.0, "x", None, np.ones(2)):
        result = compare(..., expected)
        assert not result and "not answered yet" in result.message


WEIRD = [
    None,
    "text",
    b"bytes",
    object(),
    {"a": 1},
    [1, "a"],
    [[1, 2], [3]],
    lambda x: x,
    ...,
    np.array(["a", "b"]),
    np.ones((2, 2)),
    torch.ones(3),
    np.array(1.0),
    float("nan"),
    1e308 * 10,
    -5,
    True,
    (np.ones(2), 1.0),
]
NUMERIC = [
    1.0,
    0,
    np.float64(2.5),
    np.arange(3.0),
    torch.zeros(2, 2),
    [1.0, 2.0],
    (3, 4),
    np.array(7),
    1 + 1j,
]


def test_wrong_types_never_raise():
    """Every pairing of odd answers with numeric/container references (complete, not sampled)."""
    crashes = []
    for answer, expected in itertools.product(WEIRD + NUMERIC, NUMERIC + [{"k": 1}, object(), (1, "a")]):
        try:
            result = compare(answer, expected)
            assert isinstance(result, CheckResult) and result.status in ("exact", "close", "not yet")
            assert isinstance(repr(result), str) and result._repr_html_().startswith("<div")
        except Exception as exc:  # collect them all for one readable failure
            crashes.append(f"compare({answer!r}, {expected!r}): {type(exc).__name__}: {exc}")
    assert crashes == []


@pytest.mark.parametrize("expected", ["relu", True, None])
def test_array_answer_to_a_non_numeric_question_does_not_raise(expected):
    result = compare(np.array([1, 2]), expected)
    assert not result


def test_equal_tuples_of_arrays_are_exact():
    assert compare((np.array([1.0, 2.0]), 3.0), (np.array([1.0, 2.0]), 3.0)).status == "exact"


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=6), rel=st.floats(1e-9, 1e-1))
def test_relative_perturbation_verdict_matches_numpy_isclose(values, rel):
    expected = np.array(values)
    answer = expected * (1 + rel)
    result = compare(answer, expected)
    if np.array_equal(answer, expected):
        assert result.status == "exact"
    elif np.allclose(answer, expected, rtol=1e-5, atol=1e-8):
        assert result.status == "close" and result.max_diff == pytest.approx(
            np.max(np.abs(answer - expected))
        )
    else:
        assert result.status == "not yet"


# -- Exercise ------------------------------------------------------------------------------------------------
def _mse_grad(w, x, y):
    return float(np.mean(2 * x * (w * x - y)))


def test_callable_reference_follows_the_learner_inputs():
    ex = Exercise("t.1", "gradient?", _mse_grad)
    x, y = make_wave(32, random_state=0)
    right = np.mean(2 * x * (0.3 * x - y))
    result = ex.check(right, 0.3, x, y)
    assert result and result.message.startswith("[t.1] ")
    assert not ex.check(right, 0.4, x, y)  # same number, other inputs: now wrong
    assert ex.check(_mse_grad(0.4, x, y), w=0.4, x=x, y=y)  # keyword arguments reach the reference
    assert ex.expected(0.3, x, y) == _mse_grad(0.3, x, y)


def test_reference_that_cannot_use_the_inputs_is_reported():
    ex = Exercise("t.2", "?", lambda x: x.sum())
    result = ex.check(1.0, "not an array")
    assert not result and "could not compute the reference" in result.message


def test_value_reference_and_ellipsis():
    ex = Exercise("t.3", "2+2?", 4)
    assert ex.check(4).status == "exact"
    assert "not answered yet" in ex.check(...).message


def _softmax(z):
    z = np.asarray(z, float)
    e = np.exp(z - z.max())
    return e / e.sum()


INPUTS = [([0.0, 1.0],), ([3.0, -1.0, 2.0],), ([1000.0, 1000.0],)]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the naive softmax overflows on purpose
def test_function_answers_are_checked_on_every_input():
    ex = Exercise("t.4", "softmax", _softmax, inputs=INPUTS)
    assert ex.check(_softmax).status == "exact"
    close = ex.check(lambda z: _softmax(z) * (1 + 1e-7))
    assert close.status == "close"
    naive = ex.check(lambda z: np.exp(z) / np.exp(z).sum())  # overflows on the last input
    assert not naive and "input #2" in naive.message
    wrong = ex.check(lambda z: np.asarray(z) / np.sum(z))
    assert not wrong and "input #0" in wrong.message
    assert "expected a function" in ex.check(0.5).message


def test_a_raising_learner_function_is_reported_not_raised():
    def broken(z):
        raise KeyError("oops")

    ex = Exercise("t.5", "softmax", _softmax, inputs=INPUTS)
    result = ex.check(broken)
    assert not result and "KeyError" in result.message and "oops" in result.message


@pytest.mark.parametrize("make", [np.array, torch.tensor], ids=["numpy", "torch"])
def test_failure_on_a_later_array_input_is_reported(make):
    ex = Exercise("t.6", "double", lambda v: v * 2, inputs=[(make([1.0, 2.0]),), (make([3.0, 4.0]),)])
    result = ex.check(lambda v: v * 2 if float(v[0]) == 1.0 else v)
    assert not result and "input #1" in result.message


def test_a_learner_function_editing_its_input_in_place_cannot_corrupt_the_exercise():
    def center_in_place(v):
        v -= v.mean()
        return v

    ex = Exercise("t.7", "center", lambda v: v - v.mean(), inputs=[(np.array([1.0, 2.0, 6.0]),)])
    ex.check(center_in_place)
    assert np.array_equal(ex.inputs[0][0], [1.0, 2.0, 6.0])


def test_intro_exercise_matches_a_finite_difference_oracle():
    x, y = make_wave(64, noise=0.1, random_state=1)
    x, y = x.astype(float), y.astype(float)
    w, h = 0.5, 1e-6
    loss = lambda v: np.mean((v * x - y) ** 2)  # noqa: E731
    numeric = (loss(w + h) - loss(w - h)) / (2 * h)
    assert ex_mse_gradient.check(numeric, w, x, y)
    assert not ex_mse_gradient.check(-numeric, w, x, y)
    # notebook 00 promises: the common mistakes get their own message, and no hint is the answer's code
    assert "sign is flipped" in ex_mse_gradient.check(-numeric, w, x, y).message
    assert "factor 2 is missing" in ex_mse_gradient.check(numeric / 2, w, x, y).message
    assert all("np.mean" not in h for h in ex_mse_gradient.hints)


# -- strict mode ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, on", [("1", True), ("yes", True), ("0", False), ("", False), ("false", False)]
)
def test_strict_mode_flag(monkeypatch, value, on):
    monkeypatch.setenv("GRADIENT_LAB_STRICT", value)
    assert strict_mode() is on


def test_strict_mode_raises_only_on_failure(monkeypatch):
    monkeypatch.setenv("GRADIENT_LAB_STRICT", "1")
    ex = Exercise("s.1", "?", 2.0)
    assert ex.check(2.0 + 1e-9)  # success: no raise
    with pytest.raises(AssertionError, match=r"\[s.1\] not yet"):
        ex.check(3.0)
    with pytest.raises(AssertionError, match="not answered"):
        ex.check(...)
    monkeypatch.setenv("GRADIENT_LAB_STRICT", "0")
    assert not ex.check(3.0)


# -- hints and display ---------------------------------------------------------------------------------------
def test_hints_are_progressive_and_stop_at_the_last():
    ex = Exercise("h.1", "?", 1, hints=("nudge", "idea", "answer"))
    shown = [ex.hint() for _ in range(5)]
    # the authored hints in order, then the expected value itself, which stays the last word
    assert shown == [
        "[h.1] hint 1/3: nudge",
        "[h.1] hint 2/3: idea",
        "[h.1] hint 3/3: answer",
        "[h.1] the answer: 1",
        "[h.1] the answer: 1",
    ]
    bare = Exercise("h.2", "?", 1)
    assert "no hints" in bare.hint() and bare.hint() == "[h.2] the answer: 1"
    other = Exercise("h.3", "?", 1, hints=["only"])
    assert other.hint().endswith("1/1: only")  # each exercise counts its own hints


def test_result_display():
    good, bad = compare(1, 1), compare(1, 2)
    assert repr(good).startswith("✅") and repr(bad).startswith("❌")
    assert "#1a7f37" in good._repr_html_() and "#b35900" in bad._repr_html_()
    assert Exercise("x.1", "What is *w*?", 1)._repr_markdown_() == "**Exercise x.1.** What is *w*?"
