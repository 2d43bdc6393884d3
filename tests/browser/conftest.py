"""Session fixtures for the browser tests: one Chromium, one JupyterLab server, one JupyterLab page.

Without a browser (or without Playwright) the tests are skipped with the reason printed at the end
of the run; in CI (``CI=true``) that is a failure instead, so a broken set-up cannot pass silently.
The harness itself is the package tests/browser/harness (shared with tests/test_quiet_lab.py and
benchmarks/bench_browser.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import harness as bh

IN_CI = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
_SKIP_REASONS: set[str] = set()


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and the browser tests cannot run: {reason}", pytrace=False)
    _SKIP_REASONS.add(reason)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of the Chromium binary, or skip (fail in CI) saying why there is none."""
    problem = bh.playwright_problem()
    if problem:
        _unavailable(problem)
    path, why = bh.find_chromium()
    if path is None:
        _unavailable(why)
    return path


@pytest.fixture(scope="session")
def axe_path(chromium_path: str) -> Path:
    """axe-core's axe.min.js, vendored at build time by `make axe` (npm), or skip (fail in CI) saying why."""
    path, why = bh.find_axe()
    if path is None:
        _unavailable(why)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    """One headless Chromium for the whole session (a present but broken browser is a failure)."""
    try:
        session = bh.BrowserSession(chromium_path)
    except Exception as exc:
        pytest.fail(f"Chromium at {chromium_path} did not start: {exc}", pytrace=False)
    yield session
    session.close()


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def lab_page(browser, lab):
    """The one JupyterLab page every notebook is opened in."""
    page = bh.open_lab_page(browser, lab)
    yield page
    page.close()


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """test-results/browser: screenshots and per-notebook timings, left behind for CI artefacts."""
    bh.RESULTS.mkdir(parents=True, exist_ok=True)
    return bh.RESULTS


def pytest_terminal_summary(terminalreporter) -> None:
    if _SKIP_REASONS:
        terminalreporter.write_sep("-", "browser tests were SKIPPED")
        for reason in sorted(_SKIP_REASONS):
            terminalreporter.write_line(f"  {reason}")
        terminalreporter.write_line("  (in CI, with CI=true, this is a failure)")
