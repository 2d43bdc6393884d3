"""Self-checking exercises: compare a learner's answer with a reference and say how close it is.

The verdict is one of ``exact``, ``close (max diff …)`` or ``not yet: …`` — in the spirit of
nn-zero-to-hero's ``cmp`` helper — and never a crash: a wrong type, a wrong shape, a function that
raises or an unanswered ``...`` are all reported as "not yet".

An :class:`Exercise` does not give the expected value away: a wrong number is told "too small" or
"too large", a known mistake (a flipped sign, a missing factor 2, degrees for radians, …) gets its
own message from ``misconceptions``, and hints come progressively (a nudge, then the idea). Only
after the last hint does :meth:`Exercise.hint` reveal the answer, and from then on the checks
show it too. :func:`compare` on its own always says what was expected (it is the tool for tests).

With ``GRADIENT_LAB_STRICT=1`` in the environment (set by the test command) a failing check raises
``AssertionError``, so solution notebooks under nbval fail when a reference or a solution is wrong.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .validation import check_bool, check_choice, check_float

__all__ = ["compare", "CheckResult", "Exercise", "strict_mode"]


def strict_mode() -> bool:
    """True when failing checks should raise (``GRADIENT_LAB_STRICT=1``)."""
    return os.environ.get("GRADIENT_LAB_STRICT", "") not in ("", "0", "false", "False")


@dataclass
class CheckResult:
    """The verdict of one check; truthy when the answer is exact or close."""

    status: str  # "exact" | "close" | "not yet"
    message: str
    max_diff: float | None = None

    def __post_init__(self) -> None:
        check_choice("status", self.status, ("exact", "close", "not yet"))
        if not isinstance(self.message, str):
            raise TypeError(f"message must be a string, got {type(self.message).__name__}")
        if self.max_diff is not None:  # inf is a valid difference (NaN where a number was expected)
            if (
                isinstance(self.max_diff, bool)
                or not isinstance(self.max_diff, numbers.Real)
                or not self.max_diff >= 0
            ):
                raise TypeError(f"max_diff must be None or a number >= 0, got {self.max_diff!r}")

    def __bool__(self) -> bool:
        return self.status in ("exact", "close")

    def __repr__(self) -> str:
        mark = {"exact": "✅", "close": "✅"}.get(self.status, "❌")
        return f"{mark} {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self else "#b35900"
        return f"<div style='color:{colour};font-weight:600'>{repr(self)}</div>"


def _to_array(value: Any) -> np.ndarray | None:
    try:
        if hasattr(value, "detach"):  # torch tensor, possibly sparse or bf16 (numpy knows neither)
            value = value.detach().cpu()
            if getattr(value, "layout", None) is not None and str(value.layout) != "torch.strided":
                value = value.to_dense()
            value = value.float().numpy() if str(value.dtype) == "torch.bfloat16" else value.numpy()
        arr = np.asarray(value)
    except Exception:
        return None
    return arr if arr.dtype.kind in "biufc" else None


def _describe(value: Any) -> str:
    arr = _to_array(value)
    if arr is not None and arr.ndim > 0:
        return f"an array of shape {tuple(arr.shape)}"
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


def _hidden(answer: Any, expected: Any) -> str:
    """A "not yet" message that does not give ``expected`` away."""
    exp, ans = _to_array(expected), _to_array(answer)
    if exp is not None and ans is not None and exp.ndim == 0 and ans.ndim == 0 and np.isfinite(ans.item()):
        gap = ans.item() - exp.item()
        if np.iscomplexobj(gap) or gap == 0:
            return f"not yet: {ans.item():.6g} is not the answer"
        return f"not yet: {ans.item():.6g} is too {'large' if gap > 0 else 'small'}"
    return f"not yet: {_describe(answer)} is not the answer"


def _check_comparable(name: str, value: Any) -> None:
    """Refuse a reference whose ``==`` is identity (a plain object): no answer could ever match it."""
    if value is None or value is Ellipsis or hasattr(value, "detach") or isinstance(value, np.ndarray):
        return
    if type(value).__eq__ is object.__eq__:
        raise TypeError(
            f"{name} must be a value that compares by content (number, array, tensor, string, "
            f"bool, None, list, tuple, dict, ...), got {type(value).__name__}"
        )


def compare(
    answer: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-8, reveal: bool = True
) -> CheckResult:
    """Compare ``answer`` with ``expected``: numbers and arrays/tensors numerically, the rest by ``==``.

    With ``reveal=False`` no message contains the expected value (shapes, lengths and the size of
    an array's largest difference are still said: they guide without giving the answer).
    Any ``answer`` and ``expected`` give a verdict (never an exception); the tolerances are checked.
    """
    rtol = check_float("rtol", rtol, low=0.0)
    atol = check_float("atol", atol, low=0.0)
    reveal = check_bool("reveal", reveal)
    if answer is Ellipsis:
        return CheckResult("not yet", "not answered yet: replace `...` with your answer")
    if isinstance(expected, (str, bool)) or expected is None:
        try:
            same = (answer is None or isinstance(answer, (str, bool, np.bool_))) and bool(answer == expected)
        except Exception:
            same = False
        if same:
            return CheckResult("exact", f"exact: {answer!r}")
        if not reveal:
            return CheckResult("not yet", _hidden(answer, expected))
        return CheckResult("not yet", f"not yet: expected {expected!r}, got {_describe(answer)}")
    if isinstance(expected, (numbers.Number, np.ndarray, list, tuple)) or hasattr(expected, "detach"):
        exp = _to_array(expected)
        ans = _to_array(answer)
        if exp is not None:
            if ans is None or isinstance(answer, (str, bool)) and not isinstance(expected, bool):
                if not reveal:
                    kind = "a number" if exp.ndim == 0 else f"an array of shape {tuple(exp.shape)}"
                    return CheckResult("not yet", f"not yet: expected {kind}, got {_describe(answer)}")
                return CheckResult(
                    "not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}"
                )
            if ans.shape != exp.shape:
                return CheckResult(
                    "not yet", f"not yet: expected shape {tuple(exp.shape)}, got shape {tuple(ans.shape)}"
                )
            ans64, exp64 = ans.astype(np.complex128), exp.astype(np.complex128)
            if np.array_equal(ans64, exp64, equal_nan=True):
                return CheckResult("exact", "exact", 0.0)
            diff = np.abs(ans64 - exp64)
            finite = np.isfinite(diff)
            max_diff = float(diff[finite].max()) if finite.any() else math.inf
            if finite.all() and np.allclose(ans64, exp64, rtol=rtol, atol=atol):
                return CheckResult("close", f"close (max diff {max_diff:.3g})", max_diff)
            where = (
                f"max diff {max_diff:.3g}"
                if math.isfinite(max_diff)
                else "NaN/inf where a number was expected"
            )
            if exp.ndim == 0:
                if not reveal:
                    return CheckResult("not yet", _hidden(answer, expected), max_diff)
                return CheckResult(
                    "not yet", f"not yet: expected {exp.item():.6g}, got {ans.item():.6g}", max_diff
                )
            return CheckResult(
                "not yet", f"not yet: {where} (tolerance rtol={rtol:g}, atol={atol:g})", max_diff
            )
    if isinstance(expected, (list, tuple, dict)):
        if isinstance(expected, dict):
            if not isinstance(answer, dict) or set(answer) != set(expected):
                want = f"a dict with keys {sorted(map(str, expected))}" if not reveal else _describe(expected)
                return CheckResult("not yet", f"not yet: expected {want}, got {_describe(answer)}")
            keys = list(expected)
            pairs = [(answer[k], expected[k]) for k in keys]
        else:
            if not isinstance(answer, (list, tuple)) or len(answer) != len(expected):
                want = f"a sequence of {len(expected)} items" if not reveal else _describe(expected)
                return CheckResult("not yet", f"not yet: expected {want}, got {_describe(answer)}")
            keys = list(range(len(expected)))
            pairs = list(zip(answer, expected))
        worst = CheckResult("exact", "exact", 0.0)
        for k, (a, e) in zip(keys, pairs):
            verdict = compare(a, e, rtol=rtol, atol=atol, reveal=reveal)
            if not verdict:
                return CheckResult("not yet", f"not yet: item {k!r}: {verdict.message}", verdict.max_diff)
            if verdict.status == "close":
                worst = verdict
        return worst
    try:
        equal = bool(answer == expected)
    except Exception:
        equal = False
    if equal:
        return CheckResult("exact", "exact")
    if not reveal:
        return CheckResult("not yet", _hidden(answer, expected))
    return CheckResult("not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}")


Misconception = tuple[Callable[[Any, Any], bool], str]


@dataclass
class Exercise:
    """One self-checking exercise.

    ``reference`` is the expected value, or a callable computing it from the arguments passed to
    :meth:`check` (so the expected answer follows the learner's own data). When the answer is a
    function and ``inputs`` lists argument tuples, ``answer(*args)`` is compared with
    ``reference(*args)`` on each of them.

    ``misconceptions`` lists ``(predicate, message)`` pairs: when an answer is wrong, the first
    ``predicate(answer, expected)`` that is true gives the learner its ``message`` (for a function
    answer: its output and the expected output on the first input where they differ). A predicate
    that takes more parameters also receives the arguments given to :meth:`check` (the exercise's
    data), e.g. to recognise the standard CRPS where the fair one was asked for. ``choices``
    makes a multiple-choice question: an answer outside them is told the valid choices.
    """

    key: str
    question: str
    reference: Any
    hints: Sequence[str] = ()
    rtol: float = 1e-5
    atol: float = 1e-8
    inputs: Sequence[tuple] | None = None
    misconceptions: Sequence[Misconception] = ()
    choices: Sequence[str] | None = None
    _hints_shown: int = field(default=0, repr=False)
    _last_expected: Any = field(default=None, repr=False)
    _last_args: tuple = field(default=((), {}), repr=False)

    def __post_init__(self) -> None:
        # the constructor's arguments are the instructor's: refuse mistakes here, never in check()
        for name in ("key", "question"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise TypeError(f"{name} must be a non-empty string, got {value!r}")
        if not callable(self.reference):
            _check_comparable("reference", self.reference)
        _strings("hints", self.hints)
        self.rtol = check_float("rtol", self.rtol, low=0.0)
        self.atol = check_float("atol", self.atol, low=0.0)
        if self.inputs is not None:
            if not _is_list(self.inputs) or not all(isinstance(case, tuple) for case in self.inputs):
                raise TypeError(f"inputs must be None or a list of argument tuples, got {self.inputs!r}")
        if not _is_list(self.misconceptions) or not all(
            isinstance(m, tuple) and len(m) == 2 and callable(m[0]) and isinstance(m[1], str)
            for m in self.misconceptions
        ):
            raise TypeError("misconceptions must be a list of (predicate, message) pairs")
        if self.choices is not None:
            if not _strings("choices", self.choices):
                raise ValueError("choices must be None or a non-empty list of strings")

    @property
    def revealed(self) -> bool:
        """True once :meth:`hint` has shown the answer; checks then say what was expected."""
        return self._hints_shown > len(self._all_hints)

    @property
    def _all_hints(self) -> Sequence[str]:
        return self.hints or ("no hints for this one: re-read the question (ask again to see the answer).",)

    def expected(self, *args: Any, **kwargs: Any) -> Any:
        """The reference answer for these arguments."""
        if callable(self.reference) and self.inputs is None:
            return self.reference(*args, **kwargs)
        return self.reference

    def check(self, answer: Any, *args: Any, **kwargs: Any) -> CheckResult:
        """Judge ``answer``; in strict mode a failing verdict raises ``AssertionError``."""
        result = self._judge(answer, *args, **kwargs)
        result.message = f"[{self.key}] {result.message}"
        if not result and strict_mode():
            raise AssertionError(f"{result.message} (expected {_describe(self._last_expected)})")
        return result

    def _judge(self, answer: Any, *args: Any, **kwargs: Any) -> CheckResult:
        if answer is Ellipsis:
            return compare(answer, None)
        if self.inputs is not None and callable(self.reference):
            return self._judge_function(answer)
        try:
            expected = self.expected(*args, **kwargs)
        except Exception as exc:
            return CheckResult(
                "not yet", f"not yet: could not compute the reference from your inputs ({exc})"
            )
        self._last_expected, self._last_args = expected, (args, kwargs)
        if self.choices is not None and isinstance(answer, str) and answer not in self.choices:
            return CheckResult(
                "not yet", f"not yet: {answer!r} is not one of the choices {list(self.choices)}"
            )
        return self._verdict(answer, expected)

    def _judge_function(self, answer: Any) -> CheckResult:
        if not callable(answer):
            return CheckResult("not yet", f"not yet: expected a function, got {_describe(answer)}")
        worst: CheckResult | None = None
        for index, case in enumerate(self.inputs or ()):
            want = self.reference(*copy.deepcopy(case))
            self._last_expected = want
            try:
                got = answer(*copy.deepcopy(case))
            except Exception as exc:  # the learner's function may raise anything
                return CheckResult("not yet", f"not yet: your function raised {type(exc).__name__}: {exc}")
            if got is None and want is not None:
                return CheckResult(
                    "not yet",
                    "not answered yet: your function returns None "
                    "(is its body still `...`, or is a `return` missing?)",
                )
            verdict = self._verdict(got, want)
            if not verdict:
                return CheckResult("not yet", f"{verdict.message} (on input #{index})", verdict.max_diff)
            if worst is None or verdict.status == "close":
                worst = verdict
        return worst or CheckResult("exact", "exact")

    def _verdict(self, answer: Any, expected: Any) -> CheckResult:
        verdict = compare(answer, expected, rtol=self.rtol, atol=self.atol, reveal=self.revealed)
        if verdict:
            return verdict
        args, kwargs = self._last_args if self.inputs is None else ((), {})
        for predicate, message in self.misconceptions:
            try:
                matched = bool(
                    predicate(answer, expected, *args, **kwargs)
                    if _takes_data(predicate)
                    else predicate(answer, expected)
                )
            except Exception:  # a predicate that cannot judge this answer does not apply to it
                matched = False
            if matched:
                return CheckResult("not yet", f"not yet: {message}", verdict.max_diff)
        return verdict

    def hint(self) -> str:
        """Reveal the next hint: the authored hints in order, then the expected answer itself."""
        hints = self._all_hints
        total = len(hints)
        self._hints_shown = min(self._hints_shown + 1, total + 1)
        if self._hints_shown <= total:
            return f"[{self.key}] hint {self._hints_shown}/{total}: {hints[self._hints_shown - 1]}"
        if self._last_expected is None and callable(self.reference):
            self._hints_shown = total  # nothing to reveal yet: run the check first
            return f"[{self.key}] no more hints; run the check cell once, then ask again to see the answer."
        expected = self._last_expected if callable(self.reference) else self.reference
        return f"[{self.key}] the answer: {_reveal(expected)}"

    def _repr_markdown_(self) -> str:
        text = f"**Exercise {self.key}.** {self.question}"
        if self.choices is not None:
            text += " Choices: " + ", ".join(f"`{c!r}`" for c in self.choices) + "."
        return text


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _strings(name: str, value: Any) -> Sequence[str]:
    """``value`` if it is a list or tuple of strings (not a single string)."""
    if not _is_list(value) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of strings, got {value!r}")
    return value


def _takes_data(predicate: Callable) -> bool:
    """Does ``predicate`` accept more than ``(answer, expected)``?"""
    try:
        params = inspect.signature(predicate).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _reveal(value: Any) -> str:
    arr = _to_array(value)
    if arr is not None and arr.ndim == 0:
        return f"{arr.item():.6g}"
    if arr is not None and arr.size <= 12:
        return np.array2string(arr, precision=4)
    return _describe(value)
