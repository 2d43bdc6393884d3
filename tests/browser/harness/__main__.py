"""Check notebooks by hand in a real browser: prints the findings, writes screenshots.

.venv/bin/python -m tests.browser.harness notebooks/00_start_here.ipynb
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .browser import BrowserSession, open_lab_page
from .env import RESULTS, ROOT, find_chromium, notebooks, playwright_problem, run_timeout
from .notebook import NotebookSession
from .server import LabServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser.harness", description="Run notebooks in JupyterLab + headless Chromium."
    )
    parser.add_argument("notebook", nargs="*", help="notebooks/NN_x.ipynb (default: all)")
    parser.add_argument("--timeout", type=float, default=run_timeout(), help="seconds for Run All")
    args = parser.parse_args(argv)
    chromium, why = find_chromium()
    if chromium is None or playwright_problem():
        print(why or playwright_problem(), file=sys.stderr)
        return 2
    paths = [Path(p).resolve().relative_to(ROOT).as_posix() for p in args.notebook] or [
        p.relative_to(ROOT).as_posix() for p in notebooks()
    ]
    work = Path(tempfile.mkdtemp(prefix="gl-browser-"))
    lab = LabServer(work)
    browser = None
    status = 0
    try:
        lab.start_lab()
        browser = BrowserSession(chromium)
        page = open_lab_page(browser, lab)
        for path in paths:
            nb = NotebookSession(page, lab, path, browser)
            nb.open()
            nb.run_all(args.timeout)
            problems = nb.problems()
            shot = nb.screenshot(RESULTS / f"{nb.name}.png")
            move = nb.move_main_slider()
            print(f"{path}: run all {nb.run_all_s:.1f} s, first chart after {nb.run_all_to_first_chart_s} s")
            print("  problems:", json.dumps(problems, indent=2))
            print("  slider:", move)
            print("  screenshot:", shot)
            status |= any(problems.values()) or not move.redrew
            nb.close()
        print("page errors:", browser.page_errors)
        print("console errors:", browser.console_errors)
    finally:
        if browser is not None:
            browser.close()
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
