"""toolkit.training (make_trainer, seed_everything) and the LivePlotCallback that streams metrics."""

import csv
import math
import os
import random

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from toolkit.charts import metric_lines
from toolkit.intro import train_wave
from toolkit.livechart import LiveChart
from toolkit.training import LivePlotCallback, make_trainer, seed_everything

pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::DeprecationWarning", "ignore:.*treespec"
)

STEPS_PER_EPOCH = 4  # train_wave: 64 points, batch size 16


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# -- seed_everything -------------------------------------------------------------------------------
def test_seed_everything_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    seed_everything(123)
    a = draw()
    seed_everything(123)
    b = draw()
    seed_everything(124)
    c = draw()
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and not torch.equal(a[2], c[2])


@pytest.mark.parametrize(
    "seed, error", [(-1, ValueError), (2**32, ValueError), (1.0, TypeError), (True, TypeError)]
)
def test_seed_everything_validates(seed, error):
    with pytest.raises(error, match="seed"):
        seed_everything(seed)


# -- make_trainer ----------------------------------------------------------------------------------
def test_make_trainer_defaults_are_quiet_cpu_and_deterministic():
    trainer = make_trainer(progress_bar=False)
    assert trainer.max_epochs == 1  # neither max_epochs nor max_steps: one epoch, not Lightning's 1000
    assert type(trainer.accelerator).__name__ == "CPUAccelerator"
    assert trainer.logger is None and trainer.checkpoint_callback is None
    assert not trainer.progress_bar_callback
    assert torch.are_deterministic_algorithms_enabled()
    assert not os.path.abspath(trainer.default_root_dir).startswith(os.getcwd() + os.sep)


def test_make_trainer_passes_lightning_kwargs_through():
    trainer = make_trainer(
        max_steps=7,
        precision="bf16-mixed",
        gradient_clip_val=0.5,
        accelerator="cpu",
        log_every_n_steps=3,
        limit_train_batches=2,
        progress_bar=False,
    )
    assert trainer.max_steps == 7
    assert trainer.precision == "bf16-mixed"
    assert trainer.gradient_clip_val == 0.5
    assert trainer.log_every_n_steps == 3
    assert trainer.limit_train_batches == 2
    assert make_trainer(precision=32, progress_bar=False).precision == "32-true"
    assert make_trainer(max_epochs=3, progress_bar=False).max_epochs == 3


def test_make_trainer_keeps_user_callbacks_and_adds_live():
    class Counter(pl.Callback):
        pass

    mine = Counter()
    live = LiveChart(metric_lines())
    trainer = make_trainer(callbacks=[mine], live=live, progress_bar=False)
    assert mine in trainer.callbacks
    (streamer,) = [cb for cb in trainer.callbacks if isinstance(cb, LivePlotCallback)]
    assert streamer.live is live


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"max_epochs": 0}, ValueError, "max_epochs"),
        ({"max_epochs": 1.5}, TypeError, "max_epochs"),
        ({"max_steps": -2}, ValueError, "max_steps"),
        ({"seed": -3}, ValueError, "seed"),
    ],
)
def test_make_trainer_validates(kwargs, error, name):
    with pytest.raises(error, match=name):
        make_trainer(**kwargs)


def test_training_writes_nothing_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, mse = train_wave(epochs=1, hidden=4)
    assert math.isfinite(mse)
    assert list(tmp_path.iterdir()) == []


def test_seeded_runs_are_bit_identical_and_seed_matters():
    a, mse_a = train_wave(epochs=2, hidden=8, seed=3)
    b, mse_b = train_wave(epochs=2, hidden=8, seed=3)
    c, _ = train_wave(epochs=2, hidden=8, seed=4)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert mse_a == mse_b
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_max_steps_and_precision_pass_through_a_real_run():
    live = LiveChart(metric_lines(), min_interval=0.0)
    train_wave(epochs=50, hidden=4, live=live, max_steps=3, precision="bf16-mixed")
    assert [r["step"] for r in live.data] == [1, 2, 3]


def test_live_rows_match_the_csv_log_of_the_same_run(tmp_path, monkeypatch):
    """Oracle: Lightning's own CSVLogger (save_dir) records the same per-step losses we stream."""
    monkeypatch.chdir(tmp_path)
    live = LiveChart(metric_lines(), min_interval=60.0)  # throttled: rows are held until the fit ends
    epochs = 3
    train_wave(epochs=epochs, hidden=4, live=live, save_dir=tmp_path / "run")
    rows = live.data
    assert [r["step"] for r in rows] == list(range(1, epochs * STEPS_PER_EPOCH + 1))
    assert {r["metric"] for r in rows} == {"train_loss"} and {r["run"] for r in rows} == {"run"}
    assert len(live.rows) == len(rows)  # on_fit_end flushed everything
    (metrics_csv,) = (tmp_path / "run").rglob("metrics.csv")
    with open(metrics_csv) as fh:
        logged = [float(r["train_loss"]) for r in csv.DictReader(fh) if r.get("train_loss")]
    assert logged == pytest.approx([r["value"] for r in rows], rel=1e-6)
    assert list((tmp_path / "run").rglob("*.ckpt"))  # save_dir turns checkpointing on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


# -- LivePlotCallback with validation, metric filters and strides ----------------------------------------
class _TwoMetrics(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.lin(x), y)
        self.log("train_loss", loss)
        self.log("lr_seen", 0.1)
        self.log("vector", torch.ones(1))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.lin(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loaders():
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(12, 2, generator=g), torch.randn(12, 1, generator=g))
    return DataLoader(data, batch_size=4), DataLoader(data, batch_size=6)


def _fit(callback, epochs=2):
    trainer = make_trainer(max_epochs=epochs, callbacks=[callback], progress_bar=False)
    train, val = _loaders()
    trainer.fit(_TwoMetrics(), train, val)


def test_callback_streams_train_and_validation_metrics():
    live = LiveChart(min_interval=0.0)
    _fit(LivePlotCallback(live, run="baseline"))
    rows = live.data
    assert all(set(r) == {"step", "metric", "value", "run"} and r["run"] == "baseline" for r in rows)
    val = [r for r in rows if r["metric"] == "val_loss"]
    assert [r["step"] for r in val] == [3, 6]  # once per validation epoch, at the global step
    train = [r for r in rows if r["metric"] == "train_loss"]
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6]
    assert {r["metric"] for r in rows} == {"train_loss", "lr_seen", "vector", "val_loss"}
    assert all(type(r["value"]) is float and math.isfinite(r["value"]) for r in rows)


def test_callback_metric_filter_and_stride():
    live = LiveChart(min_interval=0.0)
    _fit(LivePlotCallback(live, metrics=["train_loss"], every_n_steps=2), epochs=2)
    assert [(r["metric"], r["step"]) for r in live.data] == [
        ("train_loss", 2),
        ("train_loss", 4),
        ("train_loss", 6),
    ]


def test_callback_validates_its_arguments():
    with pytest.raises(TypeError, match="live"):
        LivePlotCallback([])
    with pytest.raises(ValueError, match="every_n_steps"):
        LivePlotCallback(LiveChart(), every_n_steps=0)
