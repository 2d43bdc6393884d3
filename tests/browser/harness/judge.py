"""Judging what a page shows: errors, widgets that did not render, charts that drew nothing.

The page is read once with ``js/scan.js`` (:func:`scan_page`) and, for a notebook, its cells from
the notebook model (``js/cells.js``); the functions below turn those facts into readable problems.
"""

from __future__ import annotations

from .js import js

MAX_CHART_SIZE = 5000  # px; a bigger chart is a runaway layout (e.g. a size that feeds on itself)
# a marked element of a Vega view: every item drawn by a data mark (not axes, legends or titles)
MARK_ITEMS = ".role-mark > *"
WIDGET_FAILURE_TEXTS = (
    "Loading widget...",
    "Error displaying widget",
    "Error rendering widget",
    "Widget Javascript not detected",
    "Failed to load model class",
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def scan_page(page, root: str = "body") -> dict:
    """What the part of the page under ``root`` (a CSS selector) shows: tracebacks, panel errors,
    widget failures, every chart's state, how many panels, sliders and visible code editors."""
    return page.evaluate(js("scan"), [root, MARK_ITEMS, list(WIDGET_FAILURE_TEXTS)])


def error_problems(cells: list[dict], scan: dict) -> list[str]:
    """Error outputs (except in cells tagged ``raises-exception``, JupyterLab's and nbval's tag for
    an intended error), tracebacks in widgets, errors shown by panels and charts."""
    out = []
    for c in cells:
        if "raises-exception" in c.get("tags", []):
            continue
        for o in c["outputs"]:
            if o["type"] == "error":
                out.append(f"cell {c['index']} raised {o['ename']}: {o['evalue']}  (source: {c['source']!r})")
    out += [f"traceback shown inside a widget: {t}" for t in scan["widgetTracebacks"]]
    out += [f"a panel shows an error: {t}" for t in scan["panelErrors"]]
    out += [
        f"chart {ch['index']} failed in JavaScript: {ch['error']}" for ch in scan["charts"] if ch["error"]
    ]
    return out


def widget_problems(cells: list[dict], scan: dict) -> list[str]:
    out = [f"page shows {t!r}" for t in scan["widgetFailures"]]
    for c in cells:
        for j, o in enumerate(c["outputs"]):
            if not o["widget"]:
                continue
            dom = o["dom"]
            where = f"cell {c['index']} output {j}"
            if dom is None:
                out.append(f"{where}: widget output is not in the page")
            elif dom["mime"] is not None:
                out.append(
                    f"{where}: widget shown as {dom['mime']} instead of a live control: {dom['text'][:120]!r}"
                )
            elif any(t in dom["text"] for t in WIDGET_FAILURE_TEXTS):
                out.append(f"{where}: widget view did not render: {dom['text'][:120]!r}")
            elif dom["elements"] <= 1 and not dom["text"].strip():
                out.append(f"{where}: widget view is empty (its JavaScript probably failed)")
    return out


def chart_problems(scan: dict) -> list[str]:
    out = []
    for ch in scan["charts"]:
        if ch["error"]:
            continue  # already an error
        if ch["inButtonPanel"] and not ch["items"]:
            continue  # a Train panel's chart is empty until the button is pressed
        if ch["canvas"] and not ch["svg"]:
            continue  # canvas renderer: no inspectable marks, drawn is the best we can say
        if not ch["svg"]:
            out.append(f"chart {ch['index']} has no Vega view (no svg)")
        elif ch["items"] == 0:
            out.append(f"chart {ch['index']} shows no marks (empty Vega view)")
        if max(ch["width"], ch["height"]) > MAX_CHART_SIZE:
            out.append(
                f"chart {ch['index']} is {ch['width']} x {ch['height']} px: a runaway size, "
                "a student sees an endless blank chart"
            )
    return out
