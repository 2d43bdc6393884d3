"""Accessibility of panels and charts: a text description of every chart, a name for every control.

A screen-reader user hears a chart as its *description*: :func:`describe` writes one from the
chart's own data, e.g. ``"loss against step: loss falls from 2.3 to 0.41 as step goes from 1 to
200."`` — one sentence per series (the colour, dash or facet field), the first and last value of
the series' y along x, so it says what the picture shows without numbers made up to fit the text.

:class:`PanelA11y` is a tiny invisible widget that every :class:`toolkit.panels.Panel` carries. Its
front end (a few lines of JavaScript, shipped inline: no network) fills in what ipywidgets and
vega-embed leave out:

- each slider handle (``role="slider"``) gets the slider's description as its ``aria-label``
  (ipywidgets shows the description as a separate ``<label>`` that is not tied to the handle);
- the chart's SVG gets the current description as its ``aria-label`` (and ``role="img"`` so it is
  announced as a picture with that text); the description is a widget trait, so a slider move
  updates a few bytes instead of re-embedding the Vega view;
- vega-embed's "…" export menu button gets a name ("Chart actions: save as PNG or SVG").

It works the same in JupyterLab and in Voila, and keeps working when a view re-renders (a
``MutationObserver`` re-applies the labels).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

__all__ = ["describe", "PanelA11y", "name_controls", "MAX_SERIES"]

MAX_SERIES = 4  # series described one by one; the rest are counted ("and 3 more")
MAX_CHARS = 600  # a description is a sentence or three, not a data dump
_GROUPING = ("color", "strokeDash", "shape", "detail", "facet", "row", "column")
_CONTAINERS = ("layer", "hconcat", "vconcat", "concat")


def _fmt(value: float) -> str:
    return f"{value + 0.0:.3g}"  # + 0.0: no "-0"


def _channel(encoding: Mapping[str, Any], name: str) -> dict | None:
    enc = encoding.get(name)
    return enc if isinstance(enc, dict) and isinstance(enc.get("field"), str) else None


def _discrete(enc: dict) -> bool:
    """A field that names series (nominal/ordinal), not a measured value shown by colour."""
    return enc.get("type") in ("nominal", "ordinal") or ("type" not in enc and "scale" not in enc)


def _mark(layer: Mapping[str, Any]) -> str:
    mark = layer.get("mark")
    return mark.get("type", "") if isinstance(mark, Mapping) else str(mark or "")


def _title(enc: dict, titles: Mapping[str, str] | None = None) -> str:
    """The channel's title (its own, its axis' or legend's, another layer's for the field), else the field."""
    for title in (
        enc.get("title"),
        (enc.get("axis") or {}).get("title"),
        (enc.get("legend") or {}).get("title"),
        (titles or {}).get(enc["field"]),
    ):
        if isinstance(title, str) and title:
            return title
    return enc["field"]


def _layers(
    spec: Mapping[str, Any], inherited: dict, data: Any = None, transforms: tuple = ()
) -> Iterable[tuple[dict, dict, bool]]:
    """(layer with its effective data and transforms, merged encoding, filtered?) for every drawing
    layer of a spec: a child inherits its parent's data and transforms (and, in a layer, encoding)."""
    encoding = {**inherited, **(spec.get("encoding") or {})}
    data = spec.get("data", data)
    transforms = (*transforms, *(spec.get("transform") or []))
    if "mark" in spec:
        layer = {**spec, "transform": list(transforms)}
        if data is not None:
            layer["data"] = data
        yield layer, encoding, bool(transforms)
    for key in _CONTAINERS:
        for sub in spec.get(key) or []:
            if isinstance(sub, Mapping):
                yield from _layers(sub, encoding if key == "layer" else {}, data, transforms)
    if isinstance(spec.get("spec"), Mapping):  # a facet
        yield from _layers(spec["spec"], encoding, data, transforms)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _series(rows: list, x: str, y: str, groups: list[str]) -> dict[str, np.ndarray]:
    """{series name: (n, 2) array of finite (x, y) sorted by x}, in order of first appearance
    (vectorised: a panel redraws with up to tens of thousands of rows)."""
    if not rows:
        return {}
    frame = pd.DataFrame.from_records(rows, columns=list(dict.fromkeys([x, y, *groups])))
    xy = frame[[x, y]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(xy).all(axis=1)
    for column in (x, y):  # booleans are not numbers here
        values = frame[column]
        if values.dtype == bool:
            keep[:] = False
        elif values.dtype == object:
            keep &= ~np.fromiter((type(v) is bool for v in values), bool, len(values))
    if not keep.any():
        return {}
    frame, xy = frame[keep], xy[keep]
    if len(groups) > 1:
        names = frame[groups].astype(str).agg(", ".join, axis=1)
    else:
        names = frame[groups[0]].astype(str) if groups else pd.Series("", index=frame.index)
    codes, uniques = pd.factorize(names, sort=False)
    order = np.lexsort((xy[:, 1], xy[:, 0], codes))  # by series, then x (then y)
    xy, codes = xy[order], codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return {str(uniques[c[0]]): part for c, part in zip(np.split(codes, bounds), np.split(xy, bounds))}


def _series_sentence(name: str, points: np.ndarray, x: str, y: str) -> str:
    (x0, y0), (x1, y1) = points[0], points[-1]
    low, high = float(points[:, 1].min()), float(points[:, 1].max())
    span = max(abs(high - low), 1e-12)
    if abs(y1 - y0) <= 0.05 * span or len(points) == 1:
        trend = (
            f"stays near {_fmt(y0)}"
            if high - low <= 0.05 * max(abs(high), abs(low), 1e-12)
            else (f"starts and ends near {_fmt(y0)}, ranging from {_fmt(low)} to {_fmt(high)}")
        )
    else:
        trend = f"{'rises' if y1 > y0 else 'falls'} from {_fmt(y0)} to {_fmt(y1)}"
    where = f" as {x} goes from {_fmt(x0)} to {_fmt(x1)}" if x1 != x0 else f" at {x} {_fmt(x0)}"
    return f"{name + ': ' if name else ''}{y} {trend}{where}"


def describe(chart: Any, rows: list[Mapping[str, Any]] | None = None, *, max_series: int = MAX_SERIES) -> str:
    """A short text description of a chart made from its data (for ``aria-label`` / Vega ``description``).

    ``chart`` is a Vega-Lite dict or an Altair chart; ``rows`` are its top-level rows (default: the
    spec's inline ``data.values``). Layers with their own data use those, filtered as the layer
    filters them. Layers with a numeric x and y are described series by series (split by colour,
    dash, shape or facet field), lines first, up to ``max_series`` sentences; a heatmap by the range
    of its colour; anything else by a count of its data points and fields.
    """
    spec = chart.to_dict(validate=False) if hasattr(chart, "to_dict") else chart
    if not isinstance(spec, Mapping):
        raise TypeError(f"chart must be an Altair chart or a Vega-Lite dict, got {type(chart).__name__}")
    if not isinstance(max_series, int) or isinstance(max_series, bool) or max_series < 1:
        raise ValueError(f"max_series must be an int >= 1, got {max_series!r}")
    if rows is None:
        data = spec.get("data") or {}
        rows = data.get("values", []) if isinstance(data, Mapping) else []
        if isinstance(data, Mapping) and data.get("name") in (spec.get("datasets") or {}):
            rows = spec["datasets"][data["name"]]
    rows = [r for r in rows if isinstance(r, Mapping)]
    datasets = spec.get("datasets") if isinstance(spec.get("datasets"), Mapping) else {}
    title = spec.get("title")
    title = title.get("text") if isinstance(title, Mapping) else title
    title = " ".join(title) if isinstance(title, list) else (title if isinstance(title, str) else "")
    facet = spec.get("facet") or {}
    facet_fields = [
        f["field"]
        for f in ([facet] if "field" in facet else facet.values())
        if isinstance(f, Mapping) and isinstance(f.get("field"), str)
    ]
    layers = list(_layers(spec, {}))
    head = f"{title}: " if title else ""
    titles: dict[str, str] = {}  # a field titled in one layer reads the same in the others
    for _, enc, _ in layers:
        for channel in enc:
            c = _channel(enc, channel)
            if c and _title(c) != c["field"]:
                titles.setdefault(c["field"], _title(c))
    parts: list[tuple[str, str, int, list[str]]] = []  # (x title, y title, series count, sentences)
    used = 0
    # unfiltered layers first, lines before points and rules (a trajectory over its backdrop)
    order = sorted(layers, key=lambda item: (item[2], _mark(item[0]) not in ("line", "trail", "area")))
    for layer, enc, _ in order:
        x, y = _channel(enc, "x"), _channel(enc, "y")
        if not (x and y) or used >= max_series:
            continue
        values = _filtered(layer, _layer_rows(layer, rows, datasets))
        if values is None:  # a transform we cannot follow: describing all rows would mislead
            continue
        if _mark(layer) in ("rect", "square") and _channel(enc, "color"):
            continue  # a heatmap: described by its colour below
        groups = [
            c["field"] for c in (_channel(enc, ch) for ch in _GROUPING) if c and _discrete(c)
        ] + facet_fields
        groups = list(dict.fromkeys(g for g in groups if g not in (x["field"], y["field"])))
        series = _series(values, x["field"], y["field"], groups)
        if not series:
            continue
        xt, yt = _title(x, titles), _title(y, titles)
        names = list(series)
        if len(names) > 5 * max_series:  # too many to name: the envelope of all of them
            points = np.concatenate([series[n] for n in names])
            xs, ys = points[:, 0], points[:, 1]
            sentences = [
                f"all series: {yt} from {_fmt(min(ys))} to {_fmt(max(ys))} as {xt} goes "
                f"from {_fmt(min(xs))} to {_fmt(max(xs))}"
            ]
        else:
            room = max_series - used
            sentences = [_series_sentence(n, series[n], xt, yt) for n in names[:room]]
            if len(names) > room:
                sentences[-1] += f"; and {len(names) - room} more series"
        parts.append((xt, yt, len(names), sentences))
        used += len(sentences)
    if parts:
        xt0, yt0, n0, _ = parts[0]
        text = head + (f"{n0} series of " if n0 > 1 and len(parts) == 1 else "") + f"{yt0} against {xt0}. "
        said = []
        for xt, yt, _, sentences in parts:
            if (xt, yt) != (xt0, yt0):
                sentences = [f"{yt} against {xt}: {sentences[0]}", *sentences[1:]]
            said += sentences
        return _clip(text + "; ".join(dict.fromkeys(said)) + ".")  # a layer drawn twice is said once
    head = f"{title}: " if title else ""
    for layer, enc, _ in layers:  # a heatmap or map: what the colour shows, over what grid
        color = _channel(enc, "color")
        values = _filtered(layer, _layer_rows(layer, rows, datasets)) or []
        shown = (
            [v for v in (_number(r.get(color["field"])) for r in values) if v is not None] if color else []
        )
        if _mark(layer) in ("rect", "square") and shown:
            sizes = [
                len({str(r.get(c["field"])) for r in values})
                for c in (_channel(enc, "x"), _channel(enc, "y"))
                if c
            ]
            where = f" on a {sizes[0]} by {sizes[1]} grid" if len(sizes) == 2 else f" in {len(shown)} cells"
            return _clip(
                f"{head}heatmap of {_title(color)}{where}: values from {_fmt(min(shown))} to "
                f"{_fmt(max(shown))}."
            )
    fields = sorted({c["field"] for _, enc, _ in layers for c in (_channel(enc, ch) for ch in enc) if c})
    count = len(rows) or sum(len(_layer_rows(layer, [], datasets)) for layer, _, _ in layers)
    if not count:
        return f"{head}chart with no data yet."
    return f"{head}chart of {count} data points" + (f" ({', '.join(fields[:6])})" if fields else "") + "."


def _layer_rows(layer: Mapping[str, Any], rows: list, datasets: Mapping[str, Any]) -> list:
    """A layer's own rows (inline values or a named dataset, as Altair writes layers), else the chart's."""
    own = layer.get("data")
    if isinstance(own, Mapping) and isinstance(own.get("values"), list):
        return [r for r in own["values"] if isinstance(r, Mapping)]
    if isinstance(own, Mapping) and isinstance(datasets.get(own.get("name")), list):
        return [r for r in datasets[own["name"]] if isinstance(r, Mapping)]
    return rows


_COMPARE = re.compile(
    r"""^datum(?:\.(\w+)|\[['"](.+?)['"]\])\s*(?:(===|==|!==|!=)\s*(?:'([^']*)'|"([^"]*)"|(-?[\d.]+(?:e-?\d+)?)|(true|false)))?$"""
)


def _predicate(test: Any):
    """A row -> bool function for the filters Altair writes from ``alt.datum.f == v`` (and field
    predicates ``{"field", "equal"/"oneOf"}``); None for anything else (then the layer is not described)."""
    if isinstance(test, Mapping) and isinstance(test.get("field"), str):
        field = test["field"]
        if "equal" in test:
            return lambda r: r.get(field) == test["equal"]
        if isinstance(test.get("oneOf"), list):
            return lambda r: r.get(field) in test["oneOf"]
        return None
    if not isinstance(test, str):
        return None
    text, negate = test.strip(), False
    while text.startswith("!") or (text.startswith("(") and text.endswith(")")):
        text, negate = (text[1:].strip(), not negate) if text[0] == "!" else (text[1:-1].strip(), negate)
    match = _COMPARE.match(text)
    if not match:
        return None
    field = match.group(1) or match.group(2)
    op, text1, text2, number, boolean = match.group(3, 4, 5, 6, 7)
    if op is None:
        return (lambda r: not r.get(field)) if negate else (lambda r: bool(r.get(field)))
    value = (
        text1
        if text1 is not None
        else text2
        if text2 is not None
        else (float(number) if number is not None else boolean == "true")
    )
    same = lambda r: r.get(field) == value
    return (lambda r: not same(r)) if (op.startswith("!")) != negate else same


def _filtered(layer: Mapping[str, Any], rows: list) -> list | None:
    """Rows after the layer's filter transforms, or None if it has a transform we cannot follow."""
    for step in layer.get("transform") or []:
        keep = (
            _predicate(step.get("filter")) if isinstance(step, Mapping) and set(step) == {"filter"} else None
        )
        if keep is None:
            return None
        rows = [r for r in rows if keep(r)]
    return rows


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def name_controls(controls: Mapping[str, Any]) -> None:
    """Give a control without a description its key as tooltip, so it always has a name to announce."""
    if not isinstance(controls, Mapping):
        raise TypeError(f"controls must be a mapping of names to widgets, got {type(controls).__name__}")
    for name, control in controls.items():
        if not getattr(control, "description", "") and not getattr(control, "tooltip", None):
            try:
                control.tooltip = str(name)
            except Exception:  # noqa: BLE001 - a widget without a tooltip trait keeps no name
                pass


_ESM = r"""
const ACTIONS = 'Chart actions: save as PNG or SVG';

function labelOf(container) {
  const label = container.querySelector(':scope > .widget-label');
  const text = label ? label.textContent.trim() : '';
  return text || container.getAttribute('title') || '';
}

// names for what ipywidgets and vega-embed leave unnamed, anywhere on the page (also outside panels)
function nameControls(root) {
  for (const handle of root.querySelectorAll('.widget-slider .noUi-handle[role="slider"]')) {
    const container = handle.closest('.widget-slider');
    const name = container ? labelOf(container) : '';
    if (name && handle.getAttribute('aria-label') !== name) handle.setAttribute('aria-label', name);
  }
  for (const summary of root.querySelectorAll('.gl-livechart details > summary')) {
    if (!summary.getAttribute('aria-label')) summary.setAttribute('aria-label', ACTIONS);
  }
  for (const svg of root.querySelectorAll('.gl-livechart svg.marks')) {
    if (!svg.dataset.glPanel) asImage(svg, fallbackLabel(svg));  // panels describe their own charts
  }
}

// A chart is one picture with one text alternative: role="img" with its description as the label,
// and Vega's per-mark ARIA tree hidden (thousands of "x: 1; y: 2" items are noise, not a summary).
function asImage(svg, label) {
  if (label && svg.getAttribute('aria-label') !== label) svg.setAttribute('aria-label', label);
  if (svg.getAttribute('role') !== 'img') svg.setAttribute('role', 'img');
  svg.removeAttribute('aria-roledescription');
  for (const child of svg.children) {
    if (child.tagName.toLowerCase() !== 'title' && child.getAttribute('aria-hidden') !== 'true') {
      child.setAttribute('aria-hidden', 'true');
    }
  }
}

// a chart outside a panel: the spec's own description (Vega puts it in aria-label), else what the
// picture says in words (title, axis titles, legend entries)
function fallbackLabel(svg) {
  // Vega puts the spec's description on the view's container element, not on the SVG
  for (let node = svg; node && !node.classList?.contains('gl-livechart-widget'); node = node.parentElement) {
    const label = node.getAttribute && node.getAttribute('aria-label');
    if (label && label !== ACTIONS) return label;
    if (node.classList?.contains('gl-livechart')) break;
  }
  const texts = (sel) => [...svg.querySelectorAll(sel)].map((t) => t.textContent.trim()).filter(Boolean);
  const title = texts('.role-title-text').join(' ');
  const axes = [...new Set(texts('.role-axis-title'))];
  const legend = texts('.role-legend-label');
  let label = 'Chart' + (title ? ` "${title}"` : '');
  if (axes.length === 2) label += ` of ${axes[1]} against ${axes[0]}`;
  else if (axes.length) label += ` with axes ${axes.join(', ')}`;
  if (legend.length) label += `; series: ${legend.slice(0, 8).join(', ')}${legend.length > 8 ? ', ...' : ''}`;
  return label;
}

function describeChart(panel, description) {
  for (const svg of panel.querySelectorAll('.gl-livechart svg.marks')) {
    svg.dataset.glPanel = '1';
    asImage(svg, description || fallbackLabel(svg));
  }
}

function watch(node, callback) {
  let pending = false;
  const run = () => { pending = false; callback(); };
  const soon = () => { if (!pending) { pending = true; requestAnimationFrame(run); } };
  const observer = new MutationObserver(soon);
  observer.observe(node, { childList: true, subtree: true });
  soon();
  return { observer, soon };
}

// one page-wide watcher, however many panels there are (JupyterLab and Voila alike)
if (!globalThis.__glA11yPage && typeof document !== 'undefined') {
  globalThis.__glA11yPage = watch(document.body, () => nameControls(document.body));
}

function render({ model, el }) {
  el.classList.add('gl-a11y');
  el.style.display = 'none';
  let watcher = null;
  let stopped = false;
  // the panel's DOM is assembled after this view: wait for it, then watch it
  const attach = () => {
    if (stopped) return;
    const panel = el.closest('.gl-panel');
    if (!panel) { setTimeout(attach, 100); return; }
    watcher = watch(panel, () => describeChart(panel, model.get('description')));
  };
  attach();
  const onChange = () => watcher && watcher.soon();
  model.on('change:description', onChange);
  return () => {
    stopped = true;
    model.off('change:description', onChange);
    if (watcher) watcher.observer.disconnect();
  };
}

export default { render };
"""


class PanelA11y(anywidget.AnyWidget):
    """Invisible helper in every panel: names its sliders and gives its chart ``description`` as text."""

    _esm = _ESM
    description = traitlets.Unicode("").tag(sync=True)

    def describe_chart(self, live: Any) -> str:
        """Describe a :class:`~toolkit.livechart.LiveChart`'s current spec and rows; set and return it."""
        try:
            text = describe(live.spec, live.data)
        except Exception:  # noqa: BLE001 - a description must never break a panel
            text = ""
        if text != self.description:
            self.description = text
        return text
