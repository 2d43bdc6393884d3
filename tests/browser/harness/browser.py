"""One headless Chromium (Playwright), the JupyterLab page, and screenshots."""

from __future__ import annotations

from pathlib import Path

from .js import js
from .server import LabServer

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    # only loopback traffic: anything else goes to a proxy port where nothing listens and fails
    # fast (Chromium always connects to 127.0.0.1/localhost directly, bypassing the proxy)
    "--proxy-server=http://127.0.0.1:9",
]
VIEWPORT = {"width": 1280, "height": 900}
MAX_SCREENSHOT_HEIGHT = 16000  # Chromium cannot capture much more than 16k px in one go


class BrowserSession:
    """One headless Chromium (Playwright) with one context; collects page errors and console errors."""

    def __init__(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except Exception:
            self._pw.stop()
            raise
        self.context = self.browser.new_context(viewport=VIEWPORT)
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []  # non-loopback URLs the pages tried (blocked)

    def new_page(self):
        page = self.context.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on(
            "requestfailed",
            lambda req: (
                self.failed_requests.append(req.url)
                if not req.url.startswith(("http://127.0.0.1", "ws://127.0.0.1"))
                else None
            ),
        )
        return page

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


def open_lab_page(browser: BrowserSession, lab: LabServer, timeout: float = 90.0):
    """Load JupyterLab once, wait until its app is up, fold the file browser away."""
    page = browser.new_page()
    page.goto(lab.url("lab"), timeout=timeout * 1000)
    page.wait_for_function(js("lab_started"), timeout=timeout * 1000, polling=200)
    page.evaluate("() => window.jupyterapp.started")
    page.evaluate("() => window.jupyterapp.restored")
    page.evaluate(js("fold_file_browser"))
    return page


def page_screenshot(page, path: Path) -> Path:
    """The whole page even when an inner element scrolls (Voila, Lumino): grow the viewport by the
    largest scroller's hidden height (capped), shoot, restore."""
    extra = page.evaluate(js("page_hidden_height"))
    height = min(MAX_SCREENSHOT_HEIGHT, VIEWPORT["height"] + max(0, int(extra)) + 20)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        page.wait_for_timeout(400)
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(VIEWPORT)
    return path


def element_screenshot(page, locator, path: Path) -> Path | None:
    """Best effort picture of the visible part of one element (an artefact: never raises)."""
    try:
        locator.evaluate("(e) => e.scrollIntoView({block: 'start'})")
        box = locator.bounding_box(timeout=5000)
        size = page.viewport_size or VIEWPORT
        top, left = max(box["y"], 0), max(box["x"], 0)
        clip = {
            "x": left,
            "y": top,
            "width": min(box["x"] + box["width"], size["width"]) - left,
            "height": min(box["y"] + box["height"], size["height"]) - top,
        }
        if clip["width"] < 1 or clip["height"] < 1:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), clip=clip, timeout=15000)
        return path
    except Exception:  # noqa: BLE001 - a missing picture must not fail a test
        return None
