"""Argument checks shared by the diffusion topic's public functions (on top of ``toolkit.validation``).

They refuse what cannot be a value of the parameter (None, text, objects, complex numbers, ragged or
huge numbers) with a TypeError/ValueError naming it, and otherwise convert exactly as the functions
always did, so valid input gives bit-identical results.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from toolkit.validation import check_array, check_float

_HALF = (torch.bfloat16, torch.float16)


def real_tensor(
    name: str,
    value: Any,
    *,
    finite: bool = False,
    min_ndim: int = 0,
    int_dtype: torch.dtype | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``value`` as a real floating tensor.

    Tensors keep dtype, device and graph (integer/bool -> the default float dtype, bf16/fp16 -> float32,
    which every op here supports); arrays and lists go through ``torch.as_tensor`` as before (integers ->
    float64); ``int_dtype`` overrides both for integer/bool input; ``dtype`` converts everything to it
    (non-tensors directly, as ``torch.as_tensor(value, dtype=dtype)`` does). ``finite`` refuses NaN/inf;
    ``min_ndim`` is the least number of dimensions.
    """
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
        t = value if value.is_floating_point() else value.to(int_dtype or torch.get_default_dtype())
        t = t.float() if t.dtype in _HALF else t
    else:
        # refuses None, text, objects and ragged lists, naming the parameter
        checked = check_array(name, value, finite=False, min_size=0)
        try:  # converted as before: a list of floats -> float32, a float array keeps its dtype
            t = torch.as_tensor(value, dtype=dtype)
        except (RuntimeError, OverflowError, TypeError, ValueError):  # e.g. an int beyond int64
            t = torch.from_numpy(checked)
        t = t if t.is_floating_point() else t.to(int_dtype or torch.float64)
        t = t.float() if t.dtype in _HALF else t
    t = t if dtype is None else t.to(dtype)
    if t.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(t.shape)}")
    if finite and not bool(torch.isfinite(t.detach()).all()):
        raise ValueError(f"{name} must hold only finite numbers (no NaN or inf)")
    return t


def real_array(name: str, value: Any, *, finite: bool = False, min_ndim: int = 0) -> np.ndarray:
    """``value`` checked as an array of real numbers and returned as ``np.asarray(value, dtype=float)``."""
    arr = check_array(name, value, finite=finite, min_size=0)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {arr.shape}")
    return arr


def array_shape(name: str, value: Any, *, finite: bool = False) -> tuple[int, ...]:
    """The shape of ``value`` after checking it as an array of real numbers, without a float64 copy of a
    float array (for dataclasses that keep the arrays they are given)."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        if finite and not np.isfinite(value).all():
            raise ValueError(f"{name} must hold only finite numbers (no NaN or inf)")
        return value.shape
    return check_array(name, value, finite=finite, min_size=0).shape


def float_pair(name: str, value: Any, low: float, high: float) -> tuple[float, float]:
    """(lo, hi) with low <= lo <= hi <= high, from a sequence of two numbers."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a pair (low, high) of numbers, got {type(value).__name__}")
    items = list(value)
    if len(items) != 2:
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {len(items)} value(s)")
    lo, hi = (check_float(name, v, low=low, high=high) for v in items)
    if lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {value}")
    return lo, hi


def int_sequence(name: str, value: Any) -> list:
    """The items of a non-text iterable (checked one by one by the caller)."""
    if isinstance(value, (str, bytes, torch.Tensor, np.ndarray)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence (tuple or list), got {type(value).__name__}")
    return list(value)


def check_generator(name: str, value: Any) -> torch.Generator | None:
    if value is not None and not isinstance(value, torch.Generator):
        raise TypeError(f"{name} must be None or a torch.Generator, got {type(value).__name__}")
    return value
