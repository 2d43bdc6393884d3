"""Panel builders and charts for the random-backprop notebook (one idea per panel)."""

from __future__ import annotations

import html

import altair as alt
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..chart_template import ChartTemplate
from ..panels import CLI_PANELS, Panel, SliderPreview, dropdown, log_slider, slider, toggle
from . import chain
from .angles import gradient_angles
from .data import load_dataset
from .engine import RULES, FeedbackMLP
from .train import PAPER_MODE, TrainConfig, compare_rules, symmetry_run

__all__ = [
    "phase_portrait",
    "chain_panel",
    "training_chart",
    "training_panel",
    "symmetry_chart",
    "symmetry_panel",
    "curve_chart",
    "channel_diagram",
    "chain_time_chart",
    "mix_chart",
    "mix_panel",
    "mix_run",
    "PANEL_DEFAULTS",
]

#: Defaults of the training panel (and of the notebook's measurements at those defaults): MNIST-1D,
#: three tanh hidden layers of 100, Adam at 1e-3, 10 epochs — long enough for the rules to separate
#: (BP > RBP > RBP without f′ ≈ top-only), short enough for a notebook.
PANEL_DEFAULTS = dict(
    dataset="mnist1d", depth=3, width=100, lr=1e-3, epochs=10, rules=("bp", "rbp", "srbp", "top")
)
#: Plain SGD learning rate of "paper mode" in the panels.
_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD (paper mode)"}

_LIM = 2.5


# -- the linear chain -------------------------------------------------------------------------
def phase_portrait(
    w1: float,
    w2: float,
    *,
    model: str = "linear",
    rule: str = "rbp",
    b: float = 1.0,
    derivative: bool = True,
    t_max: float | None = None,
) -> tuple[alt.Chart, dict]:
    """Vector field, fixed points and the trajectory from (w1, w2) of the A[1,1,1] chain.

    Linear chain: RK4 to ``t_max`` (default 20), window ±2.5. Tanh chain: a stiff solver to
    ``t_max`` (default 2·10⁴: the no-f′ dynamics only show their end after t ≈ 10⁴), window
    w1 ∈ [−6, 6], w2 ∈ [−4, 12], with the w2-nullcline (dw2/dt = 0) drawn dashed.
    """
    slots, look, info = _portrait_data(w1, w2, model, rule, b, derivative, t_max)
    return _portrait_chart(*slots, **look), info


