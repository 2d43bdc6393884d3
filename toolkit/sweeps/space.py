"""Search-space values: check a value against an Optuna distribution, suggest it, parse it from text."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

__all__ = ["check_value", "check_grid", "suggest", "parse_value"]


def check_value(name: str, value: Any, dist: BaseDistribution) -> Any:
    """Raise ValueError unless ``value`` lies in ``dist``; return it as a plain Python value."""
    if isinstance(dist, CategoricalDistribution):
        if value not in dist.choices:
            raise ValueError(f"{name} must be one of {list(dist.choices)}; got {value!r}")
        return value
    if isinstance(dist, IntDistribution):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer in [{dist.low}, {dist.high}], got {value!r}")
        value = int(value)
        if not dist.low <= value <= dist.high or (value - dist.low) % dist.step:
            raise ValueError(
                f"{name} must be an integer in [{dist.low}, {dist.high}] (step {dist.step}), got {value}"
            )
        return value
    if isinstance(dist, FloatDistribution):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a number in [{dist.low}, {dist.high}], got {value!r}")
        value = float(value)
        if not (math.isfinite(value) and dist.low <= value <= dist.high):
            raise ValueError(f"{name} must be a number in [{dist.low}, {dist.high}], got {value}")
        return value
    raise TypeError(f"unsupported distribution for {name}: {type(dist).__name__}")


def check_grid(space: Mapping[str, BaseDistribution], grid: Mapping[str, Sequence[Any]]) -> None:
    """Every grid axis must be a searchable parameter with a non-empty list of valid values."""
    for name, values in grid.items():
        if name not in space:
            raise ValueError(f"grid parameter {name!r} is not in the search space {sorted(space)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
        for v in values:
            check_value(name, v, space[name])
        if len({json.dumps(v) for v in values}) != len(values):
            raise ValueError(f"grid[{name!r}] has repeated values: {list(values)}")


def suggest(trial: Any, name: str, dist: BaseDistribution) -> Any:
    """``trial.suggest_*`` for one distribution (enqueued values come back unchanged)."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        if dist.step is not None:
            return trial.suggest_float(name, dist.low, dist.high, step=dist.step)
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    raise TypeError(f"unsupported distribution for {name}: {type(dist).__name__}")


def parse_value(text: str, dist: BaseDistribution | None = None) -> Any:
    """Parse one command-line value: the type follows the distribution (JSON-ish otherwise)."""
    text = text.strip()
    if isinstance(dist, IntDistribution):
        return int(text)
    if isinstance(dist, FloatDistribution):
        return float(text)
    if isinstance(dist, CategoricalDistribution):
        for choice in dist.choices:
            if str(choice) == text:
                return choice
        return text
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)
