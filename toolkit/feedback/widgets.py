"""Panel builders and charts for the random-backprop notebook (one idea per panel)."""

from __future__ import annotations

import html

import altair as alt
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..panels import Panel, dropdown, log_slider, slider, toggle
from . import chain
from .data import load_dataset
from .engine import RULES
from .train import TrainConfig, compare_rules, symmetry_run

__all__ = [
    "phase_portrait", "chain_panel", "training_chart", "training_panel", "symmetry_chart", "symmetry_panel",
    "curve_chart", "channel_diagram",
]

_LIM = 2.5


# -- the linear chain -------------------------------------------------------------------------
def phase_portrait(w1: float, w2: float, *, model: str = "linear", rule: str = "rbp", b: float = 1.0,
                   derivative: bool = True, t_max: float = 20.0) -> tuple[alt.Chart, dict]:
    """Vector field, fixed points and the trajectory from (w1, w2) of the A[1,1,1] chain."""
    grid = np.linspace(-_LIM, _LIM, 15)
    g1, g2 = np.meshgrid(grid, grid)
    if model == "linear":
        v1, v2 = chain.chain_velocity(g1, g2, rule=rule, b=b)
        traj = chain.simulate_chain(w1, w2, rule=rule, b=b, t_max=t_max, steps=800)
    else:
        v1, v2 = chain.nonlinear_velocity(g1, g2, derivative=derivative, b=b)
        traj = chain.simulate_nonlinear(w1, w2, derivative=derivative, b=b, t_max=5 * t_max, steps=1500)
    speed = np.hypot(v1, v2)
    scale = 0.14 / np.maximum(speed, 1e-9)  # arrows of equal length: direction only
    field = pd.DataFrame({"x": g1.ravel(), "y": g2.ravel(), "x2": (g1 + v1 * scale).ravel(),
                          "y2": (g2 + v2 * scale).ravel(), "speed": np.log10(speed.ravel() + 1e-9)})
    traj = traj[np.all(np.abs(traj) < 50, axis=1)]
    path = pd.DataFrame({"x": traj[:, 0], "y": traj[:, 1], "t": np.arange(len(traj))})
    path = path[(path.x.abs() <= _LIM) & (path.y.abs() <= _LIM)]
    if model == "linear":
        w = np.concatenate([np.linspace(-_LIM, -0.4, 60), np.linspace(0.4, _LIM, 60)])
        fixed = pd.DataFrame({"x": w, "y": chain.fixed_point_w2(w), "branch": np.sign(w)})
        fp = pd.DataFrame({"x": [], "y": []})
    else:
        fixed = pd.DataFrame({"x": [], "y": [], "branch": []})
        fp = pd.DataFrame(chain.nonlinear_fixed_points(derivative=derivative), columns=["x", "y"])
    sc = alt.Scale(domain=[-_LIM, _LIM], clamp=True)
    arrows = alt.Chart(field).mark_rule(opacity=0.5).encode(
        x=alt.X("x:Q", scale=sc, title="w1"), y=alt.Y("y:Q", scale=sc, title="w2"), x2="x2:Q", y2="y2:Q",
        color=alt.Color("speed:Q", scale=alt.Scale(scheme="greys"), legend=None))
    heads = alt.Chart(field).mark_point(size=8, filled=True, opacity=0.5, color="grey").encode(
        x=alt.X("x2:Q", scale=sc), y=alt.Y("y2:Q", scale=sc))
    hyper = alt.Chart(fixed).mark_line(color="#d62728", strokeWidth=2).encode(
        x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc), detail="branch:N")
    fps = alt.Chart(fp).mark_point(shape="diamond", size=160, filled=True, color="#d62728").encode(
        x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc))
    line = alt.Chart(path).mark_line(color="#1f77b4", strokeWidth=3).encode(
        x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc), order="t:Q")
    start = alt.Chart(pd.DataFrame({"x": [w1], "y": [w2]})).mark_point(size=120, filled=True, color="black").encode(
        x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc))
    title = (f"linear chain, {rule.upper()}" if model == "linear"
             else f"tanh chain, RBP {'with' if derivative else 'without'} f′")
    chart = (arrows + heads + hyper + fps + line + start).properties(width=340, height=340, title=title)
    return chart, {"end": tuple(float(v) for v in traj[-1]), "n_fixed": len(fp)}


