"""Execute every notebook headless and print wall time and peak memory per notebook.

    .venv/bin/python benchmarks/run_notebooks.py            # all notebooks/*.ipynb
    .venv/bin/python benchmarks/run_notebooks.py notebooks/02_random_backprop.ipynb

Each notebook runs in a fresh process; peak RSS is the kernel's (the largest child process,
from ``getrusage(RUSAGE_CHILDREN)``). Budget per notebook: 60 s and 1.5 GB on 2 cores.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S, BUDGET_MB = 60.0, 1536.0


def run_one(path: Path) -> dict:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    error = ""
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except Exception as exc:  # report, do not hide
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:120]
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"notebook": path.name, "wall_s": round(wall, 1), "peak_mb": round(peak_mb), "error": error}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(run_one(Path(argv[1]))))
        return 0
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        GRADIENT_LAB_STRICT="1",
    )
    rows = []
    for path in paths:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(path)], capture_output=True, text=True, env=env
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        rows.append(
            json.loads(lines[-1])
            if lines
            else {
                "notebook": path.name,
                "wall_s": float("nan"),
                "peak_mb": float("nan"),
                "error": out.stderr[-200:],
            }
        )
    print(f"{'notebook':<34} {'wall s':>7} {'peak MB':>8}  within budget")
    ok_all = True
    for r in rows:
        ok = not r["error"] and r["wall_s"] <= BUDGET_S and r["peak_mb"] <= BUDGET_MB
        ok_all &= ok
        note = "yes" if ok else f"NO {r['error']}"
        print(f"{r['notebook']:<34} {r['wall_s']:>7} {r['peak_mb']:>8}  {note}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
