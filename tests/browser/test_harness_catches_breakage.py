"""The browser checks can fail: a deliberately broken notebook must be caught on every count.

The notebook is written into the server's private copy of notebooks/ (never into the repo) and
breaks one thing per cell: a panel whose render ignores its slider, a slow one, one that fails
after a move, a chart with an invalid Vega spec, a widget whose JavaScript throws, an error inside
an Output widget, a chart of runaway size, an intended error (tagged ``raises-exception``,
allowed) and a real one, after which the last cell never runs.
"""

from __future__ import annotations

import pytest

from . import harness as bh

pytestmark = pytest.mark.browser

CELLS = [
    """import time, ipywidgets as w, altair as alt, pandas as pd, anywidget
from toolkit.panels import Panel, slider
from toolkit.livechart import LiveChart
def line(k):
    data = pd.DataFrame({"x": [0, 1, 2], "y": [0, k, 2 * k]})
    return alt.Chart(data).mark_line().encode(x="x:Q", y="y:Q")""",
    # 1: ignores its slider -> redraws the same picture
    "static = Panel({'a': slider('a', 1, 0, 5)}, lambda a: line(1))\nstatic",
    # 2: slow -> redraw later than 2 s
    "slow = Panel({'b': slider('b', 1, 0, 5)},\n"
    "             lambda b: (time.sleep(0 if b == 1 else 2.5), line(b))[1])\nslow",
    # 3: breaks as soon as the slider moves -> error in the readout
    "def fragile(c):\n    if c != 1:\n        raise RuntimeError('sabotaged render')\n    return line(c)\n"
    "broken = Panel({'c': slider('c', 1, 0, 5)}, fragile)\nbroken",
    # 4: invalid Vega-Lite -> the chart reports a JavaScript error
    "LiveChart({'mark': 'no-such-mark', 'data': {'values': [{'x': 1}]},\n"
    "           'encoding': {'x': {'field': 'x', 'type': 'nonsense'}}})",
    # 5: a widget whose front end throws
    "class Broken(anywidget.AnyWidget):\n"
    "    _esm = \"export default { render() { throw new Error('sabotaged view'); } }\"\nBroken()",
    # 6: a traceback inside an Output widget (not in the notebook model)
    "out = w.Output()\nwith out:\n    1 / 0\nout",
    # 7: a chart far too tall to look at
    "LiveChart(line(1).properties(height=6000))",
    # 8: an intended error, tagged: allowed
    "raise KeyError('intended')",
    # 9: a real error, which stops Run All
    "raise ValueError('sabotaged cell')",
    # 10: never runs
    "print('unreachable')",
]


@pytest.fixture(scope="module")
def broken_notebook(lab, lab_page, browser):
    with bh.scratch_session(
        lab_page, lab, "zz_sabotaged.ipynb", CELLS, browser=browser, tags={8: ["raises-exception"]}
    ) as session:
        yield session


def _panel(session, index: int):
    return session.page.locator(f"{session.root_selector} .gl-panel.gl-panel-live").nth(index)


def test_errors_and_unrun_cells_are_reported(broken_notebook):
    problems = broken_notebook.problems()
    errors = "\n".join(problems["errors"])
    assert "ValueError: sabotaged cell" in errors
    assert "intended" not in errors, "an error in a raises-exception cell must be allowed"
    assert "ZeroDivisionError" in errors, "a traceback inside an Output widget must be reported"
    assert "failed in JavaScript" in errors, "an invalid chart spec must be reported"
    assert any("'unreachable'" in p for p in problems["not_run"]), problems["not_run"]


def test_broken_widget_view_is_reported(broken_notebook):
    problems = broken_notebook.problems()
    assert any("widget view is empty" in p for p in problems["widgets"]), problems["widgets"]
    assert any("sabotaged view" in p for p in problems["javascript"]), problems["javascript"]


def test_broken_and_runaway_charts_are_reported(broken_notebook):
    charts = broken_notebook.scan()["charts"]
    assert any(c["error"] for c in charts), charts
    problems = bh.chart_problems(broken_notebook.scan())
    assert any("runaway size" in p for p in problems), problems


def test_static_slow_and_failing_panels_are_told_apart(broken_notebook):
    static = bh.move_slider(broken_notebook.page, _panel(broken_notebook, 0), timeout=4)
    assert static.redrew and not static.svg_changed, static
    slow = bh.move_slider(broken_notebook.page, _panel(broken_notebook, 1), timeout=8)
    assert slow.redrew and slow.latency_ms is not None and slow.latency_ms > 2000, slow
    bh.move_slider(broken_notebook.page, _panel(broken_notebook, 2), timeout=4)
    after = bh.error_problems([], broken_notebook.scan())
    assert any("sabotaged render" in p for p in after), after
