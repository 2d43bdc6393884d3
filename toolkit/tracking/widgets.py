"""Panel builders and charts for the tracking notebook (each returns a :class:`toolkit.panels.Panel`
or an Altair chart; the notebook only calls these)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from ..panels import Panel, dropdown, log_slider, slider, toggle
from .assignment import DEFAULT_NO_MATCH, solve_assignment
from .detector import DetectorConfig, Event
from .landscape import loss_slice

__all__ = ["demo_problem", "lambda_chart", "lambda_panel", "event_chart", "event_panel", "graph_chart",
           "training_panel", "sweep_chart", "image_chart", "assignment_chart"]


def demo_problem(n: int = 4, m: int = 5, *, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A small layer-pair problem: (cost with a few forbidden ``inf`` pairs, true 0/1 assignment).

    True pairs get costs around 0.3, wrong ones around 0.65 — with overlaps, so the exact solver
    makes a mistake the gradient can fix.
    """
    rng = np.random.default_rng(seed)
    target = np.zeros((n, m))
    cols = rng.permutation(m)[:n]
    target[np.arange(n), cols] = 1.0
    target[n - 1, cols[n - 1]] = 0.0  # one hit continues nowhere (range-out)
    cost = np.where(target > 0, rng.normal(0.3, 0.12, (n, m)), rng.normal(0.62, 0.12, (n, m))).clip(0.01, 0.99)
    forbid = (rng.random((n, m)) < 0.2) & (target == 0)
    cost[forbid] = np.inf
    cost[0, cols[1]] = 0.22  # a tempting wrong pair: row 0 vs row 1 compete for column cols[1]
    return cost.round(3), target


def lambda_chart(rows: Sequence[dict], lam: float) -> alt.VConcatChart:
    """Step-shaped true loss and f_λ on top, the blackbox gradient below (shared t axis)."""
    df = pd.DataFrame(rows)
    long = pd.concat([
        pd.DataFrame(dict(t=df.t, value=df.true_loss, curve="true loss L(y(c))", panel="loss")),
        pd.DataFrame(dict(t=df.t, value=df.f_lambda, curve=f"f_λ (λ = {lam:.3g})", panel="loss")),
        pd.DataFrame(dict(t=df.t, value=df.grad, curve="∂f_λ/∂c (blackbox)", panel="gradient")),
    ])
    colour = alt.Color("curve:N", title=None, legend=alt.Legend(orient="top"))
    x = alt.X("t:Q", title="shift t of the moved cost c_ij")
    top = alt.Chart().transform_filter(alt.datum.panel == "loss").mark_line(interpolate="linear").encode(
        x=x, y=alt.Y("value:Q", title="Hamming loss"), color=colour, strokeDash=alt.StrokeDash("curve:N", legend=None),
    ).properties(width=420, height=170)
    bottom = alt.Chart().transform_filter(alt.datum.panel == "gradient").mark_line(interpolate="step-after").encode(
        x=x, y=alt.Y("value:Q", title="gradient"), color=colour,
    ).properties(width=420, height=90)
    return alt.vconcat(top, bottom, data=long)


