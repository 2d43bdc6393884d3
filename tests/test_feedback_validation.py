"""Bad input to the feedback topic's public functions: a clear ValueError/TypeError naming the parameter.

These are the concrete calls the fuzz module (tests/test_fuzz_public_api.py) found unclean, plus their
neighbours; each must now be refused with a message that names the offending parameter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from toolkit.feedback import (
    FeedbackLinear,
    FeedbackMLP,
    Split,
    TrainConfig,
    accuracy,
    angle_between,
    compare_rules,
    fit,
    load_dataset,
    load_mnist,
    make_mnist1d,
    quantize,
    read_idx,
    symmetry_run,
)
from toolkit.feedback.convert import FeedbackConv, convert


class Opaque:
    """An object no parameter can take."""


def _tiny_split() -> Split:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=g)
    y = torch.arange(40) % 3
    return Split(x[:30], y[:30], x[30:], y[30:], "tiny")


def _raises(exc, words, fn, *args, **kwargs):
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert words in str(info.value), str(info.value)


# -- angles / engine ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad, exc",
    [
        (None, TypeError),
        (Opaque(), TypeError),
        ("text", TypeError),
        (torch.ones(3, dtype=torch.bool), TypeError),
        ([], ValueError),
    ],
)
def test_angle_between_refuses_what_is_not_a_vector(bad, exc):
    _raises(exc, "a must", angle_between, bad, torch.ones(3))
    _raises(exc, "b must", angle_between, torch.ones(3), bad)


def test_angle_between_still_reports_nan_for_nan_vectors_and_takes_arrays():
    assert math.isnan(angle_between(torch.tensor([math.nan, 1.0]), torch.ones(2)))
    assert angle_between(np.array([1.0, 0.0]), [0.0, 1.0]) == pytest.approx(90.0)


@pytest.mark.parametrize(
    "bad, exc",
    [
        (True, ValueError),
        (None, TypeError),
        (0, ValueError),
        (torch.ones(2, 2, dtype=torch.int64), TypeError),
        (Opaque(), TypeError),
    ],
)
def test_quantize_refuses_non_tensors(bad, exc):
    _raises(exc, "t must", quantize, bad, 2)


def test_quantize_refuses_bad_settings():
    _raises(ValueError, "bits must", quantize, torch.randn(2, 3), 0)
    _raises(ValueError, "mode must", quantize, torch.randn(2, 3), 2, "round")
    _raises(TypeError, "generator must", quantize, torch.randn(2, 3), 2, generator=0)
    assert torch.isnan(quantize(torch.tensor([[math.nan, 1.0]]), 2)).any()  # NaN is not hidden
    np.testing.assert_allclose(quantize(np.array([[0.5, -0.5]]), 1).numpy(), [[0.5, -0.5]])  # arrays are fine


# -- convert -----------------------------------------------------------------------------------------------
def test_feedback_linear_refuses_bad_arguments():
    _raises(TypeError, "bias must", FeedbackLinear, 4, 3, torch.full((4,), math.nan))
    _raises(ValueError, "rule must", FeedbackLinear, 4, 3, rule="magic")
    _raises(ValueError, "mode must", FeedbackLinear, 4, 3, mode="sideways")
    _raises(TypeError, "context must", FeedbackLinear, 4, 3, mode="skip")
    _raises(ValueError, "feedback_cols must", FeedbackLinear, 4, 3, feedback_cols=0)
    _raises(TypeError, "generator must", FeedbackLinear, 4, 3, generator=7)
    _raises(ValueError, "error_bits must", FeedbackLinear, 4, 3, error_bits=0)
    _raises(ValueError, "sparsity must", FeedbackLinear, 4, 3, sparsity=1.0)
    _raises(ValueError, "feedback_mix must", FeedbackLinear, 4, 3, feedback_mix=math.nan)
    _raises(ValueError, "channel_activation", FeedbackLinear, 4, 3, channel_activation="sigmoid")
    _raises(ValueError, "out_features", FeedbackLinear, 8, 2 * 10**16)


def test_feedback_conv_and_convert_refuse_bad_arguments():
    _raises(ValueError, "sparsity must", FeedbackConv, nn.Conv1d(4, 4, 3, groups=2), sparsity=0.5)
    _raises(ValueError, "mode must", FeedbackConv, nn.Conv1d(2, 2, 3), mode="output")
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    _raises(TypeError, "inplace must", convert, model, "rbp", inplace="yes")
    _raises(ValueError, "seed must", convert, model, "rbp", seed=-1)
    _raises(ValueError, "sparsity_mode must", convert, model, "rbp", sparsity=0.5, sparsity_mode="rows")
    _raises(ValueError, "error_quant must", convert, model, "rbp", error_bits=2, error_quant="dither")


# -- data --------------------------------------------------------------------------------------------------
def test_split_refuses_what_is_not_a_dataset():
    split = _tiny_split()
    _raises(TypeError, "x_train must", Split, "not-a-value", split.y_train, split.x_test, split.y_test)
    _raises(TypeError, "x_train must", Split, Opaque(), split.y_train, split.x_test, split.y_test)
    _raises(TypeError, "y_train must", Split, split.x_train, "not-a-value", split.x_test, split.y_test)
    _raises(
        TypeError, "y_train must", Split, split.x_train, split.y_train.float(), split.x_test, split.y_test
    )
    _raises(ValueError, "y_test must", Split, split.x_train, split.y_train, split.x_test, split.y_test[:3])
    _raises(ValueError, "y_train must", Split, split.x_train, -split.y_train - 1, split.x_test, split.y_test)
    _raises(
        ValueError,
        "x_train must",
        Split,
        split.x_train.clone().fill_(math.nan),
        split.y_train,
        split.x_test,
        split.y_test,
    )
    _raises(ValueError, "x_test must", Split, split.x_train, split.y_train, split.x_test[:, :2], split.y_test)
    _raises(TypeError, "name must", Split, split.x_train, split.y_train, split.x_test, split.y_test, 3)


def test_dataset_loaders_name_their_bad_parameter(tmp_path):
    _raises(TypeError, "limit must", load_dataset, "mnist", path=tmp_path, limit=Opaque())
    _raises(TypeError, "path must", load_dataset, "mnist", path=3)
    _raises(ValueError, "random_state must", load_dataset, "digits", random_state=-1)
    _raises(TypeError, "shift must", make_mnist1d, 100, shift=Opaque())
    for bad in (torch.ones(4), Opaque(), -5924, None, math.inf):
        _raises(TypeError, "directory must", load_mnist, bad)
    _raises(ValueError, "directory must", load_mnist, tmp_path / "absent")
    for bad in (8.7e-07, [[1, 2]], torch.ones(4, 4), 0, False):
        _raises(TypeError, "path must", read_idx, bad)
    _raises(ValueError, "path must", read_idx, "")
    _raises(ValueError, "path must", read_idx, tmp_path / "absent.idx", max_bytes=10**400)
    _raises(ValueError, "max_bytes must", read_idx, tmp_path / "absent.idx", max_bytes=0)


# -- train -------------------------------------------------------------------------------------------------
def test_accuracy_refuses_bad_arguments():
    net = FeedbackMLP([5, 4, 3], seed=0)
    x, y = torch.randn(6, 5), torch.arange(6) % 3
    for bad in (-217358.08, False, torch.ones(4, 4), math.inf):
        _raises(TypeError, "net must", accuracy, bad, x, y)
    _raises(TypeError, "x must", accuracy, net, None, y)
    _raises(ValueError, "x must", accuracy, net, x.clone().fill_(math.nan), y)  # NaN never becomes a guess
    _raises(TypeError, "y must", accuracy, net, x, 0.5)
    _raises(TypeError, "y must", accuracy, net, x, torch.randn(6))
    _raises(ValueError, "y must", accuracy, net, x, y[:2])
    _raises(ValueError, "x must", accuracy, net, torch.zeros(0, 5), torch.zeros(0, dtype=torch.long))
    assert 0.0 <= accuracy(net, x, y) <= 1.0


def test_compare_rules_fit_and_symmetry_run_name_their_bad_parameter():
    split = _tiny_split()
    cfg = TrainConfig(hidden=[4], epochs=1)
    for bad in (0.0, Opaque(), "rbp", [], {"x": 1}):
        _raises(TypeError, "rules must", compare_rules, bad, split, cfg)
    _raises(ValueError, "rules must", compare_rules, ["rbp", "magic"], split, cfg)
    _raises(TypeError, "split must", compare_rules, ["rbp"], "digits", cfg)
    _raises(TypeError, "config must", compare_rules, ["rbp"], split, {"epochs": 1})
    _raises(TypeError, "on_epoch must", compare_rules, ["rbp"], split, cfg, on_epoch=3)
    _raises(ValueError, "angle_examples must", compare_rules, ["rbp"], split, cfg, angle_examples=0)
    for bad in (8.7e-07, torch.ones(4, 4), True, math.nan):
        _raises(TypeError, "net must", fit, bad, split, cfg)
    _raises(TypeError, "split must", fit, FeedbackMLP([5, 4, 3], seed=0), 10**400, cfg)
    for bad in ("not-a-value", np.zeros((5, 0)), 3):
        _raises(TypeError, "split must", symmetry_run, bad)
    _raises(TypeError, "hidden must", symmetry_run, split, hidden=-590)
    _raises(ValueError, "rule must", symmetry_run, split, rule="magic")
    _raises(ValueError, "lr must", symmetry_run, split, lr=-1.0)
    _raises(TypeError, "hidden must", TrainConfig, hidden=5)
    assert len(symmetry_run(split, hidden=(4,), epochs=1)) > 0  # a valid call still works
