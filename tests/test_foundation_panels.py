"""toolkit.panels: when render runs, what it shows, how errors surface, and shareable states."""

import base64

import altair as alt
import ipywidgets as widgets
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.livechart import LiveChart
from toolkit.panels import Panel, decode_state, dropdown, encode_state, log_slider, slider, toggle


def _chart(x):
    return alt.Chart(pd.DataFrame({"x": [x], "y": [x * x]})).mark_point().encode(x="x:Q", y="y:Q")


class Recorder:
    """A render function that remembers its calls and returns (chart, text)."""

    def __init__(self):
        self.calls = []

    def __call__(self, n, rate, mode):
        self.calls.append({"n": n, "rate": rate, "mode": mode})
        return _chart(n * rate), f"n={n} rate={rate:.2f} mode={mode}"


def _controls():
    return {
        "n": slider("n", 3, 1, 10),
        "rate": slider("rate", 0.5, 0.0, 1.0, 0.1),
        "mode": dropdown("mode", ["sgd", "adam"]),
    }


# -- rendering ----------------------------------------------------------------------------------------
def test_live_panel_renders_at_construction_and_on_each_change():
    render = Recorder()
    panel = Panel(_controls(), render, title="demo")
    assert render.calls == [{"n": 3, "rate": 0.5, "mode": "sgd"}]
    assert panel.readout.value == "n=3 rate=0.50 mode=sgd"
    assert panel.chart.data == [{"x": 1.5, "y": 2.25}]
    assert panel.last_error is None and panel.button is None
    panel.controls["n"].value = 7
    panel.controls["mode"].value = "adam"
    assert render.calls[1:] == [{"n": 7, "rate": 0.5, "mode": "sgd"}, {"n": 7, "rate": 0.5, "mode": "adam"}]
    assert panel.readout.value == "n=7 rate=0.50 mode=adam"
    assert panel.chart.data == [{"x": 3.5, "y": 12.25}]
    assert panel.values == {"n": 7, "rate": 0.5, "mode": "adam"}
    assert isinstance(panel.result, tuple) and panel.result[1] == panel.readout.value


def test_button_panel_renders_only_on_click():
    render = Recorder()
    panel = Panel(_controls(), render, button="Train")
    assert render.calls == [] and panel.result is None and panel.readout.value == ""
    panel.controls["n"].value = 9
    assert render.calls == []
    panel.button.click()
    assert render.calls == [{"n": 9, "rate": 0.5, "mode": "sgd"}]
    assert panel.readout.value.startswith("n=9") and not panel.button.disabled
    assert panel.button.description == "Train"


def test_panel_css_hooks_and_layout():
    live = Panel(_controls(), Recorder(), title="<Fit & see>")
    button = Panel(_controls(), Recorder(), button="Go")
    assert {"gl-panel", "gl-panel-live"} <= set(live.widget._dom_classes)
    assert {"gl-panel", "gl-panel-button"} <= set(button.widget._dom_classes)
    assert live.widget.children[0].value == "<b>&lt;Fit &amp; see&gt;</b>"  # the title is escaped
    assert live.chart in live.widget.children and live.readout in live.widget.children


@pytest.mark.parametrize(
    "returned, chart_rows, text",
    [
        ("just <b>text</b>", [], "just <b>text</b>"),
        (None, [], ""),
        ((None, "only text"), [], "only text"),
        ((_chart(2), None), [{"x": 2, "y": 4}], ""),
        (_chart(3), [{"x": 3, "y": 9}], ""),
    ],
)
def test_what_render_returns_is_shown(returned, chart_rows, text):
    panel = Panel({"a": slider("a", 1, 0, 2)}, lambda a: returned)
    assert panel.chart.data == chart_rows and panel.readout.value == text
    assert panel.result is returned


