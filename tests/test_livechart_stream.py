"""toolkit.livechart streams deltas: what goes over the wire per push, and a model of the front end's
row store (toolkit/livechart.js) that must end up with exactly the kernel's rows whatever is lost.

The browser test tests/browser/test_livechart_in_browser.py checks the real JavaScript against the same rule.
"""

import json
import random

import altair as alt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.livechart import LiveChart


class Wire:
    """Records what a widget sends, as the kernel would put it on the wire (strict JSON)."""

    def __init__(self, widget: LiveChart) -> None:
        self.messages: list[dict] = []
        widget.comm.send = self._send

    def _send(self, data=None, metadata=None, buffers=None):
        self.messages.append(json.loads(json.dumps(data, allow_nan=False)))

    def nbytes(self) -> int:
        return sum(len(json.dumps(m, separators=(",", ":"))) for m in self.messages)

    def custom(self) -> list[dict]:
        return [m["content"] for m in self.messages if m["method"] == "custom"]

    def clear(self) -> None:
        self.messages.clear()


class FrontEnd:
    """The row store of toolkit/livechart.js, transcribed: replace / append / snapshot requests."""

    def __init__(self, widget: LiveChart, token: str) -> None:
        self.widget, self.token = widget, token
        self.epoch, self.rows, self.total, self.cap, self.syncing, self.stale = (
            None,
            [],
            0,
            None,
            False,
            False,
        )
        self.last_id, self.full_requests = -1, 0
        self.request_sync(full=False)

    def request_sync(self, full: bool) -> None:
        self.stale = self.stale or full
        if not self.syncing:
            self.syncing = True
            message = {"kind": "sync", "token": self.token, "full": self.stale}
            self.full_requests += self.stale
            self.widget._on_front_end_message(self.widget, message, [])

    def receive(self, msg: dict) -> None:
        if msg.get("to") is not None and msg["to"] != self.token:
            return
        if msg["kind"] == "state":
            self.syncing = False
            if not self.stale and msg["total"] == 0 and not self.rows:
                self.epoch, self.total, self.last_id = (
                    msg["epoch"],
                    0,
                    msg["last"],
                )  # nothing drawn on either side
            elif self.stale or msg["epoch"] != self.epoch or msg["total"] != self.total:
                self.request_sync(full=True)
            return
        rows = [{**r, "_i": msg["first"] + k} for k, r in enumerate(msg["rows"])]
        if msg["kind"] == "replace":
            if msg.get("to") == self.token:
                self.syncing = self.stale = False
            self.rows, self.epoch = rows, msg["epoch"]
        elif msg["kind"] == "append":
            if self.epoch is not None and msg["epoch"] < self.epoch:
                return
            if msg["epoch"] != self.epoch:
                self.rows, self.epoch = rows, msg["epoch"]
                self.request_sync(full=True)
            else:
                if msg["after"] != self.last_id:
                    self.request_sync(full=True)
                self.rows = self.rows + rows
        self.total, self.cap = msg["total"], msg["cap"]
        self.rows = self.rows[-self.cap :]
        self.last_id = msg["first"] + len(msg["rows"]) - 1  # ids go on after an empty replace too


def test_bytes_per_push_do_not_grow_with_the_rows_drawn():
    """The issue's measurement: one-row pushes at 100 and at 20,000 rows drawn cost the same bytes."""
    per_push = {}
    for drawn in (100, 20_000):
        w = LiveChart(max_rows=50_000, min_interval=0.0)
        w.set_rows([{"step": k, "metric": "loss", "value": 0.5, "run": "a"} for k in range(drawn)])
        wire = Wire(w)
        for k in range(10):
            w.push({"step": drawn + k, "metric": "loss", "value": 0.25, "run": "a"})
        assert w.n_updates == 11 and len(wire.custom()) == 10
        assert all(m["kind"] == "append" and len(m["rows"]) == 1 for m in wire.custom())
        per_push[drawn] = wire.nbytes() / 10
    # the ids and counts in a message grow by a few digits (100 -> 20,000), nothing else
    assert per_push[20_000] - per_push[100] <= 3 * 3 + 2, per_push
    assert per_push[20_000] < 250, per_push
    # ... while a full replace of the 20,000 rows is what a push used to cost
    w = LiveChart(max_rows=50_000)
    wire = Wire(w)
    w.set_rows([{"step": k, "metric": "loss", "value": 0.5, "run": "a"} for k in range(20_000)])
    assert wire.nbytes() > 500 * per_push[20_000]


def test_a_push_sends_only_the_rows_since_the_last_send():
    w = LiveChart(min_interval=60.0)
    wire = Wire(w)
    w.push({"i": 0})  # first send goes out at once
    for i in range(1, 6):
        w.push({"i": i})  # held back by the throttle
    w.flush()
    sent = wire.custom()
    assert [[r["i"] for r in m["rows"]] for m in sent] == [[0], [1, 2, 3, 4, 5]]
    assert [(m["after"], m["first"]) for m in sent] == [(-1, 0), (0, 1)]
    assert "_i" not in sent[0]["rows"][0]  # ids are implicit (first + k): no per-row tagging


