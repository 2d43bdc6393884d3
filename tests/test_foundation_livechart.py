"""toolkit.livechart: spec/row splitting, throttled and capped streaming, JSON-safe rows, and the
offline JavaScript bundle cache."""

import copy
import json
import math
import time

import altair as alt
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import toolkit.livechart as lc
from toolkit.charts import metric_lines
from toolkit.livechart import LiveChart, javascript_bundle, split_spec

DF = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})
LINE = alt.Chart(DF).mark_line().encode(x="x:Q", y="y:Q")


def _spec_changes(widget):
    changes = []
    widget.observe(lambda change: changes.append(change), names="spec")
    return changes


# -- split_spec -------------------------------------------------------------------------------------
def test_split_dataframe_chart():
    spec, rows, placeholder = split_spec(LINE)
    assert rows == DF.to_dict("records")
    assert spec["data"] == {"name": "data"} and "datasets" not in spec
    assert spec["mark"] == {"type": "line"} and not placeholder
    # the rows are gone from the spec: a new DataFrame of the same shape gives the same spec
    other = alt.Chart(DF.assign(y=DF.y * 10)).mark_line().encode(x="x:Q", y="y:Q")
    assert split_spec(other)[0] == spec


def test_split_empty_chart_is_a_placeholder():
    spec, rows, placeholder = split_spec(alt.Chart().mark_point().encode(x="a:Q"))
    assert placeholder and rows == [{}]
    assert spec["data"] == {"name": "data"} and "datasets" not in spec


def test_split_layered_chart_with_shared_data():
    spec, rows, placeholder = split_spec(LINE + LINE.mark_point())
    assert rows == DF.to_dict("records") and not placeholder
    assert spec["data"] == {"name": "data"}
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "point"]
    assert all("data" not in layer for layer in spec["layer"])


def test_split_layered_chart_with_own_data_keeps_the_layer_datasets():
    rule = alt.Chart(pd.DataFrame({"x": [2.5]})).mark_rule().encode(x="x:Q")
    spec, rows, _ = split_spec(LINE + rule)
    assert rows == []
    names = [layer["data"]["name"] for layer in spec["layer"]]
    assert all(name in spec["datasets"] for name in names)  # each layer still finds its data
    assert spec["datasets"][names[1]] == [{"x": 2.5}]


def test_split_dict_spec_with_inline_values_does_not_touch_the_input():
    original = {"mark": "point", "data": {"values": [{"a": 1}, {"a": 2}]}, "encoding": {"x": {"field": "a"}}}
    keep = copy.deepcopy(original)
    spec, rows, placeholder = split_spec(original)
    assert rows == [{"a": 1}, {"a": 2}] and not placeholder
    assert spec == {"mark": "point", "data": {"name": "data"}, "encoding": {"x": {"field": "a"}}}
    assert original == keep


@pytest.mark.parametrize(
    "chart", [alt.Chart("data/cars.csv").mark_point(), {"mark": "bar", "data": {"url": "x.json"}}]
)
def test_split_url_data_is_refused(chart):
    with pytest.raises(ValueError, match="inline"):
        split_spec(chart)


# -- LiveChart: construction and .chart -----------------------------------------------------------------
def test_livechart_takes_the_chart_rows_and_validates_options():
    w = LiveChart(LINE)
    assert w.data == DF.to_dict("records")
    assert w.spec == split_spec(LINE)[0]
    assert w.chart is w.spec
    assert LiveChart().rows == [] and LiveChart().spec == {}
    with pytest.raises(ValueError, match="max_rows"):
        LiveChart(max_rows=0)
    with pytest.raises(ValueError, match="min_interval"):
        LiveChart(min_interval=-1.0)
    with pytest.raises(ValueError, match="renderer"):
        LiveChart(renderer="webgl")
    assert LiveChart(renderer="canvas").renderer == "canvas"


def test_same_spec_new_data_does_not_re_embed():
    w = LiveChart(LINE)
    changes = _spec_changes(w)
    epoch = w.epoch
    w.chart = alt.Chart(DF.assign(y=-DF.y)).mark_line().encode(x="x:Q", y="y:Q")
    assert changes == []  # only rows changed: the front end keeps its view (no flicker, zoom kept)
    assert [r["y"] for r in w.data] == [-4.0, -5.0, -6.0]
    assert w.epoch == epoch + 1  # ... and is told to replace, not append
    w.chart = LINE.mark_point()
    assert len(changes) == 1 and w.spec["mark"] == {"type": "point"}


