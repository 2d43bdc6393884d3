"""What a student feels: time to the first chart and slider-to-redraw latency, in a real browser.

Uses the browser tests' harness (tests/browser/harness): JupyterLab from .venv on a loopback
port, headless Chromium. For each notebook: open it, Run > Run All Cells, and record
  * open -> first chart: from the open command to the first chart that finished drawing,
  * Run All -> first chart: from the menu click to that same moment,
  * Run All total: until every cell has run and the kernel is idle;
then move the first slider of the main panel (first ``.gl-panel-live``) by keyboard ``--repeats``
times (in one direction until an end, then back, so each move asks for a new value; waiting for quiet
in between) and time keydown -> chart redrawn,
both with performance.now() in the page, split at the moment the kernel's new chart data arrive
("kernel": widget sync + render in Python + send; "draw": Vega in the browser). Goals (issue 8): first
chart <= 10 s after Run All, redraw <= 200 ms for panels that do not retrain a model.

    .venv/bin/python benchmarks/bench_browser.py                 # all notebooks
    .venv/bin/python benchmarks/bench_browser.py notebooks/00_start_here.ipynb --repeats 20
    .venv/bin/python benchmarks/bench_browser.py --livechart      # streaming: one-row push -> drawn
    .venv/bin/python benchmarks/bench_browser.py notebooks/03_diffusion_sampling.ipynb \
        --panel "Samplers on a 2-D" --panel "Sampling the pretrained" --repeats 5   # chosen panels
    .venv/bin/python benchmarks/bench_browser.py --all-panels --repeats 5   # every live panel

``--all-panels`` measures every live panel that has a slider and a chart, one row each (after
scrolling a panel into view the page gets 1.5 s to draw the cells that came into view). ``--panel
TITLE`` (repeatable) moves the first slider of the live panel whose title contains TITLE
instead of the main panel's, waiting ``--quiet-ms`` of chart silence between moves: a panel that shows a
fast preview while its slider moves (toolkit.panels.SliderPreview) redraws twice, and the
latency is the first redraw (the preview); the full result follows when the slider rests.

``--livechart`` instead times LiveChart streaming in the page: a chart already drawing 200 / 2k / 20k
rows gets one-row pushes (each run as its own kernel request); per push it records request -> chart
redrawn, and message received by the chart -> redrawn ("draw": Vega's changeset + render), for svg and canvas.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # a script, not a test: make the repo's tests/browser/harness importable
from tests.browser import harness as bh  # noqa: E402

FIRST_CHART_GOAL_S = 10.0
# timestamp the kernel's answer (the LiveChart's new rows or spec) as it arrives in the page, to split
# the latency into "kernel" (key -> answer arrives: sync, render in Python, send) and "draw" (Vega)
_JS_HOOK_IOPUB = """(id) => {
  const k = window.__gl[id].widget.sessionContext.session.kernel;
  const st = {t: null};
  const f = (_, msg) => {
    const d = msg.content && msg.content.data;
    // LiveChart sends rows as custom messages ("replace"/"append") and a new spec as a state update
    const rows = d && d.method === 'custom' && d.content && ['replace', 'append'].includes(d.content.kind);
    const spec = d && d.method === 'update' && d.state && 'spec' in d.state;
    if (st.t === null && msg.header.msg_type === 'comm_msg' && (rows || spec)) st.t = performance.now();
  };
  k.iopubMessage.connect(f);
  st.stop = () => k.iopubMessage.disconnect(f);
  window.__glIo = st;
}"""

REDRAW_GOAL_MS = 200.0
SETTLE_AFTER_SCROLL_MS = 1500


def measure(
    page, lab, path: str, repeats: int, timeout: float, panels: tuple[str, ...] = (), quiet_ms: int = 300
) -> dict | list[dict]:
    nb = bh.NotebookSession(page, lab, path)
    row: dict = {"notebook": nb.name}
    nb.open()
    try:
        nb.run_all(timeout)
        row.update(
            open_to_first_chart_s=nb.open_to_first_chart_s,
            run_all_to_first_chart_s=nb.run_all_to_first_chart_s,
            run_all_s=nb.run_all_s,
        )
        problems = nb.problems()
        row["problems"] = sum(len(v) for v in problems.values())
        if panels == ("*",):  # every live panel with a slider and a chart, in notebook order
            return [
                _measure_panel(
                    page, nb, {**row, "notebook": f"{nb.name} [{title}]"}, panel, repeats, quiet_ms
                )
                for title, panel in nb.live_panels()
            ]
        live = page.locator(f"{nb.root_selector} .gl-panel.gl-panel-live")
        if panels:  # the chosen panels (by title), one row each
            return [
                _measure_panel(
                    page,
                    nb,
                    {**row, "notebook": f"{nb.name} [{title}]"},
                    live.filter(has_text=title).first,
                    repeats,
                    quiet_ms,
                )
                for title in panels
            ]
        panel = nb.main_panel()
        if panel.count() == 0:
            row["note"] = "no live panel"
            return row
        return _measure_panel(page, nb, row, panel, repeats, quiet_ms)
    finally:
        nb.close()


def _measure_panel(page, nb, row: dict, panel, repeats: int, quiet_ms: int) -> dict:
    """Move the first slider of ``panel`` ``repeats`` times; latency keydown -> first redraw."""
    if panel.count() == 0:
        row["note"] = "panel not found"
        return row
    panel.scroll_into_view_if_needed(timeout=5000)
    # JupyterLab draws cells as they scroll into view: let the page settle before the first move
    page.wait_for_timeout(SETTLE_AFTER_SCROLL_MS)
    handle = panel.locator(".noUi-handle").first
    low = float(handle.get_attribute("aria-valuemin") or 0)
    high = float(handle.get_attribute("aria-valuemax") or 0)
    key = "ArrowRight"
    latencies, kernel_part, draw_part, missed = [], [], [], 0
    for _ in range(repeats):
        # one direction until an end, then back: every move asks for a value not just shown, so a
        # panel's cache of its last results cannot flatter the latency (alternating would)
        now = float(handle.get_attribute("aria-valuenow") or 0)
        if (key == "ArrowRight" and now >= high) or (key == "ArrowLeft" and now <= low):
            key = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        # start every move from rest: kernel idle and no redraw for quiet_ms (a preview's full render done)
        nb.wait_kernel_ready(30, polling=100)
        bh.wait_quiet(page, panel, quiet_ms=quiet_ms, timeout=max(10.0, 4 * quiet_ms / 1000))
        nb.wait_kernel_ready(60, polling=100)  # a preview's full render may still be computing: no redraw yet
        bh.wait_quiet(page, panel, quiet_ms=min(quiet_ms, 300), timeout=30.0)  # ... and then drawing
        page.evaluate(_JS_HOOK_IOPUB, nb.widget_id)
        move = bh.move_slider(page, panel, key=key, timeout=10.0)
        t_answer = page.evaluate("() => { window.__glIo.stop(); return window.__glIo.t; }")
        if move.latency_ms is None:
            missed += 1
            continue
        latencies.append(move.latency_ms)
        if t_answer is not None and move.t_key is not None and move.t_drawn is not None:
            kernel_part.append(t_answer - move.t_key)
            draw_part.append(move.t_drawn - t_answer)
    row["moves"] = repeats
    row["missed"] = missed
    row["latencies_ms"] = [round(x, 1) for x in latencies]
    if latencies:
        row["redraw_median_ms"] = float(np.median(latencies))
        row["redraw_p90_ms"] = float(np.percentile(latencies, 90))
    if kernel_part:
        row["kernel_median_ms"] = float(np.median(kernel_part))
        row["draw_median_ms"] = float(np.median(draw_part))
    return row


STREAM_SETUP = """import altair as alt, numpy as np, pandas as pd
from toolkit.livechart import LiveChart
alt.data_transformers.disable_max_rows()
def make(n, renderer):
    k = np.arange(n)
    df = pd.DataFrame({"step": k, "value": np.exp(-k / 500)})
    return LiveChart(alt.Chart(df).mark_line().encode(x="step:Q", y="value:Q"), max_rows=100_000,
                     min_interval=0.0, renderer=renderer)"""

_JS_TIMED_PUSH = """async ([id, code]) => {
  const w = window.__gl[id].widget;
  const kernel = w.sessionContext.session.kernel;
  const boxes = w.node.querySelectorAll('.gl-livechart');
  const box = boxes[boxes.length - 1];
  const r0 = Number(box.dataset.glRedraws || 0);
  const t0 = performance.now();
  await kernel.requestExecute({code, store_history: false}).done;
  const deadline = performance.now() + 10000;
  while (Number(box.dataset.glRedraws || 0) <= r0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  if (Number(box.dataset.glRedraws || 0) <= r0) return null;
  const t1 = Number(box.dataset.glUpdated);
  // glReceived: when the row message reached the chart's store (livechart.js)
  return {total: t1 - t0, draw: t1 - Number(box.dataset.glReceived), rows: Number(box.dataset.glRows || 0)};
}"""


def measure_stream(page, lab, sizes: tuple[int, ...], pushes: int, timeout: float) -> list[dict]:
    """One-row pushes into charts already drawing `sizes` rows: request -> drawn and arrival -> drawn."""
    rows = []
    with bh.scratch_session(
        page, lab, "zz_bench_livechart.ipynb", [STREAM_SETUP], timeout=timeout
    ) as session:
        for renderer in ("svg", "canvas"):
            for n in sizes:
                bh.run_new_cell(session, f"w = make({n}, {renderer!r})\nw")
                page.wait_for_function(
                    """([id, n]) => {
                        const b = [...window.__gl[id].widget.node.querySelectorAll('.gl-livechart')].pop();
                        return b && Number(b.dataset.glRows || 0) === n && b.dataset.glRedraws; }""",
                    arg=[session.widget_id, n],
                    timeout=60_000,
                    polling=100,
                )
                totals, draws = [], []
                for i in range(pushes):
                    res = page.evaluate(
                        _JS_TIMED_PUSH, [session.widget_id, f"w.push({{'step': {n + i}, 'value': 0.0}})"]
                    )
                    if res is None:
                        continue
                    totals.append(res["total"])
                    if res["draw"] is not None:
                        draws.append(res["draw"])
                rows.append(
                    {
                        "renderer": renderer,
                        "rows": n,
                        "pushes": pushes,
                        "drawn": len(totals),
                        "push_to_drawn_median_ms": float(np.median(totals)) if totals else None,
                        "draw_median_ms": float(np.median(draws)) if draws else None,
                    }
                )
                print(
                    f"  {renderer:<7}{n:>7} rows: push -> drawn {_ms(rows[-1]['push_to_drawn_median_ms'])}, "
                    f"draw {_ms(rows[-1]['draw_median_ms'])} ({len(totals)}/{pushes})",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def stream_table(rows: list[dict]) -> str:
    out = [
        f"{'renderer':<9}{'rows drawn':>11}{'push -> drawn (median)':>24}{'draw (median)':>15}"
        f"{'pushes ok':>11}"
    ]
    for r in rows:
        out.append(
            f"{r['renderer']:<9}{r['rows']:>11}{_ms(r['push_to_drawn_median_ms']):>24}"
            f"{_ms(r['draw_median_ms']):>15}{r['drawn']:>7}/{r['pushes']}"
        )
    return "\n".join(out)


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} s"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f} ms"


def table(rows: list[dict]) -> str:
    head = (
        "notebook",
        "open->chart",
        "RunAll->chart",
        "RunAll total",
        "redraw median",
        "redraw p90",
        "kernel | draw (median)",
        "moves ok",
        "goals (chart<=10s, redraw<=200ms)",
    )
    lines = []
    for r in rows:
        first, med = r.get("run_all_to_first_chart_s"), r.get("redraw_median_ms")
        goals = (
            "chart "
            + ("ok" if first is not None and first <= FIRST_CHART_GOAL_S else "MISSED")
            + ", redraw "
            + ("ok" if med is not None and med <= REDRAW_GOAL_MS else "MISSED")
        )
        ok = f"{r.get('moves', 0) - r.get('missed', 0)}/{r.get('moves', 0)}"
        lines.append(
            (
                r["notebook"],
                _s(r.get("open_to_first_chart_s")),
                _s(first),
                _s(r.get("run_all_s")),
                _ms(med),
                _ms(r.get("redraw_p90_ms")),
                f"{_ms(r.get('kernel_median_ms'))} | {_ms(r.get('draw_median_ms'))}",
                ok,
                r.get("note") or goals,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = " | ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), "-+-".join("-" * w for w in widths)]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", nargs="*", help="notebooks to measure (default: notebooks/*.ipynb)")
    parser.add_argument("--repeats", type=int, default=10, help="slider moves per notebook (default 10)")
    parser.add_argument("--timeout", type=float, default=bh.run_timeout(), help="seconds allowed for Run All")
    parser.add_argument(
        "--json", type=Path, default=bh.RESULTS / "bench_browser.json", help="where to write raw numbers"
    )
    parser.add_argument(
        "--livechart", action="store_true", help="time LiveChart streaming instead of notebooks"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[200, 2000, 20000], help="rows drawn (--livechart)"
    )
    parser.add_argument(
        "--panel",
        action="append",
        default=[],
        metavar="TITLE",
        help="measure the live panel whose title contains TITLE (repeatable) instead of the main one",
    )
    parser.add_argument(
        "--all-panels",
        action="store_true",
        help="measure every live panel of each notebook (its first slider), one row per panel",
    )
    parser.add_argument(
        "--quiet-ms",
        type=int,
        default=None,
        help="chart silence before each move (default 300; 3000 with --panel: a preview's full "
        "render must be done first)",
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be an integer >= 1, got {args.repeats}")
    chromium, why = bh.find_chromium()
    problem = bh.playwright_problem() or why
    if chromium is None or bh.playwright_problem():
        print(f"cannot benchmark in a browser: {problem}", file=sys.stderr)
        return 2
    paths = [Path(p).resolve().relative_to(ROOT).as_posix() for p in args.notebook] or [
        p.relative_to(ROOT).as_posix() for p in bh.notebooks()
    ]

    work = Path(tempfile.mkdtemp(prefix="gl-bench-browser-"))
    lab, browser, rows = bh.LabServer(work), None, []
    t0 = time.monotonic()
    try:
        lab.start_lab()
        browser = bh.BrowserSession(chromium)
        page = bh.open_lab_page(browser, lab)
        if args.livechart:
            stream = measure_stream(page, lab, tuple(args.sizes), args.repeats, args.timeout)
            print(stream_table(stream))
            print(
                f"\none-row LiveChart pushes, each its own kernel request; {time.monotonic() - t0:.0f} s in "
                "all"
            )
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.with_name("bench_browser_livechart.json").write_text(json.dumps(stream, indent=2))
            return 0
        for path in paths:
            print(f"measuring {path} ...", file=sys.stderr, flush=True)
            try:
                chosen = ("*",) if args.all_panels else tuple(args.panel)
                quiet = args.quiet_ms if args.quiet_ms is not None else (3000 if chosen else 300)
                got = measure(page, lab, path, args.repeats, args.timeout, chosen, quiet)
                rows.extend(got if isinstance(got, list) else [got])
            except Exception as exc:  # one broken notebook should not hide the others' numbers
                rows.append(
                    {"notebook": Path(path).stem, "note": f"FAILED: {type(exc).__name__}: {exc}"[:120]}
                )
    finally:
        if browser is not None:
            browser.close()
        lab.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    print(
        f"\n{len(paths)} notebook(s), {args.repeats} slider moves each, {time.monotonic() - t0:.0f} s in "
        "all; "
        f"latency = keydown on the slider handle -> chart redrawn (performance.now() in the page)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2))
    return 0 if all("FAILED" not in (r.get("note") or "") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
