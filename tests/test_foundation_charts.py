"""toolkit.charts: show() and metric_lines() build LiveCharts, save_chart() exports offline and atomically."""

import json
import os
import struct

import altair as alt
import pandas as pd
import pytest

from toolkit.charts import EXPORT_FORMATS, metric_lines, save_chart, show
from toolkit.livechart import LiveChart

DF = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})
POINTS = alt.Chart(DF).mark_point().encode(x="x:Q", y="y:Q").properties(width=120, height=90)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == PNG_MAGIC and raw[12:16] == b"IHDR"
    return struct.unpack(">II", raw[16:24])


def test_png_export_and_scale(tmp_path):
    path = save_chart(POINTS, tmp_path / "deep" / "fig.png", scale=1.0)
    assert path == tmp_path / "deep" / "fig.png"
    w1, h1 = _png_size(path)
    w2, h2 = _png_size(save_chart(POINTS, tmp_path / "fig2.PNG", scale=2.0))  # suffix case does not matter
    assert (w2, h2) == (2 * w1, 2 * h1)
    assert w1 > 120 and h1 > 90  # the plot area plus axes


def test_svg_export(tmp_path):
    text = save_chart(POINTS, tmp_path / "fig.svg").read_text()
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert ">x</text>" in text and ">y</text>" in text  # axis titles from the encoding


def test_html_export_is_standalone(tmp_path):
    text = save_chart(POINTS, tmp_path / "fig.html").read_text()
    assert "<html" in text.lower()
    assert 'src="http' not in text and "cdn.jsdelivr" not in text  # opens offline
    assert '"y":6' in text.replace(" ", "") or '"y":6.0' in text.replace(" ", "")


def test_json_export_is_the_vega_lite_spec(tmp_path):
    path = save_chart(POINTS, tmp_path / "fig.json")
    assert json.loads(path.read_text()) == POINTS.to_dict()
    spec = {
        "mark": "bar",
        "data": {"values": [{"a": 1}]},
        "encoding": {"x": {"field": "a", "type": "quantitative"}},
    }
    assert json.loads(save_chart(spec, tmp_path / "d.json").read_text()) == spec


def test_livechart_exports_its_current_rows_including_held_ones(tmp_path):
    live = show(metric_lines(), min_interval=60.0)
    assert isinstance(live, LiveChart) and live.data == []
    rows = [{"step": s, "metric": "loss", "value": 1.0 / s, "run": "a"} for s in range(1, 6)]
    live.push(rows[:1])
    live.push(rows[1:])  # held back by the throttle
    spec = json.loads(save_chart(live, tmp_path / "live.json").read_text())
    assert spec["data"] == {"values": rows}
    assert "_i" not in json.dumps(spec)
    assert spec["facet"] == live.spec["facet"]
    _png_size(save_chart(live, tmp_path / "live.png", scale=1.0))


def test_livechart_export_keeps_rows_the_cap_hides(tmp_path):
    live = show(metric_lines(), max_rows=3, min_interval=0.0)
    rows = [{"step": s, "metric": "loss", "value": 1.0 / s, "run": "a"} for s in range(1, 9)]
    for row in rows:
        live.push([row])
    assert live.data == rows[-3:] and live.history == rows
    assert json.loads(save_chart(live, tmp_path / "all.json").read_text())["data"] == {"values": rows}
    shown = json.loads(save_chart(live, tmp_path / "shown.json", rows="shown").read_text())
    assert shown["data"] == {"values": rows[-3:]}
    with pytest.raises(ValueError, match="rows must be one of 'all', 'shown'"):
        save_chart(live, tmp_path / "x.json", rows="newest")


@pytest.mark.parametrize("name", ["fig.pdf", "fig", "fig.jpeg", "fig.png.bak"])
def test_bad_suffix_is_a_value_error_listing_the_formats(tmp_path, name):
    with pytest.raises(ValueError) as info:
        save_chart(POINTS, tmp_path / name)
    assert all(fmt in str(info.value) for fmt in EXPORT_FORMATS)
    assert os.listdir(tmp_path) == []


def test_bad_scale_and_bad_chart(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        save_chart(POINTS, tmp_path / "a.png", scale=0.0)
    with pytest.raises(TypeError, match="chart"):
        save_chart([1, 2, 3], tmp_path / "a.png")
    assert os.listdir(tmp_path) == []


def test_failed_render_keeps_the_previous_file(tmp_path):
    path = save_chart(POINTS, tmp_path / "fig.svg")
    before = path.read_bytes()
    with pytest.raises(ValueError, match="conversion failed"):
        save_chart({"mark": "no-such-mark", "data": {"values": [{"a": 1}]}}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["fig.svg"]


def test_metric_lines_shape():
    faceted = metric_lines("losses", log_y=True).to_dict()
    assert faceted["facet"]["column"]["field"] == "metric"
    assert faceted["spec"]["encoding"]["y"]["scale"] == {"type": "log"}
    assert faceted["title"] == "losses"
    plain = metric_lines(facet=None, x="epoch", color="rule").to_dict()
    assert "facet" not in plain and plain["encoding"]["x"]["field"] == "epoch"
    assert plain["encoding"]["color"]["field"] == "rule"


def test_show_forwards_options():
    w = show(POINTS, max_rows=2, renderer="canvas")
    assert w.data == DF.to_dict("records")[-2:] and w.renderer == "canvas"