def test_render_that_asks_for_live_streams_into_the_panel_chart():
    received = []

    def train(steps, live):
        received.append(live)
        live.set_rows([])
        for s in range(steps):
            live.push({"step": s, "value": 1.0 / (s + 1)})
        live.flush()
        return f"{steps} steps"

    panel = Panel({"steps": slider("steps", 4, 1, 10)}, train, button="Train")
    panel.button.click()
    assert received == [panel.chart] and isinstance(received[0], LiveChart)
    assert [r["step"] for r in panel.chart.data] == [0, 1, 2, 3]
    assert panel.readout.value == "4 steps"


def test_a_given_chart_widget_is_used():
    mine = LiveChart(min_interval=0.0)
    panel = Panel({"a": slider("a", 1, 0, 2)}, lambda a: _chart(a), chart=mine)
    assert panel.chart is mine and mine.data == [{"x": 1, "y": 1}]


# -- errors ---------------------------------------------------------------------------------------------
def _fragile(x):
    if x == 3:
        raise ZeroDivisionError("x=3 <is> not allowed")
    return _chart(x)


def test_render_error_is_caught_and_shown():
    panel = Panel({"x": slider("x", 1, 0, 5)}, _fragile)
    good = panel.result
    panel.controls["x"].value = 3  # must not raise out of the widget callback
    assert isinstance(panel.last_error, ZeroDivisionError)
    assert "ZeroDivisionError" in panel.readout.value
    assert "x=3 &lt;is&gt; not allowed" in panel.readout.value  # escaped, not injected as HTML
    assert panel.result is good and panel.chart.data == [{"x": 1, "y": 1}]  # the last good view stays
    assert not Panel({"x": slider("x", 3, 0, 5)}, _fragile, button="Run").button.disabled
    panel.controls["x"].value = 2
    assert panel.last_error is None and panel.chart.data == [{"x": 2, "y": 4}]


def test_button_is_re_enabled_after_an_error():
    panel = Panel({"x": slider("x", 3, 0, 5)}, _fragile, button="Run")
    panel.button.click()
    assert isinstance(panel.last_error, ZeroDivisionError) and not panel.button.disabled


def test_error_message_is_cleared_once_render_works_again():
    panel = Panel({"x": slider("x", 1, 0, 5)}, _fragile)
    panel.controls["x"].value = 3
    panel.controls["x"].value = 2
    assert panel.last_error is None
    assert "ZeroDivisionError" not in panel.readout.value


@pytest.mark.parametrize(
    "bad", [alt.Chart("data/cars.csv").mark_point(), ("a", "b", "c")], ids=["url-data", "3-tuple"]
)
def test_a_result_that_cannot_be_shown_is_reported_like_an_error(bad):
    panel = Panel({"x": slider("x", 1, 0, 5)}, lambda x: bad if x == 3 else _chart(x))
    panel.controls["x"].value = 3  # must not raise out of the callback
    assert isinstance(panel.last_error, ValueError)
    assert "ValueError" in panel.readout.value


def test_constructor_validates():
    with pytest.raises(TypeError, match="render"):
        Panel({"a": slider("a", 1, 0, 2)}, "not callable")
    with pytest.raises(TypeError, match="controls\\['b'\\]"):
        Panel({"b": widgets.Button()}, lambda b: None)


# -- shareable states -----------------------------------------------------------------------------------
def test_state_round_trip_restores_controls_and_renders_once():
    render = Recorder()
    panel = Panel(_controls(), render, key="fit")
    panel.controls["n"].value = 8
    panel.controls["rate"].value = 0.3
    panel.controls["mode"].value = "adam"
    state = panel.state()
    assert state.startswith("fit:") and " " not in state

    fresh_render = Recorder()
    fresh = Panel(_controls(), fresh_render, key="fit")
    fresh.load_state(state)
    assert fresh.values == panel.values
    assert len(fresh_render.calls) == 2  # construction + exactly one render for the whole state
    assert fresh.readout.value == panel.readout.value


def test_state_of_a_button_panel_does_not_train():
    render = Recorder()
    panel = Panel(_controls(), render, button="Train", key="t")
    panel.load_state(encode_state("t", {"n": 5}))
    assert panel.values["n"] == 5 and render.calls == []


