"""Argument checks shared by every public function.

Each check returns the value converted to a plain Python type, or raises ``TypeError`` (wrong kind
of value) / ``ValueError`` (right kind, outside the allowed range) with a message that names the
parameter and the accepted range, e.g. ``steps must be an integer in [1, 10000], got 0``.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported only by the checks that need it: toolkit.validation stays light
    import torch

__all__ = [
    "check_int",
    "check_float",
    "check_choice",
    "check_bool",
    "as_rng",
    "check_instance",
    "check_array",
    "check_tensor",
]


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
            raise TypeError(
                f"{label} must be None or {'an integer' if kind is numbers.Integral else 'a number'}, "
                f"got {bound!r} ({type(bound).__name__})"
            )
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


def check_instance(name: str, value: Any, types: type | tuple[type, ...], what: str | None = None) -> Any:
    """Return ``value`` if it is an instance of ``types``; ``what`` describes them in the message."""
    _check_name(name)
    if not isinstance(value, types):
        if what is None:
            kinds = types if isinstance(types, tuple) else (types,)
            what = " or ".join(t.__name__ for t in kinds)
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    return value


def _check_options(ndim: Any, finite: Any, min_size: Any) -> tuple[int, ...] | None:
    """check_array/check_tensor's own options: ndim None, an int or ints; finite a bool; min_size >= 0."""
    check_bool("finite", finite)
    check_int("min_size", min_size, low=0)
    if ndim is None:
        return None
    allowed = (ndim,) if not isinstance(ndim, tuple) else ndim
    for d in allowed:
        check_int("ndim", d, low=0, high=64)
    return allowed


def _dims(name: str, shape: tuple[int, ...], allowed: tuple[int, ...] | None, min_size: int) -> None:
    if allowed is not None:
        if len(shape) not in allowed:
            dims = " or ".join(str(d) for d in allowed)
            raise ValueError(f"{name} must have {dims} dimensions, got shape {shape}")
    size = math.prod(shape)
    if size < min_size:
        raise ValueError(f"{name} must hold at least {min_size} value(s), got shape {shape}")


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = True,
    min_size: int = 1,
    integer: bool = False,
) -> np.ndarray:
    """Return ``value`` (array-like of real numbers: list, numpy array, CPU tensor) as a numpy array.

    float64 unless ``integer`` (then int64, and only integer or bool input is accepted); ``ndim`` is the
    allowed number of dimensions (an int or a tuple of ints); ``finite`` refuses NaN and ±inf.
    """
    _check_name(name)
    allowed = _check_options(ndim, finite, min_size)
    check_bool("integer", integer)
    if value is None or isinstance(value, (str, bytes, dict)):
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}")
    torch = sys.modules.get("torch")  # a tensor can only exist if torch was imported
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as err:  # ragged lists, ints beyond int64
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    kinds = "iub" if integer else "fiub"
    if arr.dtype.kind not in kinds:
        wanted = "integers" if integer else "real numbers"
        raise TypeError(f"{name} must be an array of {wanted}, got dtype {arr.dtype}")
    _dims(name, arr.shape, allowed, min_size)
    arr = arr.astype(np.int64 if integer else np.float64, copy=False)
    if finite and not integer and not np.isfinite(arr).all():
        raise ValueError(f"{name} must hold only finite numbers (no NaN or inf)")
    return arr


def check_tensor(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = True,
    min_size: int = 1,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Return ``value`` as a floating torch tensor (``dtype``, default: its own float dtype or float32).

    Tensors keep their device and autograd graph; numpy arrays and lists are converted. bool, integer
    and complex tensors are refused by dtype, ``ndim`` and ``finite`` as in :func:`check_array`.
    """
    import torch  # here, not at module level: most checks need no torch

    _check_name(name)
    allowed = _check_options(ndim, finite, min_size)
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise TypeError(f"dtype must be None or a floating torch dtype, got {dtype!r}")
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(
            check_array(name, value, ndim=ndim, finite=finite, min_size=min_size),
            dtype=dtype or torch.float32,
        )
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    _dims(name, tuple(value.shape), allowed, min_size)
    if dtype is not None and value.dtype != dtype:
        value = value.to(dtype)
    if finite and not bool(torch.isfinite(value.detach()).all()):
        raise ValueError(f"{name} must hold only finite numbers (no NaN or inf)")
    return value
