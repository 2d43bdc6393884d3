"""Chart helpers: show any Altair chart offline, export it for slides, and a few shared charts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from . import palette
from .a11y import describe
from .io import atomic_write
from .livechart import LiveChart
from .validation import check_choice, check_float

__all__ = [
    "show",
    "save_chart",
    "metric_lines",
    "series_lines",
    "log_ticks",
    "log_axis",
    "with_description",
    "EXPORT_FORMATS",
]

EXPORT_FORMATS = (".png", ".svg", ".html", ".json")


def show(chart: Any, **kwargs: Any) -> LiveChart:
    """Display an Altair chart through the offline :class:`LiveChart` widget and return it.

    Works with no network (the Vega JavaScript is bundled), in JupyterLab and in Voila; the
    returned widget can be updated later (``w.chart = new_chart`` or ``w.push(rows)``).
    A chart without a ``description`` gets one made from its data (:func:`with_description`): it
    is what a screen reader announces for the chart.
    """
    _check_chart(chart)
    return LiveChart(with_description(chart), **kwargs)


def with_description(chart: Any) -> Any:
    """The chart with a text ``description`` made from its data by :func:`toolkit.a11y.describe`
    (an author's own description is kept). Vega shows it as the chart's ``aria-label``."""
    _check_chart(chart)
    if isinstance(chart, LiveChart):
        return chart
    if isinstance(chart, dict):
        return chart if chart.get("description") else {**chart, "description": describe(chart)}
    if not hasattr(chart, "to_dict") or getattr(chart, "description", alt.Undefined) is not alt.Undefined:
        return chart
    try:
        return chart.properties(description=describe(chart))
    except Exception:  # noqa: BLE001 - a chart type without top-level properties keeps none
        return chart


def _check_chart(chart: Any) -> None:
    if not (hasattr(chart, "to_dict") or isinstance(chart, (dict, LiveChart))):
        raise TypeError(
            f"chart must be an Altair chart, a Vega-Lite dict or a LiveChart, got {type(chart).__name__}"
        )


def save_chart(chart: Any, path: str | os.PathLike, *, scale: float = 2.0, rows: str = "all") -> Path:
    """Write a chart as PNG, SVG, standalone HTML or Vega-Lite JSON (chosen by the suffix).

    Rendering is done by vl-convert (no browser, no network); the file appears atomically.
    ``chart`` may be an Altair chart, a Vega-Lite dict or a :class:`LiveChart`; for a LiveChart,
    ``rows="all"`` exports its whole :attr:`~LiveChart.history` (rows a ``max_rows`` cap hides from
    the view included), ``rows="shown"`` only the newest ``max_rows`` the view draws.
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"path must end with one of {', '.join(EXPORT_FORMATS)}; got {path.name!r}")
    scale = check_float("scale", scale, low=0.1, high=10.0)
    rows = check_choice("rows", rows, ("all", "shown"))
    if isinstance(chart, LiveChart):
        spec = dict(chart.spec)
        spec["data"] = {"values": chart.history if rows == "all" else chart.data}
    elif hasattr(chart, "to_dict"):
        spec = chart.to_dict()
    elif isinstance(chart, dict):
        spec = chart
    else:
        raise TypeError(f"chart must be an Altair chart, a dict or a LiveChart, got {type(chart).__name__}")

    import vl_convert as vlc

    if suffix == ".json":
        content: str | bytes = json.dumps(spec, indent=2)
    elif suffix == ".png":
        content = vlc.vegalite_to_png(spec, scale=scale)
    elif suffix == ".svg":
        content = vlc.vegalite_to_svg(spec)
    else:
        content = vlc.vegalite_to_html(spec, bundle=True)
    with atomic_write(path, "wb" if isinstance(content, bytes) else "w") as fh:
        fh.write(content)
    return path


