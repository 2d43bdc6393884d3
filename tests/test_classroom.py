"""Classroom workflow: student versions, nbgrader round trip, shareable panel setups."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = _load_script("make_student")


def test_student_versions_are_current():
    assert make_student.build(check=True) == 0, "run: python scripts/make_student.py"


def test_every_source_notebook_has_a_student_version_without_solutions():
    for source in make_student.sources():
        student = nbformat.read(make_student.STUDENT / source.name, as_version=4)
        text = "".join(c.source for c in student.cells)
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
        answers = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert all("..." in c.source for c in answers), f"{source.name}: an answer cell lost its placeholder"


def test_topic_notebooks_have_at_least_three_exercises():
    for source in make_student.sources():
        if source.name.startswith("00_"):
            continue
        nb = nbformat.read(source, as_version=4)
        checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(checks) >= 3, f"{source.name} has {len(checks)} self-checking exercises"


def test_strip_solution_keeps_placeholder_and_surroundings():
    src = "a = 1\nanswer = ...\n### BEGIN SOLUTION\nanswer = a + 1\n### END SOLUTION\nprint(answer)"
    assert make_student.strip_solution(src) == "a = 1\nanswer = ...\nprint(answer)"


def test_tag_rejects_exercise_without_check_cell():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = ...\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("print(x)"),
    ]
    with pytest.raises(ValueError, match="check cell"):
        make_student.tag(nb, "demo")


def test_tag_marks_answer_and_check_cells_for_nbgrader():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = ...\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
        nbformat.v4.new_code_cell("ex.check(x)"),
    ]
    assert make_student.tag(nb, "demo") == 1
    answer, check = (c.metadata["nbgrader"] for c in nb.cells)
    assert answer["solution"] and not answer["grade"] and not answer["locked"]
    assert check["grade"] and check["points"] == 1 and check["locked"] and not check["solution"]
    assert answer["grade_id"] != check["grade_id"]


def _filled_in(source: Path) -> nbformat.NotebookNode:
    """What a student who solved everything hands in: the solutions without the markers."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(l for l in cell.source.splitlines() if "SOLUTION" not in l)
            cell.outputs = []
    return nb


@pytest.mark.slow
def test_nbgrader_round_trip(tmp_path):
    """generate_assignment -> submit (one solved, one blank copy) -> autograde -> scores."""
    name = "00_start_here.ipynb"
    course = tmp_path / "course"
    (course / "source" / "ps1").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / name, course / "source" / "ps1" / name)
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "gradient-lab"\n'
        'c.ClearSolutions.code_stub = {"python": "..."}\n'
    )
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", GRADIENT_LAB_STRICT="1")

    def nbgrader(*args: str) -> None:
        done = subprocess.run(
            [str(BIN / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]

    nbgrader("generate_assignment", "ps1", "--force")
    released = nbformat.read(course / "release" / "ps1" / name, as_version=4)
    assert "BEGIN SOLUTION" not in "".join(c.source for c in released.cells)

    for student, nb in (
        ("alice", _filled_in(ROOT / "notebooks" / name)),
        ("bob", nbformat.read(make_student.STUDENT / name, as_version=4)),
    ):
        folder = course / "submitted" / student / "ps1"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
    nbgrader("autograde", "ps1", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        alice = gb.find_submission("ps1", "alice")
        bob = gb.find_submission("ps1", "bob")
        assert alice.max_score >= 1
        assert alice.score == alice.max_score, "the solved copy must get every point"
        assert bob.score == 0, "an unanswered copy must get no point"


def test_panel_state_round_trip_and_cli_accepts_it(capsys):
    import argparse

    from toolkit import intro
    from toolkit.cli import _apply_state

    panel = intro.fit_panel()
    panel.controls["degree"].value = 7
    panel.controls["noise"].value = 0.5
    state = panel.state()
    assert len(state) < 80
    other = intro.fit_panel()
    other.load_state(state)
    assert other.values == panel.values
    assert other.readout.value == panel.readout.value

    parser = argparse.ArgumentParser()
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--state")
    _apply_state(parser, state, "intro")
    args = parser.parse_args(["--noise", "0.3"])
    assert (args.degree, args.noise, args.seed) == (7, 0.3, panel.values["seed"])
    with pytest.raises(SystemExit):
        _apply_state(parser, state, "feedback")  # a state for another topic is refused
    assert "not for topic" in capsys.readouterr().err
