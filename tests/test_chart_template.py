"""toolkit.chart_template: a figure built once per look, refilled with rows, draws what Altair draws.

The oracle is vl-convert: the template's spec and the Altair chart built from the same rows must give
the same SVG, byte for byte, for flat layers, layers whose data Altair lifts to the top, nested
concatenations, and the three panels that use a template (chain portrait, surrogate alignment, fan).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from toolkit.chart_template import SLOT, ChartTemplate, ReadySpec, records
from toolkit.livechart import LiveChart


def _svg(chart) -> str:
    return vlc.vegalite_to_svg(chart.to_dict())


def _on_screen(panel) -> dict:
    """What the panel's LiveChart draws: its spec with the rows it streams as the named dataset."""
    return dict(panel.chart.spec, datasets={"data": panel.chart.rows})


def _layers(a: pd.DataFrame, b: pd.DataFrame, *, title: str = "t") -> alt.LayerChart:
    shared = alt.Chart(a)  # two layers on one dataset: Altair lifts it to the top
    return (
        shared.mark_line().encode(x="x:Q", y="y:Q")
        + shared.mark_point().encode(x="x:Q", y="y:Q")
        + alt.Chart(b).mark_rule(color="red").encode(x="x:Q")
    ).properties(title=title)


def _nested(a: pd.DataFrame, b: pd.DataFrame, c: pd.DataFrame) -> alt.HConcatChart:
    left = alt.Chart(a).mark_line().encode(x="x:Q", y="y:Q") + alt.Chart(b).mark_rule().encode(x="x:Q")
    right = alt.vconcat(alt.Chart(c).mark_bar().encode(x="k:N", y="y:Q"), left)
    return alt.hconcat(left, right)


def _frames(seed: int):
    rng = np.random.default_rng(seed)
    a = pd.DataFrame({"x": np.arange(12.0), "y": rng.normal(size=12)})
    b = pd.DataFrame({"x": [float(rng.uniform(0, 11))]})
    c = pd.DataFrame({"k": list("pqr"), "y": rng.uniform(size=3)})
    return a, b, c


def test_layers_with_lifted_data_draw_the_same_svg_on_every_refill():
    template = ChartTemplate(_layers)
    for seed in range(3):
        a, b, _ = _frames(seed)
        assert _svg(template("look", a, b)) == _svg(_layers(a, b))
    assert template.builds in (1, 3)  # once per look; every call under GRADIENT_LAB_STRICT=1


