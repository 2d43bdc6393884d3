"""toolkit.palette: colour-blind-safe series colours, the dichromat simulation, and the red/green check."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit import palette
from toolkit.charts import metric_lines, series_lines

# Oracle: colorspacious 1.1.2 (Machado et al. 2009, severity 100), cspace_convert(rgb, {"name":
# "sRGB1+CVD", "cvd_type": "deuteranomaly"/"protanomaly"/"tritanomaly", "severity": 100}, "sRGB1"),
# clipped to [0, 1]; computed once on 2026-11-30 (the package is not a dependency).
COLORSPACIOUS = {
    ("#d62728", "protan"): (0.3802, 0.3407, 0.1462),
    ("#d62728", "deutan"): (0.5465, 0.4879, 0.1204),
    ("#d62728", "tritan"): (0.9255, 0.0, 0.1667),
    ("#2ca02c", "protan"): (0.6411, 0.5674, 0.0965),
    ("#2ca02c", "deutan"): (0.5892, 0.5318, 0.2186),
    ("#E69F00", "deutan"): (0.7912, 0.7048, 0.066),
    ("#0072B2", "protan"): (0.3244, 0.4571, 0.7085),
    ("#56B4E9", "tritan"): (0.0, 0.7597, 0.7758),
}


@pytest.mark.parametrize("key", sorted(COLORSPACIOUS))
def test_simulation_agrees_with_colorspacious(key):
    color, deficiency = key
    np.testing.assert_allclose(palette.simulate(color, deficiency), COLORSPACIOUS[key], atol=6e-5)


def test_simulation_identities():
    for deficiency in ("protan", "deutan", "tritan"):
        # each Machado matrix keeps white white and black black (its rows sum to 1)
        np.testing.assert_allclose(palette.simulate("#ffffff", deficiency), [1, 1, 1], atol=1e-5)
        np.testing.assert_allclose(palette.simulate("#000000", deficiency), [0, 0, 0], atol=1e-12)
    assert palette.delta_e("#123456", "#123456") == 0.0
    assert palette.delta_e("#000000", "#ffffff") == pytest.approx(100.0, abs=1e-3)  # L* 0 -> 100


@given(st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFF))
def test_delta_e_is_a_symmetric_distance(a, b):
    ca, cb = f"#{a:06x}", f"#{b:06x}"
    assert palette.delta_e(ca, cb) == pytest.approx(palette.delta_e(cb, ca))
    assert palette.delta_e(ca, cb) >= 0.0


def test_classic_red_green_pairs_are_caught():
    assert palette.confusable("#d62728", "#2ca02c") == "deutan"  # matplotlib's tab:red / tab:green
    assert palette.confusable("red", "green") is not None
    assert palette.confusable("#ff7f0e", "#2ca02c") is not None  # tab:orange / tab:green
    assert palette.confusable("#d62728", "#1f77b4") is None  # red / blue is fine
    assert palette.confusable("#d62728", "#d62729") is None  # the same colour is not a "pair"


def test_the_palette_survives_every_red_green_deficiency():
    colors = [*palette.SERIES, palette.REFERENCE, palette.MUTED]
    for a, b in itertools.combinations(colors, 2):
        assert palette.confusable(a, b) is None, (a, b)
        assert palette.delta_e(a, b) >= palette.DISTINCT, (a, b)
    # the series also stay apart for tritanopes (blue-yellow), just less
    for a, b in itertools.combinations(palette.SERIES, 2):
        sa, sb = palette.simulate(a, "tritan"), palette.simulate(b, "tritan")
        assert palette.delta_e(sa, sb) >= 8.0, (a, b)


def test_to_rgb_forms_and_errors():
    np.testing.assert_allclose(palette.to_rgb("#fff"), [1, 1, 1])
    np.testing.assert_allclose(palette.to_rgb("rgb(255, 0, 0)"), [1, 0, 0])
    np.testing.assert_allclose(palette.to_rgb("Black"), [0, 0, 0])
    with pytest.raises(ValueError, match="color"):
        palette.to_rgb("not-a-colour")
    with pytest.raises(TypeError, match="color"):
        palette.to_rgb(3)
    with pytest.raises(ValueError, match="deficiency"):
        palette.simulate("#000000", "achromat")


def test_scales_put_the_reference_in_solid_black():
    color = palette.color_scale(["a", "truth", "b"], reference="truth").to_dict()
    assert color["range"] == [palette.SERIES[0], palette.REFERENCE, palette.SERIES[1]]
    dash = palette.dash_scale(["a", "truth", "b"], reference="truth").to_dict()
    assert dash["range"][1] == [1, 0] and [1, 0] not in (dash["range"][0], dash["range"][2])
    assert palette.shape_scale(list("abcdefgh")).to_dict()["range"][6] == palette.SHAPES[0]


def test_shared_charts_use_the_palette_and_a_second_cue():
    spec = metric_lines(facet=None).to_dict()
    enc = spec["encoding"]
    assert enc["color"]["scale"]["range"] == list(palette.SERIES)
    assert enc["strokeDash"]["field"] == enc["color"]["field"]  # runs differ by dash too
    data = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1.0, 2.0, 1.5, 2.5], "s": ["truth", "truth", "fit", "fit"]})
    chart = series_lines(data, x="x", y="y", series="s", reference="truth").to_dict()
    layer_enc = chart["encoding"] if "encoding" in chart else chart["layer"][0]["encoding"]
    assert layer_enc["color"]["scale"]["range"] == [palette.SERIES[0], palette.REFERENCE]
    assert layer_enc["strokeDash"]["field"] == "s"