def _portrait_data(w1, w2, model, rule, b, derivative, t_max) -> tuple[list, dict, dict]:
    """The portrait's rows (one DataFrame per layer of _portrait_chart), its look and its readout."""
    if model == "linear":
        (xlo, xhi), (ylo, yhi) = (-_LIM, _LIM), (-_LIM, _LIM)
        t_max = 20.0 if t_max is None else t_max
    else:
        (xlo, xhi), (ylo, yhi) = (-6.0, 6.0), (-4.0, 12.0)
        t_max = 2e4 if t_max is None else t_max
    g1, g2 = np.meshgrid(np.linspace(xlo, xhi, 15), np.linspace(ylo, yhi, 15))
    if model == "linear":
        v1, v2 = chain.chain_velocity(g1, g2, rule=rule, b=b)
        traj = chain.simulate_chain(w1, w2, rule=rule, b=b, t_max=t_max, steps=800)
    else:
        v1, v2 = chain.nonlinear_velocity(g1, g2, derivative=derivative, b=b)
        _, traj = chain.simulate_nonlinear_long(w1, w2, derivative=derivative, b=b, t_max=t_max, n_points=300)
    speed = np.hypot(v1 / (xhi - xlo), v2 / (yhi - ylo))
    scale = 0.03 / np.maximum(speed, 1e-12)  # arrows of equal (screen) length: direction only
    field = pd.DataFrame(
        {
            "x": g1.ravel(),
            "y": g2.ravel(),
            "x2": (g1 + v1 * scale).ravel(),
            "y2": (g2 + v2 * scale).ravel(),
            "speed": np.log10(np.hypot(v1, v2).ravel() + 1e-9),
        }
    )
    traj = traj[np.all(np.abs(traj) < 50, axis=1)]
    path = pd.DataFrame({"x": traj[:, 0], "y": traj[:, 1], "t": np.arange(len(traj))})
    path = path[(path.x >= xlo) & (path.x <= xhi) & (path.y >= ylo) & (path.y <= yhi)]
    if model == "linear":
        w = np.concatenate([np.linspace(-_LIM, -0.4, 60), np.linspace(0.4, _LIM, 60)])
        fixed = pd.DataFrame({"x": w, "y": chain.fixed_point_w2(w), "branch": np.sign(w)})
        fp = pd.DataFrame({"x": [], "y": []})
        null = pd.DataFrame({"x": [], "y": [], "branch": []})
    else:
        fixed = pd.DataFrame({"x": [], "y": [], "branch": []})
        fp = pd.DataFrame(chain.nonlinear_fixed_points(derivative=derivative), columns=["x", "y"])
        w = np.concatenate([np.linspace(xlo, -0.05, 120), np.linspace(0.05, xhi, 120)])
        nc = chain.w2_nullcline(w)
        null = pd.DataFrame({"x": w, "y": nc, "branch": np.sign(w)})
        null = null[(null.y >= ylo) & (null.y <= yhi)]
    title = (
        f"linear chain, {rule.upper()}"
        if model == "linear"
        else f"tanh chain, RBP {'with' if derivative else 'without'} f′ (t ≤ {t_max:g})"
    )
    start = pd.DataFrame({"x": [w1], "y": [w2]})
    look = {"xlim": (xlo, xhi), "ylim": (ylo, yhi), "title": title}
    info = {"end": tuple(float(v) for v in traj[-1]), "n_fixed": len(fp), "t_max": t_max}
    return [field, fixed, null, fp, path, start], look, info


def _portrait_chart(field, fixed, null, fp, path, start, *, xlim, ylim, title) -> alt.LayerChart:
    """Arrows and their heads (one dataset), hyperbola of fixed points, nullcline, fixed points,
    trajectory, start."""
    sx = alt.Scale(domain=list(xlim), clamp=True)
    sy = alt.Scale(domain=list(ylim), clamp=True)
    arrows = (
        alt.Chart(field)
        .mark_rule(opacity=0.5)
        .encode(
            x=alt.X("x:Q", scale=sx, title="w1"),
            y=alt.Y("y:Q", scale=sy, title="w2"),
            x2="x2:Q",
            y2="y2:Q",
            color=alt.Color("speed:Q", scale=alt.Scale(scheme="greys"), legend=None),
        )
    )
    heads = (
        alt.Chart(field)
        .mark_point(size=8, filled=True, opacity=0.5, color="grey")
        .encode(x=alt.X("x2:Q", scale=sx), y=alt.Y("y2:Q", scale=sy))
    )
    hyper = (
        alt.Chart(fixed)
        .mark_line(color="#D55E00", strokeWidth=2)
        .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), detail="branch:N")
    )
    nullcline = (
        alt.Chart(null)
        .mark_line(color="#009E73", strokeDash=[5, 3], strokeWidth=1.5)
        .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), detail="branch:N")
    )
    fps = (
        alt.Chart(fp)
        .mark_point(shape="diamond", size=160, filled=True, color="#D55E00")
        .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy))
    )
    line = (
        alt.Chart(path)
        .mark_line(color="#0072B2", strokeWidth=3)
        .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), order="t:Q")
    )
    start = (
        alt.Chart(start)
        .mark_point(size=120, filled=True, color="black")
        .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy))
    )
    return (arrows + heads + hyper + nullcline + fps + line + start).properties(
        width=340, height=340, title=title
    )


# the panel redraws the portrait on every slider step: built once per look (window and title), rows refilled
_PORTRAIT = ChartTemplate(_portrait_chart)


