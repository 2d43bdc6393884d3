"""Student copies run top to bottom as a student gets them: exercises unanswered, nothing raises.

The instructor copies run under nbval (with strict checks); here each `notebooks/student/*.ipynb` is
executed with its `...` placeholders in place and strict mode off, as in a classroom. An
unanswered exercise must say "not answered yet", never stop Run All; and no cell of any notebook
may write to stderr (a red warning box is noise a student cannot act on).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
STUDENT = sorted((ROOT / "notebooks" / "student").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.slow


def test_every_source_notebook_has_a_student_copy():
    sources = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert sources == [p.name for p in STUDENT]


@pytest.mark.parametrize("path", STUDENT, ids=[p.stem for p in STUDENT])
def test_student_copy_runs_without_error_or_stderr(path, monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)  # the kernel inherits this environment
    monkeypatch.setenv("PYTHONWARNINGS", os.environ.get("PYTHONWARNINGS", ""))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    stderr = [
        (index, out.get("text", "")[:300])
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]
    assert not stderr, f"{path.name} wrote to stderr: {stderr}"
    answers = [c for c in nb.cells if c.cell_type == "code" and "answer = ..." in c.source]
    checks = [
        out
        for c in nb.cells
        if c.cell_type == "code" and ".check(" in c.source
        for out in c.get("outputs", [])
        if out.get("output_type") == "execute_result"
    ]
    if answers:  # an unanswered exercise tells the student so
        texts = " ".join(str(o.get("data", {}).get("text/plain", "")) for o in checks)
        assert "not answered yet" in texts, f"{path.name}: no 'not answered yet' verdict in {texts[:300]!r}"