def test_placeholder_row_is_replaced_by_the_first_push():
    assert LiveChart(metric_lines()).data == []
    w = LiveChart(alt.Chart().mark_line().encode(x="step:Q", y="value:Q"), min_interval=0.0)
    assert w.data == [{}]
    w.push({"step": 1, "metric": "loss", "value": 0.5, "run": "a"})
    assert w.data == [{"step": 1, "metric": "loss", "value": 0.5, "run": "a"}]
    w.push({"step": 2, "metric": "loss", "value": 0.25, "run": "a"})
    assert [r["step"] for r in w.data] == [1, 2]


def test_first_push_into_an_empty_chart_is_not_held_back():
    with_data = LiveChart(alt.Chart(pd.DataFrame({"x": [0]})).mark_line().encode(x="x:Q"), min_interval=0.05)
    empty = LiveChart(alt.Chart().mark_line().encode(x="x:Q"), min_interval=0.05)
    time.sleep(0.1)  # longer than min_interval since either chart was drawn
    with_data.push({"x": 1})
    empty.push({"x": 1})
    assert [r["x"] for r in with_data.rows] == [0, 1]
    assert [r["x"] for r in empty.rows] == [1]


# -- push, throttle, flush, cap ------------------------------------------------------------------------------
def test_throttle_holds_rows_until_flush():
    w = LiveChart(min_interval=60.0)
    w.push({"i": 0})  # nothing drawn yet: the first rows go out at once
    assert [r["i"] for r in w.rows] == [0] and w.n_updates == 1
    for i in range(1, 6):
        w.push({"i": i})
    assert [r["i"] for r in w.rows] == [0] and w.n_updates == 1  # within min_interval: held back
    assert [r["i"] for r in w.data] == list(range(6))  # ... but nothing lost
    w.flush()
    assert [r["i"] for r in w.rows] == list(range(6)) and w.n_updates == 2
    w.flush()  # nothing pending: no redraw
    assert w.n_updates == 2
    w.set_rows([{"i": -1}])  # replacing rows is one immediate redraw, and restarts the interval
    w.push({"i": 7})
    assert w.data == [{"i": -1}, {"i": 7}] and [r["i"] for r in w.rows] == [-1] and w.n_updates == 3


def test_without_throttle_every_push_is_sent():
    w = LiveChart(min_interval=0.0)
    n0 = w.n_updates
    for i in range(4):
        w.push([{"i": i}, {"i": i + 0.5}])
        assert w.n_updates == n0 + i + 1 and len(w.rows) == 2 * (i + 1)


def test_throttle_sends_again_once_the_interval_has_passed():
    w = LiveChart(min_interval=0.05)
    w.push({"i": 0})
    time.sleep(0.06)
    w.push({"i": 1})
    assert [r["i"] for r in w.rows] == [0, 1]


@settings(max_examples=30, deadline=None)
@given(max_rows=st.integers(1, 20), batches=st.lists(st.integers(0, 15), max_size=8))
def test_cap_keeps_the_newest_rows(max_rows, batches):
    w = LiveChart(max_rows=max_rows, min_interval=0.0)
    sent = []
    for size in batches:
        rows = [{"n": len(sent) + k} for k in range(size)]
        sent += rows
        w.push(rows)
    assert w.data == sent[-max_rows:] if sent else w.data == []
    w.set_rows([{"n": k} for k in range(3 * max_rows)])
    assert w.data == [{"n": k} for k in range(2 * max_rows, 3 * max_rows)]


def test_cap_also_holds_while_throttled():
    w = LiveChart(max_rows=3, min_interval=60.0)
    for i in range(10):
        w.push({"i": i})
    assert w.data == [{"i": 7}, {"i": 8}, {"i": 9}]


@settings(max_examples=30, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["push", "push_many", "set_rows", "chart", "flush"]), st.integers(0, 4)),
        max_size=12,
    ),
    max_rows=st.integers(1, 6),
    interval=st.sampled_from([0.0, 60.0]),
)
def test_row_ids_strictly_increase(ops, max_rows, interval):
    w = LiveChart(max_rows=max_rows, min_interval=interval)
    seen, newest = set(), -1
    for op, k in ops:
        if op == "push":
            w.push({"v": k})
        elif op == "push_many":
            w.push([{"v": j, "_i": -5} for j in range(k)])  # a user "_i" column cannot break the ids
        elif op == "set_rows":
            w.set_rows([{"v": j} for j in range(k)])
        elif op == "chart":
            w.chart = alt.Chart(pd.DataFrame({"v": list(range(k))})).mark_point().encode(x="v:Q")
        else:
            w.flush()
        ids = [r["_i"] for r in w.rows]
        assert ids == sorted(set(ids)) and len(ids) <= max_rows
        fresh = [i for i in ids if i not in seen]
        # a row the front end has not seen always has a larger id than every earlier one (the
        # JS side appends rows with _i > lastId), even after set_rows / chart replacement
        assert all(i > newest for i in fresh)
        seen.update(ids)
        newest = max([newest, *ids])
    assert len(w.history) >= len(w.data) and w.data == w.history[-max_rows:]  # the kernel keeps every row


