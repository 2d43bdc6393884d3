"""Drive the notebooks in a real browser: JupyterLab (or Voila) + headless Chromium via Playwright.

Shared by the browser tests (tests/browser) and the benchmark (benchmarks/bench_browser.py).
One JupyterLab server and one browser page serve a whole session; each notebook is opened in that
page, run with the menu (Run > Run All Cells), inspected, and closed with its kernel shut down.

The server works on a *mirror* of the repository (symlinks to everything, but a copy of
``notebooks/``), so nothing the browser does (autosave, checkpoints, outputs) can touch the
notebooks in git, while relative paths such as ``../datasets`` still resolve.

Debug one notebook by hand (prints the findings, writes a screenshot)::

    .venv/bin/python scripts/browser_harness.py notebooks/00_start_here.ipynb
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "test-results" / "browser"
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
MAX_CHART_SIZE = 5000  # px; a bigger chart is a runaway layout (e.g. a size that feeds on itself)
# a marked element of a Vega view: every item drawn by a data mark (not axes, legends or titles)
MARK_ITEMS = ".role-mark > *"
WIDGET_FAILURE_TEXTS = ("Loading widget...", "Error displaying widget", "Error rendering widget",
                        "Widget Javascript not detected", "Failed to load model class")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


# -- finding the pieces -------------------------------------------------------------------------
def venv_bin() -> Path:
    """The project's environment: .venv/bin if present, else the running interpreter's bin."""
    candidate = ROOT / ".venv" / "bin"
    return candidate if (candidate / "jupyter").exists() else Path(sys.executable).parent


def find_chromium() -> tuple[str | None, str]:
    """(path to a Chromium binary, why not) — honours $GRADIENT_LAB_CHROMIUM."""
    explicit = os.environ.get("GRADIENT_LAB_CHROMIUM")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit, ""
        return None, f"GRADIENT_LAB_CHROMIUM={explicit} is not an executable"
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        path = shutil.which(name) if not name.startswith("/") else (name if os.access(name, os.X_OK) else None)
        if path:
            return path, ""
    return None, ("no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser); "
                  "install Debian's 'chromium' package (`make browser` or scripts/ensure_browser.sh)")


def playwright_problem() -> str:
    """Empty string if Playwright for Python imports, else the reason."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}); `pip install -e '.[test]'`"
    return ""


def notebooks(root: Path = ROOT) -> list[Path]:
    """The teaching notebooks: notebooks/*.ipynb (not student/ versions, not checkpoints)."""
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if not p.name.startswith("."))


def run_timeout() -> float:
    """Seconds allowed for Run All of one notebook ($GRADIENT_LAB_BROWSER_TIMEOUT, default 150).

    The notebook budget is 60 s on 2 cores; the browser, the server and other jobs share them.
    """
    return float(os.environ.get("GRADIENT_LAB_BROWSER_TIMEOUT", "150"))


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mirror_repo(dest: Path, root: Path = ROOT) -> Path:
    """A directory that looks like the repo: symlinks to every top-level entry, a copy of notebooks/."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name in {"notebooks", ".git", "test-results"}:
            continue
        (dest / entry.name).symlink_to(entry)
    shutil.copytree(root / "notebooks", dest / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "student"))
    return dest


# -- servers ------------------------------------------------------------------------------------
class Server:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{venv_bin()}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        # keep a user's own Jupyter config/settings/workspaces out of the tests
        for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                         ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("JUPYTER_RUNTIME_DIR", "runtime")):
            env[var] = str(self.workdir / sub)
        return env

    def start(self, argv: list[str], cwd: Path) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_until(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down); SIGKILL it and its children if they hang."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = _descendants(self.proc.pid)  # kernels run in their own sessions: remember them
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        for pid, started in children:
            if _start_time(pid) == started:  # still the same process, not a reused pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> list[tuple[int, str | None]]:
    """(pid, start time) of the child processes of ``pid``, recursively (Linux /proc; empty elsewhere)."""
    out: list[tuple[int, str | None]] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [(int(child), _start_time(int(child))), *_descendants(int(child))]
    except OSError:
        pass
    return out


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory (MB) of a process and all its descendants (Linux /proc; None elsewhere)."""
    total = 0
    for p in [pid, *(child for child, _ in _descendants(pid))]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1) if total else None


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


