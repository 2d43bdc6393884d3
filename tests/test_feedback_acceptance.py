"""Issue 12's acceptance runs (seeded, a few seconds each): the numbers the notebook's lessons rest on.

MNIST-1D here is our generator (``load_dataset("mnist1d")``); "published" refers to Greydanus's
MNIST-1D baselines (logistic regression ≈ 0.32, MLP ≈ 0.68 test accuracy).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit.feedback import TrainConfig, compare_rules, load_dataset, quantize, studies
from toolkit.feedback.exercises import ex_quantize

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def m1d():
    return load_dataset("mnist1d", random_state=0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", random_state=0)


def test_mnist1d_generator_matches_the_published_baselines(m1d):
    logistic = studies.logistic_baseline(m1d)
    assert 0.25 <= logistic <= 0.40, logistic
    mlp = compare_rules(["bp"], m1d, TrainConfig(hidden=[100, 100], epochs=20, lr=1e-3), angle_examples=8)
    assert mlp[-1]["test_acc"] >= 0.60, mlp[-1]["test_acc"]


def test_digits_is_nearly_linearly_separable(digits):
    assert studies.logistic_baseline(digits) > 0.93  # a linear model is already near the rules' accuracy


def test_unbiased_one_and_two_bit_channels_on_digits():
    """SRBP, digits, 2×64 tanh, Adam 3e-3, 4 epochs, default (range) stochastic channel: ≥ 0.85 at 1 bit and
    ≥ 0.90 at 2 bits at every seed (8 seeds measured: 1 bit 0.909–0.922; the max-abs scale gave 0.84–0.89)."""
    one, two = [], []
    for seed in (0, 1, 2):
        split = load_dataset("digits", random_state=0)
        acc = studies.bits_study(split, bits=(1, 2), modes=("stochastic",), seed=seed)
        one.append(acc["stochastic 1 bit"])
        two.append(acc["stochastic 2 bit"])
        assert acc["stochastic 1 bit"] > acc["top"] - 0.01
    assert min(one) >= 0.85, one
    assert min(two) >= 0.90, two


def test_exercise_reference_is_the_engines_stochastic_rounding():
    t = torch.randn(6, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for bits in (1, 2, 5):
        g = torch.Generator().manual_seed(bits)
        u = torch.rand(t.shape, generator=torch.Generator().manual_seed(bits), dtype=t.dtype)
        mine = ex_quantize.reference(t.numpy(), bits, u.numpy())
        np.testing.assert_allclose(
            quantize(t, bits, "stochastic-maxabs", generator=g).numpy(), mine, rtol=0, atol=1e-12
        )


def test_nonlinear_channel_with_relu_net_beats_top_only(m1d):
    cfg = TrainConfig(hidden=[100, 100, 100], epochs=10, lr=1e-3, activation="relu")
    acc = studies.final_accuracy(compare_rules(["nonlinear", "top"], m1d, cfg, angle_examples=8))
    assert acc["nonlinear"] > acc["top"] + 0.1, acc


def test_srbp_at_99_percent_per_neuron_sparsity_beats_top_only(m1d):
    sparse = studies.sparsity_study(m1d, sparsity=0.99)
    cfg = TrainConfig(hidden=[100, 100, 100], epochs=10, lr=1e-3)
    top = studies.final_accuracy(compare_rules(["top"], m1d, cfg, angle_examples=8))["top"]
    # 99 % requested: one connection per unit (SRBP's 100 × 10 matrices: 90 % zeros, 300 connections);
    # `entries` gets the same 300 anywhere (the fair comparison), `entries_requested` the 99 % (30)
    assert sparse["per_neuron"]["connections"] == sparse["entries"]["connections"] == 300
    assert (
        sparse["per_neuron"]["zeros"] == pytest.approx(0.9)
        and sparse["entries_requested"]["connections"] == 30
    )
    assert sparse["per_neuron"]["test_acc"] >= top + 0.1 and sparse["per_neuron"]["dead_units"] == 0
    assert sparse["per_neuron"]["test_acc"] > sparse["entries"]["test_acc"] > top + 0.1
    assert (
        sparse["entries_requested"]["dead_units"] > 200
        and sparse["entries_requested"]["test_acc"] < top + 0.1
    )


@pytest.mark.parametrize("optimizer, lr", [("adam", 3e-3), ("sgd", 0.3)])
def test_kp_aligns_B_with_WT_within_20_epochs_on_digits(digits, optimizer, lr):
    """λ = 0.003 per step. Adam 3e-3 (the notebook) and paper mode: plain SGD at lr 0.3, the learning rate
    of the KP authors' own MNIST script (measured: 8.8° / 2.4°; at SGD lr 0.1 it is 10.7° / 3.0°)."""
    rows = studies.kp_run(digits, epochs=20, optimizer=optimizer, lr=lr, weight_decay=0.003)
    last = [r["angle"] for r in rows if r["epoch"] == rows[-1]["epoch"]]
    assert max(last) < 10, last
    arbp = studies.kp_run(digits, rule="arbp", epochs=20, optimizer=optimizer, lr=lr)
    assert min(r["angle"] for r in arbp if r["epoch"] == arbp[-1]["epoch"]) > 15


