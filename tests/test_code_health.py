"""The codebase checks itself (issue 16): import contracts, one version, no hidden skips, no path hacks.

- **import contracts** (import-linter, configured in pyproject.toml): the command line and the sweeps
  sit above the topics, the topics (tracking, feedback, diffusion) are independent of each other, the
  shared layer imports no topic, and no package has an import cycle between its modules.
- **one version**: ``toolkit.__version__`` is read from the installed package's metadata, i.e. from
  pyproject.toml, and is not written anywhere else.
- **tests import properly**: no test reaches a helper through ``sys.path`` manipulation, and no test
  turns an ImportError of a topic into a skip (``_available`` guards): a broken topic fails loudly.
- **the browser harness** (tests/browser/harness) is a package of small modules, with its
  JavaScript in ``.js`` files: every file the code names exists and every file is used.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import toolkit

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
HARNESS = TESTS / "browser" / "harness"
MAX_MODULE_LINES = 300
# a path hack, written so that this file does not match itself
PATH_HACK = re.compile(r"sys\.path\.(insert|append|extend)\(|\bsys\.path\s*\+?=")


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    report = done.stdout[done.stdout.find("Contracts") :] or done.stdout
    assert done.returncode == 0, f"lint-imports failed:\n{report}\n{done.stderr}"
    assert "0 broken" in report, report


def test_version_comes_from_package_metadata():
    assert toolkit.__version__ == importlib.metadata.version("gradient-lab")
    source = (ROOT / "toolkit" / "__init__.py").read_text()
    assert toolkit.__version__ not in source, "toolkit/__init__.py restates the version"


def test_tests_do_not_patch_sys_path():
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(TESTS.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PATH_HACK.search(line)
    ]
    assert not offenders, f"import helpers as packages, not through sys.path: {offenders}"


def test_no_test_turns_a_broken_topic_into_a_skip():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted(TESTS.rglob("*.py"))
        if re.search(r"^def _available\(", path.read_text(), re.M)
    ]
    assert not offenders, f"an ImportError of a topic must fail, not skip: {offenders}"


def test_browser_harness_modules_are_small():
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in (TESTS / "browser").rglob("*.py")
    }
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"


def test_browser_javascript_files_are_all_named_and_present():
    from browser import harness

    files = {p.stem for p in (HARNESS / "js").glob("*.js")}
    code = "\n".join(p.read_text() for p in [*TESTS.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
    named = set(re.findall(r"""\bjs\(["'](\w+)["']\)""", code))
    includes = set(
        re.findall(r"/\* include: (\w+) \*/", "\n".join(p.read_text() for p in (HARNESS / "js").glob("*.js")))
    )
    assert named <= files, f"named but missing: {sorted(named - files)}"
    assert files <= named | includes, f"never used: {sorted(files - named - includes)}"
    for name in sorted(files):
        source = harness.js(name)
        assert source and not source.startswith("//"), f"js/{name}.js is empty or only a comment"


def test_ruff_finds_nothing():
    """The lint rules of pyproject.toml ([tool.ruff]) hold over the whole tree: 0 findings."""
    ruff = Path(sys.executable).parent / "ruff"
    done = subprocess.run(
        [str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_every_toolkit_module_has_a_layer():
    """A new module of toolkit must be placed in the layers contract, or nothing checks its imports."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    named = set(re.findall(r"toolkit\.\w+", " ".join(layers)))
    package = ROOT / "toolkit"
    modules = {f"toolkit.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"toolkit.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert modules - named == set(), f"not in any layer of the import contract: {sorted(modules - named)}"