def test_temporal_and_categorical_columns_draw_the_same_svg():
    def timeline(series: pd.DataFrame, marks: pd.DataFrame) -> alt.LayerChart:
        line = alt.Chart(series).mark_line().encode(x="t:T", y="v:Q", color="k:N")
        return line + alt.Chart(marks).mark_rule().encode(x="t:T")

    template = ChartTemplate(timeline)
    for hours in (6, 9):
        t = pd.date_range("2026-06-01", periods=hours, freq="h")
        series = pd.DataFrame(
            {
                "t": t,
                "v": np.arange(hours) ** 0.5,
                "k": pd.Categorical(["a", "b"] * (hours // 2) + ["a"] * (hours % 2)),
            }
        )
        marks = pd.DataFrame({"t": t[:1]})
        assert _svg(template("look", series, marks)) == _svg(timeline(series, marks))


def test_nested_concatenations_draw_the_same_svg():
    # build gets the datasets in depth-first order: left (a, b), then right: bar (c), then left again
    template = ChartTemplate(lambda a, b, c, _a, _b: _nested(a, b, c))
    for seed in range(2):
        a, b, c = _frames(seed)
        assert _svg(template("look", a, b, c, a, b)) == _svg(_nested(a, b, c))


def test_rows_are_one_named_dataset_that_livechart_streams():
    a, b, _ = _frames(0)
    spec = ChartTemplate(_layers)("look", a, b).to_dict()
    rows = spec["datasets"]["data"]
    assert [r[SLOT] for r in rows] == [0] * len(a) + [1] * len(b)
    chart = LiveChart(ChartTemplate(_layers)("look", a, b))
    assert len(chart.rows) == len(a) + len(b) and "datasets" not in chart.spec  # rows travel as rows


def test_outside_strict_mode_the_figure_is_built_once_per_key(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)
    template = ChartTemplate(_layers)
    for seed in range(4):
        a, b, _ = _frames(seed)
        template(("look", 1), a, b, title="one")
    template(("look", 2), a, b, title="two")
    assert template.builds == 2


def test_strict_mode_catches_a_look_missing_from_the_key(monkeypatch):
    monkeypatch.setenv("GRADIENT_LAB_STRICT", "1")
    template = ChartTemplate(_layers)
    a, b, _ = _frames(0)
    template("same key", a, b, title="first")
    with pytest.raises(AssertionError, match="key"):
        template("same key", a, b, title="second")


def test_slots_in_the_wrong_order_or_number_are_refused():
    a, b, _ = _frames(0)

    def swapped(rule, line):  # draws the line's dataset first: its datasets are (line, rule)
        return _layers(line, rule)

    with pytest.raises(ValueError, match="depth-first"):
        ChartTemplate(swapped)("look", b, a)
    with pytest.raises(ValueError, match="depth-first"):
        ChartTemplate(lambda a, _a, b: _layers(a, b))("look", a, a, b)  # a lifted dataset is one slot


def test_records_and_bad_input():
    frame = pd.DataFrame({"x": [1.0, np.nan], "s": ["a", "b"]})
    assert records(frame) == [{"x": 1.0, "s": "a"}, {"x": None, "s": "b"}]
    when = pd.DataFrame(
        {"t": pd.date_range("2026-01-01", periods=2, freq="h"), "k": pd.Categorical(["p", "q"])}
    )
    assert records(when) == [{"t": "2026-01-01T00:00:00", "k": "p"}, {"t": "2026-01-01T01:00:00", "k": "q"}]
    assert records([{"x": 1}]) == [{"x": 1}]
    for bad in ("rows", [1, 2], None, 3.0):
        with pytest.raises(TypeError, match="rows must be"):
            records(bad)
    with pytest.raises(TypeError, match="build must be callable"):
        ChartTemplate(None)
    with pytest.raises(TypeError, match="key must be hashable"):
        ChartTemplate(_layers)(["unhashable"], *_frames(0)[:2])
    with pytest.raises(TypeError, match="spec must be"):
        ReadySpec([])


def test_chain_panel_draws_what_phase_portrait_draws():
    from toolkit.feedback import widgets

    panel = widgets.chain_panel()
    for model, w1 in (("linear", 0.8), ("tanh", -0.4), ("linear", 1.5)):
        panel.controls["model"].value = model
        panel.controls["w1"].value = w1
        assert panel.last_error is None
        v = panel.values
        spec = _on_screen(panel)
        ref, _ = widgets.phase_portrait(
            v["w1"], v["w2"], model=model, rule=v["rule"], b=v["b"], derivative=v["derivative"]
        )
        assert vlc.vegalite_to_svg(spec) == _svg(ref)


def test_alignment_panel_draws_what_alignment_chart_draws():
    from toolkit import sidebyside

    def curve(factors, seed=0):
        f = np.asarray(factors, dtype=float)
        return pd.DataFrame({"factor": f, "cosine": np.cos(f + seed), "cost": f**2})

    s = sidebyside.Surrogate("toy", "μ", curve, (0.0, 0.5, 1.0), 0.5, "cost", "cost")
    panel = sidebyside.alignment_panel([s, s])
    for value in (0.0, 1.0):
        panel.controls["f1"].value = value
        spec = _on_screen(panel)
        charts = [
            sidebyside.alignment_chart(
                curve(list(s.grid)), title="toy", factor="μ", extra="cost", extra_title="cost", marker=m
            )
            for m in (0.5, value)
        ]
        assert vlc.vegalite_to_svg(spec) == _svg(alt.hconcat(*charts))
