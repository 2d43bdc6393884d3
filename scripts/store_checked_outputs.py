"""Execute notebooks and store only the outputs of ``# NBVAL_CHECK_OUTPUT`` cells.

nbval (``--nbval-lax``) compares those cells against their stored output, so the stored output
is the expected result; every other output is stripped to keep the repo lean.

    python scripts/store_checked_outputs.py notebooks/00_start_here.ipynb [...]
    python scripts/store_checked_outputs.py --check notebooks/*.ipynb   # only verify stripping
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "# NBVAL_CHECK_OUTPUT"


def strip(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if MARK not in cell.source:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)


def unchecked_outputs(nb: nbformat.NotebookNode) -> list[int]:
    return [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.get("outputs") and MARK not in c.source
    ]


def store(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    run = nbformat.read(path, as_version=4)
    NotebookClient(
        run, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    for cell, done in zip(nb.cells, run.cells):
        if cell.cell_type == "code" and MARK in cell.source:
            cell.outputs = [o for o in done.outputs if o.output_type in ("stream", "execute_result")]
            cell.execution_count = done.execution_count
    strip(nb)
    nbformat.write(nb, path)
    print(f"{path}: stored outputs of {sum(MARK in c.source for c in nb.cells)} checked cell(s)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if unchecked outputs are stored")
    args = parser.parse_args()
    bad = 0
    for path in args.notebooks:
        if args.check:
            cells = unchecked_outputs(nbformat.read(path, as_version=4))
            if cells:
                print(f"{path}: outputs stored in unchecked cells {cells}")
                bad += 1
        else:
            store(path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