def chain_time_chart(
    w1: float, w2: float, *, b: float = 1.0, derivative: bool = False, t_max: float = 1e5
) -> tuple[alt.Chart, pd.DataFrame]:
    """w1(t), w2(t) and w1·w2 of the tanh chain on a log time axis (stiff solver)."""
    t, w = chain.simulate_nonlinear_long(w1, w2, derivative=derivative, b=b, t_max=t_max)
    data = pd.DataFrame({"t": t, "w1": w[:, 0], "w2": w[:, 1], "w1·w2": w[:, 0] * w[:, 1]})
    long = data[data.t > 0].melt("t", var_name="weight", value_name="value")
    chart = (
        alt.Chart(long, title=f"tanh chain, RBP {'with' if derivative else 'without'} f′, b = {b:g}")
        .mark_line()
        .encode(
            x=alt.X("t:Q", scale=alt.Scale(type="log"), title="time t (log)"),
            y=alt.Y("value:Q"),
            color=alt.Color("weight:N"),
        )
        .properties(width=420, height=220)
    )
    return chart, data


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
        slots, look, info = _portrait_data(w1, w2, model, rule, b, derivative, None)
        chart = _PORTRAIT(tuple(look.values()), *slots, **look)  # the look (window, title) is the key
        e1, e2 = info["end"]
        if model == "linear":
            text = (
                f"trajectory ends at w1 = {e1:.3f}, w2 = {e2:.3f} "
                f"(w1·w2 = {e1 * e2:.3f}; fixed points: w1·w2 = 1)"
            )
            if rule == "rbp" and b != 0:
                p1, p2 = chain.rbp_limit(w1, w2, b=b)
                invariant = chain.rbp_invariant(w1, w2, b=b)
                text += f"<br>closed-form RBP limit: ({p1:.3f}, {p2:.3f}); "
                text += f"invariant b·w2 − w1²/2 = {invariant:.3f}"
        else:
            text = (
                f"{info['n_fixed']} fixed point(s) with |w1| ≤ 5; at t = {info['t_max']:g} the trajectory is "
                f"at w1 = {e1:.2f}, w2 = {e2:.2f} (dashed green: the w2-nullcline, dw2/dt = 0)"
            )
        return chart, text

    return Panel(controls, render, title="Linear chain A[1,1,1]: learning dynamics", key="feedback-chain")


# -- training several rules side by side ------------------------------------------------------
def training_chart() -> alt.HConcatChart:
    """Empty live chart: test accuracy per rule, and per-layer angle to the true gradient."""
    acc = (
        alt.Chart(title="test accuracy")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q"),
            y=alt.Y("value:Q", title="accuracy", scale=alt.Scale(zero=False)),
            color=alt.Color("rule:N"),
        )
        .transform_filter(alt.datum.metric == "test accuracy")
    )
    ang = (
        alt.Chart(title="angle to the true gradient (°)")
        .mark_line()
        .encode(
            x=alt.X("epoch:Q"),
            y=alt.Y("value:Q", title="degrees", scale=alt.Scale(domain=[0, 120])),
            color=alt.Color("rule:N"),
            strokeDash=alt.StrokeDash("metric:N", title="layer"),
        )
        .transform_filter("indexof(datum.metric, 'angle') == 0")
    )
    rule90 = alt.Chart().mark_rule(color="grey", strokeDash=[2, 2]).encode(y=alt.datum(90))
    return alt.HConcatChart(
        hconcat=[acc.properties(width=300, height=220), (ang + rule90).properties(width=300, height=220)],
        data=alt.InlineData(values=[]),
    )


def _summary(history: list[dict]) -> str:
    last = max(r["epoch"] for r in history)
    rows = [r for r in history if r["epoch"] == last]
    cells = "".join(
        f"<tr><td>{html.escape(r['rule'])}</td><td>{r['test_acc']:.3f}</td><td>"
        + ", ".join("–" if a != a else f"{a:.0f}°" for a in r["angles"][:-1])
        + "</td></tr>"
        for r in rows
    )
    return f"<table><tr><th>rule</th><th>test acc</th><th>hidden-layer angles</th></tr>{cells}</table>"


