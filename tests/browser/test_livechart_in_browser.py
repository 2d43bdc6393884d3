"""LiveChart in a real browser: after many streamed pushes every Vega view holds exactly the rows the
kernel holds, a view created after the pushes shows all of them, and a capped chart says so.

The notebook is written into the server's private copy of notebooks/ (never into the repo). The rows
are read from the Vega view itself (``view.data("data")``), not from the DOM.
"""

from __future__ import annotations

import pytest

from . import harness as bh

pytestmark = pytest.mark.browser

N_FIRST, N_LATER, CAP, N_CAPPED = 400, 300, 50, 200
CELLS = [
    """import altair as alt
from IPython.display import display
from toolkit.livechart import LiveChart
def empty():
    return alt.Chart().mark_line().encode(x="step:Q", y="value:Q")""",
    # pushed in the same cell that displays the chart: the front end is still loading meanwhile
    f"""w = LiveChart(empty(), min_interval=0.0)
display(w)
for k in range({N_FIRST}):
    w.push({{"step": k, "value": k % 7}})""",
    # throttled pushes from a later cell, then flush
    f"""w.min_interval = 0.05
for k in range({N_FIRST}, {N_FIRST + N_LATER}):
    w.push({{"step": k, "value": k % 7}})
w.flush()""",
    # a second view of the same widget, created after all the pushes
    "w",
    f"""c = LiveChart(empty(), max_rows={CAP}, min_interval=0.0)
display(c)
for k in range({N_CAPPED}):
    c.push({{"step": k, "value": 1.0}})""",
    "assert len(w.history) == len(w.rows) and len(c.history) == len(c.rows) + c.hidden",
]


@pytest.fixture(scope="module")
def streamed(lab, lab_page, browser):
    with bh.scratch_session(lab_page, lab, "zz_livechart_stream.ipynb", CELLS, browser=browser) as session:
        yield session


def _views(session, expected_counts: list[int], timeout_s: float = 20.0) -> list[dict]:
    """The views' rows once they hold the expected counts (snapshots arrive when the kernel is idle)."""
    page = session.page
    try:
        page.wait_for_function(
            bh.js("livechart_counts_are"),
            arg=[session.root_selector, expected_counts],
            timeout=timeout_s * 1000,
            polling=200,
        )
    except Exception:
        pass  # the asserts below say what is wrong
    return page.evaluate(bh.js("livechart_views"), session.root_selector)


def test_every_view_holds_exactly_the_pushed_rows(streamed):
    problems = streamed.problems()
    assert not problems["errors"] and not problems["not_run"] and not problems["javascript"], problems
    total = N_FIRST + N_LATER
    first, second, capped = _views(streamed, [total, total, CAP])
    for view in (first, second):  # the second view was created after every push: it has them all
        assert view["error"] is None
        assert view["steps"] == list(range(total)), (len(view["steps"] or []), (view["steps"] or [])[:5])
        assert view["ids"] == sorted(set(view["ids"]))  # each row once, in order
        assert view["note"] is None
    assert capped["steps"] == list(range(N_CAPPED - CAP, N_CAPPED))
    assert capped["note"] is not None and f"newest {CAP} of {N_CAPPED} rows" in capped["note"], capped["note"]


def test_a_second_front_end_shows_every_row_at_once(streamed, lab, browser):
    """A second JupyterLab window on the same kernel (like a page reload) has no rows in the widget
    state: its new view must fetch everything drawn so far, not only what is pushed later."""
    page = bh.open_lab_page(browser, lab)
    try:
        second = bh.NotebookSession(page, lab, streamed.path, browser)
        second.open()  # the same path: the same session and kernel, where `w` and `c` live
        bh.run_new_cell(second, "w")
        total = N_FIRST + N_LATER
        try:
            page.wait_for_function(
                bh.js("livechart_some_count"), arg=[second.root_selector, total], timeout=30_000, polling=200
            )
        except Exception:
            pass  # the assert below says what the view holds
        views = page.evaluate(bh.js("livechart_views"), second.root_selector)
        assert any(v["steps"] == list(range(total)) for v in views), [len(v["steps"] or []) for v in views]
    finally:
        page.close()  # not session.close(): that would shut down the kernel the module fixture owns