def chain_panel() -> Panel:
    """Sliders for the initial weights (and b): the phase portrait redraws on every move."""
    controls = {
        "w1": slider("initial w1", 0.3, -2.0, 2.0, 0.05),
        "w2": slider("initial w2", -1.0, -2.0, 2.0, 0.05),
        "b": slider("feedback b", 0.5, -2.0, 2.0, 0.05),
        "rule": dropdown("rule", ["rbp", "bp"]),
        "model": dropdown("hidden unit", ["linear", "tanh"]),
        "derivative": toggle("use f′ (tanh)", True),
    }

    def render(w1, w2, b, rule, model, derivative):
        chart, info = phase_portrait(w1, w2, model=model, rule=rule, b=b, derivative=derivative)
        e1, e2 = info["end"]
        if model == "linear":
            text = f"trajectory ends at w1 = {e1:.3f}, w2 = {e2:.3f} (w1·w2 = {e1 * e2:.3f}; fixed points: w1·w2 = 1)"
            if rule == "rbp" and b != 0:
                p1, p2 = chain.rbp_limit(w1, w2, b=b)
                text += f"<br>closed-form RBP limit: ({p1:.3f}, {p2:.3f}); invariant b·w2 − w1²/2 = {chain.rbp_invariant(w1, w2, b=b):.3f}"
        else:
            text = (f"{info['n_fixed']} fixed point(s) with |w1| ≤ 5; trajectory ends at "
                    f"w1 = {e1:.2f}, w2 = {e2:.2f}")
        return chart, text

    return Panel(controls, render, title="Linear chain A[1,1,1]: learning dynamics", key="feedback-chain")


# -- training several rules side by side ------------------------------------------------------
def training_chart() -> alt.HConcatChart:
    """Empty live chart: test accuracy per rule, and per-layer angle to the true gradient."""
    acc = alt.Chart(title="test accuracy").mark_line(point=True).encode(
        x=alt.X("epoch:Q"), y=alt.Y("value:Q", title="accuracy", scale=alt.Scale(zero=False)),
        color=alt.Color("rule:N")).transform_filter(alt.datum.metric == "test accuracy")
    ang = alt.Chart(title="angle to the true gradient (°)").mark_line().encode(
        x=alt.X("epoch:Q"), y=alt.Y("value:Q", title="degrees", scale=alt.Scale(domain=[0, 120])),
        color=alt.Color("rule:N"), strokeDash=alt.StrokeDash("metric:N", title="layer")
    ).transform_filter("indexof(datum.metric, 'angle') == 0")
    rule90 = alt.Chart().mark_rule(color="grey", strokeDash=[2, 2]).encode(y=alt.datum(90))
    return alt.HConcatChart(hconcat=[acc.properties(width=300, height=220),
                                     (ang + rule90).properties(width=300, height=220)],
                            data=alt.InlineData(values=[]))


def _summary(history: list[dict]) -> str:
    last = max(r["epoch"] for r in history)
    rows = [r for r in history if r["epoch"] == last]
    cells = "".join(
        f"<tr><td>{html.escape(r['rule'])}</td><td>{r['test_acc']:.3f}</td><td>"
        + ", ".join("–" if a != a else f"{a:.0f}°" for a in r["angles"][:-1]) + "</td></tr>"
        for r in rows)
    return f"<table><tr><th>rule</th><th>test acc</th><th>hidden-layer angles</th></tr>{cells}</table>"


def training_panel(*, epochs: int = 4) -> Panel:
    """Pick rules (several at once), depth, width, sparsity, bits, f′, learning rate; Train streams
    accuracy and angles into the chart."""
    controls = {
        "rules": widgets.SelectMultiple(options=list(RULES), value=("bp", "rbp", "srbp"), rows=5,
                                        description="rules"),
        "dataset": dropdown("data", ["digits", "mnist1d"]),
        "depth": slider("hidden layers", 2, 1, 5),
        "width": slider("width", 64, 8, 256, 8),
        "sparsity": slider("feedback sparsity", 0.0, 0.0, 0.95, 0.05),
        "bits": slider("error bits (0 = float)", 0, 0, 8),
        "derivative": toggle("use f′", True),
        "lr": log_slider("learning rate", 3e-3, 1e-4, 1e-1),
        "epochs": slider("epochs", epochs, 1, 40),
    }

    last_run: dict = {}

    def render(rules, dataset, depth, width, sparsity, bits, derivative, lr, epochs, live):
        if not rules:
            raise ValueError("rules must name at least one rule: select one or more in the list")
        split = load_dataset(dataset, random_state=0)
        cfg = TrainConfig(hidden=[width] * depth, sparsity=sparsity, error_bits=bits or None,
                          derivative=derivative, lr=lr, epochs=epochs, seed=0)
        live.chart = training_chart()
        history = compare_rules(list(rules), split, cfg, live=live, evals_per_epoch=2)
        last_run["history"] = history
        last_run["final"] = {r["rule"]: r for r in history if r["epoch"] == history[-1]["epoch"]}
        return _summary(history)

    panel = Panel(controls, render, title="Train rules side by side", button="Train", key="feedback-train")
    panel.last_run = last_run  # history of the last Train click (rows per rule and evaluation)
    return panel


