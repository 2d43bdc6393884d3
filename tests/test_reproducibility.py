"""Same seed, same weights: every topic's training entry point, run twice at tiny settings.

Each run starts from a different global RNG state (as if other code had run before it), so a model
or a data set built before the seed is applied shows up as a difference. Every tensor of the saved
checkpoints is compared with ``torch.equal`` (bit-identical, not ``allclose``).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from toolkit.cli import main
from toolkit.io import load_checkpoint


def _scramble(noise: int) -> None:
    """Leave every global RNG in a different state, as earlier cells or tests would."""
    random.seed(noise)
    np.random.seed(noise)
    torch.manual_seed(noise)
    torch.rand(noise)


def _train_twice(tmp_path, argv: list[str], files: list[str], kind: str) -> dict[str, list[str]]:
    states = []
    for run, noise in ((0, 11), (1, 12)):
        _scramble(noise)
        out = tmp_path / f"run{run}"
        assert main([*argv, "--out", str(out)]) == 0
        states.append({f: load_checkpoint(out / f, kind=kind)["state_dict"] for f in files})
    different = {}
    for f in files:
        a, b = states[0][f], states[1][f]
        assert a.keys() == b.keys() and a, f
        different[f] = [k for k in a if not torch.equal(a[k], b[k])]
    return different


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_tracking_training_is_bit_identical(tmp_path):
    argv = [
        "train",
        "tracking",
        "--seed",
        "3",
        "--epochs",
        "1",
        "--n-train",
        "8",
        "--n-test",
        "4",
        "--batch-size",
        "4",
        "--hidden",
        "8",
        "--no-progress",
    ]
    assert _train_twice(tmp_path, argv, ["model.pt"], "tracking-edge-classifier") == {"model.pt": []}


@pytest.mark.parametrize("path", [[], ["--lightning"]], ids=["loop", "lightning"])
def test_feedback_training_is_bit_identical(tmp_path, path):
    argv = [
        "train",
        "feedback",
        "--seed",
        "3",
        "--epochs",
        "1",
        "--depth",
        "1",
        "--width",
        "16",
        "--rules",
        "bp",
        "rbp",
        "srbp",
        *path,
    ]
    files = ["bp.pt", "rbp.pt", "srbp.pt"]
    assert _train_twice(tmp_path, argv, files, "feedback-mlp") == {f: [] for f in files}


@pytest.mark.slow  # ≈ 2 × 10 s: the calibration of the baselines' noise models needs 256 pairs at any size
def test_diffusion_training_is_bit_identical(tmp_path):
    argv = [
        "train",
        "diffusion",
        "--seed",
        "3",
        "--regression-steps",
        "2",
        "--diffusion-steps",
        "2",
        "--n-train",
        "16",
        "--batch-size",
        "4",
        "--eval-cases",
        "1",
        "--no-progress",
    ]
    assert _train_twice(tmp_path, argv, ["downscaler.pt"], "diffusion-downscaler") == {"downscaler.pt": []}