def training_panel(*, epochs: int = PANEL_DEFAULTS["epochs"]) -> Panel:
    """Pick rules (several at once), data, depth, width, sparsity, bits, f′, learning rate; Train
    streams accuracy and angles into the chart. Defaults: :data:`PANEL_DEFAULTS`."""
    d = PANEL_DEFAULTS
    controls = {
        "rules": widgets.SelectMultiple(options=list(RULES), value=d["rules"], rows=5, description="rules"),
        "dataset": dropdown("data", ["mnist1d", "digits"], d["dataset"]),
        "depth": slider("hidden layers", d["depth"], 1, 5),
        "width": slider("width", d["width"], 8, 256, 4),
        "sparsity": slider("feedback sparsity", 0.0, 0.0, 0.99, 0.01),
        "bits": slider("error bits (0 = float)", 0, 0, 8),
        "derivative": toggle("use f′", True),
        "lr": log_slider("learning rate", d["lr"], 1e-4, 1e-1),
        "epochs": slider("epochs", epochs, 1, 40),
    }
    if "optimizer" in CLI_PANELS.get("feedback-train", ()):  # the paper-mode switch, once the CLI knows it
        controls["optimizer"] = dropdown("optimiser", list(_OPTIMIZERS), "adam")

    last_run: dict = {}

    def render(rules, dataset, depth, width, sparsity, bits, derivative, lr, epochs, live, optimizer="adam"):
        if not rules:
            raise ValueError("rules must name at least one rule: select one or more in the list")
        split = load_dataset(dataset, random_state=0)
        cfg = TrainConfig(
            hidden=[width] * depth,
            sparsity=sparsity,
            error_bits=bits or None,
            derivative=derivative,
            lr=lr,
            epochs=epochs,
            seed=0,
            optimizer=optimizer,
        )
        live.chart = training_chart()
        history = compare_rules(list(rules), split, cfg, live=live, evals_per_epoch=2)
        last_run["history"] = history
        last_run["final"] = {r["rule"]: r for r in history if r["epoch"] == history[-1]["epoch"]}
        return (
            _summary(history)
            + f"<br>optimiser: {_OPTIMIZERS[optimizer]}, lr {lr:.3g}, {epochs} epochs, {dataset}"
        )

    panel = Panel(controls, render, title="Train rules side by side", button="Train", key="feedback-train")
    panel.last_run = last_run  # history of the last Train click (rows per rule and evaluation)
    return panel


# -- the B ↔ Wᵀ slider ------------------------------------------------------------------------
def mix_run(
    mu: float, split, *, optimizer: str = "adam", epochs: int = 4, hidden=(100, 100, 100), seed: int = 0
) -> list[dict]:
    """Train RBP with the channel ``(1 - μ) B + μ Wᵀ``; rows ``{"epoch", "mu", "metric", "value"}``
    (test accuracy and the mean hidden-layer angle to the true gradient)."""
    lr = PAPER_MODE["lr"] if optimizer == "sgd" else 1e-3
    cfg = TrainConfig(
        hidden=list(hidden), epochs=epochs, lr=lr, optimizer=optimizer, seed=seed, feedback_mix=mu
    )
    rows: list[dict] = []

    def record(row: dict) -> None:
        hidden_angles = [a for a in row["angles"][:-1] if a == a]
        rows.append(
            {"epoch": row["epoch"], "mu": f"{mu:.2f}", "metric": "test accuracy", "value": row["test_acc"]}
        )
        rows.append(
            {
                "epoch": row["epoch"],
                "mu": f"{mu:.2f}",
                "metric": "mean hidden angle (°)",
                "value": float(np.mean(hidden_angles)) if hidden_angles else float("nan"),
            }
        )

    compare_rules(["rbp"], split, cfg, on_epoch=record, evals_per_epoch=2)
    return rows