class LabServer(Server):
    """JupyterLab on a free loopback port with a random token, serving a mirror of the repo."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "jupyterlab")
        self.root = mirror_repo(workdir / "repo")
        settings = workdir / "settings" / "@jupyterlab"
        # all cells in the DOM (no virtual scrolling), never write the notebooks, no news pop-up
        _write_json(settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"})
        _write_json(settings / "docmanager-extension" / "plugin.jupyterlab-settings", {"autosave": False})
        _write_json(settings / "apputils-extension" / "notification.jupyterlab-settings",
                    {"fetchNews": "false", "checkForUpdates": False})

    def start_lab(self, timeout: float = 90.0, attempts: int = 3) -> None:
        for attempt in range(attempts):
            argv = [str(venv_bin() / "jupyter"), "lab", "--no-browser", f"--port={self.port}",
                    "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={self.token}",
                    f"--ServerApp.root_dir={self.root}", "--expose-app-in-browser",
                    "--LabApp.extension_manager=readonly", "--ServerApp.port_retries=0"]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                argv.append("--allow-root")
            self.start(argv, cwd=self.root)
            try:
                self.wait_until(self._status_ok, timeout, "JupyterLab")
                return
            except RuntimeError:
                # another process took the free port between our check and the server's bind
                if attempt + 1 < attempts and "already in use" in self.log_tail():
                    self.stop()
                    self.port = free_port()
                    continue
                raise

    def _status_ok(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path}?reset&token={self.token}"


class VoilaServer(Server):
    """``voila <notebook>`` on a free loopback port with a random token."""

    def __init__(self, workdir: Path, notebook: str) -> None:
        super().__init__(workdir, "voila")
        self.root = mirror_repo(workdir / "repo")
        self.notebook = notebook  # relative to the repo root, e.g. notebooks/00_start_here.ipynb

    def start_voila(self, timeout: float = 60.0) -> None:
        argv = [str(venv_bin() / "voila"), self.notebook, "--no-browser", f"--port={self.port}",
                "--Voila.ip=127.0.0.1", f"--token={self.token}", "--show_tracebacks=True",
                "--Voila.port_retries=0"]
        self.start(argv, cwd=self.root)
        self.wait_until(self._listening, timeout, "Voila")

    def _listening(self) -> bool:
        # only a TCP connect: a GET / would already execute the notebook
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def url(self) -> str:
        return f"{self.base}/?token={self.token}"


# -- the browser --------------------------------------------------------------------------------
class BrowserSession:
    """One headless Chromium (Playwright) with one context; collects page errors and console errors."""

    def __init__(self, executable: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
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
        page.on("requestfailed", lambda req: self.failed_requests.append(req.url)
                if not req.url.startswith(("http://127.0.0.1", "ws://127.0.0.1")) else None)
        return page

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


# -- JavaScript run in the page -----------------------------------------------------------------
_JS_OPEN = """async (path) => {
  const app = window.jupyterapp;
  const t0 = performance.now();
  const w = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await w.context.ready;
  app.shell.activateById(w.id);
  window.__gl = window.__gl || {};
  const st = {widget: w, tOpen: t0, tFirstChart: null};
  window.__gl[w.id] = st;
  // the first time any chart of this notebook finishes a redraw
  const obs = new MutationObserver(() => {
    if (st.tFirstChart === null && w.node.querySelector('.gl-livechart[data-gl-redraws]')) {
      st.tFirstChart = performance.now();
      obs.disconnect();
    }
  });
  obs.observe(w.node, {subtree: true, attributes: true, attributeFilter: ['data-gl-redraws']});
  return w.id;
}"""

_JS_KERNEL_READY = """(id) => {
  const k = window.__gl[id].widget.sessionContext.session?.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

_JS_RUN_DONE = """(id) => {
  const w = window.__gl[id].widget;
  const k = w.sessionContext.session?.kernel;
  if (!k || k.status !== 'idle') return false;
  return ![...w.content.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .some((p) => p.textContent.includes('*'));
}"""

_JS_CELLS = """([id, widgetMime]) => {
  const w = window.__gl[id].widget;
  const cells = [];
  w.content.widgets.forEach((cell, index) => {
    const m = cell.model;
    if (m.type !== 'code') return;
    const source = m.sharedModel.getSource();
    const dom = cell.outputArea
      ? [...cell.outputArea.node.querySelectorAll(':scope > .jp-OutputArea-child > .jp-OutputArea-output')] : [];
    const outputs = m.outputs.toJSON().map((o, j) => ({
      type: o.output_type, ename: o.ename || null, evalue: o.evalue || null,
      widget: !!(o.data && o.data[widgetMime]),
      dom: dom[j] ? {mime: dom[j].dataset.mimeType || null, text: dom[j].textContent.slice(0, 300),
                     elements: dom[j].querySelectorAll('*').length} : null,
    }));
    const tags = (m.getMetadata ? m.getMetadata('tags') : m.metadata?.tags) || [];
    cells.push({index, source: source.slice(0, 120), empty: source.trim() === '',
                count: m.executionCount, tags, outputs});
  });
  return cells;
}"""

_JS_SCAN = """([rootSel, markItems, failureTexts]) => {
  const root = document.querySelector(rootSel);
  const text = root.innerText;
  const tracebacks = [...root.querySelectorAll('.jp-OutputArea-output')]
    .filter((o) => o.textContent.includes('Traceback (most recent call last)'))
    .map((o) => o.textContent.slice(0, 400));
  // outputs inside widgets (ipywidgets Output) are not in the notebook model
  const widgetTracebacks = [...root.querySelectorAll('.jp-OutputArea-output .jp-OutputArea-output')]
    .filter((o) => o.textContent.includes('Traceback (most recent call last)'))
    .map((o) => o.textContent.slice(0, 400));
  const panelErrors = [...root.querySelectorAll('.gl-panel pre')]
    .filter((p) => (p.getAttribute('style') || '').replace(/\\s/g, '').includes('color:#b00'))
    .map((p) => p.textContent.slice(0, 300));
  const charts = [...root.querySelectorAll('.gl-livechart')].map((el, index) => {
    const svg = el.querySelector('svg.marks');
    const box = (svg || el).getBoundingClientRect();
    return {index, error: el.dataset.glError || null, redraws: Number(el.dataset.glRedraws || 0),
            width: Math.round(box.width), height: Math.round(box.height),
            inButtonPanel: !!el.closest('.gl-panel-button'), svg: !!svg,
            items: svg ? svg.querySelectorAll(markItems).length : 0,
            canvas: !!el.querySelector('canvas'), empty: el.childElementCount === 0};
  });
  return {
    widgetFailures: failureTexts.filter((t) => text.includes(t)),
    tracebacks, widgetTracebacks, panelErrors, charts,
    panels: root.querySelectorAll('.gl-panel').length,
    livePanels: root.querySelectorAll('.gl-panel.gl-panel-live').length,
    sliders: root.querySelectorAll('.noUi-handle').length,
    codeVisible: [...root.querySelectorAll('.cm-editor, .jp-CodeCell .jp-InputArea, .jp-InputPrompt')]
      .filter((e) => e.offsetParent !== null).length,
  };
}"""

# what the student reads next to the slider (aria-valuenow is rounded to 1 decimal by noUiSlider)
_JS_SLIDER_VALUE = """const sliderValue = (handle) => {
  const readout = handle.closest('.widget-slider')?.querySelector('.widget-readout');
  return readout ? readout.textContent.trim() : handle.getAttribute('aria-valuetext');
};"""

# arm timers for one keyboard move of a slider: t0 at keydown on the handle, t1 at the chart's
# next redraw (read from its data-gl-updated, i.e. when vega-embed finished drawing)
_JS_ARM = """([handle, chart]) => {
  """ + _JS_SLIDER_VALUE + """
  const st = {t0: null, t1: null, redraws0: Number(chart.dataset.glRedraws || 0), value0: sliderValue(handle)};
  const svg = chart.querySelector('svg.marks');
  st.svg0 = svg ? svg.innerHTML : '';
  const onKey = () => { if (st.t0 === null) st.t0 = performance.now(); };
  handle.addEventListener('keydown', onKey, {capture: true, once: true});
  const obs = new MutationObserver(() => {
    if (st.t1 === null && Number(chart.dataset.glRedraws || 0) > st.redraws0) {
      st.t1 = Number(chart.dataset.glUpdated);
      st.redraws1 = Number(chart.dataset.glRedraws);
      obs.disconnect();
    }
  });
  obs.observe(chart, {attributes: true, attributeFilter: ['data-gl-redraws']});
  window.__glMove = st;
}"""

_JS_MOVE_RESULT = """([handle, chart]) => {
  """ + _JS_SLIDER_VALUE + """
  const st = window.__glMove;
  const svg = chart.querySelector('svg.marks');
  return {t0: st.t0, t1: st.t1, redraws0: st.redraws0, redraws1: st.redraws1 ?? null,
          value0: st.value0, value1: sliderValue(handle),
          svgChanged: !!svg && svg.innerHTML !== st.svg0, error: chart.dataset.glError || null};
}"""


# -- one notebook in JupyterLab -----------------------------------------------------------------
@dataclass
class SliderMove:
    """One keyboard move of a slider and what the chart did."""

    key: str
    value_before: str | None
    value_after: str | None
    redrew: bool
    latency_ms: float | None  # keydown -> chart redrawn (both performance.now() in the page)
    svg_changed: bool
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
        self.widget_id = self.page.evaluate(_JS_OPEN, self.path)
        self.page.wait_for_function(_JS_KERNEL_READY, arg=self.widget_id, timeout=kernel_timeout * 1000,
                                    polling=200)
        # the kernel's first connection is sometimes replaced right after start: let it settle
        time.sleep(0.5)
        self.page.wait_for_function(_JS_KERNEL_READY, arg=self.widget_id, timeout=kernel_timeout * 1000,
                                    polling=200)

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
            page.wait_for_function(_JS_RUN_DONE, arg=self.widget_id, timeout=timeout * 1000, polling=250)
        except Exception as exc:
            pending = [c["index"] for c in self.cells() if c["count"] is None and not c["empty"]]
            raise TimeoutError(f"{self.path}: Run All did not finish within {timeout:.0f} s "
                               f"(cells not finished: {pending})") from exc
        self.run_all_s = time.monotonic() - t_start
        times = page.evaluate("(id) => ({tOpen: window.__gl[id].tOpen, tFirst: window.__gl[id].tFirstChart})",
                              self.widget_id)
        if times["tFirst"] is not None:
            self.open_to_first_chart_s = (times["tFirst"] - times["tOpen"]) / 1000
            self.run_all_to_first_chart_s = (times["tFirst"] - t_click) / 1000

    # inspection -----------------------------------------------------------------------------------
    def cells(self) -> list[dict]:
        return self.page.evaluate(_JS_CELLS, [self.widget_id, WIDGET_MIME])

    def scan(self) -> dict:
        return self.page.evaluate(_JS_SCAN, [self.root_selector, MARK_ITEMS, list(WIDGET_FAILURE_TEXTS)])

    def problems(self) -> dict[str, list[str]]:
        """Everything a student would see as broken, grouped; empty lists mean fine."""
        cells, scan = self.cells(), self.scan()
        return {
            "errors": error_problems(cells, scan),
            "not_run": [f"cell {c['index']} was not executed: {c['source']!r}" for c in cells
                        if c["count"] is None and not c["empty"]],
            "widgets": widget_problems(cells, scan),
            "charts": chart_problems(scan),
            "javascript": self.page_errors(),
        }

    def page_errors(self) -> list[str]:
        """Uncaught JavaScript errors since this notebook was opened (e.g. a widget view that threw)."""
        if self.browser is None:
            return []
        return [f"uncaught JavaScript error: {e}" for e in self.browser.page_errors[self.page_errors_before:]]

    # the main panel ---------------------------------------------------------------------------------
    def main_panel(self):
        return self.page.locator(f"{self.root_selector} .gl-panel.gl-panel-live").first

    def move_main_slider(self, key: str | None = None, timeout: float = 5.0) -> SliderMove:
        """Focus the main panel's first slider handle and press an arrow key, as a user would."""
        return move_slider(self.page, self.main_panel(), key=key, timeout=timeout)

    # results ----------------------------------------------------------------------------------------
    def screenshot(self, path: Path) -> Path:
        """The whole notebook in one picture: grow the viewport to the notebook's height, shoot, restore."""
        page = self.page
        dims = page.evaluate("""(id) => {
          const nb = window.__gl[id].widget.content.node;
          const outer = nb.querySelector('.jp-WindowedPanel-outer') || nb;
          outer.scrollTop = 0;
          const cells = nb.querySelectorAll('.jp-Cell');
          const last = cells.length ? cells[cells.length - 1].getBoundingClientRect().bottom : 0;
          return {below: last - outer.getBoundingClientRect().bottom};
        }""", self.widget_id)
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
        self.page.evaluate("""async (id) => {
          const w = window.__gl[id].widget;
          try { await w.sessionContext.shutdown(); } catch (e) {}
          w.context.model.dirty = false;
          w.close();
          delete window.__gl[id];
        }""", self.widget_id)


def move_slider(page, container, *, key: str | None = None, timeout: float = 5.0) -> SliderMove:
    """Press an arrow key on the first slider handle in ``container`` and time the chart's redraw."""
    handle = container.locator(".noUi-handle").first
    chart = container.locator(".gl-livechart").first
    if key is None:
        now = float(handle.get_attribute("aria-valuenow") or 0)
        high = float(handle.get_attribute("aria-valuemax") or 0)
        key = "ArrowRight" if now < high else "ArrowLeft"
    handle.evaluate("(e) => e.scrollIntoView({block: 'center'})")  # no waiting for layout to settle
    handle_el, chart_el = handle.element_handle(), chart.element_handle()
    page.evaluate(_JS_ARM, [handle_el, chart_el])
    handle.focus()
    page.keyboard.press(key)
    try:
        page.wait_for_function("() => window.__glMove.t1 !== null", timeout=timeout * 1000, polling="raf")
    except Exception:
        pass  # reported as redrew=False below
    res = page.evaluate(_JS_MOVE_RESULT, [handle_el, chart_el])
    redrew = res["t1"] is not None
    latency = (res["t1"] - res["t0"]) if redrew and res["t0"] is not None else None
    return SliderMove(key=key, value_before=res["value0"], value_after=res["value1"], redrew=redrew,
                      latency_ms=latency, svg_changed=res["svgChanged"], chart_error=res["error"],
                      t_key=res["t0"], t_drawn=res["t1"])


def page_screenshot(page, path: Path) -> Path:
    """The whole page even when an inner element scrolls (Voila, Lumino): grow the viewport by the
    largest scroller's hidden height (capped), shoot, restore."""
    extra = page.evaluate("""() => {
      let best = document.scrollingElement, extra = best.scrollHeight - best.clientHeight;
      for (const e of document.querySelectorAll('*')) {
        const y = getComputedStyle(e).overflowY;
        if ((y === 'auto' || y === 'scroll') && e.scrollHeight - e.clientHeight > extra) {
          best = e; extra = e.scrollHeight - e.clientHeight;
        }
      }
      best.scrollTop = 0;
      return extra;
    }""")
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
        clip = {"x": left, "y": top, "width": min(box["x"] + box["width"], size["width"]) - left,
                "height": min(box["y"] + box["height"], size["height"]) - top}
        if clip["width"] < 1 or clip["height"] < 1:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), clip=clip, timeout=15000)
        return path
    except Exception:  # noqa: BLE001 - a missing picture must not fail a test
        return None


