"""toolkit.cli: `python -m toolkit ACTION TOPIC [options]` parses in two stages and reports bad
input with exit code 2 and no traceback."""

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from toolkit import cli

ROOT = Path(__file__).resolve().parent.parent


def _run(*args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("args", [["--help"], ["-h"], []], ids=["--help", "-h", "no-args"])
def test_help_lists_actions_and_topics(args):
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("usage: python -m toolkit")
    for name in [*cli.TOPICS, *cli.ACTIONS]:
        assert f"  {name} " in out
    assert "example: python -m toolkit train" in out


def test_unknown_topic_exits_2_naming_the_choices():
    proc = _run("train", "astrology")
    assert proc.returncode == 2
    assert "invalid choice: 'astrology'" in proc.stderr
    assert all(f"'{topic}'" in proc.stderr for topic in cli.TOPICS)
    assert "Traceback" not in proc.stderr


def test_unknown_action_and_missing_topic_exit_2():
    proc = _run("predict", "feedback")
    assert proc.returncode == 2 and "invalid choice: 'predict'" in proc.stderr
    assert all(f"'{action}'" in proc.stderr for action in cli.ACTIONS)
    proc = _run("train")
    assert proc.returncode == 2 and "topic" in proc.stderr and "Traceback" not in proc.stderr


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from toolkit.cli import main; main(['--help']); "
        "print('HEAVY', sorted(m for m in ('torch', 'pytorch_lightning', 'altair') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "HEAVY []" in proc.stdout


def test_sweep_list_reads_the_topics_studies_without_importing_torch():
    """Each topic declares its study in its own package (whose __init__ imports torch); listing the studies
    reads the declarations alone, and their objectives stay importable references for the workers."""
    code = (
        "import sys, pickle; from toolkit.sweeps.cli import main; main(['--list']); "
        "from toolkit import sweeps; exps = [sweeps.get_experiment(n) for n in sweeps.experiment_names()]; "
        "print('HEAVY', sorted(m for m in ('torch', 'pytorch_lightning', 'altair') if m in sys.modules)); "
        "from toolkit.sweeps.registry import Deferred; "
        "print('DEFERRED', sorted(e.objective.path for e in exps if isinstance(e.objective, Deferred))); "
        "[pickle.loads(pickle.dumps(e)) for e in exps]"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout and "tracking-lambda" in proc.stdout
    deferred = proc.stdout.split("DEFERRED ")[1]
    for topic in ("tracking", "feedback", "diffusion"):
        assert f"toolkit.{topic}.sweep:objective" in deferred


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("gradient-lab")
    assert script.is_file(), "pip install -e . registers the gradient-lab command"
    proc = subprocess.run([str(script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage:" in proc.stdout


# -- the second stage, with a small topic registered for the test
# ---------------------------------------------
@pytest.fixture
def demo_topic(monkeypatch):
    """A topic with a train action, registered the way real topics are (toolkit/<topic>/cli.py)."""
    calls = []

    def add_arguments(parser):
        parser.add_argument("--epochs", type=int, default=3, help="passes over the data")
        parser.add_argument("--rule", choices=["bp", "fa"], default="bp")

    def run(args):
        calls.append({k: v for k, v in vars(args).items() if k != "state"})
        if args.epochs < 1:
            raise ValueError(f"epochs must be an integer in [1, 100], got {args.epochs}")
        if args.epochs == 99:
            raise RuntimeError("a real bug")
        print(f"trained {args.epochs} epochs with {args.rule}")
        return 0 if args.rule == "bp" else 3

    module = types.ModuleType("toolkit.demo.cli")
    module.ACTIONS = {"train": ("train the demo model", add_arguments, run)}
    monkeypatch.setitem(sys.modules, "toolkit.demo", types.ModuleType("toolkit.demo"))
    monkeypatch.setitem(sys.modules, "toolkit.demo.cli", module)
    monkeypatch.setitem(cli.TOPICS, "demo", "a demo topic")
    from toolkit import panels

    monkeypatch.setitem(panels.CLI_PANELS, "demo-train", ("epochs", "rule"))
    return calls


def test_topic_options_reach_run_and_its_exit_code_is_returned(demo_topic, capsys):
    assert cli.main(["train", "demo", "--epochs", "5"]) == 0
    assert demo_topic == [{"epochs": 5, "rule": "bp"}]
    assert "trained 5 epochs with bp" in capsys.readouterr().out
    assert cli.main(["train", "demo", "--rule", "fa"]) == 3
    assert demo_topic[-1] == {"epochs": 3, "rule": "fa"}


def test_bad_value_becomes_exit_2_without_traceback(demo_topic, capsys):
    assert cli.main(["train", "demo", "--epochs", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: epochs must be an integer in [1, 100], got 0"
    with pytest.raises(RuntimeError):  # real bugs are not disguised as bad input
        cli.main(["train", "demo", "--epochs", "99"])


def test_topic_option_errors_and_help(demo_topic, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--rule", "sgd"])
    assert info.value.code == 2 and "invalid choice: 'sgd'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "python -m toolkit train demo" in out and "train the demo model" in out and "(default: 3)" in out
    assert demo_topic == []


def test_action_the_topic_does_not_offer(demo_topic, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["sweep", "demo"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "'demo' has no 'sweep' action" in err and "it has: train" in err


# -- --state: start from a notebook panel's setup
# -------------------------------------------------------------
def _panel_state(key="demo-train", **values):
    from toolkit.panels import Panel, dropdown, slider

    controls = {"epochs": slider("epochs", 3, 1, 50), "rule": dropdown("rule", ["bp", "fa"])}
    panel = Panel(controls, lambda epochs, rule: f"{epochs} {rule}", button="Train", key=key)
    for name, value in values.items():
        panel.controls[name].value = value
    return panel.state()


def test_state_from_a_panel_sets_the_options(demo_topic):
    state = _panel_state(epochs=12, rule="fa")
    assert cli.main(["train", "demo", "--state", state]) == 3
    assert demo_topic[-1] == {"epochs": 12, "rule": "fa"}
    assert cli.main(["train", "demo", f"--state={state}", "--epochs", "2"]) == 3  # explicit options win
    assert demo_topic[-1] == {"epochs": 2, "rule": "fa"}
    assert cli.main(["train", "demo", "--epochs", "4", "--state", state]) == 3  # ... wherever they are
    assert demo_topic[-1] == {"epochs": 4, "rule": "fa"}


@pytest.mark.parametrize(
    "state, message",
    [
        (_panel_state(key="tracking-fit"), "not for topic 'demo'"),
        ("demo-train:%%%%", "damaged"),
        (
            "demo-train:"
            + __import__("base64").urlsafe_b64encode(b'{"epochs": 2, "momentum": 0.9}').decode(),
            "momentum",
        ),
    ],
    ids=["other-topic", "damaged", "unknown-option"],
)
def test_bad_state_exits_2_with_a_message(demo_topic, capsys, state, message):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--state", state])
    assert info.value.code == 2 and message in capsys.readouterr().err
    assert demo_topic == []


def test_state_values_are_validated_like_typed_options(demo_topic, capsys):
    import base64

    bad = "demo-train:" + base64.urlsafe_b64encode(b'{"rule": "sgd"}').decode()
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--state", bad])
    assert info.value.code == 2 and "sgd" in capsys.readouterr().err
    assert demo_topic == []


def test_state_sets_only_the_panels_own_controls(demo_topic, capsys):
    import base64

    from toolkit import panels

    def state(key, payload):
        return f"{key}:" + base64.urlsafe_b64encode(payload).decode()

    for payload in (b'{"epochs": 2, "out": "/tmp/x"}', b'{"storage": "sqlite:////tmp/evil.db"}'):
        with pytest.raises(SystemExit) as info:
            cli.main(["train", "demo", "--state", state("demo-train", payload)])
        assert info.value.code == 2 and "not controls of panel 'demo-train'" in capsys.readouterr().err
    # an option the command has, but the panel has no control for
    panels.CLI_PANELS["demo-train"] = ("rule",)
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--state", state("demo-train", b'{"epochs": 2}')])
    assert info.value.code == 2 and "'epochs'" in capsys.readouterr().err
    # a panel that is not a command's panel
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--state", state("demo-chain", b'{"rule": "fa"}')])
    assert info.value.code == 2 and "cannot start a command" in capsys.readouterr().err
    assert demo_topic == []


@pytest.mark.parametrize(
    "payload",
    [b"[" * 100_000 + b"]" * 100_000, b'{"epochs": [[[1]]]}', b'{"epochs": {"a": 1}}'],
    ids=["deep-json", "nested-list", "dict-value"],
)
def test_nested_state_is_a_clear_error(demo_topic, capsys, payload):
    import base64

    from toolkit.panels import decode_state

    state = "demo-train:" + base64.urlsafe_b64encode(payload).decode()
    with pytest.raises(ValueError, match="state"):
        decode_state(state)
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "demo", "--state", state])
    assert info.value.code == 2 and "state" in capsys.readouterr().err
    assert demo_topic == []


def test_cli_panels_table_matches_the_real_panels():
    from toolkit.feedback.widgets import training_panel as feedback_panel
    from toolkit.intro import fit_panel
    from toolkit.panels import CLI_PANELS
    from toolkit.tracking.widgets import training_panel as tracking_panel

    built = {p.key: tuple(p.controls) for p in (feedback_panel(), tracking_panel([], [], 4), fit_panel())}
    assert set(built) == set(CLI_PANELS)
    for key, controls in built.items():
        assert set(controls) == set(CLI_PANELS[key]), key


def test_the_cli_seeds_before_the_topic_builds_anything(monkeypatch):
    import torch

    draws = []
    module = types.ModuleType("toolkit.demo.cli")

    def add_arguments(parser):
        parser.add_argument("--seed", type=int, default=0)

    module.ACTIONS = {"train": ("train", add_arguments, lambda args: draws.append(torch.rand(3)))}
    monkeypatch.setitem(sys.modules, "toolkit.demo", types.ModuleType("toolkit.demo"))
    monkeypatch.setitem(sys.modules, "toolkit.demo.cli", module)
    monkeypatch.setitem(cli.TOPICS, "demo", "a demo topic")
    for noise in (1, 2):
        torch.manual_seed(noise)  # whatever ran before must not matter
        assert cli.main(["train", "demo", "--seed", "7"]) == 0
    assert torch.equal(draws[0], draws[1])
    assert cli.main(["train", "demo", "--seed", "-1"]) == 2  # a bad seed is bad input, not a traceback
