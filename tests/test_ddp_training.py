"""Multi-process training through Lightning's own strategies, 2 CPU processes (gloo).

* ``strategy="ddp_spawn"`` through ``toolkit.training.make_trainer`` (the notebook path: Lightning
  starts the processes) for the start-here module;
* ``strategy="ddp"`` with the processes started by ``torchrun`` (the cluster path: the same as
  ``srun`` on SLURM or ``torchrun --nnodes N`` over machines) for every toolkit LightningModule,
  all in one 2-process launch to keep the test fast.

Each 2-process run is compared with a 1-process run with the same total batch (per-process batch
halved: DDP averages the two halves' gradients, so both take the same optimizer steps on the same
effective batch) and must reach the same quality on held-out data. Each run also proves it was
really distributed: a callback in every process writes its rank and a digest of its final
weights; both digests must be equal (the gradients were all-reduced).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from toolkit.training import make_trainer

ROOT = Path(__file__).resolve().parents[1]


class RankRecorder(pl.Callback):
    """Write ``{rank, world_size, digest}`` of the weights at the end of training, per process."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        h = hashlib.sha256()
        for name, p in sorted(pl_module.state_dict().items()):
            h.update(name.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        record = {"rank": trainer.global_rank, "world_size": trainer.world_size, "digest": h.hexdigest()}
        Path(self.folder, f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


# -- one spec per LightningModule: build(batch) -> (module, train loader), quality(module) -> float
def _wave(batch: int):
    from toolkit.intro import WaveRegressor, make_wave

    x, y = make_wave(256, noise=0.1, random_state=0)
    data = TensorDataset(torch.from_numpy(x)[:, None], torch.from_numpy(y)[:, None])
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    return WaveRegressor(hidden=16, lr=0.02), loader


def _wave_quality(module) -> float:  # −MSE against the noise-free sine (higher is better)
    grid = torch.linspace(0, 1, 200)[:, None]
    with torch.no_grad():
        return -float(torch.mean((module(grid) - torch.sin(2 * np.pi * grid)) ** 2))


def _feedback(batch: int):
    from toolkit.feedback import FeedbackMLP, load_dataset
    from toolkit.feedback.lightning import FeedbackClassifier

    split = load_dataset("digits", random_state=0)
    net = FeedbackMLP([split.n_features, 32, split.n_classes], "rbp", "tanh", seed=0)
    data = TensorDataset(split.x_train, split.y_train)
    loader = DataLoader(data, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0))
    module = FeedbackClassifier(net, lr=3e-3)
    module._test = (split.x_test, split.y_test)
    return module, loader


def _feedback_quality(module) -> float:  # test accuracy
    x, y = module._test
    with torch.no_grad():
        return float((module(x).argmax(1) == y).float().mean())


def _tracking(batch: int):
    from torch_geometric.loader import DataLoader as GraphLoader

    from toolkit.tracking import TrainConfig, make_dataset
    from toolkit.tracking.lightning import TrackingModule

    module = TrackingModule(TrainConfig(seed=0, lr=3e-3))
    loader = GraphLoader(
        make_dataset(64, seed=1), batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    return module, loader


def _tracking_quality(module) -> float:  # track purity on fixed test events
    from toolkit.tracking import evaluate, make_dataset

    return float(evaluate(module.model, make_dataset(40, seed=10**6), module.n_layers)["purity"])


def _diffusion(batch: int):
    from toolkit.diffusion import Downscaler, DownscalerConfig, make_weather_pairs
    from toolkit.diffusion.lightning import RegressionModule

    model = Downscaler(DownscalerConfig(size=16, channels=(8, 16), emb_dim=16))
    tr = make_weather_pairs(256, config=_weather(), random_state=0)
    data = TensorDataset(torch.from_numpy(tr.coarse), torch.from_numpy(tr.fine))
    loader = DataLoader(
        data, batch_size=batch, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0)
    )
    return RegressionModule(model, lr=3e-3), loader


def _weather():
    from toolkit.diffusion import WeatherConfig

    return WeatherConfig(size=16) if "size" in WeatherConfig.__dataclass_fields__ else WeatherConfig()


def _diffusion_quality(module) -> float:  # −MSE of the regression net on held-out pairs
    from toolkit.diffusion import make_weather_pairs

    va = make_weather_pairs(64, config=_weather(), random_state=1)
    m = module.model
    with torch.no_grad():
        pred = m.regression(m.normalize(torch.from_numpy(va.coarse)))
        return -float(torch.mean((pred - m.normalize(torch.from_numpy(va.fine))) ** 2))


def _ddp(find_unused: bool = False):
    from pytorch_lightning.strategies import DDPStrategy

    return DDPStrategy(find_unused_parameters=find_unused)


# name: (build, quality, epochs, batch of the 1-process run, allowed quality drop, DDP strategy)
SPECS = {
    "intro.WaveRegressor": (_wave, _wave_quality, 25, 32, 0.02, _ddp),
    "feedback.FeedbackClassifier": (_feedback, _feedback_quality, 3, 64, 0.04, _ddp),
    "tracking.TrackingModule": (_tracking, _tracking_quality, 3, 16, 0.05, _ddp),
    # the regression stage leaves the denoiser unused: DDP must be told (Lightning's documented switch)
    "diffusion.RegressionModule": (_diffusion, _diffusion_quality, 3, 32, 0.02, _ddp),
}


class _Loader(pl.LightningDataModule):
    """Builds the train loader inside each process: a DataLoader holding a torch.Generator cannot
    be sent to spawned processes with torch's default (file-descriptor) tensor sharing."""

    def __init__(self, name: str, batch: int) -> None:
        super().__init__()
        self.name, self.batch = name, batch

    def train_dataloader(self):
        return SPECS[self.name][0](self.batch)[1]


def _fit(name: str, folder: Path, devices: int = 1, strategy=None) -> tuple[pl.LightningModule, list[dict]]:
    build, quality, epochs, batch, _, _ = SPECS[name]
    module, _ = build(batch // devices)
    folder.mkdir(parents=True, exist_ok=True)
    extra = {} if devices == 1 else dict(devices=devices, strategy=strategy)
    trainer = make_trainer(
        max_epochs=epochs,
        seed=0,
        progress_bar=False,
        accelerator="cpu",
        callbacks=[RankRecorder(str(folder))],
        **extra,
    )
    trainer.fit(module, datamodule=_Loader(name, batch // devices))
    return module, trainer


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("rank*.json"))]


def _one_thread():
    torch.set_num_threads(1)  # 2 processes on 2 cores: one thread each, and a fair 1-process run
    os.environ["OMP_NUM_THREADS"] = "1"


def _check(name: str, q1: float, rec1: list[dict], q2: float, rec2: list[dict]) -> None:
    assert [r["world_size"] for r in rec1] == [1]
    assert sorted(r["rank"] for r in rec2) == [0, 1] and {r["world_size"] for r in rec2} == {2}
    assert rec2[0]["digest"] == rec2[1]["digest"], f"{name}: the two processes ended with different weights"
    drop = SPECS[name][4]
    assert q2 >= q1 - drop, f"{name}: 2 processes reach quality {q2:.4f}, 1 process {q1:.4f}"


@pytest.mark.slow
def test_ddp_spawn_through_make_trainer(tmp_path):
    """Lightning starts the 2 processes itself; the trained weights come back to this process."""
    name = "intro.WaveRegressor"
    threads = torch.get_num_threads()
    try:
        _one_thread()
        m1, _ = _fit(name, tmp_path / "one")
        m2, trainer = _fit(name, tmp_path / "two", devices=2, strategy="ddp_spawn")
    finally:
        torch.set_num_threads(threads)
    assert trainer.world_size == 2
    quality = SPECS[name][1]
    _check(name, quality(m1), _records(tmp_path / "one"), quality(m2), _records(tmp_path / "two"))


def _torchrun_main(out: Path) -> None:
    """Run under torchrun (2 processes): fit every available module with strategy="ddp"."""
    _one_thread()
    for name, spec in SPECS.items():
        module, trainer = _fit(name, out / name, devices=2, strategy=spec[5]())
        if trainer.global_rank == 0:
            (out / name / "quality.json").write_text(json.dumps({"quality": spec[1](module)}))


@pytest.fixture(scope="module")
def torchrun_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(Path(__file__)),
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPECS))
def test_ddp_under_torchrun_matches_one_process(name, torchrun_results, tmp_path):
    threads = torch.get_num_threads()
    try:
        _one_thread()
        m1, _ = _fit(name, tmp_path / "one")
    finally:
        torch.set_num_threads(threads)
    q2 = json.loads((torchrun_results / name / "quality.json").read_text())["quality"]
    _check(name, SPECS[name][1](m1), _records(tmp_path / "one"), q2, _records(torchrun_results / name))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    _torchrun_main(parser.parse_args().out)