def test_one_bit_channel_over_eight_seeds(digits):
    """Notebook 02 §6's 8-seed numbers (SRBP on digits, 64-64 tanh, Adam 3e-3): the unbiased 1-bit channel
    on each example's range 0.913 ± 0.005, never below 0.905; on the symmetric scale 0.864 ± 0.019, 0.03–0.07
    behind at every seed after 4 epochs; with 8 epochs the symmetric one reaches 0.911 (noise slows, it does
    not cap)."""
    modes = ("stochastic", "stochastic-maxabs")
    four = [studies.bits_study(digits, bits=(1,), modes=modes, seed=s) for s in range(8)]
    eight = [studies.bits_study(digits, bits=(1,), modes=modes[1:], epochs=8, seed=s) for s in range(8)]
    rng = np.array([r["stochastic 1 bit"] for r in four])
    sym = np.array([r["stochastic-maxabs 1 bit"] for r in four])
    assert rng.min() >= 0.905 and abs(rng.mean() - 0.913) < 0.003 and abs(sym.mean() - 0.864) < 0.005
    assert np.all((rng - sym > 0.025) & (rng - sym < 0.075))
    assert abs(np.mean([r["stochastic-maxabs 1 bit"] for r in eight]) - 0.911) < 0.005


def test_exercise_six_lessons(digits):
    """Notebook 02 exercise 6's messages, measured (digits, 64-64 tanh, Adam 3e-3, 4 epochs): `rbp-resampled`
    has nothing to align with and stays at about 90° to the gradient; sign-concordant feedback starts well
    below 90°."""
    hist = compare_rules(["rbp-resampled", "sign"], digits, TrainConfig(hidden=[64, 64], epochs=4, lr=3e-3))
    first = {r["rule"]: r["angles"][:-1] for r in hist if r["epoch"] == 0}
    last = {r["rule"]: r["angles"][:-1] for r in hist if r["epoch"] == hist[-1]["epoch"]}
    assert all(80 < a < 100 for a in first["rbp-resampled"] + last["rbp-resampled"])
    assert all(a < 60 for a in first["sign"])


def test_sparsity_study_without_zeros_to_match(digits):
    """1 % asked of 10-column rows: per-neuron keeps every entry, so `entries` has no zeros (no crash)."""
    sparse = studies.sparsity_study(digits, sparsity=0.01, hidden=(16,), epochs=1)
    assert sparse["per_neuron"]["zeros"] == sparse["entries"]["zeros"] == 0.0
    assert sparse["entries"]["connections"] == 160 and sparse["entries_requested"]["connections"] == 158
