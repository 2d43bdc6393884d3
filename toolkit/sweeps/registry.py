"""The experiment registry: a name → objective, search space, default grid and objective metric.

An :class:`Experiment` is everything a study needs to know about one kind of run:
``objective(params, trial) -> {metric: value}`` trains/evaluates once for a parameter set; the
``space`` (Optuna distributions) says what may vary; ``grid`` is the default grid; ``metric`` and
``direction`` pick the number Optuna optimises (all returned metrics are stored).
Built-in experiments register lazily (a factory per name) so ``--help`` never imports torch.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import itertools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.distributions import BaseDistribution

from ..topics import discover_topics
from ..validation import check_bool, check_choice, check_instance
from .space import check_grid, check_value, parse_value, suggest

__all__ = [
    "Experiment",
    "register",
    "get_experiment",
    "experiment_names",
    "TOPIC_EXPERIMENTS",
    "grid_points",
    "param_key",
    "suggest",
    "check_value",
    "parse_value",
]

Objective = Callable[[dict[str, Any], Any], Mapping[str, float]]


@dataclass(frozen=True)
class Experiment:
    """One registered experiment.

    name : registry key, e.g. ``"feedback-rules"``.
    objective : ``objective(params, trial) -> dict`` of numeric metrics. ``trial`` is the live
        ``optuna.Trial`` (or ``None`` outside a study) so the objective can report intermediate
        values for pruning (:class:`toolkit.training.PruningCallback`). Exceptions and a non-finite
        objective metric mark the trial FAIL; the study goes on.
    space : parameter name → Optuna distribution (what adaptive search samples from).
    grid : parameter name → list of values (the default grid; a subset of ``space``).
    defaults : a value for every other parameter the objective takes, and for each searchable
        parameter that is not a grid axis (grid search keeps those at their default).
    metric, direction : the metric Optuna optimises (``"minimize"`` or ``"maximize"``).
    """

    name: str
    objective: Objective
    space: Mapping[str, BaseDistribution]
    grid: Mapping[str, Sequence[Any]]
    metric: str
    direction: str = "minimize"
    defaults: Mapping[str, Any] = field(default_factory=dict)
    topic: str = ""
    description: str = ""
    summarize: Callable[[Any], Any] | None = None  # results DataFrame -> summary table
    plot: Mapping[str, Any] = field(default_factory=dict)  # results_chart keywords: x, y, color, log_x

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.objective):
            raise TypeError(f"objective must be callable, got {type(self.objective).__name__}")
        for name in ("space", "grid", "defaults", "plot"):
            check_instance(name, getattr(self, name), Mapping, "a dict")
        if not isinstance(self.metric, str) or not self.metric:
            raise TypeError(f"metric must be a non-empty string (a metric name), got {self.metric!r}")
        check_choice("direction", self.direction, ("minimize", "maximize"))
        for name in ("topic", "description"):
            check_instance(name, getattr(self, name), str, "a string")
        if self.summarize is not None and not callable(self.summarize):
            raise TypeError(f"summarize must be None or callable, got {type(self.summarize).__name__}")
        for name, dist in self.space.items():
            if not isinstance(dist, BaseDistribution):
                raise TypeError(f"space[{name!r}] must be an optuna distribution, got {type(dist).__name__}")
        check_grid(self.space, self.grid)
        missing = [k for k in self.space if k not in self.grid and k not in self.defaults]
        if missing:
            raise ValueError(f"searchable parameters {missing} need a default (or a grid axis)")
        for k in self.space:
            if k in self.defaults:
                check_value(k, self.defaults[k], self.space[k])

    def with_options(
        self, *, grid: Mapping[str, Sequence[Any]] | None = None, fixed: Mapping[str, Any] | None = None
    ) -> Experiment:
        """A copy with some grid axes replaced and some parameters pinned to a value.

        A searchable parameter given in ``fixed`` leaves the grid and the space (it is pinned).
        """
        if grid is not None:
            grid_points(grid)  # checks: a dict of name -> list of values
        if fixed is not None:
            _check_names("fixed", fixed)
        fixed = dict(fixed or {})
        unknown = set(fixed) - set(self.defaults) - set(self.space)
        if unknown:
            allowed = sorted(set(self.defaults) | set(self.space))
            raise ValueError(f"fixed: unknown parameter(s) {sorted(unknown)}; allowed: {allowed}")
        new_grid = {k: list(v) for k, v in self.grid.items()}
        for k, values in (grid or {}).items():
            if k not in self.space:
                raise ValueError(f"grid: unknown parameter {k!r}; searchable: {sorted(self.space)}")
            new_grid[k] = [check_value(k, v, self.space[k]) for v in values]  # 1 -> 1.0 for floats
        for k in list(fixed):
            if k in self.space:
                check_value(k, fixed[k], self.space[k])
                new_grid.pop(k, None)
        space = {k: v for k, v in self.space.items() if k not in fixed}
        return dataclasses.replace(self, space=space, grid=new_grid, defaults={**self.defaults, **fixed})

    def run(self, **params: Any) -> dict[str, float]:
        """Call the objective once outside any study (defaults fill missing parameters)."""
        unknown = set(params) - set(self.defaults) - set(self.space)
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)} for experiment {self.name!r}")
        return dict(self.objective({**self.defaults, **params}, None))


def param_key(params: Mapping[str, Any]) -> str:
    """A canonical text key for one parameter set (sorted JSON), used to find it in a study."""
    _check_names("params", params)
    try:
        return json.dumps({k: params[k] for k in sorted(params)}, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"params must map names to plain values (numbers, strings, bools, None): {err}"
        ) from None


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """All grid points in a fixed, documented order: the Cartesian product, first axis slowest."""
    _check_names("grid", grid)
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {type(values).__name__}")
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(grid[n] for n in names))]


def _check_names(label: str, value: Any) -> None:
    """A dict whose keys are parameter names (strings)."""
    check_instance(label, value, Mapping, "a dict of parameter name -> value(s)")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{label} must have parameter names (strings) as keys, got {bad[0]!r}")


# --------------------------------------------------------------------------------------------
_REGISTRY: dict[str, Experiment | Callable[[], Experiment]] = {}

#: the engine's own experiments (demos and tests of the engine), as "module:function" factories
_ENGINE_EXPERIMENTS = {
    "toy": "toolkit.sweeps.toy:experiment",
    "intro-wave": "toolkit.sweeps.wave:experiment",
}

#: the ready-made study of each topic (``python -m toolkit sweep TOPIC`` runs this one): from the
#: topics' own declarations (toolkit/<topic>/topic.py), plus the engine's demos
TOPIC_EXPERIMENTS = {
    **{name: t.study for name, t in discover_topics().items() if t.study},
    "intro": "intro-wave",
    "toy": "toy",
}


def register(
    experiment: Experiment | Callable[[], Experiment], name: str | None = None, *, replace: bool = False
) -> None:
    """Add an experiment (or a zero-argument factory building it on first use) to the registry."""
    if not isinstance(experiment, Experiment) and not callable(experiment):
        raise TypeError(
            f"experiment must be an Experiment or a factory building one, got {type(experiment).__name__}"
        )
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"name must be None or a non-empty string, got {name!r}")
    check_bool("replace", replace)
    if name is None:
        if not isinstance(experiment, Experiment):
            raise TypeError("name is required when registering a factory")
        name = experiment.name
    if name in _REGISTRY and not replace:
        raise ValueError(f"experiment {name!r} is already registered (pass replace=True)")
    _REGISTRY[name] = experiment


@dataclass(frozen=True)
class Deferred:
    """The function ``"module:name"``, imported when first called (in the process that runs the trial)."""

    path: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, name = self.path.split(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)


def _read_declaration(module: str) -> tuple[Any, str]:
    """The module, executed from its file without its package's ``__init__`` when that is not loaded yet
    (a topic package imports torch; its study declaration needs only Optuna), and the name it ran under."""
    parent = module.rpartition(".")[0]
    if not parent or parent in sys.modules:
        return importlib.import_module(module), module
    root = importlib.util.find_spec(module.split(".")[0])  # imports only the top-level package
    for base in root.submodule_search_locations or []:
        path = Path(base, *module.split(".")[1:]).with_suffix(".py")
        if path.is_file():
            name = f"_gradient_lab_study.{module}"
            spec = importlib.util.spec_from_file_location(name, path)
            loaded = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(loaded)
            except ImportError:  # e.g. a relative import, which needs its package: import it the usual way
                break
            return loaded, name
    return importlib.import_module(module), module


def _factory(path: str) -> Callable[[], Experiment]:
    """A factory reading the declaration only when the experiment is first used (``--help`` stays fast).

    The function returns an :class:`Experiment` or its fields as a dict: a topic declares its study
    without importing this package (topics sit below the sweeps in the import layers). Read on its own
    (``sweep --list`` does not import torch), its objective is kept as a :class:`Deferred` reference to
    the real module, so worker processes import it there.
    """
    module, function = path.split(":")

    def build() -> Experiment:
        loaded, ran_as = _read_declaration(module)
        built = getattr(loaded, function)()
        exp = Experiment(**built) if isinstance(built, Mapping) else built
        if ran_as == module or not isinstance(exp, Experiment):
            return exp
        deferred = {
            key: Deferred(f"{module}:{fn.__name__}")
            for key in ("objective", "summarize")
            if getattr(fn := getattr(exp, key), "__module__", None) == ran_as
        }
        return dataclasses.replace(exp, **deferred)

    return build


def _ensure_builtins() -> None:
    """Register the engine's experiments and every discovered topic's (each once, lazily)."""
    declared = {name: path for t in discover_topics().values() for name, path in t.experiments.items()}
    for name, path in {**_ENGINE_EXPERIMENTS, **declared}.items():
        if name not in _REGISTRY:
            _REGISTRY[name] = _factory(path)


def experiment_names() -> list[str]:
    """Names of all registered experiments."""
    _ensure_builtins()
    return sorted(_REGISTRY)


def get_experiment(name: str | Experiment) -> Experiment:
    """Look up an experiment by name (or topic name); Experiments pass through."""
    return lookup(name, "name")


def lookup(value: str | Experiment, label: str = "experiment") -> Experiment:
    """:func:`get_experiment`, with errors naming the caller's parameter ``label``."""
    if isinstance(value, Experiment):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{label} must be an experiment name or an Experiment, got {type(value).__name__}")
    _ensure_builtins()
    name = TOPIC_EXPERIMENTS.get(value, value)
    if name not in _REGISTRY:
        raise ValueError(f"{label} must be one of {sorted(_REGISTRY)}; got {value!r}")
    entry = _REGISTRY[name]
    if not isinstance(entry, Experiment):
        entry = entry()
        if not isinstance(entry, Experiment) or entry.name != name:
            raise TypeError(f"the factory registered as {name!r} did not build Experiment {name!r}")
        _REGISTRY[name] = entry
    return entry
