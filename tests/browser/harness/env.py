"""Finding the pieces: the repository, its environment, Chromium, Playwright, axe-core, free ports."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "test-results" / "browser"


def venv_bin() -> Path:
    """The project's environment: .venv/bin if present, else the running interpreter's bin."""
    candidate = ROOT / ".venv" / "bin"
    return candidate if (candidate / "jupyter").exists() else Path(sys.executable).parent


def find_chromium() -> tuple[str | None, str]:
    """(path to a Chromium binary, why not) — honours $GRADIENT_LAB_CHROMIUM."""
    explicit = os.environ.get("GRADIENT_LAB_CHROMIUM")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit, ""
        return None, f"GRADIENT_LAB_CHROMIUM={explicit} is not an executable"
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        if name.startswith("/"):
            path = name if os.access(name, os.X_OK) else None
        else:
            path = shutil.which(name)
        if path:
            return path, ""
    return None, (
        "no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser); "
        "install Debian's 'chromium' package (`make browser` or scripts/ensure_browser.sh)"
    )


def playwright_problem() -> str:
    """Empty string if Playwright for Python imports, else the reason."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc}); `pip install -e '.[test]'`"
    return ""


def find_axe() -> tuple[Path | None, str]:
    """(path to axe.min.js, why not): vendored by `make axe` (npm, at build time); or $GRADIENT_LAB_AXE."""
    explicit = os.environ.get("GRADIENT_LAB_AXE")
    candidates = (
        [Path(explicit)]
        if explicit
        else [
            ROOT / "build" / "axe" / "axe.min.js",
            ROOT / "build" / "axe-npm" / "node_modules" / "axe-core" / "axe.min.js",
        ]
    )
    for path in candidates:
        if path.is_file():
            return path, ""
    return None, (
        f"axe-core is not vendored (looked for {', '.join(str(c) for c in candidates)}); "
        "`make axe` installs it with npm"
    )


def notebooks(root: Path = ROOT) -> list[Path]:
    """The teaching notebooks: notebooks/*.ipynb (not student/ versions, not checkpoints)."""
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if not p.name.startswith("."))


def run_timeout() -> float:
    """Seconds allowed for Run All of one notebook ($GRADIENT_LAB_BROWSER_TIMEOUT, default 150).

    The notebook budget is 60 s on 2 cores; the browser, the server and other jobs share them.
    """
    return float(os.environ.get("GRADIENT_LAB_BROWSER_TIMEOUT", "150"))


def redraw_limit_ms() -> float:
    """Bound on one slider redraw in the browser tests: $GRADIENT_LAB_REDRAW_LIMIT_MS, else 2 s (10 s in CI).

    A guard against a redraw that hangs, not a benchmark (benchmarks/bench_browser.py measures the
    latency): CI runners are shared and loaded, so ``CI=true`` allows 10 s.
    """
    in_ci = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
    return float(os.environ.get("GRADIENT_LAB_REDRAW_LIMIT_MS") or (10_000.0 if in_ci else 2000.0))


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mirror_repo(dest: Path, root: Path = ROOT) -> Path:
    """A directory that looks like the repo: symlinks to every top-level entry, a copy of notebooks/."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name in {"notebooks", ".git", "test-results"}:
            continue
        (dest / entry.name).symlink_to(entry)
    shutil.copytree(
        root / "notebooks",
        dest / "notebooks",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "student"),
    )
    return dest