# -- the symmetry story (ARBP) --------------------------------------------------------------
def symmetry_chart(rows: list[dict]) -> alt.HConcatChart:
    data = pd.DataFrame(rows)
    base = alt.Chart(data).encode(x=alt.X("epoch:Q"), color=alt.Color("init:N", title="init scale"))
    a = base.mark_line().encode(y=alt.Y("angle:Q", title="angle(B, Wᵀ) °")).properties(width=280, height=200)
    r = base.mark_line().encode(y=alt.Y("norm_ratio:Q", title="‖B‖ / ‖Wᵀ‖")).properties(width=280, height=200)
    return alt.hconcat(a, r)


def symmetry_panel() -> Panel:
    """ARBP from a small vs a normal start: does B become Wᵀ?"""
    controls = {"init_scale": log_slider("small init scale", 0.01, 0.001, 1.0),
                "epochs": slider("epochs", 5, 1, 20)}

    def render(init_scale, epochs):
        split = load_dataset("digits", random_state=0)
        rows = []
        for scale in sorted({init_scale, 1.0}):
            for row in symmetry_run(split, init_scale=scale, epochs=epochs, lr=0.5):
                rows.append({**row, "init": f"{scale:g}"})
        last = {r["init"]: r for r in rows}
        text = "<br>".join(f"init ×{k}: final angle {v['angle']:.1f}°, norm ratio {v['norm_ratio']:.2f}, "
                           f"test acc {v['test_acc']:.3f}" for k, v in last.items())
        return symmetry_chart(rows), text

    return Panel(controls, render, title="ARBP: the symmetry story", button="Run", key="feedback-symmetry")


def curve_chart(values: list[float], *, title: str, y: str) -> alt.Chart:
    """A small line chart of one curve (e.g. recirculation reconstruction error per epoch)."""
    df = pd.DataFrame({"epoch": np.arange(1, len(values) + 1), y: values})
    return alt.Chart(df, title=title).mark_line(point=True).encode(x="epoch:Q", y=f"{y}:Q").properties(width=300, height=180)


def channel_diagram() -> alt.HConcatChart:
    """Forward path (grey) and learning channel (red) for BP, RBP and SRBP, side by side."""
    names = ["x", "h1", "h2", "y"]
    panels = []
    for rule, label in (("bp", "BP: Wᵀ (weight transport)"), ("rbp", "RBP: fixed random B"),
                        ("srbp", "SRBP: error skips to every layer")):
        nodes = pd.DataFrame({"x": [0, 1, 2, 3], "y": [0, 0, 0, 0], "name": names})
        edges = [{"x": i + 0.12, "x2": i + 0.88, "y": 0.08, "y2": 0.08, "kind": "forward W", "text": f"W{i + 1}"}
                 for i in range(3)]
        if rule == "srbp":
            edges += [{"x": 3 - 0.12, "x2": i + 0.12, "y": -0.08 - 0.1 * (2 - i), "y2": -0.08 - 0.1 * (2 - i),
                       "kind": "learning channel", "text": f"B{i}"} for i in (1, 2)]
        else:
            sym = "Wᵀ" if rule == "bp" else "B"
            edges += [{"x": i + 0.88, "x2": i + 0.12, "y": -0.08, "y2": -0.08, "kind": "learning channel",
                       "text": f"{sym}{i + 1}" if rule == "bp" else f"B{i}"} for i in (1, 2)]
        e = pd.DataFrame(edges)
        e["xm"] = (e["x"] + e["x2"]) / 2
        sx = alt.Scale(domain=[-0.3, 3.3])
        sy = alt.Scale(domain=[-0.45, 0.3])
        lines = alt.Chart(e).mark_rule(strokeWidth=2).encode(
            x=alt.X("x:Q", scale=sx, axis=None), x2="x2:Q", y=alt.Y("y:Q", scale=sy, axis=None), y2="y2:Q",
            color=alt.Color("kind:N", scale=alt.Scale(domain=["forward W", "learning channel"],
                                                     range=["#777", "#d62728"]), title=None))
        tips = alt.Chart(e).mark_point(filled=True, size=60).encode(
            x=alt.X("x2:Q", scale=sx), y=alt.Y("y2:Q", scale=sy), color="kind:N",
            shape=alt.Shape("kind:N", scale=alt.Scale(domain=["forward W", "learning channel"],
                                                      range=["triangle-right", "triangle-left"]), legend=None))
        labels = alt.Chart(e).mark_text(dy=-7, fontSize=11).encode(
            x=alt.X("xm:Q", scale=sx), y=alt.Y("y:Q", scale=sy), text="text:N")
        dots = alt.Chart(nodes).mark_circle(size=500, color="#1f77b4").encode(
            x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy))
        text = alt.Chart(nodes).mark_text(color="white", fontWeight="bold").encode(
            x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), text="name:N")
        panels.append((lines + tips + labels + dots + text).properties(width=230, height=120, title=label))
    return alt.hconcat(*panels).configure_view(stroke=None)
