"""binder/ must install the same stack as pyproject.toml, and be complete for repo2docker."""

import os
import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines):
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = list(req.specifier)  # exactly one pin per package
        assert spec.operator == "==", f"{line}: pin with =="
        pins[req.name.lower()] = spec.version.split("+")[0]  # "+cpu" is the same release
    return pins


def test_binder_requirements_match_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"])
    binder = _pins((ROOT / "binder" / "requirements.txt").read_text().splitlines())
    assert binder == declared


def test_binder_uses_cpu_torch_and_python_311():
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert re.search(r"^torch==2\.13\.0\+cpu$", text, re.M)
    assert "whl/cpu" in text
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_postbuild_installs_the_package():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "postBuild must be executable"
    assert re.search(r"pip install --no-deps -e \.", post.read_text())


def test_readme_has_binder_link_to_start_here():
    readme = (ROOT / "README.md").read_text()
    assert "mybinder.org/v2/gh/" in readme
    assert "urlpath=lab/tree/notebooks/00_start_here.ipynb" in readme


def test_postbuild_installs_the_quiet_lab_settings():
    """Binder gets the same Jupyter settings as `make lab` (no news pop-up, no update check, offline Voila)"""
    text = (ROOT / "binder" / "postBuild").read_text()
    assert re.search(
        r"scripts/install_lab_config\.sh .*sys\.prefix", text
    )  # the environment Jupyter runs from


def test_readme_has_a_binder_and_a_voila_link_per_notebook():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"urlpath=lab/tree/notebooks/{nb.name})" in readme, f"no Binder link for {nb.name}"
        assert f"urlpath=voila/render/notebooks/{nb.name})" in readme, f"no Voila link for {nb.name}"
