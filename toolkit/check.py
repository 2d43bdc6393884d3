"""Self-checking exercises: compare a learner's answer with a reference and say how close it is.

The verdict is one of ``exact``, ``close (max diff …)`` or ``not yet: …`` — in the spirit of
nn-zero-to-hero's ``cmp`` helper — and never a crash: a wrong type, a wrong shape, a function that
raises or an unanswered ``...`` are all reported as "not yet" with what was expected. Hints come
progressively (a nudge, then the idea, then the answer).

With ``GRADIENT_LAB_STRICT=1`` in the environment (set by the test command) a failing check raises
``AssertionError``, so solution notebooks under nbval fail when a reference or a solution is wrong.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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

    def __bool__(self) -> bool:
        return self.status in ("exact", "close")

    def __repr__(self) -> str:
        mark = {"exact": "✅", "close": "✅"}.get(self.status, "❌")
        return f"{mark} {self.message}"

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self else "#b35900"
        return f"<div style='color:{colour};font-weight:600'>{repr(self)}</div>"


def _to_array(value: Any) -> np.ndarray | None:
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach().cpu().numpy()
    try:
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


def compare(answer: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> CheckResult:
    """Compare ``answer`` with ``expected``: numbers and arrays/tensors numerically, the rest by ``==``."""
    if answer is Ellipsis:
        return CheckResult("not yet", "not answered yet: replace `...` with your answer")
    if isinstance(expected, (str, bool)) or expected is None:
        try:
            same = (answer is None or isinstance(answer, (str, bool, np.bool_))) and bool(answer == expected)
        except Exception:
            same = False
        if same:
            return CheckResult("exact", f"exact: {answer!r}")
        return CheckResult("not yet", f"not yet: expected {expected!r}, got {_describe(answer)}")
    if isinstance(expected, (numbers.Number, np.ndarray, list, tuple)) or hasattr(expected, "detach"):
        exp = _to_array(expected)
        ans = _to_array(answer)
        if exp is not None:
            if ans is None or isinstance(answer, (str, bool)) and not isinstance(expected, bool):
                return CheckResult("not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}")
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
            where = f"max diff {max_diff:.3g}" if math.isfinite(max_diff) else "NaN/inf where a number was expected"
            if exp.ndim == 0:
                return CheckResult("not yet", f"not yet: expected {exp.item():.6g}, got {ans.item():.6g}", max_diff)
            return CheckResult("not yet", f"not yet: {where} (tolerance rtol={rtol:g}, atol={atol:g})", max_diff)
    if isinstance(expected, (list, tuple, dict)):
        if isinstance(expected, dict):
            if not isinstance(answer, dict) or set(answer) != set(expected):
                return CheckResult("not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}")
            keys = list(expected)
            pairs = [(answer[k], expected[k]) for k in keys]
        else:
            if not isinstance(answer, (list, tuple)) or len(answer) != len(expected):
                return CheckResult("not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}")
            keys = list(range(len(expected)))
            pairs = list(zip(answer, expected))
        worst = CheckResult("exact", "exact", 0.0)
        for k, (a, e) in zip(keys, pairs):
            verdict = compare(a, e, rtol=rtol, atol=atol)
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
    return CheckResult("not yet", f"not yet: expected {_describe(expected)}, got {_describe(answer)}")


@dataclass
class Exercise:
    """One self-checking exercise.

    ``reference`` is the expected value, or a callable computing it from the arguments passed to
    :meth:`check` (so the expected answer follows the learner's own data). When the answer is a
    function and ``inputs`` lists argument tuples, ``answer(*args)`` is compared with
    ``reference(*args)`` on each of them.
    """

    key: str
    question: str
    reference: Any
    hints: Sequence[str] = ()
    rtol: float = 1e-5
    atol: float = 1e-8
    inputs: Sequence[tuple] | None = None
    _hints_shown: int = field(default=0, repr=False)

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
            raise AssertionError(result.message)
        return result

    def _judge(self, answer: Any, *args: Any, **kwargs: Any) -> CheckResult:
        if answer is Ellipsis:
            return compare(answer, None)
        if self.inputs is not None and callable(self.reference):
            if not callable(answer):
                return CheckResult("not yet", f"not yet: expected a function, got {_describe(answer)}")
            worst: CheckResult | None = None
            for index, case in enumerate(self.inputs):
                want = self.reference(*copy.deepcopy(case))
                try:
                    got = answer(*copy.deepcopy(case))
                except Exception as exc:  # the learner's function may raise anything
                    return CheckResult("not yet", f"not yet: your function raised {type(exc).__name__}: {exc}")
                verdict = compare(got, want, rtol=self.rtol, atol=self.atol)
                if not verdict:
                    return CheckResult("not yet", f"{verdict.message} (on input #{index})")
                if worst is None or verdict.status == "close":
                    worst = verdict
            return worst or CheckResult("exact", "exact")
        try:
            expected = self.expected(*args, **kwargs)
        except Exception as exc:
            return CheckResult("not yet", f"not yet: could not compute the reference from your inputs ({exc})")
        return compare(answer, expected, rtol=self.rtol, atol=self.atol)

    def hint(self) -> str:
        """Reveal the next hint (a nudge first, the answer last)."""
        if not self.hints:
            return f"[{self.key}] no hints for this one: re-read the question."
        index = min(self._hints_shown, len(self.hints) - 1)
        self._hints_shown += 1
        return f"[{self.key}] hint {index + 1}/{len(self.hints)}: {self.hints[index]}"

    def _repr_markdown_(self) -> str:
        return f"**Exercise {self.key}.** {self.question}"
