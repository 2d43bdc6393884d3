"""Drive the notebooks in a real browser: JupyterLab (or Voila) + headless Chromium via Playwright.

Shared by the browser tests (``tests/browser``), tests/test_quiet_lab.py and the benchmark
(benchmarks/bench_browser.py). One JupyterLab server and one browser page serve a whole session;
each notebook is opened in that page, run with the menu (Run > Run All Cells), inspected, and
closed with its kernel shut down.

- :mod:`.env`       finding the pieces (the repo, Chromium, Playwright, axe-core, timeouts, ports)
- :mod:`.server`    JupyterLab / Voila servers on a mirror of the repo
- :mod:`.browser`   the Chromium session, the JupyterLab page, screenshots
- :mod:`.notebook`  one notebook in the page: open, Run All, inspect, move a slider, close
- :mod:`.judge`     what the page shows, turned into readable problems
- :mod:`.a11y`      axe-core, accessible names, drawn colours, keyboard-only use
- :mod:`.js`        the JavaScript run in the page, kept in ``js/*.js``

Check notebooks by hand (prints the findings, writes screenshots)::

    .venv/bin/python -m tests.browser.harness notebooks/00_start_here.ipynb
"""

from .a11y import (
    AXE_FAILING,
    AXE_TAGS,
    MAX_SERIES_COLOURS,
    OWN_WIDGETS,
    KeyboardRun,
    axe_failures,
    chart_colours,
    chart_names,
    control_names,
    identity_colourings,
    keyboard_only,
    red_green_problems,
    run_axe,
)
from .browser import (
    CHROMIUM_ARGS,
    VIEWPORT,
    BrowserSession,
    element_screenshot,
    open_lab_page,
    page_screenshot,
)
from .env import (
    RESULTS,
    ROOT,
    find_axe,
    find_chromium,
    free_port,
    mirror_repo,
    notebooks,
    playwright_problem,
    redraw_limit_ms,
    run_timeout,
    venv_bin,
)
from .js import js
from .judge import (
    MARK_ITEMS,
    MAX_CHART_SIZE,
    WIDGET_FAILURE_TEXTS,
    WIDGET_MIME,
    chart_problems,
    error_problems,
    scan_page,
    widget_problems,
)
from .notebook import (
    NotebookSession,
    SliderMove,
    move_slider,
    run_new_cell,
    scratch_session,
    timed_key_press,
    wait_quiet,
)
from .server import LabServer, Server, VoilaServer, tree_rss_mb

__all__ = [
    "AXE_FAILING",
    "AXE_TAGS",
    "CHROMIUM_ARGS",
    "MARK_ITEMS",
    "MAX_CHART_SIZE",
    "MAX_SERIES_COLOURS",
    "OWN_WIDGETS",
    "RESULTS",
    "ROOT",
    "VIEWPORT",
    "WIDGET_FAILURE_TEXTS",
    "WIDGET_MIME",
    "BrowserSession",
    "KeyboardRun",
    "LabServer",
    "NotebookSession",
    "Server",
    "SliderMove",
    "VoilaServer",
    "axe_failures",
    "chart_colours",
    "chart_names",
    "chart_problems",
    "control_names",
    "element_screenshot",
    "error_problems",
    "find_axe",
    "find_chromium",
    "free_port",
    "identity_colourings",
    "js",
    "keyboard_only",
    "mirror_repo",
    "move_slider",
    "notebooks",
    "open_lab_page",
    "page_screenshot",
    "playwright_problem",
    "red_green_problems",
    "redraw_limit_ms",
    "run_axe",
    "run_new_cell",
    "run_timeout",
    "scan_page",
    "scratch_session",
    "timed_key_press",
    "tree_rss_mb",
    "venv_bin",
    "wait_quiet",
    "widget_problems",
]