def metric_lines(
    title: str = "",
    *,
    x: str = "step",
    y: str = "value",
    color: str = "run",
    facet: str | None = "metric",
    width: int = 260,
    height: int = 160,
    log_y: bool = False,
) -> alt.TopLevelMixin:
    """An empty line chart of long-form metric rows ``{step, metric, value, run}``.

    This is what :class:`toolkit.livechart.LivePlotCallback` streams into: one small panel per
    metric (``facet``), one line per run.
    """
    from .validation import check_bool, check_int

    for name, value in (("title", title), ("x", x), ("y", y), ("color", color)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if facet is not None and not isinstance(facet, str):
        raise TypeError(f"facet must be a field name or None, got {type(facet).__name__}")
    if not (x and y and color) or len({x, y, color, facet}) < 3 + (facet is not None):
        raise ValueError(
            f"x, y, color (and facet) must be distinct non-empty field names, got "
            f"x={x!r}, y={y!r}, color={color!r}, facet={facet!r}"
        )
    width, height = (
        check_int("width", width, low=10, high=4000),
        check_int("height", height, low=10, high=4000),
    )
    log_y = check_bool("log_y", log_y)
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    y_axis = alt.Axis(format="~g", labelOverlap="greedy", tickCount=6) if log_y else alt.Axis()
    empty = pd.DataFrame({x: [], y: [], color: [], **({facet: []} if facet else {})})
    base = (
        alt.Chart(empty)
        .mark_line(point=False, interpolate="linear")
        .encode(
            x=alt.X(f"{x}:Q", title=x),
            y=alt.Y(f"{y}:Q", title=None, scale=scale, axis=y_axis),
            # colour-blind-safe colours, and a dash per run as well: overlapping runs stay apart
            color=alt.Color(f"{color}:N", title=color, scale=palette.color_scale()),
            strokeDash=alt.StrokeDash(f"{color}:N", title=color, scale=palette.dash_scale()),
            tooltip=[f"{color}:N", f"{x}:Q", f"{y}:Q"],
        )
        .properties(width=width, height=height)
    )
    if facet:
        base = base.facet(column=alt.Column(f"{facet}:N", title=None)).resolve_scale(y="independent")
    return base.properties(title=title) if title else base


# -- charts that read right: readable log axes, the reference on top, one palette ----------------
def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis from ``low`` to ``high`` (both > 0): 1-2-5 per decade, or only the
    decades when that would be more than 10 labels — so labels never run into each other."""
    low, high = (
        check_float("low", low, low=0.0, low_open=True),
        check_float("high", high, low=0.0, low_open=True),
    )
    if high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    import math

    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for steps in ((1, 2, 5), (1,)):
        ticks = [m * 10.0**e for e in range(first, last + 1) for m in steps if low <= m * 10.0**e <= high]
        if len(ticks) <= 10:
            break
    if len(ticks) > 10:  # many decades: every other one
        ticks = ticks[:: math.ceil(len(ticks) / 10)]
    if len(ticks) < 2:  # a range inside one 1-2-5 step: label its ends too
        ticks = sorted({low, *ticks, high})
    return [float(f"{t:.12g}") for t in ticks]


def log_axis(low: float, high: float, **kwargs: Any) -> alt.Axis:
    """An axis for a log scale with :func:`log_ticks`, plain labels ("0.01", "20", "1e+5") and no overlap."""
    return alt.Axis(values=log_ticks(low, high), format="~g", labelOverlap="greedy", **kwargs)


def series_lines(
    data: pd.DataFrame | list[dict],
    *,
    x: str,
    y: str,
    series: str,
    reference: Any = None,
    log_x: bool = False,
    log_y: bool = False,
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
    series_title: str | None = None,
    width: int = 320,
    height: int = 200,
) -> alt.LayerChart:
    """Lines of ``y`` against ``x``, one per value of ``series``, that read right at a glance.

    Colours from :mod:`toolkit.palette` and a dash per series (never colour alone); the
    ``reference`` series (truth, exact, target) in black, solid, thin and drawn *last*: it is on top,
    never hidden, and a series that matches it still shows around it (drawn wider underneath);
    log axes with :func:`log_axis`; one legend naming the series.
    """
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        data = pd.DataFrame(data)  # rows {x: .., y: .., series: ..}
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame or a list of row dicts, got {type(data).__name__}")
    missing = [name for name in (x, y, series) if name not in data.columns]
    if missing:
        raise ValueError(f"data has no column(s) {missing}; columns are {list(data.columns)}")
    domain = list(dict.fromkeys(data[series].tolist()))
    if reference is not None and reference not in domain:
        raise ValueError(f"reference must be one of the {series} values {domain}, got {reference!r}")
    if reference is not None:  # the reference last in the legend, as it is drawn last
        domain = [d for d in domain if d != reference] + [reference]

    def scale_axis(column: str, log: bool) -> dict:
        if not log:
            return {"scale": alt.Scale(zero=False)}
        positive = data[column][data[column] > 0]
        if positive.empty:
            raise ValueError(f"log_{'x' if column == x else 'y'}=True needs positive {column} values")
        low, high = float(positive.min()), float(positive.max())
        return {"scale": alt.Scale(type="log", nice=False, domain=[low, high]), "axis": log_axis(low, high)}

    legend_title = series_title or series
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:Q", title=x_title or x, **scale_axis(x, log_x)),
        y=alt.Y(f"{y}:Q", title=y_title or y, **scale_axis(y, log_y)),
        color=alt.Color(
            f"{series}:N",
            title=legend_title,
            scale=palette.color_scale(domain, reference=reference),
            sort=domain,
        ),
        strokeDash=alt.StrokeDash(
            f"{series}:N",
            title=legend_title,
            scale=palette.dash_scale(domain, reference=reference),
            sort=domain,
        ),
        tooltip=[f"{series}:N", f"{x}:Q", f"{y}:Q"],
    )
    if reference is None:
        layers = [base.mark_line(strokeWidth=2)]
    else:
        is_ref = alt.datum[series] == reference
        layers = [
            base.transform_filter(~is_ref).mark_line(strokeWidth=3),
            base.transform_filter(is_ref).mark_line(strokeWidth=1.5),
        ]
    chart = alt.layer(*layers).properties(width=width, height=height)
    return chart.properties(title=title) if title else chart