def wait_quiet(page, container, *, quiet_ms: int = 300, timeout: float = 10.0) -> None:
    """Wait until the container's chart has not redrawn for ``quiet_ms`` (between benchmark moves)."""
    chart = container.locator(".gl-livechart").first.element_handle()
    page.wait_for_function(
        """([chart, quiet]) => {
          const last = Number(chart.dataset.glUpdated || 0);
          return performance.now() - last > quiet;
        }""", arg=[chart, quiet_ms], timeout=timeout * 1000, polling=100)


# -- judging what the page shows --------------------------------------------------------------------
def error_problems(cells: list[dict], scan: dict) -> list[str]:
    """Error outputs (except in cells tagged ``raises-exception``, JupyterLab's and nbval's tag for
    an intended error), tracebacks in widgets, errors shown by panels and charts."""
    out = []
    for c in cells:
        if "raises-exception" in c.get("tags", []):
            continue
        for o in c["outputs"]:
            if o["type"] == "error":
                out.append(f"cell {c['index']} raised {o['ename']}: {o['evalue']}  (source: {c['source']!r})")
    out += [f"traceback shown inside a widget: {t}" for t in scan["widgetTracebacks"]]
    out += [f"a panel shows an error: {t}" for t in scan["panelErrors"]]
    out += [f"chart {ch['index']} failed in JavaScript: {ch['error']}" for ch in scan["charts"] if ch["error"]]
    return out


