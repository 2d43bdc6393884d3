"""One notebook in the shared JupyterLab page: open, Run All from the menu, inspect, move a slider, close."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .browser import MAX_SCREENSHOT_HEIGHT, VIEWPORT, BrowserSession
from .env import ROOT, run_timeout
from .js import js
from .judge import WIDGET_MIME, chart_problems, error_problems, scan_page, widget_problems
from .server import LabServer


@dataclass
class SliderMove:
    """One keyboard move of a slider and what the chart did."""

    key: str
    value_before: str | None
    value_after: str | None
    redrew: bool
    latency_ms: float | None  # keydown -> chart redrawn (both performance.now() in the page)
    svg_changed: bool  # the drawn picture changed: SVG markup, or canvas pixels (chart_picture.js)
    chart_error: str | None = None
    t_key: float | None = None  # performance.now() at keydown, in the page
    t_drawn: float | None = None  # performance.now() when the chart had redrawn


@dataclass
class NotebookSession:
    """A notebook opened in the shared JupyterLab page."""

    page: Any
    lab: LabServer
    path: str  # relative to the server root, e.g. notebooks/00_start_here.ipynb
    browser: BrowserSession | None = None  # to attribute uncaught JavaScript errors to this notebook
    widget_id: str = ""
    open_to_first_chart_s: float | None = None
    run_all_to_first_chart_s: float | None = None
    run_all_s: float | None = None
    page_errors_before: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).stem

    @property
    def root_selector(self) -> str:
        return f'[id="{self.widget_id}"]'

    # opening and running ------------------------------------------------------------------------
    def open(self, kernel_timeout: float = 90.0) -> None:
        if self.browser is not None:
            self.page_errors_before = len(self.browser.page_errors)
        self.widget_id = self.page.evaluate(js("open_notebook"), self.path)
        self.wait_kernel_ready(kernel_timeout)
        # the kernel's first connection is sometimes replaced right after start: let it settle
        time.sleep(0.5)
        self.wait_kernel_ready(kernel_timeout)

    def wait_kernel_ready(self, timeout: float = 90.0, polling: int = 200) -> None:
        """Wait until the notebook's kernel is connected and idle."""
        self.page.wait_for_function(
            js("kernel_ready"), arg=self.widget_id, timeout=timeout * 1000, polling=polling
        )

    def run_all(self, timeout: float = 120.0) -> None:
        """Run > Run All Cells from the menu bar, then wait for every cell and the kernel to finish."""
        page = self.page
        page.evaluate("(id) => window.jupyterapp.shell.activateById(id)", self.widget_id)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        t_click = page.evaluate("performance.now()")
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        t_start = time.monotonic()
        # all cells show [*] immediately, so "no [*] and kernel idle" only happens at the end
        time.sleep(0.5)
        try:
            page.wait_for_function(js("run_done"), arg=self.widget_id, timeout=timeout * 1000, polling=250)
        except Exception as exc:
            pending = [c["index"] for c in self.cells() if c["count"] is None and not c["empty"]]
            raise TimeoutError(
                f"{self.path}: Run All did not finish within {timeout:.0f} s (cells not finished: {pending})"
            ) from exc
        self.run_all_s = time.monotonic() - t_start
        times = page.evaluate(
            "(id) => ({tOpen: window.__gl[id].tOpen, tFirst: window.__gl[id].tFirstChart})", self.widget_id
        )
        if times["tFirst"] is not None:
            self.open_to_first_chart_s = (times["tFirst"] - times["tOpen"]) / 1000
            self.run_all_to_first_chart_s = (times["tFirst"] - t_click) / 1000

    # inspection -----------------------------------------------------------------------------------
    def cells(self) -> list[dict]:
        return self.page.evaluate(js("cells"), [self.widget_id, WIDGET_MIME])

    def scan(self) -> dict:
        return scan_page(self.page, self.root_selector)

    def problems(self) -> dict[str, list[str]]:
        """Everything a student would see as broken, grouped; empty lists mean fine."""
        cells, scan = self.cells(), self.scan()
        return {
            "errors": error_problems(cells, scan),
            "not_run": [
                f"cell {c['index']} was not executed: {c['source']!r}"
                for c in cells
                if c["count"] is None and not c["empty"]
            ],
            "widgets": widget_problems(cells, scan),
            "charts": chart_problems(scan),
            "javascript": self.page_errors(),
        }

    def page_errors(self) -> list[str]:
        """Uncaught JavaScript errors since this notebook was opened (e.g. a widget view that threw)."""
        if self.browser is None:
            return []
        return [
            f"uncaught JavaScript error: {e}" for e in self.browser.page_errors[self.page_errors_before :]
        ]

    # the main panel ---------------------------------------------------------------------------------
    def main_panel(self):
        return self.page.locator(f"{self.root_selector} .gl-panel.gl-panel-live").first

    def live_panels(self) -> list[tuple[str, Any]]:
        """Every live panel that has a slider and a chart, as (title, locator), in notebook order."""
        live = self.page.locator(f"{self.root_selector} .gl-panel.gl-panel-live")
        out = []
        for i in range(live.count()):
            panel = live.nth(i)
            if panel.locator(".noUi-handle").count() and panel.locator(".gl-livechart").count():
                bold = panel.locator("b").first  # toolkit.panels.Panel's title
                title = bold.inner_text(timeout=2000).strip() if bold.count() else ""
                out.append(((title or f"live panel {i + 1}")[:48].replace("\n", " "), panel))
        return out

    def move_main_slider(self, key: str | None = None, timeout: float = 5.0) -> SliderMove:
        """Focus the main panel's first slider handle and press an arrow key, as a user would."""
        return move_slider(self.page, self.main_panel(), key=key, timeout=timeout)

    # results ----------------------------------------------------------------------------------------
    def screenshot(self, path: Path) -> Path:
        """The whole notebook in one picture: grow the viewport to the notebook's height, shoot, restore."""
        page = self.page
        dims = page.evaluate(js("notebook_hidden_height"), self.widget_id)
        # grow by what is below the fold (not by the "scroll past the end" padding)
        height = min(MAX_SCREENSHOT_HEIGHT, VIEWPORT["height"] + max(0, int(dims["below"])) + 30)
        path.parent.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        try:
            page.wait_for_timeout(400)  # let Lumino relayout
            page.screenshot(path=str(path), full_page=True)
        finally:
            page.set_viewport_size(VIEWPORT)
        return path

    def close(self) -> None:
        """Shut the kernel down and close the tab without saving (the copy on disk stays as it was)."""
        self.page.evaluate(js("close_notebook"), self.widget_id)