def mix_chart(rows: list[dict], selected: str) -> alt.HConcatChart:
    """Accuracy and angle curves, one per μ tried so far; the selected μ drawn bold."""
    data = pd.DataFrame(rows)
    data["selected"] = data["mu"] == selected
    charts = []
    for metric, scale in (
        ("test accuracy", alt.Scale(zero=False)),
        ("mean hidden angle (°)", alt.Scale(domain=[0, 100])),
    ):
        charts.append(
            alt.Chart(data[data.metric == metric], title=metric)
            .mark_line(point=True)
            .encode(
                x=alt.X("epoch:Q"),
                y=alt.Y("value:Q", title=metric, scale=scale),
                color=alt.Color("mu:O", title="μ", scale=alt.Scale(scheme="viridis")),
                strokeWidth=alt.condition(alt.datum.selected, alt.value(3.5), alt.value(1.2)),
            )
            .properties(width=280, height=200)
        )
    return alt.hconcat(*charts)


def mix_panel(*, dataset: str = "digits", epochs: int = 3) -> Panel:
    """Slide μ from RBP (0) to BP (1): the readout gives the initial angle at this μ at once, the
    chart overlays the training curves of every μ tried (cached, so moving back is instant).

    Training a new μ takes ≈ 0.2 s, too long for a slider step: while the slider moves the panel shows
    the start angle and the curves already trained (SliderPreview) and trains the new μ once it rests."""
    split = load_dataset(dataset, random_state=0)
    preview = SliderPreview()
    controls = preview.watch(
        {
            "mu": slider("μ (0 = RBP, 1 = BP)", 0.5, 0.0, 1.0, 0.05),
            "optimizer": dropdown("optimiser", list(_OPTIMIZERS), "adam"),
        }
    )
    cache: dict[tuple[float, str], list[dict]] = {}
    probe_x, probe_y = split.x_train[:512], split.y_train[:512]

    def render(mu, optimizer):
        mu = round(float(mu), 2)
        wanted = sorted({0.0, 1.0, mu})  # the two ends give the scale
        if preview.active:  # a moving slider: no training, only what is cached
            wanted = [m for m in wanted if (m, optimizer) in cache]
        for m in wanted:
            if (m, optimizer) not in cache:
                cache[(m, optimizer)] = mix_run(m, split, optimizer=optimizer, epochs=epochs)
        rows = [r for (m, o), rs in cache.items() if o == optimizer for r in rs]
        net = FeedbackMLP([split.n_features, 100, 100, 100, split.n_classes], "rbp", feedback_mix=mu, seed=0)
        start = float(np.mean(gradient_angles(net, probe_x, probe_y)[:-1]))
        done = (mu, optimizer) in cache
        final = (
            [r["value"] for r in cache[(mu, optimizer)] if r["metric"] == "test accuracy"][-1]
            if done
            else None
        )
        text = (
            f"μ = {mu:.2f}: channel (1 − μ)·B + μ·Wᵀ; mean hidden angle to the true gradient at the start "
            f"<b>{start:.1f}°</b>; "
            + (
                f"test accuracy after {epochs} epochs ({_OPTIMIZERS[optimizer]}) <b>{final:.3f}</b>"
                if done
                else f"training {epochs} epochs at this μ"
            )
            + preview.note("the start angle and the curves trained so far")
        )
        return mix_chart(rows, f"{mu:.2f}"), text

    panel = preview.attach(
        Panel(controls, render, title="From RBP to BP: the B ↔ Wᵀ slider", key="feedback-mix")
    )
    panel.cache = cache
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
    controls = {
        "init_scale": log_slider("small init scale", 0.01, 0.001, 1.0),
        "epochs": slider("epochs", 5, 1, 20),
    }

    def render(init_scale, epochs):
        split = load_dataset("digits", random_state=0)
        rows = []
        for scale in sorted({init_scale, 1.0}):
            for row in symmetry_run(split, init_scale=scale, epochs=epochs, lr=0.5):
                rows.append({**row, "init": f"{scale:g}"})
        last = {r["init"]: r for r in rows}
        text = "<br>".join(
            f"init ×{k}: final angle {v['angle']:.1f}°, norm ratio {v['norm_ratio']:.2f}, "
            f"test acc {v['test_acc']:.3f}"
            for k, v in last.items()
        )
        return symmetry_chart(rows), text

    return Panel(controls, render, title="ARBP: the symmetry story", button="Run", key="feedback-symmetry")


