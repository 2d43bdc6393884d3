"""toolkit.validation: values in range come back as plain Python types, the rest raise with a
message naming the parameter, the interval and the offending value."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.validation import as_rng, check_bool, check_choice, check_float, check_int

FAST = settings(max_examples=60, deadline=None)

bounds = st.integers(-(10**6), 10**6)


# -- check_int ------------------------------------------------------------------------------------
def test_check_int_message_has_documented_format():
    with pytest.raises(ValueError) as info:
        check_int("steps", 0, low=1, high=10000)
    assert str(info.value) == "steps must be an integer in [1, 10000], got 0"


@FAST
@given(low=bounds, span=st.integers(0, 10**6), data=st.data())
def test_check_int_in_range_round_trips(low, span, data):
    high = low + span
    value = data.draw(st.integers(low, high))
    as_numpy = data.draw(st.booleans())
    got = check_int("n", np.int64(value) if as_numpy else value, low=low, high=high)
    assert got == value and type(got) is int


@FAST
@given(low=bounds, span=st.integers(0, 1000), offset=st.integers(1, 10**9), above=st.booleans())
def test_check_int_out_of_range_names_parameter_and_interval(low, span, offset, above):
    high = low + span
    value = high + offset if above else low - offset
    with pytest.raises(ValueError) as info:
        check_int("n_layers", value, low=low, high=high)
    msg = str(info.value)
    assert msg.startswith("n_layers ")
    assert f"[{low}, {high}]" in msg
    assert msg.endswith(f"got {value}")


def test_check_int_half_bounded_intervals():
    assert check_int("k", 10**30, low=0) == 10**30
    with pytest.raises(ValueError, match=re.escape("k must be an integer in [0, inf), got -1")):
        check_int("k", -1, low=0)
    with pytest.raises(ValueError, match=re.escape("(-inf, 5]")):
        check_int("k", 6, high=5)


@pytest.mark.parametrize(
    "value", [True, False, np.bool_(True), 3.0, np.float64(2.0), "3", None, [1], Fraction(3, 1)]
)
def test_check_int_wrong_types_raise_type_error(value):
    with pytest.raises(TypeError) as info:
        check_int("batch_size", value, low=0, high=10)
    assert "batch_size" in str(info.value) and "[0, 10]" in str(info.value)


# -- check_float ----------------------------------------------------------------------------------
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@FAST
@given(low=finite, span=st.floats(0, 1e6), data=st.data())
def test_check_float_in_range_round_trips(low, span, data):
    high = low + span
    value = data.draw(st.floats(low, high))
    kind = data.draw(st.sampled_from(["float", "np64"]))
    got = check_float("lr", np.float64(value) if kind == "np64" else value, low=low, high=high)
    assert got == value and type(got) is float


@FAST
@given(low=finite, span=st.floats(1e-3, 1e6), low_open=st.booleans(), high_open=st.booleans())
def test_check_float_open_ends_exclude_exactly_the_bound(low, span, low_open, high_open):
    high = low + span
    if high == low:
        return
    for bound, is_open in ((low, low_open), (high, high_open)):
        if is_open:
            with pytest.raises(ValueError):
                check_float("x", bound, low=low, high=high, low_open=low_open, high_open=high_open)
        else:
            assert (
                check_float("x", bound, low=low, high=high, low_open=low_open, high_open=high_open) == bound
            )


def test_check_float_interval_text_shows_open_and_closed_ends():
    with pytest.raises(ValueError) as info:
        check_float("lr", 5.0, low=0.0, high=1.0, low_open=True)
    assert str(info.value) == "lr must be a number in (0.0, 1.0], got 5.0"
    with pytest.raises(ValueError, match=re.escape("noise must be a number in [0.0, 1.0), got 1.0")):
        check_float("noise", 1.0, low=0.0, high=1.0, high_open=True)


@FAST
@given(low=finite, span=st.floats(0, 1e6), gap=st.floats(1e-3, 1e9), above=st.booleans())
def test_check_float_out_of_range_names_parameter(low, span, gap, above):
    high = low + span
    value = high + gap if above else low - gap
    if low <= value <= high:  # float rounding swallowed the gap
        return
    with pytest.raises(ValueError) as info:
        check_float("momentum", value, low=low, high=high)
    assert str(info.value).startswith("momentum must be a number in [")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("inf")])
def test_check_float_rejects_nan_and_inf_even_unbounded(value):
    with pytest.raises(ValueError) as info:
        check_float("sigma", value)
    assert "sigma" in str(info.value) and "finite" in str(info.value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.5", None, [0.5], 1 + 2j, np.array([0.5])])
def test_check_float_wrong_types_raise_type_error(value):
    with pytest.raises(TypeError) as info:
        check_float("dropout", value, low=0.0, high=1.0)
    assert "dropout" in str(info.value)


def test_check_float_accepts_ints_and_fractions_as_floats():
    assert check_float("x", 3) == 3.0 and type(check_float("x", 3)) is float
    assert check_float("x", Fraction(1, 4)) == 0.25
    assert check_float("x", np.float32(0.5)) == 0.5


def test_check_float_huge_int_is_a_value_error():
    with pytest.raises(ValueError, match="scale"):
        check_float("scale", 10**400, low=0.0)


# -- check_choice / check_bool ---------------------------------------------------------------------
@FAST
@given(choices=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=6, unique=True), data=st.data())
def test_check_choice(choices, data):
    value = data.draw(st.sampled_from(choices))
    assert check_choice("rule", value, iter(choices)) == value  # any iterable, even a one-shot one
    other = data.draw(st.text(max_size=8).filter(lambda s: s not in choices))
    with pytest.raises(ValueError) as info:
        check_choice("rule", other, choices)
    msg = str(info.value)
    assert msg.startswith("rule must be one of ")
    assert all(repr(c) in msg for c in choices)
    assert msg.endswith(f"got {other!r}")


@pytest.mark.parametrize("value", [1, None, b"bp", ["bp"]])
def test_check_choice_non_strings_are_rejected(value):
    with pytest.raises((TypeError, ValueError), match="rule"):
        check_choice("rule", value, ["bp", "fa"])


def test_check_bool():
    assert check_bool("flag", True) is True
    assert check_bool("flag", np.bool_(False)) is False
    for bad in (0, 1, "True", None, 1.0):
        with pytest.raises(TypeError, match="flag must be True or False"):
            check_bool("flag", bad)


# -- as_rng ------------------------------------------------------------------------------------------
@FAST
@given(seed=st.integers(0, 2**63))
def test_as_rng_same_seed_same_stream(seed):
    a, b = as_rng(seed), as_rng(np.uint64(seed))
    assert np.array_equal(a.integers(0, 2**31, 8), b.integers(0, 2**31, 8))


def test_as_rng_generator_is_passed_through_and_none_is_fresh():
    gen = np.random.default_rng(5)
    assert as_rng(gen) is gen
    assert isinstance(as_rng(None), np.random.Generator)
    assert not np.array_equal(as_rng(1).random(4), as_rng(2).random(4))


@pytest.mark.parametrize(
    "bad, error",
    [
        (-1, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        ("0", TypeError),
        (np.random.RandomState(0), TypeError),
    ],
)
def test_as_rng_rejects_bad_seeds_naming_the_parameter(bad, error):
    with pytest.raises(error, match="random_state"):
        as_rng(bad)
    with pytest.raises(error, match="seed"):
        as_rng(bad, name="seed")


# --- arrays, tensors and instances --------------------------------------------------------------------------


def test_check_array_converts_and_refuses_with_the_name():
    import numpy as np
    import torch

    from toolkit.validation import check_array

    out = check_array("x", [[1, 2], [3, 4]], ndim=2)
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert check_array("x", torch.ones(3, dtype=torch.bfloat16)).tolist() == [1.0, 1.0, 1.0]
    assert check_array("idx", np.array([1, 2]), integer=True).dtype == np.int64
    for bad, exc in [
        (None, TypeError),
        ("abc", TypeError),
        ([[1], [1, 2]], TypeError),
        (np.array(["a"]), TypeError),
        (np.zeros((2, 2)), ValueError),
        (np.zeros(0), ValueError),
        ([1.0, float("nan")], ValueError),
        ([1.0, float("inf")], ValueError),
        (np.array([1.5]), None),
    ]:
        if exc is None:
            with pytest.raises(TypeError, match="idx"):
                check_array("idx", bad, integer=True)
            continue
        with pytest.raises(exc, match="^x "):
            check_array("x", bad, ndim=1)
    assert np.isnan(check_array("x", [np.nan], finite=False)).all()


def test_check_tensor_keeps_graph_and_refuses_bad_dtypes():
    import torch

    from toolkit.validation import check_tensor

    w = torch.ones(2, 3, requires_grad=True)
    out = check_tensor("w", w, ndim=2)
    assert out is w
    assert check_tensor("w", [[1, 2]], ndim=(1, 2)).dtype == torch.float32
    assert check_tensor("w", torch.ones(2, dtype=torch.bfloat16), dtype=torch.float32).dtype == torch.float32
    for bad, exc in [
        (torch.ones(2, dtype=torch.int64), TypeError),
        (torch.ones(2, dtype=torch.bool), TypeError),
        (torch.ones(2, 2, 2), ValueError),
        (torch.tensor([float("nan")]), ValueError),
        (torch.zeros(0, 3), ValueError),
        (None, TypeError),
    ]:
        with pytest.raises(exc, match="^w "):
            check_tensor("w", bad, ndim=(1, 2))


def test_check_instance_names_the_parameter_and_the_types():
    import torch

    from toolkit.validation import check_instance

    lin = torch.nn.Linear(2, 2)
    assert check_instance("model", lin, torch.nn.Module) is lin
    with pytest.raises(TypeError, match="model must be Module or dict, got float"):
        check_instance("model", 1.0, (torch.nn.Module, dict))
    with pytest.raises(TypeError, match="model must be a trained Downscaler, got str"):
        check_instance("model", "x", torch.nn.Module, "a trained Downscaler")