def lambda_panel(cost: np.ndarray | None = None, target: np.ndarray | None = None, *,
                 no_match: float = DEFAULT_NO_MATCH) -> Panel:
    """THE panel: move λ and watch the true (piecewise-constant) loss, f_λ and its gradient."""
    if cost is None or target is None:
        cost, target = demo_problem()
    cost, target = np.asarray(cost, float), np.asarray(target, float)
    entries = [f"({i}, {j})" for i, j in zip(*np.nonzero(np.isfinite(cost)))]
    wrong = np.argwhere((solve_assignment(cost, no_match) != target) & np.isfinite(cost))
    start = f"({wrong[0][0]}, {wrong[0][1]})" if len(wrong) else entries[0]

    def render(lam: float, entry: str) -> tuple:
        i, j = (int(v) for v in entry.strip("()").split(","))
        rows = loss_slice(cost, target, lam, entry=(i, j), t=np.linspace(-0.8, 0.8, 161), no_match=no_match)
        mid = rows[len(rows) // 2]
        margins = np.abs(cost[np.isfinite(cost)] - no_match)
        text = (f"λ = {lam:.3g} (λ / median cost margin = {lam / np.median(margins):.2g}); at t = 0: "
                f"true loss = {mid['true_loss']:.0f}, f_λ = {mid['f_lambda']:.3f}, gradient = {mid['grad']:.3g}")
        return lambda_chart(rows, lam), text

    return Panel({"lam": log_slider("λ", 0.3, 0.01, 2.0), "entry": dropdown("moved cost", entries, start)},
                 render, title="Blackbox differentiation: true loss vs f_λ", key="tracking-lambda")


def assignment_chart(cost: np.ndarray, y: np.ndarray, target: np.ndarray | None = None) -> alt.Chart:
    """Heat map of a cost matrix with the chosen pairs (and true pairs) marked."""
    n, m = cost.shape
    rows = [dict(row=i, col=j, cost=float(cost[i, j]) if np.isfinite(cost[i, j]) else None,
                 chosen=bool(y[i, j]), true=bool(target[i, j]) if target is not None else False,
                 label="∞" if not np.isfinite(cost[i, j]) else f"{cost[i, j]:.2f}")
            for i in range(n) for j in range(m)]
    base = alt.Chart(pd.DataFrame(rows)).encode(x=alt.X("col:O", title="hit in layer l+1"),
                                                y=alt.Y("row:O", title="hit in layer l"))
    heat = base.mark_rect().encode(color=alt.Color("cost:Q", scale=alt.Scale(scheme="viridis"), title="cost"))
    text = base.mark_text(fontSize=12).encode(text="label:N", color=alt.value("white"))
    chosen = base.transform_filter(alt.datum.chosen).mark_rect(fill=None, stroke="red", strokeWidth=3)
    true = base.transform_filter(alt.datum.true).mark_point(shape="diamond", size=60, color="orange", filled=True,
                                                            yOffset=-12)
    return (heat + text + chosen + true).properties(width=50 * m, height=50 * n)


def event_chart(event: Event, view: str = "x", *, edges=None, linked=None) -> alt.Chart:
    """Event display in the x–z (``view="x"``) or y–z plane, hits coloured by particle (grey = noise).

    ``edges`` (2, E) with optional 0/1 ``linked`` draws candidate / linked segments.
    """
    if view not in ("x", "y"):
        raise ValueError(f"view must be one of 'x', 'y'; got {view!r}")
    coord = event.x if view == "x" else event.y
    hits = pd.DataFrame(dict(z=event.z, u=coord, particle=np.where(event.particle_id > 0,
                                                                   event.particle_id.astype(str), "noise")))
    pts = alt.Chart(hits).mark_circle(size=28).encode(
        x=alt.X("z:Q", title="z (mm)"), y=alt.Y("u:Q", title=f"{view} (mm)", scale=alt.Scale(zero=False)),
        color=alt.Color("particle:N", legend=None, scale=alt.Scale(scheme="category20")),
        tooltip=["particle:N", "z:Q", "u:Q"])
    layers = []
    if edges is not None:
        e = np.asarray(edges)
        on = np.ones(e.shape[1], bool) if linked is None else np.asarray(linked, bool)
        seg = pd.DataFrame(dict(z=np.concatenate([event.z[e[0]], event.z[e[1]]]),
                                u=np.concatenate([coord[e[0]], coord[e[1]]]),
                                edge=np.tile(np.arange(e.shape[1]), 2), linked=np.tile(on, 2)))
        layers.append(alt.Chart(seg).mark_line(strokeWidth=1).encode(
            x="z:Q", y="u:Q", detail="edge:N",
            color=alt.condition(alt.datum.linked, alt.value("#333"), alt.value("#ddd"))))
    return alt.layer(*layers, pts).properties(width=420, height=260)


def graph_chart(event: Event, data) -> alt.Chart:
    """Candidate edges of an event's graph: true segments dark, fake ones light."""
    return event_chart(event, "x", edges=data.edge_index.numpy(), linked=data.y.numpy() > 0)


def event_panel(events: Sequence[Event], config: DetectorConfig | None = None) -> Panel:
    """Browse events: x–z / y–z views, optionally with the candidate edges of the graph."""
    from .graph import build_graph

    cfg = config or DetectorConfig()

    def render(event: int, view: str, edges: bool):
        ev = events[event]
        if edges:
            g = build_graph(ev, cfg)
            chart = event_chart(ev, view, edges=g.edge_index.numpy(), linked=g.y.numpy() > 0)
            extra = f", {g.num_edges} candidate edges ({int(g.y.sum())} true)"
        else:
            chart, extra = event_chart(ev, view), ""
        n_p = int(np.sum(ev.particles["n_hits"] > 0))
        return chart, f"event {event}: {ev.n_hits} hits, {n_p} particles with hits{extra}"

    return Panel({"event": slider("event", 0, 0, len(events) - 1), "view": dropdown("view", ["x", "y"]),
                  "edges": toggle("candidate edges", False)}, render, title="Event display", key="tracking-event")


def training_panel(train_graphs, test_graphs, n_layers: int, *, epochs: int = 3, lr: float = 1e-2) -> Panel:
    """Train with a button: mode, estimator, λ, epochs; loss curves stream live, test metrics in the readout."""
    from ..charts import metric_lines
    from .pipeline import evaluate
    from .train import TrainConfig, fit, one_thread

    def render(mode: str, estimator: str, lam: float, epochs: int, live=None):
        run = f"{mode}/{estimator}/λ={lam:.2g}" if mode != "two_step" else "two_step"
        if live is not None and not live.rows:
            live.chart = metric_lines("training loss", facet=None)

        def push(row):
            if live is not None and row["step"] % 2 == 0:
                live.push(dict(step=row["step"], metric="loss", value=row["loss"], run=run))

        model, hist = fit(train_graphs, TrainConfig(mode=mode, estimator=estimator, lam=lam, epochs=epochs, lr=lr),
                          n_layers=n_layers, callback=push)
        if live is not None:
            live.flush()
        with one_thread():
            r = evaluate(model, test_graphs, n_layers)
        render.models[run] = model
        render.results[run] = r
        return None, (f"<b>{run}</b>: purity {r['purity']:.3f}, efficiency {r['efficiency']:.3f}, "
                      f"TrackML {r['trackml']:.3f}, edge P/R {r['edge_precision']:.3f}/{r['edge_recall']:.3f}")

    render.models, render.results = {}, {}
    return Panel({"mode": dropdown("mode", ["two_step", "e2e", "mixed"]),
                  "estimator": dropdown("estimator", ["blackbox", "straight_through", "sinkhorn"]),
                  "lam": log_slider("lam", 0.1, 0.001, 10.0), "epochs": slider("epochs", epochs, 1, 20)},
                 render, title="Two-step vs end-to-end training", button="Train", key="tracking-train")


def sweep_chart(rows: Sequence[dict]) -> alt.HConcatChart:
    """Instability m_minmax and loss barrier against λ (log axis)."""
    df = pd.DataFrame(rows)
    base = alt.Chart().encode(x=alt.X("lam:Q", scale=alt.Scale(type="log"), title="λ"))
    a = base.mark_line(point=True).encode(y=alt.Y("m_minmax_mean:Q", title="m_minmax (seed pairs)")).properties(
        width=220, height=160)
    b = base.mark_line(point=True, color="firebrick").encode(y=alt.Y("barrier_bce:Q", title="BCE barrier")).properties(
        width=220, height=160)
    c = base.mark_line(point=True, color="seagreen").encode(y=alt.Y("purity_mean:Q", title="purity",
                                                                   scale=alt.Scale(zero=False))).properties(
        width=220, height=160)
    return alt.hconcat(a, b, c, data=df)


def image_chart(images: dict[str, np.ndarray], extent: float) -> alt.Chart:
    """Side-by-side radiographs (mean WEPL per pixel), one facet per entry of ``images``."""
    frames = []
    for name, img in images.items():
        k = img.shape[0]
        centres = np.linspace(-extent, extent, k + 1)[:-1] + extent / k
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        frames.append(pd.DataFrame(dict(x=xx.ravel().round(2), y=yy.ravel().round(2), wepl=img.ravel(), image=name)))
    df = pd.concat(frames)
    df["wepl"] = df["wepl"].astype(float).where(np.isfinite(df["wepl"]), None)
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("x:O", title="x (mm)", axis=alt.Axis(labels=False, ticks=False)),
        y=alt.Y("y:O", title="y (mm)", sort="descending", axis=alt.Axis(labels=False, ticks=False)),
        color=alt.Color("wepl:Q", title="WEPL (mm)", scale=alt.Scale(scheme="greys", reverse=True)),
    ).properties(width=180, height=180).facet(column=alt.Column("image:N", title=None))
