"""Charts that redraw on every slider step: build the Altair figure once, refill only its rows.

Building a layered Altair chart and turning it into Vega-Lite costs 50–250 ms (layer merging, deep
copies, JSON conversion), more than a slider step may take (≈ 200 ms in all). A panel whose figure
keeps its look while its numbers change builds it once per *look* (``key``) and then only swaps the
rows:

    template = ChartTemplate(build)  # build(*slots, **look) -> an Altair chart
    spec = template(key, field_rows, path_rows, title="...")  # a ReadySpec for LiveChart / Panel

Every dataset of the figure (each view or layer that has data of its own, in depth-first order) is
one *slot*; ``build`` receives the slots' rows in that order and must give slot i its own data
(layers that share one dataset are one slot: Altair lifts it to the layer chart holding them). The
spec keeps one named dataset, ``"data"``, with a ``_slot`` column; each view that had data reads it
and keeps its slot with a filter. A redraw then sends only rows (toolkit.livechart) and Vega draws
the same figure.

Two checks keep a template honest: on the first build of a key the slots' rows must be what the
figure itself holds (a wrong slot order fails at once), and under ``GRADIENT_LAB_STRICT=1`` (the
test suite) every call rebuilds the figure and compares it with the template's, so a look that
depends on something not in ``key`` fails in the tests instead of drawing a stale figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import altair as alt
import pandas as pd
from altair.utils.data import to_values

from .check import strict_mode
from .validation import check_instance

__all__ = ["ChartTemplate", "ReadySpec", "records"]

SLOT = "_slot"
SHARED = "data"  # the dataset LiveChart streams (toolkit.livechart.split_spec)
_CHILDREN = ("layer", "hconcat", "vconcat", "concat")


class ReadySpec:
    """A finished Vega-Lite dict, handed to a LiveChart as a chart object (``to_dict``).

    LiveChart deep-copies plain dicts and re-checks every row; a spec built fresh for each redraw,
    with plain JSON rows, needs neither (≈ 200 ms for 9,000 map pixels).
    """

    def __init__(self, spec: dict) -> None:
        self.spec = check_instance("spec", spec, dict, "a Vega-Lite dict")

    def to_dict(self, validate: bool = False) -> dict:
        return self.spec


def records(rows: Any) -> list[dict]:
    """Rows as plain JSON records: a DataFrame converted as Altair converts inline data (NaN → None,
    timestamps → ISO strings, categories → strings), or a list of dicts as they are."""
    if isinstance(rows, pd.DataFrame):
        return to_values(rows)["values"]
    if isinstance(rows, Sequence) and not isinstance(rows, (str, bytes)):
        if all(isinstance(r, Mapping) for r in rows):
            return [dict(r) for r in rows]
    raise TypeError(f"rows must be a DataFrame or a list of dicts, got {type(rows).__name__}")


class ChartTemplate:
    """``build(*slots, **look)`` -> Altair chart, built once per ``key``; each call refills the rows.

    ``build`` gets the slots as the caller passed them (DataFrames or lists of dicts)."""

    def __init__(self, build: Callable[..., Any]) -> None:
        if not callable(build):
            raise TypeError(f"build must be callable, got {type(build).__name__}")
        self.build = build
        self._looks: dict[Hashable, tuple[dict, int]] = {}
        self.builds = 0  # how many times the Altair figure was built (tests read it)

    def __call__(self, key: Hashable, *slots: Any, **look: Any) -> ReadySpec:
        """The figure for ``key`` with ``slots`` as the rows of its datasets (depth-first order).

        ``look`` (titles, scale domains, ...) goes to ``build`` with the slots; it must be fixed by
        ``key`` (checked under GRADIENT_LAB_STRICT=1)."""
        try:
            hash(key)
        except TypeError:
            raise TypeError(f"key must be hashable, got {type(key).__name__}") from None
        rows = [records(s) for s in slots]
        if key not in self._looks or strict_mode():
            figure = self._look(slots, rows, look)
            if key in self._looks and figure[0] != self._looks[key][0]:
                raise AssertionError(
                    f"ChartTemplate key {key!r}: the figure changed although its key did not "
                    "(something that shapes the look is missing from the key)"
                )
            self._looks[key] = figure
        spec, n_slots = self._looks[key]
        if len(rows) != n_slots:
            raise ValueError(f"the figure for key {key!r} has {n_slots} datasets, got rows for {len(rows)}")
        data = [{**r, SLOT: i} for i, slot in enumerate(rows) for r in slot]
        return ReadySpec({**spec, "data": {"name": SHARED}, "datasets": {SHARED: data}})

    def _look(self, slots: tuple, rows: list[list[dict]], look: dict) -> tuple[dict, int]:
        """Build the figure from ``slots``; its spec without data, one filter per dataset."""
        self.builds += 1
        spec = self.build(*slots, **look).to_dict(validate=strict_mode())
        datasets = spec.pop("datasets", {})
        held: list[list[dict]] = []
        _detach(spec, datasets, held)
        if [_canonical(h) for h in held] != [_canonical(r) for r in rows]:
            raise ValueError(
                f"build(*slots) must give slot i its own dataset, in depth-first order: the figure holds "
                f"{len(held)} dataset(s) of {[len(h) for h in held]} rows, the slots {[len(r) for r in rows]}"
            )
        if strict_mode():  # the rewritten spec is still valid Vega-Lite
            alt.TopLevelSpec.from_dict({**spec, "datasets": {SHARED: []}}, validate=True)
        return spec, len(held)


def _detach(node: dict, datasets: dict, held: list) -> None:
    """Replace every dataset under ``node`` by a filter on the shared data's ``_slot`` column."""
    data = node.get("data")
    if data is not None:
        values = data.get("values") if "values" in data else datasets.get(data.get("name"))
        if values is None:
            raise ValueError("a template's datasets must be inline rows (a DataFrame or a list of dicts)")
        # read the shared rows afresh (not an enclosing view's filtered ones), then keep this slot's
        node["data"] = {"name": SHARED}
        node["transform"] = [{"filter": f"datum.{SLOT} == {len(held)}"}, *node.get("transform", [])]
        held.append(values)
    for child_key in _CHILDREN:
        for child in node.get(child_key, []):
            _detach(child, datasets, held)


def _canonical(rows: list[dict]) -> str:
    return json.dumps(rows, sort_keys=True, default=str)