def test_ids_are_not_reused_after_replacing_rows():
    w = LiveChart(min_interval=0.0)
    w.push([{"a": 1}, {"a": 2}])
    first = {r["_i"] for r in w.rows}
    w.set_rows([{"a": 3}])
    w.push({"a": 4})
    later = [r["_i"] for r in w.rows]
    assert later == sorted(later) and not first & set(later) and min(later) > max(first)


# -- JSON-safe values ----------------------------------------------------------------------------------------
def test_values_become_plain_json():
    w = LiveChart(min_interval=0.0)
    w.push(
        {
            "np_int": np.int64(3),
            "np_uint": np.uint8(200),
            "np_float": np.float32(0.5),
            "np_bool": np.bool_(True),
            "t_float": torch.tensor(0.25),
            "t_int": torch.tensor(7),
            "t_grad": torch.tensor(1.5, requires_grad=True),
            "zero_d": np.array(2.0),
            "nan": math.nan,
            "inf": np.float64(-np.inf),
            "t_nan": torch.tensor(float("nan")),
            "text": "run-a",
            "none": None,
            "flag": False,
            3: "int key",
        }
    )
    (row,) = w.data
    expected = {
        "np_int": 3,
        "np_uint": 200,
        "np_float": 0.5,
        "np_bool": True,
        "t_float": 0.25,
        "t_int": 7,
        "t_grad": 1.5,
        "zero_d": 2.0,
        "nan": None,
        "inf": None,
        "t_nan": None,
        "text": "run-a",
        "none": None,
        "flag": False,
        "3": "int key",
    }
    assert row == expected
    assert {k: type(v) for k, v in row.items()} == {k: type(v) for k, v in expected.items()}
    json.dumps(w.rows, allow_nan=False)  # strict JSON: what the front end receives


def test_push_rejects_non_dict_rows():
    w = LiveChart(min_interval=0.0)
    with pytest.raises(TypeError, match="dict"):
        w.push([("step", 1)])
    with pytest.raises(TypeError, match="dict"):
        w.set_rows([1, 2])


# -- the JavaScript bundle ----------------------------------------------------------------------------------
def test_real_bundle_is_an_offline_es_module_with_the_render_function(monkeypatch):
    import vl_convert

    js = javascript_bundle()
    assert "function render(" in js and "gl-livechart" in js and "glRedraws" in js  # livechart.js inside
    assert ".vega-embed" in js and "changeset" in js  # vega-embed and vega are bundled, not fetched
    assert "as default" in js.rsplit("export", 1)[-1]
    assert "cdn.jsdelivr" not in js and "import(" not in js.replace("import()", "")

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the bundle was rebuilt although it is cached on disk")

    monkeypatch.setattr(vl_convert, "javascript_bundle", no_rebuild)
    assert javascript_bundle() == js
    assert LiveChart()._esm == js


def test_bundle_cache_builds_once_per_source_and_survives_a_read_only_cache(tmp_path, monkeypatch):
    """The cache logic, with vl-convert's (slow, ~3-20 s) builder replaced by a counting stand-in."""
    import vl_convert

    builds = []

    def fake_build(source, vl_version=None):
        builds.append(source)
        return f"/*bundle {vl_version}*/{source}"

    source = tmp_path / "livechart.js"
    source.write_text("function render() {}\nexport default { render };\n")
    monkeypatch.setattr(lc, "_JS_SOURCE", source)
    monkeypatch.setattr(vl_convert, "javascript_bundle", fake_build)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    first = javascript_bundle()
    assert first.endswith(source.read_text()) and len(builds) == 1
    (cached,) = (tmp_path / "cache" / "gradient-lab").iterdir()
    assert cached.read_text() == first
    assert javascript_bundle() == first and len(builds) == 1  # second call: from disk

    source.write_text("function render() { /* v2 */ }\nexport default { render };\n")
    second = javascript_bundle()
    assert "v2" in second and len(builds) == 2  # a changed livechart.js is rebuilt, never stale

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # a cache "folder" that cannot be created
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert "v2" in javascript_bundle() and len(builds) == 3
