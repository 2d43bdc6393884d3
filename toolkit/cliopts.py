"""Helpers every topic's command line shares: options read from the configs, torch threads, tables.

* :func:`config_option` adds ``--some-name`` whose default **is** the default of the field ``some_name`` of
  a config dataclass (or of a keyword of a function such as ``train_downscaler``), and whose type follows
  that default, so a command line cannot drift from the library it drives.
* :func:`torch_threads` runs a block with ``n`` torch threads (the small nets here are fastest on one
  thread on a shared machine) and restores the previous number after it.
* :func:`format_table` prints rows of numbers as right-aligned columns.

(This module imports torch only inside :func:`torch_threads`, so a parser can be built without it.)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["config_default", "config_option", "torch_threads", "format_table"]


def config_default(source: Any, name: str) -> Any:
    """The default of field ``name`` of the dataclass ``source``, or of keyword ``name`` of the callable."""
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"name must be a field or keyword name, got {name!r}")
    if dataclasses.is_dataclass(source) and isinstance(source, type):
        found = {f.name: f for f in dataclasses.fields(source)}.get(name)
        missing = dataclasses.MISSING
        if found is None or (found.default is missing and found.default_factory is missing):
            raise ValueError(f"name must be a field of {source.__name__} with a default, got {name!r}")
        return found.default if found.default is not dataclasses.MISSING else found.default_factory()
    if not callable(source):
        raise TypeError(f"source must be a config dataclass or a function, got {type(source).__name__}")
    try:
        parameter = inspect.signature(source).parameters.get(name)
    except (TypeError, ValueError):
        parameter = None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        raise ValueError(
            f"name must be a keyword of {getattr(source, '__name__', source)!r} with a default, got {name!r}"
        )
    return parameter.default


def config_option(
    parser: argparse.ArgumentParser, source: Any, name: str, *, flag: str | None = None, **kwargs: Any
) -> argparse.Action:
    """Add ``--name`` (or ``flag``) with the default of ``source``'s ``name``; ``kwargs`` go to argparse.

    A bool default becomes ``--name/--no-name``; a tuple or list default takes several values; the
    type is the default's unless ``kwargs`` give one (needed when the default is ``None``).
    The action remembers where its default came from (``action.config_source``), for the tests.
    """
    if not isinstance(parser, argparse.ArgumentParser):
        raise TypeError(f"parser must be an argparse.ArgumentParser, got {type(parser).__name__}")
    default = config_default(source, name)
    if "default" in kwargs:
        raise TypeError("config_option takes its default from the config: do not pass default")
    if flag is not None and (not isinstance(flag, str) or not flag.startswith("--")):
        raise ValueError(f"flag must be None or an option such as '--lr', got {flag!r}")
    if isinstance(default, bool):
        kwargs.setdefault("action", argparse.BooleanOptionalAction)
    elif isinstance(default, (tuple, list)):
        kwargs.setdefault("nargs", "+")
        if default and "choices" not in kwargs:
            kwargs.setdefault("type", type(default[0]))
        default = list(default)
    elif default is not None and "choices" not in kwargs:
        kwargs.setdefault("type", type(default))
    kwargs.setdefault("dest", name)
    action = parser.add_argument(flag or "--" + name.replace("_", "-"), default=default, **kwargs)
    action.config_source = (source, name)
    return action


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads (0: leave torch's choice), then restore the previous number."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 1024:
        raise ValueError(f"n must be an integer in [0, 1024] (0 = torch's default), got {n!r}")
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cell(value: Any, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def format_table(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None, *, digits: int = 4
) -> str:
    """Rows (dicts) as right-aligned columns under a header line; floats with ``digits`` decimals.

    ``keys`` picks and orders the columns (default: the first row's keys); a missing value prints as None.
    """
    if (
        isinstance(rows, (str, bytes, Mapping))
        or not isinstance(rows, Sequence)
        or not all(isinstance(r, Mapping) for r in rows)
    ):
        raise TypeError(f"rows must be a list of dicts, got {type(rows).__name__}")
    if keys is None:
        keys = list(rows[0]) if rows else []
    if (
        isinstance(keys, (str, bytes))
        or not isinstance(keys, Sequence)
        or not all(isinstance(k, str) for k in keys)
    ):
        raise TypeError(f"keys must be None or a list of column names, got {keys!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 12:
        raise ValueError(f"digits must be an integer in [0, 12], got {digits!r}")
    cells = [[_cell(r.get(k), digits) for k in keys] for r in rows]
    widths = [max([len(k)] + [len(row[i]) for row in cells]) for i, k in enumerate(keys)]
    header = "  ".join(k.rjust(w) for k, w in zip(keys, widths, strict=True))
    lines = [header, "-" * len(header)]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
