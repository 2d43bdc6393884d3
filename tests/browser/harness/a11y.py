"""Accessibility in the page: axe-core audit, accessible names, chart descriptions, drawn colours,
and a panel driven by the keyboard alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.palette import confusable

from .env import find_axe
from .js import js
from .notebook import SliderMove, away_from_end, timed_key_press

#: axe-core's rule sets we audit against (WCAG 2.0/2.1 A and AA, plus axe's best practices)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
#: impacts that fail the audit (axe grades each violation minor / moderate / serious / critical)
AXE_FAILING = ("serious", "critical")
#: our own widgets: toolkit panels and every LiveChart (charts shown with show(), outside panels too)
OWN_WIDGETS = (".gl-panel", ".gl-livechart-widget")
#: more colours than this in one group is an identity colouring of many objects (e.g. one colour per
#: particle in an event display), not a set of series: no palette keeps 20 colours apart for every
#: viewer. Such groups are listed by :func:`identity_colourings` (reported, not judged pair by pair).
MAX_SERIES_COLOURS = 10


def run_axe(page, include: list[str], axe_path: Path | None = None) -> dict:
    """Inject axe-core into the page (once, from the vendored file: no network) and audit ``include``.

    Returns ``{violations: [{id, impact, help, nodes}], passes, incomplete, checked}``; only the
    elements matching ``include`` (CSS selectors) and their contents are audited.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        axe_path = axe_path or find_axe()[0]
        if axe_path is None:
            raise RuntimeError(find_axe()[1])
        page.add_script_tag(path=str(axe_path))
    return page.evaluate(js("axe_run"), [include, AXE_TAGS])


def axe_failures(result: dict) -> list[str]:
    """The serious and critical violations, one readable line per rule with where it hit."""
    out = []
    for v in result["violations"]:
        if v["impact"] in AXE_FAILING:
            where = "; ".join(f"{n['target']} ({n['summary'][:120]})" for n in v["nodes"][:3])
            out.append(f"{v['impact']}: {v['id']} ({v['help']}) x{len(v['nodes'])}: {where}")
    return out


def chart_colours(page, root: str = "body") -> list[dict]:
    """Per drawn chart: {mark type|dash|width|shape: [colours]} — items that differ by colour only."""
    return page.evaluate(js("chart_colours"), root)


def identity_colourings(charts: list[dict]) -> list[str]:
    """Groups with more than MAX_SERIES_COLOURS colours (see there)."""
    return [
        f"chart {c['index']} {c['title']!r}: {key.split('|')[0]} in {len(colours)} colours"
        for c in charts
        for key, colours in c["groups"].items()
        if len(colours) > MAX_SERIES_COLOURS
    ]


def red_green_problems(charts: list[dict]) -> list[str]:
    """Charts that tell two series apart only by a pair of colours a protan/deutan viewer confuses."""
    out = []
    for chart in charts:
        for key, colours in chart["groups"].items():
            if len(colours) > MAX_SERIES_COLOURS:
                continue
            for i, a in enumerate(colours):
                for b in colours[i + 1 :]:
                    try:
                        merged = confusable(a, b)
                    except ValueError:  # a colour form we cannot parse: not judged
                        continue
                    if merged:
                        out.append(
                            f"chart {chart['index']} {chart['title']!r}: {key.split('|')[0]} items "
                            f"differ only by {a} vs {b}, which look alike with {merged} colour vision"
                        )
    return out


def control_names(page, root: str = "body") -> list[dict]:
    """Every control inside our widgets (under ``root``) with its accessible name."""
    return page.evaluate(js("control_names"), root)


def chart_names(page, root: str = "body") -> list[dict]:
    """Every LiveChart under ``root``: drawn or not, and its SVG's aria-label (the chart description)."""
    return page.evaluate(js("chart_names"), root)


@dataclass
class KeyboardRun:
    """A panel driven by the keyboard alone: how many Tabs reached a slider, and what the chart did."""

    tabs: int
    focused: list[str]  # what each Tab landed on
    slider_name: str | None
    move: SliderMove | None


def keyboard_only(page, container, *, max_tabs: int = 12, timeout: float = 10.0) -> KeyboardRun:
    """Reach the panel's first slider with Tab only (starting just before the panel), move it with an
    arrow key, and report whether the chart redrew. No clicks, no programmatic focus on a control."""
    container.evaluate(js("keyboard_start"))
    focused: list[str] = []
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        active = page.evaluate("() => window.__glActive()")
        where = "" if active["inPanel"] else " (outside panel)"
        focused.append(f"{active['role']}:{active['label']}{where}")
        if active["inPanel"] and active["role"] == "slider":
            break
    else:
        return KeyboardRun(tabs=max_tabs, focused=focused, slider_name=None, move=None)
    handle = container.locator(".noUi-handle:focus").first
    chart = container.locator(".gl-livechart").first
    move = timed_key_press(page, handle, chart, away_from_end(handle), timeout=timeout)
    return KeyboardRun(
        tabs=len(focused), focused=focused, slider_name=handle.get_attribute("aria-label"), move=move
    )
