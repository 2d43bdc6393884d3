"""Argument checks shared by every public function.

Each check returns the value converted to a plain Python type, or raises ``TypeError`` (wrong kind
of value) / ``ValueError`` (right kind, outside the allowed range) with a message that names the
parameter and the accepted range, e.g. ``steps must be an integer in [1, 10000], got 0``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["check_int", "check_float", "check_choice", "check_bool", "as_rng"]


def _interval(low: Any, high: Any, low_open: bool = False, high_open: bool = False) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else repr(low)
    hi = "inf" if high is None else repr(high)
    return f"{left}{lo}, {hi}{right}"


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string (the checked parameter's name), got {name!r}")


def _check_bounds(low: Any, high: Any, kind: type) -> None:
    """The bounds a caller gives: None or a number of ``kind`` (not bool, not NaN), low <= high."""
    for label, bound in (("low", low), ("high", high)):
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, kind):
            raise TypeError(f"{label} must be None or {'an integer' if kind is numbers.Integral else 'a number'}, "
                            f"got {bound!r} ({type(bound).__name__})")
        if bound != bound:
            raise ValueError(f"{label} must not be NaN")
    if low is not None and high is not None and low > high:
        raise ValueError(f"low must be <= high, got low={low!r}, high={high!r}")


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[low, high]`` (``None`` = unbounded)."""
    _check_name(name)
    _check_bounds(low, high, numbers.Integral)
    rng = _interval(low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in {rng}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {rng}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` inside the interval; open ends exclude the bound."""
    _check_name(name)
    _check_bounds(low, high, numbers.Real)
    for label, flag in (("low_open", low_open), ("high_open", high_open)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{label} must be True or False, got {flag!r}")
    rng = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in {rng}, got {value!r} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range is out of range, not a wrong type
        raise ValueError(f"{name} must be a finite number in {rng}, got {value}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number in {rng}, got {value}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be a number in {rng}, got {value}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices`` (strings)."""
    _check_name(name)
    if isinstance(choices, str) or not isinstance(choices, Iterable):
        raise TypeError(f"choices must be an iterable of strings, got {type(choices).__name__}")
    choices = list(choices)
    if not choices or not all(isinstance(c, str) for c in choices):
        raise TypeError(f"choices must be a non-empty iterable of strings, got {choices!r}")
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy bools accepted)."""
    _check_name(name)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


def as_rng(random_state: Any = None, name: str = "random_state") -> np.random.Generator:
    """Turn ``None`` (fresh entropy), a non-negative int seed or a Generator into a Generator."""
    _check_name(name)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None:
        return np.random.default_rng()
    check_int(name, random_state, low=0)
    return np.random.default_rng(int(random_state))
