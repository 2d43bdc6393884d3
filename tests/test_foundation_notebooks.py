"""Static checks of every teaching notebook (notebooks/*.ipynb; the generated student/ copies are
checked elsewhere): kernelspec, no stray outputs, real asserts, learning goals, sound solution
markers. Executing them is nbval's job."""

import ast
import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if "student" not in p.parts)


def _load_store_script():
    path = ROOT / "scripts" / "store_checked_outputs.py"
    spec = importlib.util.spec_from_file_location("store_checked_outputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STORE = _load_store_script()


def _python(source):
    """Cell source with IPython magics / shell escapes blanked, ready for ast.parse."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def nb(request):
    return nbformat.read(request.param, as_version=4)


def test_there_are_notebooks():
    assert (ROOT / "notebooks" / "00_start_here.ipynb") in NOTEBOOKS


def test_notebook_is_valid_and_uses_the_python3_kernel(nb):
    nbformat.validate(nb)
    spec = nb.metadata["kernelspec"]
    assert spec["name"] == "python3" and spec["language"] == "python"


def test_only_checked_cells_store_outputs(nb):
    assert STORE.unchecked_outputs(nb) == []
    for cell in nb.cells:
        if cell.cell_type == "code" and STORE.MARK not in cell.source:
            assert cell.execution_count is None


def test_checked_cells_have_their_expected_output_stored(nb):
    for cell in nb.cells:
        if cell.cell_type == "code" and STORE.MARK in cell.source:
            assert cell.outputs, f"run scripts/store_checked_outputs.py: no stored output for\n{cell.source}"


def test_the_unchecked_outputs_helper_can_fail():
    probe = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")]),
            nbformat.v4.new_code_cell(
                f"{STORE.MARK}\nprint(2)", outputs=[nbformat.v4.new_output("stream", text="2\n")]
            ),
            nbformat.v4.new_markdown_cell("text"),
        ]
    )
    assert STORE.unchecked_outputs(probe) == [0]


def test_code_cells_parse_and_some_assert(nb):
    asserts = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            tree = ast.parse(_python(cell.source))  # a SyntaxError here would break nbval too
            asserts += sum(isinstance(node, ast.Assert) for node in ast.walk(tree))
    assert asserts >= 1, "every notebook checks seeded results with at least one assert cell"


def test_first_markdown_cell_states_learning_goals(nb):
    first = next(cell for cell in nb.cells if cell.cell_type == "markdown")
    assert re.search(r"learning goals", first.source, re.IGNORECASE)
    assert first.source.lstrip().startswith("# "), "the notebook opens with its title"


def test_solution_markers_are_balanced(nb):
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        markers = re.findall(r"### (BEGIN|END) SOLUTION", cell.source)
        assert markers == ["BEGIN", "END"] * (len(markers) // 2), cell.source
