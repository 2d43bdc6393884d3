"""A quiet lab: no news or update pop-ups, and `make lab` installs and loads only what students need.

Checked three ways: the shipped settings files (against JupyterLab's own schema), what the Makefile
would run (``make -n`` on a scratch copy, including which set-up stamp each command rebuilds), and a
real JupyterLab server started the way `make lab` starts it (and, as the control, the way
`make instructor` does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest
from browser import harness as bh  # tests/browser/harness (tests/ is on pytest's path)

ROOT = Path(__file__).resolve().parents[1]

OVERRIDES = ROOT / "lab" / "overrides.json"
STUDENT = ROOT / "lab" / "student"
SCHEMAS = Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas"
NBGRADER_SERVER = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "nbgrader.json"
TEST_ONLY = ("[test]", "nbgrader", "playwright", "pytest", "nbval", "hypothesis")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


# -- the shipped settings --------------------------------------------------------------------------
def test_overrides_turn_off_news_and_update_check():
    notif = _load(OVERRIDES)["@jupyterlab/apputils-extension:notification"]
    assert notif["fetchNews"] == "false", "the news pop-up asks unless fetchNews is 'false' (a string)"
    assert notif["checkForUpdates"] is False


def test_overrides_are_valid_jupyterlab_settings():
    """Every plugin and key exists in the installed JupyterLab and every value fits its schema:
    a misspelt key would be ignored silently and the pop-up would come back."""
    for plugin, values in _load(OVERRIDES).items():
        package, _, name = plugin.partition(":")
        schema_path = SCHEMAS / package / f"{name}.json"
        assert schema_path.is_file(), f"{plugin}: no such settings schema in this JupyterLab ({schema_path})"
        schema = _load(schema_path)
        unknown = set(values) - set(schema["properties"])
        assert not unknown, f"{plugin}: unknown settings {sorted(unknown)}"
        jsonschema.validate({**values}, {**schema, "additionalProperties": False})


def test_student_config_switches_off_every_grading_extension():
    """lab/student disables all server extensions nbgrader enables and its lab extension, so a
    `make lab` after `make test` still shows no Formgrader, no "Create Assignment", no menus."""
    if not NBGRADER_SERVER.is_file():
        pytest.skip("nbgrader is not installed here (it comes with the [test] extra)")
    enabled = {k for k, v in _load(NBGRADER_SERVER)["ServerApp"]["jpserver_extensions"].items() if v}
    off = {
        k
        for k, v in _load(STUDENT / "jupyter_server_config.json")["ServerApp"]["jpserver_extensions"].items()
        if v is False
    }
    assert enabled and enabled <= off, f"not switched off for students: {sorted(enabled - off)}"
    disabled = _load(STUDENT / "labconfig" / "page_config.json")["disabledExtensions"]
    lab_ext = (
        Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader" / "package.json"
    )
    assert _load(lab_ext)["name"] in disabled and disabled[_load(lab_ext)["name"]] is True


def test_jupyterlab_reads_the_student_page_config(monkeypatch):
    """JupyterLab's own resolution (jupyterlab_server.config) sees nbgrader disabled through
    JUPYTER_CONFIG_PATH."""
    from jupyterlab_server.config import get_page_config

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(STUDENT))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(ROOT / "build" / "no-user-config"))
    page = get_page_config([str(Path(sys.prefix) / "share" / "jupyter" / "labextensions")])
    disabled = page.get("disabledExtensions", {})
    disabled = set(disabled) if isinstance(disabled, dict) else set(disabled)
    assert "@jupyter/nbgrader" in disabled


def test_install_lab_config_puts_every_file_where_jupyter_reads_it(tmp_path):
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "install_lab_config.sh"), str(tmp_path)], check=True, timeout=60
    )
    assert _load(tmp_path / "share/jupyter/lab/settings/overrides.json") == _load(OVERRIDES)
    template = tmp_path / "share/jupyter/voila/templates/gradient-lab"
    assert (template / "index.html.j2").is_file() and _load(template / "conf.json")["base_template"] == "lab"
    for config in ("etc/jupyter/voila.json", "etc/jupyter/jupyter_server_config.d/gradient_lab_voila.json"):
        assert _load(tmp_path / config)["VoilaConfiguration"]["template"] == "gradient-lab"


def test_voila_template_drops_every_cdn_link_of_the_stock_template():
    """Render the stock and our template's CSS block with Voila's own Jinja loader paths: every
    external URL in the stock one must be gone from ours."""
    stock = (Path(sys.prefix) / "share/jupyter/voila/templates/lab/index.html.j2").read_text()
    ours = (ROOT / "lab/jupyter-data/voila/templates/gradient-lab/index.html.j2").read_text()
    links = re.findall(r'<link rel="stylesheet" href="(https?://[^"]+)"[^>]*>', stock)
    assert links, "the stock template changed: re-check which external links it has"
    for url in links:
        assert f'href="{url}"' in ours, f"our template does not remove {url}"
    assert not re.findall(r'<script[^>]+src="https?://', stock)  # no external script to drop


# -- what the Makefile runs ------------------------------------------------------------------------
def _scratch(tmp_path: Path) -> Path:
    """A copy of what the Makefile reads, so stamps can be aged without touching the real .venv."""
    for name in ("Makefile", "pyproject.toml", "scripts/install_lab_config.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "lab", tmp_path / "lab")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def _dry_run(where: Path, target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    out = subprocess.run(
        ["make", "-n", "-C", str(where), target], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def _installs(text: str) -> list[str]:
    """What each pip install line installs (the part after "pip install", not the venv's path)."""
    return [ln.split("pip install", 1)[1].strip() for ln in text.splitlines() if "pip install" in ln]


def test_make_lab_installs_only_the_student_stack(tmp_path):
    text = _dry_run(_scratch(tmp_path), "lab")
    installs = _installs(text)
    assert any(re.search(r"^--quiet -e \.$", ln) for ln in installs), installs
    assert not [ln for ln in installs if any(t in ln for t in TEST_ONLY)], installs
    assert "scripts/install_lab_config.sh" in text  # the quiet settings (test_install_lab_config)
    assert f'JUPYTER_CONFIG_PATH="{tmp_path / "lab" / "student"}' in text  # grading extras off
    assert "npm" not in text and "ensure_browser" not in text


def test_make_test_and_instructor_install_the_test_extra(tmp_path):
    where = _scratch(tmp_path)
    test = _dry_run(where, "test")
    assert any('-e ".[test]"' in ln for ln in _installs(test))
    assert "axe-core@" in test and "ensure_browser.sh" in test and "install_lab_config.sh" in test
    instructor = _dry_run(where, "instructor")
    assert any('-e ".[test]"' in ln for ln in _installs(instructor))
    assert "JUPYTER_CONFIG_PATH" not in instructor  # nbgrader stays on for teachers


def test_set_up_stamps(tmp_path):
    """Each stamp is rebuilt exactly when it should be: after `make lab` only the student stamp
    exists (make test adds the extras, make lab does nothing); a newer pyproject.toml redoes both."""
    where = _scratch(tmp_path)
    venv = where / ".venv"
    (venv / "bin").mkdir(parents=True)
    now = time.time()
    for path in [
        where / "pyproject.toml",
        where / "scripts" / "install_lab_config.sh",
        *where.glob("lab/**/*"),
    ]:
        os.utime(path, (now - 100, now - 100))
    (venv / ".installed").touch()
    (venv / ".lab-config").touch()
    assert _installs(_dry_run(where, "lab")) == []
    assert [ln for ln in _installs(_dry_run(where, "test")) if "[test]" in ln]
    assert not [ln for ln in _installs(_dry_run(where, "test")) if re.search(r"-e \.$", ln)]
    (venv / ".installed-test").touch()
    assert _installs(_dry_run(where, "test")) == [] and _installs(_dry_run(where, "lab")) == []
    os.utime(where / "pyproject.toml", (now + 100, now + 100))
    lab, test = _installs(_dry_run(where, "lab")), _installs(_dry_run(where, "test"))
    assert lab and not [ln for ln in lab if "[test]" in ln]
    assert [ln for ln in test if "[test]" in ln] and [ln for ln in test if re.search(r"-e \.$", ln)]


def _path_without_npm(tmp_path: Path) -> str:
    """A PATH with the few tools the recipe needs, and no npm."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("make", "sh", "bash", "mkdir", "cp", "test", "echo"):
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    return str(tools)


@pytest.mark.parametrize("ci", ["", "true"])
def test_axe_without_npm_says_so_and_fails_only_in_ci(tmp_path, ci):
    where = _scratch(tmp_path / "repo")
    env = {"PATH": _path_without_npm(tmp_path), "CI": ci, "HOME": str(tmp_path)}
    out = subprocess.run(
        ["make", "-C", str(where), "axe"], capture_output=True, text=True, env=env, timeout=60
    )
    assert "npm not found" in out.stderr and "test_accessibility.py" in out.stderr
    assert (out.returncode != 0) == (ci == "true"), out.stderr
    assert not (where / "build" / "axe" / "axe.min.js").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="the note is for root only")
def test_root_gets_a_clear_message_not_a_silent_allow_root(tmp_path):
    text = _dry_run(_scratch(tmp_path), "lab")
    assert "--allow-root" in text
    assert "running as root" in text and "prefer a normal user" in text


# -- a real server, started like `make lab` and like `make instructor` ----------------------------
class _Lab(bh.Server):
    def __init__(self, workdir: Path, student: bool) -> None:
        super().__init__(workdir, "lab-student" if student else "lab-instructor")
        self.student = student

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("JUPYTER_CONFIG_PATH", None)
        if self.student:
            env["JUPYTER_CONFIG_PATH"] = str(STUDENT)
        return env

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.base}/{path}?token={self.token}", timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:  # not listening yet
            return 0, ""


def _serve(tmp_path: Path, student: bool) -> _Lab:
    tmp_path.mkdir(parents=True, exist_ok=True)
    lab = _Lab(tmp_path, student)
    argv = [
        str(bh.venv_bin() / "jupyter"),
        "lab",
        "--no-browser",
        f"--port={lab.port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={lab.token}",
        f"--ServerApp.root_dir={tmp_path}",
        "--ServerApp.port_retries=0",
        "--LabApp.extension_manager=readonly",
    ]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    lab.start(argv, cwd=tmp_path)
    lab.wait_until(lambda: lab.get("api/status")[0] == 200, 120, "JupyterLab")
    return lab


@pytest.mark.slow
def test_student_lab_is_quiet_and_instructor_lab_has_formgrader(tmp_path):
    if not NBGRADER_SERVER.is_file():
        pytest.skip("nbgrader is not installed here (it comes with the [test] extra)")
    installed = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert installed.is_file() and _load(installed) == _load(OVERRIDES), (
        f"{installed} is missing or differs from lab/overrides.json: the Makefile set-up copies it"
    )
    for student in (True, False):
        lab = _serve(tmp_path / ("student" if student else "instructor"), student)
        try:
            status, body = lab.get("lab/api/settings/@jupyterlab/apputils-extension:notification")
            assert status == 200
            # JupyterLab applies overrides.json as the schema's defaults; no user setting overrides them here
            answer = json.loads(body)
            defaults = {k: p.get("default") for k, p in answer["schema"]["properties"].items()}
            effective = {**defaults, **answer["settings"]}
            assert effective["fetchNews"] == "false" and effective["checkForUpdates"] is False, effective
            formgrader = lab.get("formgrader")[0]
            page = lab.get("lab")[1]
            config = json.loads(
                re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1)
            )
            disabled = config.get("disabledExtensions", [])
            if student:
                assert formgrader == 404, "the student lab serves nbgrader's formgrader"
                assert "@jupyter/nbgrader" in disabled
            else:  # the control: the same check sees nbgrader when it is on
                assert formgrader == 200, f"the instructor lab has no formgrader (HTTP {formgrader})"
                assert "@jupyter/nbgrader" not in disabled
        finally:
            lab.stop()
