"""Panels, exercises and the command line of the feedback topic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toolkit.cli import main
from toolkit.feedback import exercises, widgets


def test_chain_panel_redraws_on_slider_moves():
    panel = widgets.chain_panel()
    assert panel.last_error is None
    rows_before = panel.chart.rows
    text_before = panel.readout.value
    panel.controls["w1"].value = 1.2
    assert panel.last_error is None and panel.chart.rows != rows_before and panel.readout.value != text_before
    panel.controls["model"].value = "tanh"
    panel.controls["derivative"].value = False
    assert panel.last_error is None and "0 fixed point" in panel.readout.value


def test_training_panel_trains_selected_rules_and_streams_rows():
    panel = widgets.training_panel(epochs=1)
    panel.controls["rules"].value = ("rbp", "top")
    panel.controls["width"].value = 16
    panel.controls["depth"].value = 1
    panel.controls["bits"].value = 3
    panel.controls["sparsity"].value = 0.5
    panel.button.click()
    assert panel.last_error is None
    final = panel.last_run["final"]
    assert set(final) == {"rbp", "top"}
    metrics = {r["metric"] for r in panel.chart.data}
    assert {"test accuracy", "angle layer 1"} <= metrics
    panel.controls["rules"].value = ()
    panel.button.click()
    assert isinstance(panel.last_error, ValueError)


@pytest.mark.parametrize("ex", list(exercises.EXERCISES.values()), ids=list(exercises.EXERCISES))
def test_exercise_references_pass_and_wrong_answers_fail(ex, monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)
    if ex.inputs is not None:
        assert ex.check(ex.reference)
        assert not ex.check(lambda *args: np.zeros(3))
    elif callable(ex.reference):
        assert ex.check(1.0, 2.0, 3.0, 1.5) and not ex.check(2.0, 2.0, 3.0, 1.5)
    else:  # a constant answer: a number or one of the choices
        wrong = next(c for c in ex.choices if c != ex.reference) if ex.choices else ex.reference + 1
        assert ex.check(ex.reference) and not ex.check(wrong)
    assert not ex.check(...)
    assert ex.hint().startswith(f"[{ex.key}] hint 1/")


def test_concept_exercises_name_each_mistake(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)
    bit = exercises.ex_unbiased_bit
    messages = {bit.check(a).message for a in (1.0, 0.65, 0.0)}
    assert len(messages) == 3 and all("0.3" not in m for m in messages)
    assert "fixed" in exercises.ex_nothing_to_align.check("rbp").message


def test_cli_train_evaluate_and_state(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "feedback",
                "--rules",
                "bp",
                "srbp",
                "--epochs",
                "1",
                "--width",
                "16",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert {r["rule"] for r in metrics["final"]} == {"bp", "srbp"}
    assert main(["evaluate", "feedback", "--checkpoint", str(out / "srbp.pt")]) == 0
    assert "srbp" in capsys.readouterr().out
    panel = widgets.training_panel(epochs=1)
    panel.controls["rules"].value = ("top",)
    panel.controls["width"].value = 8
    assert main(["train", "feedback", "--state", panel.state()]) == 0
    assert main(["train", "feedback", "--sparsity", "2"]) == 2
    assert main(["train", "feedback", "--rules", "magic"]) == 2
    assert main(["evaluate", "feedback", "--checkpoint", str(tmp_path / "missing.pt")]) == 2


def test_cli_lightning_path(tmp_path):
    assert (
        main(
            [
                "train",
                "feedback",
                "--rules",
                "rbp",
                "--epochs",
                "1",
                "--width",
                "16",
                "--depth",
                "1",
                "--lightning",
            ]
        )
        == 0
    )


def test_cli_evaluate_refuses_a_checkpoint_over_the_parameter_budget(tmp_path, capsys):
    import torch

    from toolkit.io import save_checkpoint

    path = tmp_path / "huge.pt"
    save_checkpoint(
        path, {"w": torch.zeros(3)}, kind="feedback-mlp", config={"sizes": [100_000] * 3, "rule": "rbp"}
    )
    assert path.stat().st_size < 4000
    assert main(["evaluate", "feedback", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "budget" in err and "parameters" in err
    small = tmp_path / "liar.pt"  # within budget, but the file cannot hold what its config announces
    save_checkpoint(
        small, {"w": torch.zeros(3)}, kind="feedback-mlp", config={"sizes": [40, 100, 10], "rule": "bp"}
    )
    assert main(["evaluate", "feedback", "--checkpoint", str(small)]) == 2
    assert "stores only" in capsys.readouterr().err


def test_cli_new_channel_options(tmp_path, capsys):
    assert (
        main(
            [
                "train",
                "feedback",
                "--rules",
                "kp",
                "nonlinear",
                "--activation",
                "relu",
                "--epochs",
                "1",
                "--width",
                "16",
                "--depth",
                "2",
                "--dataset",
                "digits",
                "--bits",
                "2",
                "--quant",
                "midtread",
                "--sparsity",
                "0.5",
                "--sparsity-mode",
                "per_neuron",
                "--optimizer",
                "sgd",
                "--lr",
                "0.05",
            ]
        )
        == 0
    )
    with pytest.raises(SystemExit) as info:  # argparse refuses it before anything runs
        main(["train", "feedback", "--rules", "nonlinear", "--channel-activation", "relu"])
    assert info.value.code == 2


@pytest.mark.usefixtures("no_foreign_event_loop")
def test_mix_panel_trains_a_new_mu_only_once_the_slider_rests():
    """While μ is dragged (an event loop runs, as in the kernel) nothing is trained: the readout gives
    the start angle and says the run follows; when the slider rests μ is trained and cached."""
    import asyncio

    panel = widgets.mix_panel(epochs=1)
    assert set(panel.cache) == {(0.0, "adam"), (0.5, "adam"), (1.0, "adam")}
    panel.preview.debounce_s = 0.5

    async def drag():
        for mu in (0.55, 0.6):
            panel.controls["mu"].value = mu
            assert panel.last_error is None and (mu, "adam") not in panel.cache
            assert "training 1 epochs at this μ" in panel.readout.value and "Preview" in panel.readout.value
            await asyncio.sleep(0.01)
        for _ in range(200):  # the release comes debounce_s after the last move (wait up to 20 s)
            if (0.6, "adam") in panel.cache:
                break
            await asyncio.sleep(0.1)
        assert (0.6, "adam") in panel.cache and (0.55, "adam") not in panel.cache
        assert "test accuracy after 1 epochs" in panel.readout.value and "Preview" not in panel.readout.value

    asyncio.run(drag())
    panel.controls["mu"].value = 0.25  # no event loop (a script): trained at once
    assert (0.25, "adam") in panel.cache
