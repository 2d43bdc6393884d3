"""toolkit.a11y: chart descriptions made from the data, named controls, the panel's helper widget."""

import altair as alt
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolkit.a11y import PanelA11y, describe, name_controls
from toolkit.charts import metric_lines, show
from toolkit.panels import Panel, dropdown, slider


def _loss(n=200, start=2.3, end=0.4, run="a"):
    return pd.DataFrame({"step": np.arange(1, n + 1), "loss": np.linspace(start, end, n), "run": run})


def test_description_says_what_the_data_do():
    chart = alt.Chart(_loss()).mark_line().encode(x="step:Q", y="loss:Q")
    assert describe(chart) == "loss against step. loss falls from 2.3 to 0.4 as step goes from 1 to 200."
    up = (
        alt.Chart(_loss(start=0.1, end=0.9))
        .mark_line()
        .encode(x="step:Q", y=alt.Y("loss:Q", title="accuracy"))
    )
    assert "accuracy rises from 0.1 to 0.9" in describe(up)


def test_series_titles_and_limits():
    data = pd.concat([_loss(run=f"run {k}", end=0.1 * (k + 1)) for k in range(6)])
    chart = (
        alt.Chart(data).mark_line().encode(x="step:Q", y="loss:Q", color="run:N").properties(title="Training")
    )
    text = describe(chart, max_series=2)
    assert text.startswith("Training: 6 series of loss against step.")
    assert "run 0: loss falls from 2.3 to 0.1" in text and "run 1: loss falls from 2.3 to 0.2" in text
    assert "run 2" not in text and "and 4 more series" in text


def test_flat_and_wavy_series():
    x = np.linspace(0, 1, 101)
    flat = alt.Chart(pd.DataFrame({"x": x, "y": 5.0})).mark_line().encode(x="x:Q", y="y:Q")
    assert "y stays near 5" in describe(flat)
    wave = alt.Chart(pd.DataFrame({"x": x, "y": np.sin(2 * np.pi * x)})).mark_line().encode(x="x:Q", y="y:Q")
    assert "ranging from -1 to 1" in describe(wave)


def test_rows_from_a_live_chart_and_empty_charts():
    live = show(metric_lines(facet=None))
    assert "no data yet" in describe(live.spec, live.data)
    live.push([{"step": s, "metric": "loss", "value": 1.0 / s, "run": "mlp"} for s in range(1, 11)])
    assert describe(live.spec, live.data).endswith(
        "mlp: value falls from 1 to 0.1 as step goes from 1 to 10."
    )


def test_layers_with_their_own_data_and_no_xy_chart():
    points = alt.Chart(pd.DataFrame({"x": [0, 1], "y": [3, 1]})).mark_point().encode(x="x:Q", y="y:Q")
    assert describe(alt.layer(points, points)) == "y against x. y falls from 3 to 1 as x goes from 0 to 1."
    heat = alt.Chart(pd.DataFrame({"a": ["p", "q"], "v": [1, 2]})).mark_rect().encode(x="a:N", color="v:Q")
    assert describe(heat) == "heatmap of v in 2 cells: values from 1 to 2."
    grid = pd.DataFrame({"i": [0, 0, 1, 1], "j": [0, 1, 0, 1], "v": [0.5, 1.0, 1.5, 2.0]})
    assert describe(alt.Chart(grid).mark_rect().encode(x="i:O", y="j:O", color="v:Q")) == (
        "heatmap of v on a 2 by 2 grid: values from 0.5 to 2."
    )
    text = alt.Chart(pd.DataFrame({"a": ["p", "q"]})).mark_text().encode(text="a:N")
    assert describe(text) == "chart of 2 data points (a)."


@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=30))
def test_describe_never_fails_and_names_the_ends(points):
    rows = [{"x": a, "y": b} for a, b in points]
    spec = {
        "mark": "line",
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
        },
    }
    text = describe(spec, rows)
    assert text.startswith("y against x.") and text.endswith(".")


def test_bad_arguments():
    with pytest.raises(TypeError, match="chart"):
        describe(3)
    with pytest.raises(ValueError, match="max_series"):
        describe({"mark": "line"}, [], max_series=0)


