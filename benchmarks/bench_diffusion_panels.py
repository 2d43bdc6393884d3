"""Kernel-side time per slider step of notebook 03's sampling panels, without a browser.

For each panel and slider, the slider is moved back and forth ``--repeats`` times and each move is
timed from setting the value to the panel's chart and readout being updated (render in Python +
the LiveChart update, i.e. everything the kernel does before the browser draws). Measured twice,
side by side in one run:

  * full     what the panel draws when the slider rests (the full ensemble),
  * preview  what it draws while the slider is being dragged (toolkit.panels.SliderPreview:
             fewer members / samples of the same solver, said so in the readout).

Prints the median and the minimum per slider and the ratio full / preview; the goal (issue 18) is a
preview under 200 ms per step. Timings on a shared machine are pessimistic; compare the columns,
which are measured in the same run.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_diffusion_panels.py
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_diffusion_panels.py --repeats 9 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from toolkit.diffusion import load_pretrained, make_weather_sequence  # noqa: E402
from toolkit.diffusion import widgets as W  # noqa: E402

GOAL_MS = 200.0


def _walk(control, n: int) -> list:
    """n slider positions one step apart, none repeated (so no move hits a panel's cache of recent
    runs), turning back at the ends."""
    step = getattr(control, "step", 1) or 1
    values, v, direction = [], control.value, 1
    seen = {v}
    while len(values) < n:
        nxt = v + direction * step
        if not control.min <= nxt <= control.max:
            direction = -direction
            nxt = v + direction * step
        if nxt in seen and len(seen) < int(round((control.max - control.min) / step)) + 1:
            v = nxt  # walk over visited positions without timing them
            continue
        values.append(nxt)
        seen.add(nxt)
        v = nxt
    return values


def time_steps(panel, name: str, repeats: int, preview: bool) -> list[float]:
    """Milliseconds per move of slider `name` (value set -> chart and readout updated)."""
    control = panel.controls[name]
    times = []
    for value in _walk(control, repeats):
        if preview:
            panel.preview.begin()  # as when the browser reports a drag: the next render is a preview
        t = time.perf_counter()
        control.value = value  # the panel's observer renders synchronously
        times.append(1000 * (time.perf_counter() - t))
        if panel.last_error is not None:
            raise RuntimeError(f"{panel.key} failed: {panel.last_error!r}")
        panel.preview.cancel()
    return times


def panels() -> dict:
    model = load_pretrained()
    seq = make_weather_sequence(random_state=0)
    return {
        "toy sampler": (W.toy_sampler_panel(), ["steps", "churn"]),
        "downscaler sampling": (W.sampling_panel(model), ["steps", "members", "rho", "case", "progress"]),
        "day-ahead fan": (W.fan_panel(model, seq), ["memory"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="moves per slider and mode (default 5)")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for title, (panel, names) in panels().items():
        for name in names:
            row = {"panel": title, "slider": name}
            for mode in ("full", "preview"):
                ms = time_steps(panel, name, args.repeats, preview=mode == "preview")
                row[mode] = {
                    "median_ms": statistics.median(ms),
                    "min_ms": min(ms),
                    "all_ms": [round(x, 1) for x in ms],
                }
            rows.append(row)
    head = f"{'panel':<22}{'slider':<10}{'full med':>10}{'full min':>10}{'preview med':>13}"
    head += f"{'preview min':>13}{'ratio':>7}  goal"
    print(head)
    print("-" * len(head))
    for r in rows:
        f, p = r["full"], r["preview"]
        ok = "ok" if p["median_ms"] <= GOAL_MS else "MISSED"
        print(
            f"{r['panel']:<22}{r['slider']:<10}{f['median_ms']:>10.0f}{f['min_ms']:>10.0f}{p['median_ms']:>13.0f}"
            f"{p['min_ms']:>13.0f}{f['median_ms'] / max(p['median_ms'], 1e-9):>7.1f}  {ok} (preview <= "
            f"{GOAL_MS:.0f} ms)"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