def timed_key_press(page, handle, chart, key: str, *, timeout: float = 5.0) -> SliderMove:
    """Press ``key`` (the slider ``handle`` must already have the focus) and time ``chart``'s redraw."""
    handle_el, chart_el = handle.element_handle(), chart.element_handle()
    page.evaluate(js("arm_move"), [handle_el, chart_el])
    page.keyboard.press(key)
    try:
        page.wait_for_function("() => window.__glMove.t1 !== null", timeout=timeout * 1000, polling="raf")
    except Exception:
        pass  # reported as redrew=False below
    res = page.evaluate(js("move_result"), [handle_el, chart_el])
    redrew = res["t1"] is not None
    latency = (res["t1"] - res["t0"]) if redrew and res["t0"] is not None else None
    return SliderMove(
        key=key,
        value_before=res["value0"],
        value_after=res["value1"],
        redrew=redrew,
        latency_ms=latency,
        svg_changed=res["svgChanged"],
        chart_error=res["error"],
        t_key=res["t0"],
        t_drawn=res["t1"],
    )


def away_from_end(handle) -> str:
    """The arrow key that moves a slider handle inwards (right unless it is at its maximum)."""
    now = float(handle.get_attribute("aria-valuenow") or 0)
    high = float(handle.get_attribute("aria-valuemax") or 0)
    return "ArrowRight" if now < high else "ArrowLeft"


def move_slider(page, container, *, key: str | None = None, timeout: float = 5.0) -> SliderMove:
    """Press an arrow key on the first slider handle in ``container`` and time the chart's redraw."""
    handle = container.locator(".noUi-handle").first
    chart = container.locator(".gl-livechart").first
    key = key or away_from_end(handle)
    handle.evaluate("(e) => e.scrollIntoView({block: 'center'})")  # no waiting for layout to settle
    handle.focus()
    return timed_key_press(page, handle, chart, key, timeout=timeout)


def wait_quiet(page, container, *, quiet_ms: int = 300, timeout: float = 10.0) -> None:
    """Wait until the container's chart has not redrawn for ``quiet_ms`` (between benchmark moves)."""
    chart = container.locator(".gl-livechart").first.element_handle()
    page.wait_for_function(js("chart_quiet"), arg=[chart, quiet_ms], timeout=timeout * 1000, polling=100)


def run_new_cell(session: NotebookSession, source: str) -> None:
    """Append a code cell to an open notebook and run it (JupyterLab's own run command)."""
    session.page.evaluate(js("run_new_cell"), [session.widget_id, source])


@contextlib.contextmanager
def scratch_session(
    page,
    lab: LabServer,
    name: str,
    sources: list[str],
    *,
    browser: BrowserSession | None = None,
    tags: dict[int, list[str]] | None = None,
    timeout: float | None = None,
):
    """A notebook of ``sources`` written into the server's private copy of notebooks/ (never into the
    repo), opened, run top to bottom and closed afterwards; yields its :class:`NotebookSession`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index].metadata["tags"] = list(cell_tags)
    path = lab.root / "notebooks" / name
    if path.is_symlink() or ROOT in path.resolve().parents:
        raise RuntimeError(f"refusing to write a scratch notebook into the repository: {path}")
    nbformat.write(nb, path)
    session = NotebookSession(page, lab, f"notebooks/{name}", browser)
    session.open()
    try:
        session.run_all(run_timeout() if timeout is None else timeout)
        yield session
    finally:
        session.close()