def test_layered_charts_read_their_named_datasets_and_measured_colours_are_not_series():
    x = np.linspace(0, 1, 5)
    points = (
        alt.Chart(pd.DataFrame({"x": x, "y": 2 * x, "speed": x}))
        .mark_point()
        .encode(x="x:Q", y="y:Q", color="speed:Q")
    )
    line = alt.Chart(pd.DataFrame({"x": x, "y": 3 * x})).mark_line().encode(x="x:Q", y="y:Q")
    spec = alt.layer(points, line).to_dict()
    assert "datasets" in spec and "values" not in str(spec.get("data"))  # Altair's layered layout
    # the line first (a trajectory over its backdrop), then the points; the colour "speed" is a measurement
    assert describe(spec) == (
        "y against x. y rises from 0 to 3 as x goes from 0 to 1; y rises from 0 to 2 as x goes from 0 to 1."
    )
    many = pd.DataFrame(
        {"x": np.tile(x, 30), "y": np.repeat(np.arange(30.0), 5), "k": np.repeat(np.arange(30), 5)}
    )
    envelope = describe(alt.Chart(many).mark_line().encode(x="x:Q", y="y:Q", detail="k:N"))
    assert envelope == "30 series of y against x. all series: y from 0 to 29 as x goes from 0 to 1."


def test_filtered_layers_describe_only_their_rows():
    rows = [
        {"epoch": e, "metric": m, "value": v, "rule": "bp"}
        for e in range(3)
        for m, v in (("test accuracy", 0.5 + 0.1 * e), ("loss", 2.0 - 0.5 * e))
    ]
    base = (
        alt.Chart(pd.DataFrame(rows))
        .mark_line()
        .encode(x="epoch:Q", y=alt.Y("value:Q", title="accuracy"), color="rule:N")
    )
    acc = base.transform_filter(alt.datum.metric == "test accuracy")
    assert describe(acc).endswith("bp: accuracy rises from 0.5 to 0.7 as epoch goes from 0 to 2.")
    loss = base.transform_filter(~(alt.datum.metric == "test accuracy"))
    assert "bp: accuracy falls from 2 to 1" in describe(loss)
    odd = base.transform_filter("datum.value > 1")  # not followed: no description from the wrong rows
    assert describe(odd) == "chart of 6 data points (epoch, rule, value)."


def test_concatenated_layer_charts_inherit_data_and_titles():
    data = pd.DataFrame({"z": [0.0, 10.0, 20.0], "u": [1.0, 2.0, 4.0], "w": [5.0, 3.0, 1.0]})
    base = alt.Chart(data)
    left = alt.layer(
        base.mark_point().encode(x=alt.X("z:Q", title="z (mm)"), y=alt.Y("u:Q", title="x (mm)")),
        base.mark_line().encode(x="z:Q", y="u:Q"),
    )
    right = base.mark_line().encode(
        x=alt.X("z:Q", title="z (mm)"), y=alt.Y("w:Q", axis=alt.Axis(title="y (mm)"))
    )
    assert describe(left | right) == (
        "x (mm) against z (mm). x (mm) rises from 1 to 4 as z (mm) goes from 0 to 20; "
        "y (mm) against z (mm): y (mm) falls from 5 to 1 as z (mm) goes from 0 to 20."
    )


def test_every_panel_names_its_controls_and_describes_its_chart():
    def render(n, kind):
        data = pd.DataFrame({"x": np.arange(n), "y": np.arange(n) * (1.0 if kind == "up" else -1.0)})
        return alt.Chart(data).mark_line().encode(x="x:Q", y="y:Q")

    unnamed = slider("", 5, 2, 10)
    panel = Panel({"n": unnamed, "kind": dropdown("direction", ["up", "down"])}, render)
    assert unnamed.tooltip == "n"  # a control without a description is announced by its key
    helpers = [w for w in panel.widget.children[-3].children if isinstance(w, PanelA11y)]
    assert helpers == [panel.a11y]
    assert panel.a11y.description == "y against x. y rises from 0 to 4 as x goes from 0 to 4."
    panel.controls["kind"].value = "down"
    assert "y falls from 0 to -4" in panel.a11y.description


def test_name_controls_keeps_existing_names():
    named = slider("speed", 1, 0, 2)
    name_controls({"v": named})
    assert named.tooltip in (None, "")


def test_show_gives_a_description_and_keeps_an_authors_own():
    chart = alt.Chart(_loss()).mark_line().encode(x="step:Q", y="loss:Q")
    assert show(chart).spec["description"].startswith("loss against step.")
    assert show(chart.properties(description="mine")).spec["description"] == "mine"