def widget_problems(cells: list[dict], scan: dict) -> list[str]:
    out = [f"page shows {t!r}" for t in scan["widgetFailures"]]
    for c in cells:
        for j, o in enumerate(c["outputs"]):
            if not o["widget"]:
                continue
            dom = o["dom"]
            where = f"cell {c['index']} output {j}"
            if dom is None:
                out.append(f"{where}: widget output is not in the page")
            elif dom["mime"] is not None:
                out.append(f"{where}: widget shown as {dom['mime']} instead of a live control: {dom['text'][:120]!r}")
            elif any(t in dom["text"] for t in WIDGET_FAILURE_TEXTS):
                out.append(f"{where}: widget view did not render: {dom['text'][:120]!r}")
            elif dom["elements"] <= 1 and not dom["text"].strip():
                out.append(f"{where}: widget view is empty (its JavaScript probably failed)")
    return out


def chart_problems(scan: dict) -> list[str]:
    out = []
    for ch in scan["charts"]:
        if ch["error"]:
            continue  # already an error
        if ch["inButtonPanel"] and not ch["items"]:
            continue  # a Train panel's chart is empty until the button is pressed
        if ch["canvas"] and not ch["svg"]:
            continue  # canvas renderer: no inspectable marks, drawn is the best we can say
        if not ch["svg"]:
            out.append(f"chart {ch['index']} has no Vega view (no svg)")
        elif ch["items"] == 0:
            out.append(f"chart {ch['index']} shows no marks (empty Vega view)")
        if max(ch["width"], ch["height"]) > MAX_CHART_SIZE:
            out.append(f"chart {ch['index']} is {ch['width']} x {ch['height']} px: a runaway size, "
                       "a student sees an endless blank chart")
    return out


