"""The start-here notebook as an app: ``voila notebooks/00_start_here.ipynb`` in headless Chromium.

Voila executes the notebook and shows only its outputs: no code cells, live widgets, drawn charts,
and a slider of the main panel that redraws its chart, just as in JupyterLab. The page works
offline: every request it makes goes to the Voila server (Gradient Lab's Voila template drops the
stock template's Font Awesome CDN links; the set-up makes it the default, see lab/README.md).

The slider redraw bound is a guard against a redraw that hangs, not a benchmark: the same as the
notebook browser test (2 s locally, 10 s with ``CI=true``, ``GRADIENT_LAB_REDRAW_LIMIT_MS``
overrides both); the measured latency is printed and recorded as the test's
``redraw_latency_ms`` property.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from . import harness as bh

ROOT = bh.ROOT

NOTEBOOK = "notebooks/00_start_here.ipynb"
REDRAW_LIMIT_MS = bh.redraw_limit_ms()
REQUESTS: list[str] = []  # every URL the Voila page asked for, in order
LOOPBACK = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")


def _code_lines(path: Path) -> list[str]:
    """Distinctive source lines of the notebook's code cells (none may appear in the app)."""
    nb = nbformat.read(path, as_version=4)
    lines = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            lines += [
                ln.strip()
                for ln in cell.source.splitlines()
                if len(ln.strip()) >= 12 and not ln.strip().startswith("#")
            ][:2]
    return lines


@pytest.fixture(scope="module")
def voila_page(browser, tmp_path_factory, results_dir: Path):
    if not (ROOT / NOTEBOOK).exists():
        pytest.fail(f"{NOTEBOOK} is missing")
    server = bh.VoilaServer(tmp_path_factory.mktemp("voila"), NOTEBOOK)
    page = None
    try:
        server.start_voila()
        page = browser.new_page()
        REQUESTS.clear()
        page.on("request", lambda req: REQUESTS.append(req.url))
        # Voila streams the page while it executes the cells: "load" means all cells have run
        page.goto(server.url(), timeout=bh.run_timeout() * 1000)
        page.wait_for_selector(".gl-panel", timeout=30_000)
        # every chart has drawn (or failed visibly) before we judge
        page.wait_for_function(bh.js("charts_settled"), timeout=30_000, polling=200)
        bh.page_screenshot(page, results_dir / "voila_00_start_here.png")
        yield page
    finally:
        if page is not None:
            page.close()
        server.stop()


@pytest.mark.browser
def test_voila_renders_app_without_code(voila_page):
    page = voila_page
    scan = bh.scan_page(page)
    text = page.inner_text("body")

    errors = [f"traceback: {t}" for t in scan["tracebacks"]] + [
        f"panel error: {t}" for t in scan["panelErrors"]
    ]
    errors += [f"chart error: {c['error']}" for c in scan["charts"] if c["error"]]
    if "There was an error when executing cell" in text:
        errors.append("Voila reports an error while executing a cell")
    assert not errors, "\n".join(errors)

    assert scan["codeVisible"] == 0, f"{scan['codeVisible']} code editors/prompts are visible in the app"
    shown = [ln for ln in _code_lines(ROOT / NOTEBOOK) if ln in text]
    assert not shown, f"code is shown in the app: {shown}"

    assert not scan["widgetFailures"], f"widgets did not render: {scan['widgetFailures']}"
    assert scan["panels"] >= 1 and scan["sliders"] >= 1, f"no panel with sliders in the app: {scan}"
    assert scan["charts"], "no chart in the app"
    problems = bh.chart_problems(scan)
    assert not problems, f"charts did not render: {problems}"


@pytest.mark.browser
def test_voila_slider_redraws_chart(voila_page, results_dir: Path, record_property):
    panel = voila_page.locator(".gl-panel.gl-panel-live").first
    assert panel.count() == 1, "the app has no live panel"
    move = bh.move_slider(voila_page, panel, timeout=REDRAW_LIMIT_MS / 1000 + 3)
    record_property("redraw_latency_ms", move.latency_ms)
    print(f"Voila {NOTEBOOK}: slider redraw latency {move.latency_ms} ms (limit {REDRAW_LIMIT_MS:.0f} ms)")
    bh.element_screenshot(voila_page, panel, results_dir / "voila_00_start_here_main_panel.png")
    assert move.value_after != move.value_before, f"{move.key} did not move the slider: {move}"
    assert move.chart_error is None, f"the chart failed to redraw: {move.chart_error}"
    assert move.redrew and move.latency_ms is not None and move.latency_ms <= REDRAW_LIMIT_MS, (
        f"the chart did not redraw within {REDRAW_LIMIT_MS:.0f} ms of the key press: {move}"
    )
    assert move.svg_changed, f"the chart redrew but shows the same picture: {move}"


@pytest.mark.browser
def test_voila_page_makes_no_external_request(voila_page):
    """Offline means offline: no CDN (fonts, icons, MathJax, Vega), only the Voila server itself."""
    assert REQUESTS, "the network log is empty: requests were not recorded"
    external = sorted({url for url in REQUESTS if not url.startswith(LOOPBACK)})
    assert not external, f"the Voila page requested outside the server: {external}"
    assert voila_page.locator('meta[name="gradient-lab-template"]').count() == 1, (
        "the page was not rendered with the gradient-lab template (the set-up makes it Voila's default)"
    )
    icons = voila_page.evaluate(bh.js("icon_fonts"))
    assert not [i for i in icons if i.endswith(":error")], f"Font Awesome failed to load: {icons}"


@pytest.mark.browser
def test_voila_page_passes_the_accessibility_audit(voila_page, axe_path):
    result = bh.run_axe(voila_page, list(bh.OWN_WIDGETS), axe_path)
    failures = bh.axe_failures(result)
    assert result["checked"] >= 1 and not failures, f"axe-core in Voila: {failures}"
