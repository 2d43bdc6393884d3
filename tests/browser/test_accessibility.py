"""Accessibility of every notebook in a real browser, after Run All, as a student meets it.

Per notebook (opened and run once, shared with test_notebooks_browser: the ``notebook_run`` fixture in
conftest.py; the audit is taken right after Run All, before either module moves a slider):

- **axe-core audit** (the npm package, vendored at build time by ``make axe``; injected from the
  file, no network) of our own widgets: every toolkit panel (``.gl-panel``) and every LiveChart
  (``.gl-livechart-widget``), against WCAG 2.0/2.1 A and AA and axe's best practices. Any *serious*
  or *critical* violation fails. Excluded, and why: JupyterLab's own chrome (menus, toolbars,
  file browser, cell editors) is not ours to fix and is audited upstream; it is left out by
  auditing only inside our widgets, not by switching rules off. No rule is disabled.
- **names**: every control in our widgets has an accessible name (sliders get theirs from
  ``toolkit.a11y``; ipywidgets leaves them unnamed).
- **text alternatives**: every drawn chart is an image with a text description made from its data
  (``toolkit.a11y.describe``, e.g. "loss falls from 2.3 to 0.4 ..."): a panel's chart through the
  panel's helper widget (updated on every redraw), any other chart through ``show()``.
- **keyboard only**: one live panel per notebook is driven with Tab and arrow keys only (no
  clicks, no programmatic focus on the control) and its chart redraws.
- **colour**: no chart tells two series apart by a red/green pair alone (``toolkit.palette``), judged
  on the colours actually drawn: items of one mark type with the same dash, width and shape that
  differ only by colour. A group of more than ``MAX_SERIES_COLOURS`` colours is an identity colouring
  of many objects (one colour per particle in 01's event display), where no palette can keep every
  pair apart; those are recorded in the JSON (``identity_colourings``), not judged pair by pair.

Results per notebook go to test-results/browser/a11y_<notebook>.json, and a picture of the
keyboard-driven panel to test-results/browser/a11y_<notebook>_panel.png.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from . import harness as bh

ROOT = bh.ROOT

pytestmark = pytest.mark.browser

# what toolkit.a11y.describe always says
DATA_WORDS = (" against ", "data points", "no data yet", "heatmap of")


def _fmt(lines: list[str]) -> str:
    return "\n  " + "\n  ".join(lines)


@pytest.fixture
def audited(axe_path: Path, notebook_run, results_dir: Path) -> dict:
    """The audit of the notebook as its one Run All left it (taken in conftest.notebook_run before any
    slider moved), plus its main panel driven by the keyboard alone (once per notebook; it moves a slider)."""
    if notebook_run.audit_error:
        raise RuntimeError(f"the accessibility audit failed: {notebook_run.audit_error}")
    found, nb = notebook_run.audit, notebook_run.nb
    if "keyboard_error" in found:
        raise RuntimeError(f"the keyboard-only run failed: {found['keyboard_error']}")
    if "keyboard" not in found:
        notebook_run.settle()
        panel = nb.main_panel()
        try:
            found["keyboard"] = asdict(bh.keyboard_only(nb.page, panel, timeout=15.0))
        except Exception as exc:
            found["keyboard_error"] = f"{type(exc).__name__}: {exc}"
            raise
        shot = bh.element_screenshot(nb.page, panel, results_dir / f"a11y_{nb.name}_panel.png")
        found["panel_screenshot"] = str(shot.relative_to(ROOT)) if shot else None
    return found


def test_axe_finds_no_serious_or_critical_violation(audited):
    result = audited["axe"]
    assert result["checked"] >= 1, f"{audited['notebook']}: no panel or chart to audit"
    assert not audited["axe_failures"], f"{audited['notebook']}: axe-core:{_fmt(audited['axe_failures'])}"


def test_every_control_has_an_accessible_name(audited):
    unnamed = [f"{c['tag']} role={c['role']!r}: {c['html']}" for c in audited["controls"] if not c["name"]]
    assert audited["controls"], f"{audited['notebook']}: no controls found in its panels"
    assert not unnamed, f"{audited['notebook']}: controls without a name:{_fmt(unnamed)}"


def test_every_chart_has_a_text_description(audited):
    drawn = [c for c in audited["charts"] if c["drawn"]]
    assert drawn, f"{audited['notebook']}: no chart drawn"
    missing = [
        f"chart {c['index']} (role={c['role']!r})" for c in drawn if not c["label"] or c["role"] != "img"
    ]
    assert not missing, f"{audited['notebook']}: charts without a text alternative:{_fmt(missing)}"
    # described from the data (toolkit.a11y.describe: the panel's helper, or show()), not just named
    undescribed = [
        f"chart {c['index']}: {c['label']!r}" for c in drawn if not any(w in c["label"] for w in DATA_WORDS)
    ]
    assert not undescribed, f"{audited['notebook']}: charts not described from their data:{_fmt(undescribed)}"


def test_a_panel_works_with_the_keyboard_alone(audited):
    run = audited["keyboard"]
    assert run["move"] is not None, (
        f"{audited['notebook']}: Tab never reached a slider of the main panel: {run['focused']}"
    )
    assert run["slider_name"], f"{audited['notebook']}: the focused slider has no accessible name"
    move = run["move"]
    assert move["value_after"] != move["value_before"], f"{move['key']} did not move the slider: {move}"
    assert move["chart_error"] is None, f"the chart failed to redraw: {move['chart_error']}"
    assert move["redrew"] and move["svg_changed"], f"the chart did not redraw after {move['key']}: {move}"


def test_no_chart_relies_on_a_red_green_pair_alone(audited):
    assert not audited["red_green"], f"{audited['notebook']}:{_fmt(audited['red_green'])}"