def open_lab_page(browser: BrowserSession, lab: LabServer, timeout: float = 90.0):
    """Load JupyterLab once, wait until its app is up, fold the file browser away."""
    page = browser.new_page()
    page.goto(lab.url("lab"), timeout=timeout * 1000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started !== undefined "
                           "&& document.querySelector('#jp-main-dock-panel')", timeout=timeout * 1000,
                           polling=200)
    page.evaluate("() => window.jupyterapp.started")
    page.evaluate("() => window.jupyterapp.restored")
    page.evaluate("""() => { const s = window.jupyterapp.shell;
                         if (!s.leftCollapsed) window.jupyterapp.commands.execute('application:toggle-left-area'); }""")
    return page


#: inserts a code cell at the end of an open notebook and runs it, as a user would (args: [widget_id, source])
RUN_NEW_CELL_JS = """async ([id, source]) => {
  const app = window.jupyterapp;
  const panel = window.__gl[id].widget;
  app.shell.activateById(id);
  const model = panel.content.model;
  model.sharedModel.insertCell(model.cells.length, {cell_type: 'code', source});
  panel.content.activeCellIndex = model.cells.length - 1;
  await app.commands.execute('notebook:run-cell');
}"""


def run_new_cell(session: "NotebookSession", source: str) -> None:
    """Append a code cell to an open notebook and run it (JupyterLab's own run command)."""
    session.page.evaluate(RUN_NEW_CELL_JS, [session.widget_id, source])


