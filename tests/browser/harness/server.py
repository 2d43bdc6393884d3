"""The servers the browser talks to: JupyterLab or Voila on a free loopback port with a random token.

Each works on a *mirror* of the repository (symlinks to everything, but a copy of ``notebooks/``),
so nothing the browser does (autosave, checkpoints, outputs) can touch the notebooks in git, while
relative paths such as ``../datasets`` still resolve.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from .env import free_port, mirror_repo, venv_bin


class Server:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{venv_bin()}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        # keep a user's own Jupyter config/settings/workspaces out of the tests
        for var, sub in (
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTERLAB_SETTINGS_DIR", "settings"),
            ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
        ):
            env[var] = str(self.workdir / sub)
        return env

    def start(self, argv: list[str], cwd: Path) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def wait_until(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{what} exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.25)
        raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the server (it shuts its kernels down); SIGKILL it and its children if they hang."""
        if self.proc is None or self.proc.poll() is not None:
            return
        children = _descendants(self.proc.pid)  # kernels run in their own sessions: remember them
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        for pid, started in children:
            if _start_time(pid) == started:  # still the same process, not a reused pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> list[tuple[int, str | None]]:
    """(pid, start time) of the child processes of ``pid``, recursively (Linux /proc; empty elsewhere)."""
    out: list[tuple[int, str | None]] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += [(int(child), _start_time(int(child))), *_descendants(int(child))]
    except OSError:
        pass
    return out


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory (MB) of a process and all its descendants (Linux /proc; None elsewhere)."""
    total = 0
    for p in [pid, *(child for child, _ in _descendants(pid))]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1) if total else None


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


class LabServer(Server):
    """JupyterLab on a free loopback port with a random token, serving a mirror of the repo."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "jupyterlab")
        self.root = mirror_repo(workdir / "repo")
        settings = workdir / "settings" / "@jupyterlab"
        # all cells in the DOM (no virtual scrolling), never write the notebooks, no news pop-up
        _write_json(
            settings / "notebook-extension" / "tracker.jupyterlab-settings", {"windowingMode": "none"}
        )
        _write_json(settings / "docmanager-extension" / "plugin.jupyterlab-settings", {"autosave": False})
        _write_json(
            settings / "apputils-extension" / "notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )

    def start_lab(self, timeout: float = 90.0, attempts: int = 3) -> None:
        for attempt in range(attempts):
            argv = [
                str(venv_bin() / "jupyter"),
                "lab",
                "--no-browser",
                f"--port={self.port}",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                "--expose-app-in-browser",
                "--LabApp.extension_manager=readonly",
                "--ServerApp.port_retries=0",
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                argv.append("--allow-root")
            self.start(argv, cwd=self.root)
            try:
                self.wait_until(self._status_ok, timeout, "JupyterLab")
                return
            except RuntimeError:
                # another process took the free port between our check and the server's bind
                if attempt + 1 < attempts and "already in use" in self.log_tail():
                    self.stop()
                    self.port = free_port()
                    continue
                raise

    def _status_ok(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def url(self, path: str = "lab") -> str:
        return f"{self.base}/{path}?reset&token={self.token}"


class VoilaServer(Server):
    """``voila <notebook>`` on a free loopback port with a random token."""

    def __init__(self, workdir: Path, notebook: str) -> None:
        super().__init__(workdir, "voila")
        self.root = mirror_repo(workdir / "repo")
        self.notebook = notebook  # relative to the repo root, e.g. notebooks/00_start_here.ipynb

    def start_voila(self, timeout: float = 60.0) -> None:
        argv = [
            str(venv_bin() / "voila"),
            self.notebook,
            "--no-browser",
            f"--port={self.port}",
            "--Voila.ip=127.0.0.1",
            f"--token={self.token}",
            "--show_tracebacks=True",
            "--Voila.port_retries=0",
        ]
        self.start(argv, cwd=self.root)
        self.wait_until(self._listening, timeout, "Voila")

    def _listening(self) -> bool:
        # only a TCP connect: a GET / would already execute the notebook
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def url(self) -> str:
        return f"{self.base}/?token={self.token}"
