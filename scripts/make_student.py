"""Make the student versions of the notebooks from the solution notebooks (the sources).

    python scripts/make_student.py            # write notebooks/student/*.ipynb, tag sources
    python scripts/make_student.py --check    # exit 1 if a student version or tag is stale

An exercise in a source notebook is two code cells: an *answer* cell whose solution sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``, followed by a *check* cell that calls
``<exercise>.check(...)``. This script

* tags the source cells with nbgrader metadata (answer = autograded answer, check = autograder
  test worth 1 point, locked), so instructors can use the sources directly with nbgrader
  (``nbgrader generate_assignment`` / ``autograde``);
* writes the student version: the solution lines removed (the ``answer = ...`` placeholder above
  them stays), all outputs stripped, nbgrader metadata kept, and the instructor's own checks left
  out: a code cell whose first line is ``# INSTRUCTOR`` (plumbing asserts such as "the panel raised
  no error", which mean nothing to a student; claims the text makes stay in both versions).

fastbook does the same for its course notebooks; CI checks that the student versions are current.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks"
STUDENT = SOURCES / "student"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CHECK = re.compile(r"\.check\(")
INSTRUCTOR = "# INSTRUCTOR"


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: int = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def tag(nb: nbformat.NotebookNode, stem: str) -> int:
    """Add nbgrader metadata to answer and check cells; returns the number of exercises."""
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    count = 0
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or BEGIN not in cell.source:
            continue
        if END not in cell.source:
            raise ValueError(f"{stem}: cell {i} has '{BEGIN}' without '{END}'")
        after = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
        if (
            after is None
            or after.cell_type != "code"
            or not CHECK.search(after.source)
            or BEGIN in after.source
        ):
            raise ValueError(
                f"{stem}: the cell after solution cell {i} must be a check cell calling .check(...)"
            )
        count += 1
        cell.metadata["nbgrader"] = _nbgrader(f"{stem}-ex{count}-answer", solution=True, grade=False)
        after.metadata["nbgrader"] = _nbgrader(
            f"{stem}-ex{count}-check", solution=False, grade=True, points=1
        )
    return count


def strip_solution(source: str) -> str:
    """Remove the lines from BEGIN SOLUTION to END SOLUTION (inclusive)."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out).rstrip()


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    student = copy.deepcopy(nb)
    student.cells = [
        c for c in student.cells if not (c.cell_type == "code" and c.source.startswith(INSTRUCTOR))
    ]
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = strip_solution(cell.source)
            cell.outputs = []
            cell.execution_count = None
    student.metadata.pop("widgets", None)
    return student


def sources() -> list[Path]:
    return sorted(SOURCES.glob("[0-9][0-9]_*.ipynb"))


def build(check: bool) -> int:
    stale = []
    for path in sources():
        text = path.read_text()
        nb = nbformat.reads(text, as_version=4)
        n = tag(nb, path.stem)
        tagged = nbformat.writes(nb) + "\n"
        student_path = STUDENT / path.name
        student = nbformat.writes(student_version(nb)) + "\n"
        if check:
            if tagged != text:
                stale.append(f"{path.relative_to(ROOT)} (nbgrader tags)")
            if not student_path.exists() or student_path.read_text() != student:
                stale.append(str(student_path.relative_to(ROOT)))
        else:
            if tagged != text:
                path.write_text(tagged)
            STUDENT.mkdir(exist_ok=True)
            student_path.write_text(student)
            print(f"{path.name}: {n} exercise(s) -> {student_path.relative_to(ROOT)}")
    if check and stale:
        print("stale (run `python scripts/make_student.py`):\n  " + "\n  ".join(stale))
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that everything is current")
    return build(parser.parse_args().check)


if __name__ == "__main__":
    sys.exit(main())