def test_state_covers_toggles_log_sliders_and_range_sliders():
    controls = {
        "on": toggle("on"),
        "lr": log_slider("lr", 0.01, 1e-4, 1.0),
        "window": widgets.IntRangeSlider(value=(2, 5), min=0, max=10),
    }
    panel = Panel(controls, lambda on, lr, window: f"{on} {lr} {window}", key="k")
    panel.controls["on"].value = True
    panel.controls["window"].value = (1, 9)
    other = Panel(
        {
            "on": toggle("on"),
            "lr": log_slider("lr", 0.5, 1e-4, 1.0),
            "window": widgets.IntRangeSlider(value=(2, 5), min=0, max=10),
        },
        lambda on, lr, window: f"{on} {lr} {window}",
        key="k",
    )
    other.load_state(panel.state())
    assert other.values == panel.values and other.readout.value == panel.readout.value


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)


@settings(max_examples=50, deadline=None)
@given(
    key=st.text(min_size=1, max_size=12).filter(lambda k: ":" not in k),
    values=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
)
def test_encode_decode_round_trip(key, values):
    state = encode_state(key, values)
    assert decode_state(state, key) == values
    assert decode_state(state) == values
    assert state.split(":", 1)[1].replace("-", "").replace("_", "").isalnum() or not values


def test_state_round_trip_with_a_colon_in_the_key():
    panel = Panel({"x": slider("x", 1, 0, 5)}, lambda x: str(x), key="tracking:lambda")
    panel.controls["x"].value = 4
    state = panel.state()
    panel.controls["x"].value = 0
    panel.load_state(state)
    assert panel.values == {"x": 4}


@pytest.mark.parametrize(
    "state, match",
    [
        (encode_state("other", {"n": 4}), "'other'.*'fit'"),
        ("fit:!!!not base64 json!!!", "damaged"),
        ("fit:" + base64.urlsafe_b64encode(b"[1, 2]").decode(), "dict"),
        ("no separator", "panel-key"),
        (encode_state("fit", {"n": 4, "momentum": 0.9}), "momentum"),
    ],
    ids=["wrong-key", "damaged", "not-a-dict", "no-colon", "unknown-control"],
)
def test_bad_states_raise_value_error_naming_the_problem(state, match):
    render = Recorder()
    panel = Panel(_controls(), render, key="fit")
    before = panel.values
    with pytest.raises(ValueError, match=match):
        panel.load_state(state)
    assert panel.values == before and len(render.calls) == 1


def test_load_state_rejects_non_strings():
    panel = Panel(_controls(), Recorder(), key="fit")
    with pytest.raises(ValueError):
        panel.load_state(None)


def test_invalid_value_in_state_changes_nothing():
    render = Recorder()
    panel = Panel(
        {
            "a_n": slider("n", 3, 1, 10),
            "rate": slider("rate", 0.5, 0.0, 1.0, 0.1),
            "z_mode": dropdown("mode", ["sgd", "adam"]),
        },
        lambda a_n, rate, z_mode: render(a_n, rate, z_mode),
        key="fit",
    )
    with pytest.raises(ValueError, match="z_mode"):
        panel.load_state(encode_state("fit", {"a_n": 9, "z_mode": "rmsprop"}))
    assert panel.values == {"a_n": 3, "rate": 0.5, "z_mode": "sgd"}


# -- control helpers --------------------------------------------------------------------------------------
def test_control_helpers():
    assert isinstance(slider("n", 3, 1, 10), widgets.IntSlider)
    f = slider("t", 0.5, 0, 1)
    assert isinstance(f, widgets.FloatSlider) and f.step == pytest.approx(0.01)
    assert not f.continuous_update  # heavy renders run on release, not on every pixel
    lg = log_slider("lr", 0.01, 1e-4, 1.0)
    assert lg.min == pytest.approx(-4) and lg.max == pytest.approx(0) and lg.value == pytest.approx(0.01)
    assert dropdown("m", ("a", "b")).value == "a" and dropdown("m", ["a", "b"], "b").value == "b"
    assert toggle("on").value is False