@contextlib.contextmanager
def scratch_session(page, lab: LabServer, name: str, sources: list[str], *, browser: BrowserSession | None = None,
                    tags: dict[int, list[str]] | None = None, timeout: float | None = None):
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


# -- accessibility: axe-core audit, accessible names, chart descriptions, keyboard only ------------------
#: axe-core's rule sets we audit against (WCAG 2.0/2.1 A and AA, plus axe's best practices)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
#: impacts that fail the audit (axe grades each violation minor / moderate / serious / critical)
AXE_FAILING = ("serious", "critical")
#: our own widgets: toolkit panels and every LiveChart (charts shown with show(), outside panels too)
OWN_WIDGETS = (".gl-panel", ".gl-livechart-widget")


def find_axe() -> tuple[Path | None, str]:
    """(path to axe.min.js, why not): vendored by `make axe` (npm, at build time); honours $GRADIENT_LAB_AXE."""
    explicit = os.environ.get("GRADIENT_LAB_AXE")
    candidates = [Path(explicit)] if explicit else [
        ROOT / "build" / "axe" / "axe.min.js", ROOT / "build" / "axe-npm" / "node_modules" / "axe-core" / "axe.min.js"]
    for path in candidates:
        if path.is_file():
            return path, ""
    return None, (f"axe-core is not vendored (looked for {', '.join(str(c) for c in candidates)}); "
                  "`make axe` installs it with npm")


_JS_AXE_RUN = """async ([include, tags]) => {
  const present = include.filter((sel) => document.querySelector(sel));
  if (!present.length) return {violations: [], passes: 0, incomplete: 0, checked: 0};
  const res = await window.axe.run({include: present.map((sel) => [sel])},
                                   {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  const nodes = (r) => r.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                            summary: (n.failureSummary || '').slice(0, 300)}));
  return {
    violations: res.violations.map((r) => ({id: r.id, impact: r.impact, help: r.help, nodes: nodes(r)})),
    passes: res.passes.length, incomplete: res.incomplete.length,
    checked: present.reduce((k, sel) => k + document.querySelectorAll(sel).length, 0),
  };
}"""


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
    return page.evaluate(_JS_AXE_RUN, [include, AXE_TAGS])


def axe_failures(result: dict) -> list[str]:
    """The serious and critical violations, one readable line per rule with where it hit."""
    out = []
    for v in result["violations"]:
        if v["impact"] in AXE_FAILING:
            where = "; ".join(f"{n['target']} ({n['summary'][:120]})" for n in v["nodes"][:3])
            out.append(f"{v['impact']}: {v['id']} ({v['help']}) x{len(v['nodes'])}: {where}")
    return out


