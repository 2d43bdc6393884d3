"""One topic registry: topics declare themselves in ``<package>/<topic>/topic.py`` and are discovered.

A throwaway topic, written to a temporary package (no existing file edited), must show up in
``python -m toolkit --help``, in ``python -m toolkit sweep --list``, and its actions and study must run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolkit import cli
from toolkit.topics import PACKAGES_ENV, Topic, discover_topics

ROOT = Path(__file__).resolve().parent.parent

DEMO_TOPIC = """
from toolkit.topics import Topic

TOPIC = Topic(name="demo", description="a throwaway topic of the registry test", cli="gl_throwaway.demo.cli",
              study="demo-study", experiments={"demo-study": "gl_throwaway.demo.study:experiment"}, order=50)
"""
DEMO_CLI = """
def _add_train(parser):
    parser.add_argument("--epochs", type=int, default=3)


def _run_train(args):
    print(f"demo trained {args.epochs} epochs")
    return 0


ACTIONS = {"train": ("train the demo model", _add_train, _run_train)}
"""
DEMO_STUDY = """
from optuna.distributions import FloatDistribution

from toolkit.sweeps import Experiment

from .cli import ACTIONS  # a relative import: the declaration is then imported with its package


def _objective(params, trial):
    return {"loss": (params["x"] - 0.5) ** 2}


def experiment():
    return Experiment(name="demo-study", topic="demo", objective=_objective, metric="loss",
                      space={"x": FloatDistribution(0.0, 1.0)}, grid={"x": [0.0, 0.5]},
                      description="the throwaway topic's ready-made study")
"""


@pytest.fixture
def throwaway(tmp_path, monkeypatch):
    """A package ``gl_throwaway`` with one topic, ``demo``, on sys.path and named in the environment."""
    pkg = tmp_path / "gl_throwaway"
    (pkg / "demo").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "demo" / "__init__.py").write_text("")
    for name, text in (("topic", DEMO_TOPIC), ("cli", DEMO_CLI), ("study", DEMO_STUDY)):
        (pkg / "demo" / f"{name}.py").write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(PACKAGES_ENV, "gl_throwaway")
    path = os.pathsep.join([str(tmp_path), str(ROOT)])
    env = {**os.environ, "PYTHONPATH": path, "PYTHONWARNINGS": "ignore"}
    return tmp_path, env


def _run(env, *args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_the_shipped_topics_are_discovered_in_course_order():
    topics = discover_topics()
    assert list(topics)[:3] == ["tracking", "feedback", "diffusion"]
    assert list(cli.TOPICS) == list(topics)
    for name, topic in topics.items():
        assert topic.cli == f"toolkit.{name}.cli" and topic.study in topic.experiments


def test_a_throwaway_topic_is_discovered(throwaway):
    topics = discover_topics()
    assert "demo" in topics and topics["demo"].study == "demo-study"
    assert list(topics)[:3] == ["tracking", "feedback", "diffusion"]  # order 50 puts it after them


def test_a_throwaway_topic_appears_in_help_and_sweep_list_and_runs(throwaway):
    tmp_path, env = throwaway
    proc = _run(env, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "  demo " in proc.stdout and "a throwaway topic of the registry test" in proc.stdout
    assert "  tracking " in proc.stdout  # the shipped topics are still there
    proc = _run(env, "sweep", "--list")
    assert proc.returncode == 0, proc.stderr
    assert "demo-study  [demo]" in proc.stdout and "tracking-lambda  [tracking]" in proc.stdout
    proc = _run(env, "train", "demo", "--epochs", "2")
    assert proc.returncode == 0 and "demo trained 2 epochs" in proc.stdout, proc.stderr
    proc = _run(env, "sweep", "demo", "--storage", str(tmp_path / "s.db"), "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 trials {'COMPLETE': 2}" in proc.stdout


def test_without_the_package_the_topic_is_unknown():
    proc = _run({**os.environ, "PYTHONWARNINGS": "ignore"}, "train", "demo")
    assert proc.returncode == 2 and "invalid choice: 'demo'" in proc.stderr


def test_a_broken_topic_file_fails_loudly(throwaway):
    tmp_path, env = throwaway
    (tmp_path / "gl_throwaway" / "demo" / "topic.py").write_text("TOPIC = 'not a Topic'\n")
    proc = _run(env, "--help")
    assert proc.returncode != 0 and "must define TOPIC = Topic(...)" in proc.stderr
    proc = _run({**env, PACKAGES_ENV: "gl_no_such_package"}, "--help")
    assert proc.returncode != 0 and "not an importable package" in proc.stderr


@pytest.mark.parametrize(
    "param, kwargs",
    [
        ("name", {"name": "Not A Word"}),
        ("name", {"name": None}),
        ("description", {"description": ""}),
        ("cli", {"cli": "no spaces allowed"}),
        ("study", {"study": 3}),
        ("experiments", {"experiments": {"x": "no-colon"}}),
        ("experiments", {"experiments": None}),
        ("order", {"order": -1}),
        ("order", {"order": True}),
    ],
)
def test_topic_declarations_are_checked(param, kwargs):
    with pytest.raises((TypeError, ValueError), match=rf"^{param} must"):
        Topic(**{"name": "demo", "description": "d", **kwargs})
