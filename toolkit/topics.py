"""One registry of topics: each topic declares itself once, in its own package, and is discovered.

A topic is a package with a small ``topic.py`` holding ``TOPIC = Topic(...)``: its name (the word on the
command line), a one-line description, the module whose ``ACTIONS`` are its command-line actions, its
ready-made study for ``python -m toolkit sweep TOPIC`` and where its sweep experiments are built::

    TOPIC = Topic(name="tracking", description="gradients through a combinatorial solver",
                  cli="toolkit.tracking.cli", study="tracking-lambda",
                  experiments={"tracking-lambda": "toolkit.tracking.sweep:experiment"})

:func:`discover_topics` scans ``toolkit``'s subpackages, and the packages named in the environment
variable ``GRADIENT_LAB_TOPIC_PACKAGES`` (separated by ``os.pathsep``), for such files. So adding a topic
edits no shared file. A ``topic.py`` is read on its own, without importing its package (which would pull
in torch), so it may import nothing but this module; ``--help`` stays fast. This module imports no topic.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Topic", "discover_topics"]

PACKAGES_ENV = "GRADIENT_LAB_TOPIC_PACKAGES"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_FACTORY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Topic:
    """A topic's declaration (see the module docstring).

    name : the topic's word on the command line (lower case, e.g. ``"tracking"``).
    description : one line for ``python -m toolkit --help``.
    cli : module with ``ACTIONS = {action: (help, add_arguments, run)}`` (imported only when used).
    study : the experiment ``python -m toolkit sweep TOPIC`` runs (``None``: no sweep action).
    experiments : experiment name -> ``"module:function"`` building it (sweeps registers them lazily); the
        function returns the experiment's fields as a dict (or a ``toolkit.sweeps.Experiment``).
    order : position in listings (the course order), then the name.
    """

    name: str
    description: str
    cli: str = ""
    study: str | None = None
    experiments: Mapping[str, str] = field(default_factory=dict)
    order: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"name must be a lower-case word (letters, digits, _), got {self.name!r}")
        if not isinstance(self.description, str) or not self.description.strip():
            raise TypeError(f"description must be a non-empty string, got {self.description!r}")
        if not isinstance(self.cli, str) or (self.cli and not _MODULE.match(self.cli)):
            raise ValueError(
                f"cli must be a module path such as 'toolkit.tracking.cli' (or ''), got {self.cli!r}"
            )
        if self.study is not None and (not isinstance(self.study, str) or not self.study):
            raise TypeError(f"study must be None or an experiment name, got {self.study!r}")
        if not isinstance(self.experiments, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) and _FACTORY.match(v)
            for k, v in self.experiments.items()
        ):
            raise TypeError(
                f"experiments must map experiment names to 'module:function' strings, "
                f"got {self.experiments!r}"
            )
        # (not toolkit.validation: it imports torch, and a topic file must stay light)
        if isinstance(self.order, bool) or not isinstance(self.order, int) or not 0 <= self.order <= 10_000:
            raise TypeError(f"order must be an integer in [0, 10000], got {self.order!r}")


def _search_locations() -> list[tuple[str, Path]]:
    """(package name, folder) pairs whose subfolders may hold a ``topic.py``."""
    places = [("toolkit", Path(__file__).resolve().parent)]
    for package in filter(None, os.environ.get(PACKAGES_ENV, "").split(os.pathsep)):
        spec = importlib.util.find_spec(package.strip())
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"{PACKAGES_ENV}: {package!r} is not an importable package")
        places += [(package.strip(), Path(p)) for p in spec.submodule_search_locations]
    return places


def _read_topic(package: str, path: Path) -> Topic:
    """Execute one ``topic.py`` on its own (not its package) and return its ``TOPIC``."""
    spec = importlib.util.spec_from_file_location(f"_gradient_lab_topic.{package}.{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a broken topic file fails loudly here, not as a silent skip
    topic = getattr(module, "TOPIC", None)
    if not isinstance(topic, Topic):
        raise TypeError(f"{path} must define TOPIC = Topic(...), got {type(topic).__name__}")
    return topic


@functools.lru_cache(maxsize=8)
def _discover(env: str) -> tuple[Topic, ...]:
    found: dict[str, Topic] = {}
    for package, folder in _search_locations():
        for path in sorted(folder.glob("*/topic.py")):
            topic = _read_topic(package, path)
            if topic.name in found:
                raise ValueError(f"two topics are named {topic.name!r} ({path})")
            found[topic.name] = topic
    return tuple(sorted(found.values(), key=lambda t: (t.order, t.name)))


def discover_topics() -> dict[str, Topic]:
    """Every declared topic, name -> :class:`Topic`, in course order (read once per environment)."""
    return {t.name: t for t in _discover(os.environ.get(PACKAGES_ENV, ""))}