def test_a_new_or_lagging_front_end_gets_a_snapshot_addressed_to_it():
    w = LiveChart(alt.Chart(pd.DataFrame({"x": [1, 2, 3]})).mark_point().encode(x="x:Q"), min_interval=0.0)
    w.push([{"x": 4}, {"x": 5}])
    wire = Wire(w)
    late = FrontEnd(w, "tab-2")  # e.g. a page reload: the widget state carries no rows
    (state,) = wire.custom()  # first only (epoch, total): small whatever the rows
    assert state == {"kind": "state", "to": "tab-2", "epoch": w.epoch, "total": 5, "last": 4}
    late.receive(state)  # ... which shows rows are missing: ask for them
    snapshot = wire.custom()[-1]
    assert snapshot["kind"] == "replace" and snapshot["to"] == "tab-2"
    late.receive(snapshot)
    assert late.rows == w.rows and [r["x"] for r in late.rows] == [1, 2, 3, 4, 5] and not late.syncing
    other = FrontEnd.__new__(FrontEnd)  # another front end ignores answers meant for tab-2
    other.token, other.rows, other.epoch, other.syncing = "tab-1", ["untouched"], 7, False
    other.receive(state)
    other.receive(snapshot)
    assert other.rows == ["untouched"] and not other.syncing
    w._on_front_end_message(w, {"kind": "something else"}, [])  # unknown messages are ignored
    w._on_front_end_message(w, "not a dict", [])
    assert len(wire.custom()) == 2


def test_a_front_end_that_has_every_row_gets_no_rows_twice():
    w = LiveChart(min_interval=0.0)
    wire = Wire(w)
    view = FrontEnd(w, "tab-1")  # a model listening before any rows exist: asks for the state first
    w.set_rows([{"x": k} for k in range(1000)])
    w.push({"x": 1000})
    for msg in wire.custom():
        view.receive(msg)  # in the order sent
    assert view.rows == w.rows
    assert [m["kind"] for m in wire.custom()] == ["state", "replace", "append"]  # no second copy
    assert not view.syncing and not view.stale


def test_rows_after_an_empty_replace_are_not_mistaken_for_a_gap():
    w = LiveChart(min_interval=0.0)
    wire = Wire(w)
    view = FrontEnd(w, "tab-1")
    for run in range(3):  # e.g. a training panel: clear the chart, then stream a run
        w.set_rows([])
        w.push([{"run": run, "step": k} for k in range(3)])
        w.push({"run": run, "step": 3})
    for msg in wire.custom():
        view.receive(msg)
    assert view.rows == w.rows and view.full_requests == 0


def test_cap_hides_old_rows_in_the_view_but_the_kernel_keeps_them():
    w = LiveChart(max_rows=3, min_interval=0.0)
    wire = Wire(w)
    for i in range(10):
        w.push({"i": i})
    assert [r["i"] for r in w.history] == list(range(10))
    assert [r["i"] for r in w.rows] == [7, 8, 9] and w.data == [{"i": 7}, {"i": 8}, {"i": 9}]
    assert w.hidden == 7
    last = wire.custom()[-1]
    assert last["total"] == 10 and last["cap"] == 3  # what the view's note says ("newest 3 of 10")
    w.push([{"i": k} for k in range(10, 20)])  # more than the cap in one go: only the newest 3 travel
    assert [r["i"] for r in wire.custom()[-1]["rows"]] == [17, 18, 19]
    w.set_rows([{"i": -1}])
    assert w.history == [{"i": -1}] and w.hidden == 0


@settings(max_examples=60, deadline=None)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["push", "push_many", "set_rows", "chart", "flush", "new_view"]),
            st.integers(0, 7),
        ),
        max_size=25,
    ),
    max_rows=st.integers(1, 8),
    interval=st.sampled_from([0.0, 60.0]),
    loss=st.sampled_from([0.0, 0.3]),
    seed=st.integers(0, 2**16),
)
def test_front_end_store_converges_to_the_kernel_rows(ops, max_rows, interval, loss, seed):
    """Whatever is lost on the way (a model created late misses messages), once the kernel has
    answered the snapshot requests the front end holds exactly the rows the kernel says are drawn."""
    rng = random.Random(seed)
    w = LiveChart(max_rows=max_rows, min_interval=interval)
    wire = Wire(w)
    views = [FrontEnd(w, "v0")]

    def deliver():
        while wire.messages:  # replies to sync requests may append more messages
            msg = wire.messages.pop(0)
            if msg["method"] != "custom":
                continue
            for view in views:
                if rng.random() >= loss:
                    view.receive(msg["content"])

    for op, k in ops:
        if op == "push":
            w.push({"v": k})
        elif op == "push_many":
            w.push([{"v": j} for j in range(k)])
        elif op == "set_rows":
            w.set_rows([{"v": j} for j in range(k)])
        elif op == "chart":
            w.chart = alt.Chart(pd.DataFrame({"v": list(range(k))})).mark_point().encode(x="v:Q")
        elif op == "flush":
            w.flush()
        else:
            views.append(FrontEnd(w, f"v{len(views)}"))
        deliver()
    w.flush()
    loss = 0.0  # every model listens now; an answer lost before is asked again, as at start-up
    for view in views:
        view.syncing = False
        view.request_sync(full=False)
    deliver()
    for view in views:
        assert view.rows == w.rows
        assert view.total == len(w.history) and view.total - len(view.rows) == w.hidden


def test_rows_are_plain_json_and_a_user_id_column_is_dropped():
    w = LiveChart(min_interval=0.0)
    wire = Wire(w)
    w.push({"_i": 99, "x": 1.5, "y": float("nan"), 2: "key"})
    (msg,) = wire.custom()
    assert msg["rows"] == [{"x": 1.5, "y": None, "2": "key"}]
    with pytest.raises(TypeError, match="dict"):
        w.push(["not a row"])