# every interactive element in our widgets, with the name a screen reader would announce (the
# computed name is approximated the way axe/ARIA do it for these controls: aria-label,
# aria-labelledby, a <label for>, a wrapping label, then the text content for buttons)
_JS_CONTROL_NAMES = """(root) => {
  const scope = document.querySelector(root) || document;
  const byId = (ids) => ids.split(/\\s+/).map((i) => document.getElementById(i)?.textContent || '').join(' ');
  const nameOf = (e) => {
    if (e.getAttribute('aria-label')) return e.getAttribute('aria-label');
    if (e.getAttribute('aria-labelledby')) return byId(e.getAttribute('aria-labelledby'));
    if (e.id) { const l = document.querySelector(`label[for="${CSS.escape(e.id)}"]`); if (l) return l.textContent; }
    const wrap = e.closest('label'); if (wrap) return wrap.textContent;
    if (e.tagName === 'BUTTON') return e.textContent;
    return e.getAttribute('title') || '';
  };
  const sel = 'input, select, textarea, button, [role="slider"], [role="button"], [role="checkbox"], [role="combobox"]';
  const found = [];
  for (const own of scope.querySelectorAll('.gl-panel, .gl-livechart-widget')) {
    for (const e of own.querySelectorAll(sel)) {
      if (e.closest('.vega-embed details')) continue;  // vega-embed's action menu: counted once below
      if (e.offsetParent === null && getComputedStyle(e).position !== 'fixed') continue;  // not rendered
      found.push({tag: e.tagName.toLowerCase(), role: e.getAttribute('role') || '', name: nameOf(e).trim(),
                  html: e.outerHTML.slice(0, 160)});
    }
  }
  return found;
}"""

# every drawn chart: the accessible name of its Vega view (the spec's description becomes the
# aria-label of the view's root SVG)
_JS_CHART_NAMES = """(root) => {
  const scope = document.querySelector(root) || document;
  return [...scope.querySelectorAll('.gl-livechart')].map((c, index) => {
    const svg = c.querySelector('svg.marks');
    return {index, drawn: !!svg, label: svg ? (svg.getAttribute('aria-label') || '') : '',
            role: svg ? (svg.getAttribute('role') || '') : '', inPanel: !!c.closest('.gl-panel'),
            inButtonPanel: !!c.closest('.gl-panel-button')};
  });
}"""


# the colours each drawn chart uses to tell items apart: items of one mark type with the same dash,
# similar width (within a factor 1.5) and the same symbol shape differ by colour alone (rect marks
# are maps/heatmaps: sequential scales)
_JS_CHART_COLOURS = """(root) => {
  const scope = document.querySelector(root) || document;
  const series = ['mark-line', 'mark-symbol', 'mark-rule', 'mark-area', 'mark-trail'];
  return [...scope.querySelectorAll('.gl-livechart svg.marks')].map((svg, index) => {
    const groups = {};
    for (const g of svg.querySelectorAll('g.role-mark')) {
      const type = [...g.classList].find((c) => c.startsWith('mark-')) || '';
      if (!series.includes(type)) continue;
      for (const item of g.children) {
        const paint = type === 'mark-line' || type === 'mark-rule' ? item.getAttribute('stroke')
          : (item.getAttribute('fill') && item.getAttribute('fill') !== 'none'
             ? item.getAttribute('fill') : item.getAttribute('stroke'));
        if (!paint || paint === 'none' || paint === 'transparent') continue;
        if (Number(item.getAttribute('opacity') ?? 1) < 0.15) continue;  // a faint guide, not a series
        // widths closer than a factor 1.5 do not tell series apart (2 px vs 2.5 px): one bucket
        const width = Number(item.getAttribute('stroke-width') || 1);
        const bucket = width > 0 ? Math.round(Math.log(width) / Math.log(1.5)) : 'none';
        const key = [type, item.getAttribute('stroke-dasharray') || '', bucket,
                     type === 'mark-symbol' ? item.getAttribute('d') || '' : ''].join('|');
        (groups[key] = groups[key] || new Set()).add(paint);
      }
    }
    const title = [...svg.querySelectorAll('.role-title-text')].map((t) => t.textContent).join(' ');
    return {index, title, groups: Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, [...v]]))};
  });
}"""


def chart_colours(page, root: str = "body") -> list[dict]:
    """Per drawn chart: {mark type|dash|width|shape: [colours]} — items that differ by colour only."""
    return page.evaluate(_JS_CHART_COLOURS, root)


#: more colours than this in one group is an identity colouring of many objects (e.g. one colour per
#: particle in an event display), not a set of series: no palette keeps 20 colours apart for every
#: viewer. Such groups are listed by :func:`identity_colourings` (reported, not judged pair by pair).
MAX_SERIES_COLOURS = 10


