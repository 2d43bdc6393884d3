"""A real PostgreSQL server shared by two sweep processes at once (what several machines do).

The fixture installs Debian's ``postgresql`` if it is missing (root + apt-get), creates a
throw-away cluster in a temporary folder, starts it on a free 127.0.0.1 port (never on a public
interface) as the ``postgres`` user with a password, and stops and deletes it at teardown. The
sweeps reach it through exactly the URL form README.md and ``--help`` show
(``postgresql://user:pw@host:port/db``: SQLAlchemy's default driver for it, psycopg 3, comes
with the ``postgres`` extra). With CI=true a server
that cannot be started fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import collections
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from toolkit import sweeps
from toolkit.sweeps.registry import grid_points, param_key

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _install_postgres() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "postgresql"], env=env, capture_output=True, timeout=600
    )


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy uses for postgresql://)
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    bindir = _pg_bin()
    if bindir is None:
        _install_postgres()
        bindir = _pg_bin()
    if bindir is None:
        _unavailable("no pg_ctl/initdb found and `apt-get install -y postgresql` did not provide them")

    base = Path(tempfile.mkdtemp(prefix="gl-postgres-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root: use the postgres account
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root but there is no 'postgres' user")
        os.chown(base, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, log, port = base / "data", base / "server.log", free_port()

    def pg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=timeout)

    started = False
    try:
        (base / "pw").write_text("pw\n")
        os.chown(base / "pw", *(os.stat(base)[4:6]))
        r = pg(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "gl",
            "--pwfile",
            str(base / "pw"),
            "-A",
            "scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        )
        if r.returncode:
            _unavailable(f"initdb failed: {r.stderr.strip()[-500:]}")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
            f"-c synchronous_commit=off -c max_connections=50"
        )
        r = pg(
            str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"
        )
        if r.returncode:
            tail = log.read_text()[-800:] if log.exists() else ""
            _unavailable(f"pg_ctl start failed: {r.stderr.strip()[-400:]} {tail}")
        started = True
        yield f"postgresql://gl:pw@127.0.0.1:{port}/postgres"  # the form README.md and --help show
    finally:
        if started:
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_two_processes_share_one_postgres_study(postgres_url, tmp_path):
    grid = {"x": [-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5], "seed": [0, 1]}
    log, gate = tmp_path / "log.txt", tmp_path / "go"
    cmd = [
        sys.executable,
        "-m",
        "toolkit.sweeps",
        "toy",
        "--storage",
        postgres_url,
        "--study",
        "shared",
        "--grid",
        "x=" + ",".join(map(str, grid["x"])),
        "--grid",
        "seed=0,1",
        "--set",
        "delay=0.1",
        "--set",
        f"log={log}",
        "--set",
        f"gate={gate}",
        "--heartbeat",
        "2",
        "--quiet",
    ]
    # two independent processes, as on two machines: both create/load the study and enqueue
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        storage = None
        deadline = time.monotonic() + 120
        while True:  # both are inside a trial (blocked at the gate): they really run together
            assert time.monotonic() < deadline, "the two workers never ran at the same time"
            for p in procs:
                assert p.poll() is None, p.communicate()[1][-2000:]
            try:
                storage = storage or sweeps.open_storage(postgres_url)
                import optuna

                running = optuna.load_study(study_name="shared", storage=storage).get_trials(
                    states=(optuna.trial.TrialState.RUNNING,)
                )
                if len(running) == 2:
                    break
            except KeyError:  # study not created yet
                pass
            time.sleep(0.2)
        gate.touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]

    df = sweeps.load_results(postgres_url, "shared")
    keys = {param_key(p) for p in grid_points(grid)}
    assert len(df) == len(keys) == 16  # no duplicate enqueue, no extra trial
    assert (df.state == "COMPLETE").all()
    assert sorted(df.number) == list(range(16))
    recorded = collections.Counter(param_key({"x": x, "seed": s}) for x, s in zip(df.x, df.seed))
    assert set(recorded) == keys and set(recorded.values()) == {1}
    ran = collections.Counter(line for line in log.read_text().splitlines() if line)
    assert set(ran) == keys and set(ran.values()) == {1}  # each objective ran to the end exactly once
    assert df.worker.nunique() == 2  # both processes took trials
