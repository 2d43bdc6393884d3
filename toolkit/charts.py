"""Chart helpers: show any Altair chart offline, export it for slides, and a few shared charts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from .io import atomic_write
from .livechart import LiveChart
from .validation import check_float

__all__ = ["show", "save_chart", "metric_lines", "EXPORT_FORMATS"]

EXPORT_FORMATS = (".png", ".svg", ".html", ".json")


def show(chart: Any, **kwargs: Any) -> LiveChart:
    """Display an Altair chart through the offline :class:`LiveChart` widget and return it.

    Works with no network (the Vega JavaScript is bundled), in JupyterLab and in Voila; the
    returned widget can be updated later (``w.chart = new_chart`` or ``w.push(rows)``).
    """
    return LiveChart(chart, **kwargs)


def save_chart(chart: Any, path: str | os.PathLike, *, scale: float = 2.0) -> Path:
    """Write a chart as PNG, SVG, standalone HTML or Vega-Lite JSON (chosen by the suffix).

    Rendering is done by vl-convert (no browser, no network); the file appears atomically.
    ``chart`` may be an Altair chart, a Vega-Lite dict or a :class:`LiveChart` (its current rows).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise ValueError(f"path must end with one of {', '.join(EXPORT_FORMATS)}; got {path.name!r}")
    scale = check_float("scale", scale, low=0.1, high=10.0)
    if isinstance(chart, LiveChart):
        spec = dict(chart.spec)
        spec["data"] = {"values": chart.data}
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
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    empty = pd.DataFrame({x: [], y: [], color: [], **({facet: []} if facet else {})})
    base = alt.Chart(empty).mark_line(point=False, interpolate="linear").encode(
        x=alt.X(f"{x}:Q", title=x),
        y=alt.Y(f"{y}:Q", title=None, scale=scale),
        color=alt.Color(f"{color}:N", title=color),
        tooltip=[f"{color}:N", f"{x}:Q", f"{y}:Q"],
    ).properties(width=width, height=height)
    if facet:
        base = base.facet(column=alt.Column(f"{facet}:N", title=None)).resolve_scale(y="independent")
    return base.properties(title=title) if title else base
