"""Fixtures for the browser tests: one Chromium, one JupyterLab server, one JupyterLab page, and one
Run All per notebook (``notebook_run``), shared by test_notebooks_browser and test_accessibility.

They are package-scoped: they end with the last test of tests/browser, not with the session.
Playwright's sync API keeps an asyncio loop marked as running in the main thread while it is
started, so a session-long browser would make every later test see a "running event loop" (the
diffusion panels then schedule their full render on it, and ``asyncio.run`` refuses to start).

Without a browser (or without Playwright) the tests are skipped with the reason printed at the end
of the run; in CI (``CI=true``) that is a failure instead, so a broken set-up cannot pass silently.
The harness itself is the package tests/browser/harness (shared with tests/test_quiet_lab.py and
benchmarks/bench_browser.py).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import harness as bh

NOTEBOOKS = bh.notebooks()
IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
_SKIP_REASONS: set[str] = set()


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    _SKIP_REASONS.add(reason)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """Path of the Chromium binary, or skip (fail in CI) saying why there is none."""
    problem = bh.playwright_problem()
    if problem:
        _unavailable(problem)
    path, why = bh.find_chromium()
    if path is None:
        _unavailable(why)
    return path


@pytest.fixture(scope="package")
def axe_path(chromium_path: str) -> Path:
    """axe-core's axe.min.js, vendored at build time by `make axe` (npm), or skip (fail in CI) saying why."""
    path, why = bh.find_axe()
    if path is None:
        _unavailable(why)
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str):
    """One headless Chromium for all browser tests (a present but broken browser is a failure)."""
    try:
        session = bh.BrowserSession(chromium_path)
    except Exception as exc:
        pytest.fail(f"Chromium at {chromium_path} did not start: {exc}", pytrace=False)
    yield session
    session.close()


@pytest.fixture(scope="package")
def lab(tmp_path_factory: pytest.TempPathFactory, chromium_path: str):
    """JupyterLab from the project's environment on a free loopback port with a random token."""
    server = bh.LabServer(tmp_path_factory.mktemp("jupyterlab"))
    try:
        server.start_lab()
    except Exception:
        server.stop()
        raise
    yield server
    server.stop()


@pytest.fixture(scope="package")
def lab_page(browser, lab):
    """The one JupyterLab page every notebook is opened in."""
    page = bh.open_lab_page(browser, lab)
    yield page
    page.close()


@pytest.fixture(scope="package")
def results_dir() -> Path:
    """test-results/browser: screenshots and per-notebook timings, left behind for CI artefacts."""
    bh.RESULTS.mkdir(parents=True, exist_ok=True)
    return bh.RESULTS


@dataclass
class NotebookRun:
    """One notebook after its one Run All, shared by every test of it in both modules."""

    nb: bh.NotebookSession
    results_dir: Path
    audit: dict = field(default_factory=dict)  # accessibility findings, taken before any slider moved
    audit_error: str | None = None
    closed: bool = False

    def settle(self) -> None:
        """Before a slider move: let the main panel's chart finish any earlier redraw (another test's
        move), so that a move's timing and "the picture changed" belong to that move alone."""
        panel = self.nb.main_panel()
        if panel.count() and panel.locator(".gl-livechart").count():
            with contextlib.suppress(Exception):  # a chart that never goes quiet: measured as it is
                bh.wait_quiet(self.nb.page, panel, quiet_ms=300, timeout=10.0)

    def close(self) -> None:
        """Write test-results/browser/<name>.json (and a11y_<name>.json), shut the kernel down; once."""
        if self.closed:
            return
        self.closed = True
        nb, lab = self.nb, self.nb.lab
        summary = {
            "notebook": nb.path,
            "run_all_s": nb.run_all_s,
            "run_all_to_first_chart_s": nb.run_all_to_first_chart_s,
            "open_to_first_chart_s": nb.open_to_first_chart_s,
            "server_and_kernel_rss_mb_at_close": bh.tree_rss_mb(lab.proc.pid) if lab.proc else None,
            **nb.extra,
        }
        (self.results_dir / f"{nb.name}.json").write_text(json.dumps(summary, indent=2, default=str))
        if self.audit:
            text = json.dumps(self.audit, indent=2, default=str)
            (self.results_dir / f"a11y_{nb.name}.json").write_text(text)
        nb.close()