def identity_colourings(charts: list[dict]) -> list[str]:
    """Groups with more than MAX_SERIES_COLOURS colours (see there)."""
    return [f"chart {c['index']} {c['title']!r}: {key.split('|')[0]} in {len(colours)} colours"
            for c in charts for key, colours in c["groups"].items() if len(colours) > MAX_SERIES_COLOURS]


def red_green_problems(charts: list[dict]) -> list[str]:
    """Charts that tell two series apart only by a pair of colours a protan/deutan viewer confuses."""
    sys.path.insert(0, str(ROOT))
    from toolkit.palette import confusable

    out = []
    for chart in charts:
        for key, colours in chart["groups"].items():
            if len(colours) > MAX_SERIES_COLOURS:
                continue
            for i, a in enumerate(colours):
                for b in colours[i + 1:]:
                    try:
                        merged = confusable(a, b)
                    except ValueError:  # a colour form we cannot parse: not judged
                        continue
                    if merged:
                        out.append(f"chart {chart['index']} {chart['title']!r}: {key.split('|')[0]} items differ only "
                                   f"by {a} vs {b}, which look alike with {merged} colour vision")
    return out


def control_names(page, root: str = "body") -> list[dict]:
    """Every control inside our widgets (under ``root``) with its accessible name."""
    return page.evaluate(_JS_CONTROL_NAMES, root)


def chart_names(page, root: str = "body") -> list[dict]:
    """Every LiveChart under ``root``: drawn or not, and its SVG's aria-label (the chart description)."""
    return page.evaluate(_JS_CHART_NAMES, root)


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
    container.evaluate("""(panel) => {
      // a focus start just before the panel, as if the student had tabbed through the cell above
      let start = document.getElementById('gl-kbd-start');
      if (!start) { start = document.createElement('span'); start.id = 'gl-kbd-start'; start.tabIndex = -1; }
      panel.parentElement.insertBefore(start, panel);
      start.focus();
      window.__glActive = () => {
        const a = document.activeElement;
        return {inPanel: panel.contains(a), role: a.getAttribute('role') || a.tagName.toLowerCase(),
                label: a.getAttribute('aria-label') || a.textContent.trim().slice(0, 40)};
      };
    }""")
    focused: list[str] = []
    for tab in range(1, max_tabs + 1):
        page.keyboard.press("Tab")
        active = page.evaluate("() => window.__glActive()")
        focused.append(f"{active['role']}:{active['label']}" + ("" if active["inPanel"] else " (outside panel)"))
        if active["inPanel"] and active["role"] == "slider":
            break
    else:
        return KeyboardRun(tabs=max_tabs, focused=focused, slider_name=None, move=None)
    handle = container.locator(".noUi-handle:focus").first
    chart = container.locator(".gl-livechart").first
    now = float(handle.get_attribute("aria-valuenow") or 0)
    high = float(handle.get_attribute("aria-valuemax") or 0)
    key = "ArrowRight" if now < high else "ArrowLeft"
    handle_el, chart_el = handle.element_handle(), chart.element_handle()
    page.evaluate(_JS_ARM, [handle_el, chart_el])
    page.keyboard.press(key)
    try:
        page.wait_for_function("() => window.__glMove.t1 !== null", timeout=timeout * 1000, polling="raf")
    except Exception:
        pass  # reported as redrew=False
    res = page.evaluate(_JS_MOVE_RESULT, [handle_el, chart_el])
    redrew = res["t1"] is not None
    move = SliderMove(key=key, value_before=res["value0"], value_after=res["value1"], redrew=redrew,
                      latency_ms=(res["t1"] - res["t0"]) if redrew and res["t0"] is not None else None,
                      svg_changed=res["svgChanged"], chart_error=res["error"], t_key=res["t0"], t_drawn=res["t1"])
    return KeyboardRun(tabs=len(focused), focused=focused, slider_name=handle.get_attribute("aria-label"), move=move)


# -- command line: check one notebook by hand --------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", nargs="*", help="notebooks/NN_x.ipynb (default: all)")
    parser.add_argument("--timeout", type=float, default=run_timeout(), help="seconds for Run All")
    args = parser.parse_args(argv)
    chromium, why = find_chromium()
    if chromium is None or playwright_problem():
        print(why or playwright_problem(), file=sys.stderr)
        return 2
    paths = [Path(p).resolve().relative_to(ROOT).as_posix() for p in args.notebook] or \
        [p.relative_to(ROOT).as_posix() for p in notebooks()]
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