def curve_chart(values: list[float], *, title: str, y: str) -> alt.Chart:
    """A small line chart of one curve (e.g. recirculation reconstruction error per epoch)."""
    df = pd.DataFrame({"epoch": np.arange(1, len(values) + 1), y: values})
    return (
        alt.Chart(df, title=title)
        .mark_line(point=True)
        .encode(x="epoch:Q", y=f"{y}:Q")
        .properties(width=300, height=180)
    )


def channel_diagram() -> alt.HConcatChart:
    """Forward path (grey) and learning channel (red) for BP, RBP and SRBP, side by side."""
    names = ["x", "h1", "h2", "y"]
    panels = []
    for rule, label in (
        ("bp", "BP: Wᵀ (weight transport)"),
        ("rbp", "RBP: fixed random B"),
        ("srbp", "SRBP: error skips to every layer"),
    ):
        nodes = pd.DataFrame({"x": [0, 1, 2, 3], "y": [0, 0, 0, 0], "name": names})
        edges = [
            {"x": i + 0.12, "x2": i + 0.88, "y": 0.08, "y2": 0.08, "kind": "forward W", "text": f"W{i + 1}"}
            for i in range(3)
        ]
        if rule == "srbp":
            edges += [
                {
                    "x": 3 - 0.12,
                    "x2": i + 0.12,
                    "y": -0.08 - 0.1 * (2 - i),
                    "y2": -0.08 - 0.1 * (2 - i),
                    "kind": "learning channel",
                    "text": f"B{i}",
                }
                for i in (1, 2)
            ]
        else:
            sym = "Wᵀ" if rule == "bp" else "B"
            edges += [
                {
                    "x": i + 0.88,
                    "x2": i + 0.12,
                    "y": -0.08,
                    "y2": -0.08,
                    "kind": "learning channel",
                    "text": f"{sym}{i + 1}" if rule == "bp" else f"B{i}",
                }
                for i in (1, 2)
            ]
        e = pd.DataFrame(edges)
        e["xm"] = (e["x"] + e["x2"]) / 2
        sx = alt.Scale(domain=[-0.3, 3.3])
        sy = alt.Scale(domain=[-0.45, 0.3])
        lines = (
            alt.Chart(e)
            .mark_rule(strokeWidth=2)
            .encode(
                x=alt.X("x:Q", scale=sx, axis=None),
                x2="x2:Q",
                y=alt.Y("y:Q", scale=sy, axis=None),
                y2="y2:Q",
                color=alt.Color(
                    "kind:N",
                    scale=alt.Scale(domain=["forward W", "learning channel"], range=["#777", "#D55E00"]),
                    title=None,
                ),
            )
        )
        tips = (
            alt.Chart(e)
            .mark_point(filled=True, size=60)
            .encode(
                x=alt.X("x2:Q", scale=sx),
                y=alt.Y("y2:Q", scale=sy),
                color="kind:N",
                shape=alt.Shape(
                    "kind:N",
                    scale=alt.Scale(
                        domain=["forward W", "learning channel"], range=["triangle-right", "triangle-left"]
                    ),
                    legend=None,
                ),
            )
        )
        labels = (
            alt.Chart(e)
            .mark_text(dy=-7, fontSize=11)
            .encode(x=alt.X("xm:Q", scale=sx), y=alt.Y("y:Q", scale=sy), text="text:N")
        )
        dots = (
            alt.Chart(nodes)
            .mark_circle(size=500, color="#0072B2")
            .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy))
        )
        text = (
            alt.Chart(nodes)
            .mark_text(color="white", fontWeight="bold")
            .encode(x=alt.X("x:Q", scale=sx), y=alt.Y("y:Q", scale=sy), text="name:N")
        )
        panels.append((lines + tips + labels + dots + text).properties(width=230, height=120, title=label))
    return alt.hconcat(*panels).configure_view(stroke=None)