_OPEN: list[NotebookRun] = []  # the notebook_run now open (at most one)


def _audit(nb: bh.NotebookSession, lab, axe_path: Path) -> dict:
    """The static accessibility audit (axe-core, names, descriptions, colours) of the notebook as Run All
    left it; the keyboard-only run, which moves a slider, is left to test_accessibility."""
    found: dict = {"notebook": nb.path}
    # measured, not asserted: JupyterLab server + this notebook's kernel after Run All (Binder: < 1.2 GB)
    found["server_and_kernel_rss_mb"] = bh.tree_rss_mb(lab.proc.pid) if lab.proc else None
    root = nb.root_selector
    nb.page.wait_for_timeout(300)  # let the accessibility helpers' next animation frame run
    found["axe"] = bh.run_axe(nb.page, [f"{root} {sel}" for sel in bh.OWN_WIDGETS], axe_path)
    found["axe_failures"] = bh.axe_failures(found["axe"])
    found["controls"] = bh.control_names(nb.page, root)
    found["charts"] = bh.chart_names(nb.page, root)
    colours = bh.chart_colours(nb.page, root)
    found["red_green"] = bh.red_green_problems(colours)
    found["identity_colourings"] = bh.identity_colourings(colours)  # reported, see MAX_SERIES_COLOURS
    return found


@pytest.fixture(scope="package", params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook_run(request, lab_page, lab, browser, results_dir: Path):
    """The notebook opened in JupyterLab and run top to bottom ONCE for both browser modules; closed
    (kernel shut down) when pytest moves on to the next notebook, so one notebook's kernel is alive at a
    time. Session scope makes pytest group the two modules' tests by notebook (params first).

    Right after Run All: the accessibility audit (if axe-core is there), before any test moves a
    slider; then a full-page screenshot (test-results/browser/<name>.png) and the problems found.
    """
    path = request.param.relative_to(bh.ROOT).as_posix()
    nb = bh.NotebookSession(lab_page, lab, path, browser)
    run = NotebookRun(nb, results_dir)
    nb.open()
    _OPEN[:] = [run]
    try:
        try:
            nb.run_all(bh.run_timeout())
        except Exception:  # a picture of what went wrong is the most useful artefact of a failure
            nb.screenshot(results_dir / f"{nb.name}.png")
            raise
        axe_path = bh.find_axe()[0]
        if axe_path is not None:
            try:
                run.audit = _audit(nb, lab, axe_path)
            except Exception as exc:  # reported by the accessibility tests, not by the others
                run.audit_error = f"{type(exc).__name__}: {exc}"
        nb.screenshot(results_dir / f"{nb.name}.png")
        nb.extra["problems"] = nb.problems()
        yield run
    finally:
        run.close()
        _OPEN.clear()


def _notebook_param(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("notebook_run") if callspec else None


def pytest_runtest_teardown(item, nextitem) -> None:
    """Shut the open notebook's kernel down after the last test that needs it, rather than at the end of
    the session: the tests after it (breakage, LiveChart, Voila) then run without a spare kernel."""
    param = _notebook_param(item)
    if param is None or nextitem is None or not _OPEN:
        return
    items = item.session.items
    later = items[items.index(item) + 1 :]
    if all(_notebook_param(other) != param for other in later):
        _OPEN[0].close()


def pytest_terminal_summary(terminalreporter) -> None:
    if _SKIP_REASONS:
        terminalreporter.write_sep("-", "browser tests were SKIPPED")
        for reason in sorted(_SKIP_REASONS):
            terminalreporter.write_line(f"  {reason}")
        terminalreporter.write_line("  (in CI, with CI=true, this is a failure)")
