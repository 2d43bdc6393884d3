"""Panel builders and charts for the tracking notebook (each returns a :class:`toolkit.panels.Panel`
or an Altair chart; the notebook only calls these)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import palette
from ..panels import Panel, dropdown, log_slider, slider, toggle
from .assignment import DEFAULT_NO_MATCH, solve_assignment
from .detector import DetectorConfig, Event, as_config
from .landscape import _hamming_lambda, descend, flip_margin, loss_slice, random_direction
from .losses import solver_lambda

__all__ = [
    "demo_problem",
    "lambda_chart",
    "lambda_panel",
    "lambda_explorer",
    "event_chart",
    "event_panel",
    "graph_chart",
    "training_panel",
    "sweep_chart",
    "image_chart",
    "assignment_chart",
    "explorer_state",
    "stability_chart",
    "FAINT_LAMS",
]

FAINT_LAMS = (0.03, 0.1, 0.3, 1.0)  # the faint f_λ curves drawn behind the chosen λ


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
    cost = np.where(target > 0, rng.normal(0.3, 0.12, (n, m)), rng.normal(0.62, 0.12, (n, m))).clip(
        0.01, 0.99
    )
    forbid = (rng.random((n, m)) < 0.2) & (target == 0)
    cost[forbid] = np.inf
    cost[0, cols[1]] = 0.22  # a tempting wrong pair: row 0 vs row 1 compete for column cols[1]
    return cost.round(3), target


def lambda_chart(
    rows: Sequence[dict],
    lam: float,
    faint: dict[float, Sequence[dict]] | None = None,
    x_title: str = "shift t of the moved cost c_ij",
) -> alt.VConcatChart:
    """Step-shaped true loss, f_λ (bold) and faint f_λ for other λ on top; the blackbox slope below."""
    df = pd.DataFrame(rows)
    frames = [
        pd.DataFrame(dict(t=df.t, value=df.true_loss, curve="true loss L(y(c))", panel="loss", w=2.5)),
        pd.DataFrame(dict(t=df.t, value=df.f_lambda, curve=f"f_λ, λ = {lam:.3g}", panel="loss", w=2.5)),
        pd.DataFrame(dict(t=df.t, value=df.grad, curve="slope of f_λ (blackbox)", panel="gradient", w=2.0)),
    ]
    for other, orows in (faint or {}).items():
        o = pd.DataFrame(orows)
        frames.append(
            pd.DataFrame(
                dict(t=o.t, value=o.f_lambda, curve=f"f_λ, λ = {other:g} (faint)", panel="loss", w=1.0)
            )
        )
    long = pd.concat(frames)
    # colour-blind-safe colours, the true loss in black (toolkit.palette); faint λ also thinner and lighter
    colour = alt.Color(
        "curve:N",
        title=None,
        legend=alt.Legend(orient="top", columns=3),
        scale=palette.color_scale(list(dict.fromkeys(long.curve)), reference="true loss L(y(c))"),
    )
    x = alt.X("t:Q", title=x_title)
    top = (
        alt.Chart()
        .transform_filter(alt.datum.panel == "loss")
        .mark_line(interpolate="linear")
        .encode(
            x=x,
            y=alt.Y("value:Q", title="loss"),
            color=colour,
            detail="curve:N",
            strokeWidth=alt.StrokeWidth("w:Q", legend=None, scale=None),
            opacity=alt.condition(alt.datum.w < 1.5, alt.value(0.35), alt.value(1.0)),
        )
        .properties(width=380, height=170)
    )
    bottom = (
        alt.Chart()
        .transform_filter(alt.datum.panel == "gradient")
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("value:Q", title="slope"),
            color=colour,
        )
        .properties(width=380, height=80)
    )
    return alt.vconcat(top, bottom, data=long)


def _matrices_chart(
    cost: np.ndarray, target: np.ndarray, y: np.ndarray, y_lam: np.ndarray, lam: float
) -> alt.FacetChart:
    """y(c), y(c + λ∂L/∂y) and the gradient −(y − y_λ)/λ side by side (true pairs outlined)."""
    n, m = cost.shape
    grad = -(y - y_lam) / lam
    rows = []
    for name, mat in (("y(c)", y), ("y(c + λ ∂L/∂y)", y_lam), ("gradient −(y − y_λ)/λ", grad)):
        for i in range(n):
            for j in range(m):
                forbidden = not np.isfinite(cost[i, j])
                if forbidden:
                    state, label = "forbidden (∞)", "∞"
                elif name.startswith("gradient"):
                    v = mat[i, j]
                    state = "+1/λ" if v > 0 else "−1/λ" if v < 0 else "0"
                    label = f"{v:+.2g}" if v else "0"
                else:
                    state = "linked" if mat[i, j] > 0 else "not linked"
                    label = f"{cost[i, j]:.2f}"
                rows.append(
                    dict(matrix=name, row=i, col=j, state=state, label=label, true=bool(target[i, j]))
                )
    df = pd.DataFrame(rows)
    scale = alt.Scale(
        domain=["linked", "not linked", "forbidden (∞)", "+1/λ", "−1/λ", "0"],
        range=["#fdae6b", "#f7f7f7", "#bdbdbd", "#9ecae1", "#fc9272", "#f7f7f7"],
    )
    base = alt.Chart().encode(
        x=alt.X("col:O", title="hit in layer l+1"), y=alt.Y("row:O", title="hit in layer l")
    )
    rect = base.mark_rect(stroke="#444").encode(
        color=alt.Color("state:N", scale=scale, legend=alt.Legend(orient="bottom", title=None)),
        strokeWidth=alt.condition(alt.datum.true, alt.value(2.5), alt.value(0.3)),
    )
    text = base.mark_text(fontSize=10, color="black").encode(text="label:N")  # dark text on light fills
    return (
        alt.layer(rect, text, data=df)
        .properties(width=26 * m, height=26 * n)
        .facet(
            column=alt.Column(
                "matrix:N",
                title="solver output before / after the λ-perturbation (thick border = true pair)",
                sort=["y(c)", "y(c + λ ∂L/∂y)", "gradient −(y − y_λ)/λ"],
            )
        )
    )


def explorer_state(
    cost: np.ndarray,
    target: np.ndarray,
    lam: float,
    direction: str = "random (all costs)",
    *,
    alpha: float = 0.0,
    steps: int = 30,
    run_descent: bool = False,
    no_match: float | None = DEFAULT_NO_MATCH,
    faint: Sequence[float] = FAINT_LAMS,
) -> dict:
    """Everything the λ explorer shows, as numbers (the panel draws this; tests and asserts use it).

    Keys: ``rows`` (slice of true loss / f_λ / slope along the direction), ``faint`` (λ → rows),
    ``y``, ``y_lam`` (the solver's answer perturbed by λ(1 − α)·∂Hamming/∂y, as in training's ``mixed``
    mode), ``grad`` (the Hamming part's gradient −(1 − α)(y − y_λ)/(λ(1 − α)) = −(y − y_λ)/λ),
    ``margin`` (:func:`~toolkit.tracking.landscape.flip_margin`),
    ``nonzero`` (gradient entries ≠ 0), ``descent`` (rows of :func:`~toolkit.tracking.landscape.descend`
    when ``run_descent``).
    """
    cost, target = np.asarray(cost, float), np.asarray(target, float)
    if direction.startswith("random"):
        d = random_direction(cost, seed=0)
        kw = dict(direction=d)
    else:
        i, j = (int(v) for v in direction.strip("()").split(","))
        kw = dict(entry=(i, j))
    t = np.linspace(-0.8, 0.8, 161)
    rows = loss_slice(cost, target, lam, t=t, no_match=no_match, alpha=alpha, **kw)
    faint_rows = {
        f: loss_slice(cost, target, f, t=t, no_match=no_match, alpha=alpha, **kw) for f in faint if f != lam
    }
    y = solve_assignment(cost, no_match)
    lam_h = _hamming_lambda(lam, alpha)  # the mixed loss's solver sees ∂L/∂y = (1 − α)(1 − 2t): λ(1 − α)
    # at α = 1 there is no Hamming term: nothing perturbs the solver
    y_lam = y.copy() if alpha >= 1 else solve_assignment(cost + lam_h * (1 - 2 * target), no_match)
    grad = -(y - y_lam) / lam  # what the blackbox backward of (1 − α)·Hamming returns: ±1/λ (0 at α = 1)
    out = dict(
        rows=rows,
        faint=faint_rows,
        y=y,
        y_lam=y_lam,
        grad=grad,
        margin=flip_margin(cost, target, no_match),
        nonzero=int(np.count_nonzero(grad)),
        descent=None,
    )
    if run_descent:
        out["descent"] = descend(cost, target, lam, steps=steps, alpha=alpha, no_match=no_match)
    return out


def lambda_explorer(
    cost: np.ndarray | None = None,
    target: np.ndarray | None = None,
    *,
    no_match: float | None = DEFAULT_NO_MATCH,
) -> Panel:
    """THE panel: λ, the slice direction, the BCE weight α and gradient descent on the costs.

    Top: the true loss staircase along a direction (one cost entry, or a random direction over all
    costs), the interpolation f_λ for the chosen λ (bold) and for several other λ (faint), and the
    slope the blackbox estimator returns. Middle: y(c), y(c + λ∂L/∂y) and the gradient. The
    **Descend** button runs ``steps`` normalised gradient steps on the costs and draws the loss.
    """
    if cost is None or target is None:
        cost, target = demo_problem()
    cost, target = np.asarray(cost, float), np.asarray(target, float)
    entries = [f"({i}, {j})" for i, j in zip(*np.nonzero(np.isfinite(cost)))]
    wrong = np.argwhere((solve_assignment(cost, no_match) != target) & np.isfinite(cost))
    options = ["random (all costs)"] + entries
    flags = {"descend": False}

    def render(lam: float, direction: str, alpha: float, steps: int) -> tuple:
        st = explorer_state(
            cost,
            target,
            lam,
            direction,
            alpha=alpha,
            steps=int(steps),
            run_descent=flags["descend"],
            no_match=no_match,
        )
        render.state = st
        x_title = (
            "step t along a random direction over all costs"
            if direction.startswith("random")
            else f"shift t of the cost c{direction}"
        )
        chart = alt.hconcat(
            lambda_chart(st["rows"], lam, st["faint"], x_title),
            _matrices_chart(cost, target, st["y"], st["y_lam"], lam),
        ).resolve_scale(color="independent")
        mid = st["rows"][len(st["rows"]) // 2]
        m = st["margin"]
        lam_h = solver_lambda(lam, "mixed", alpha)  # what the solver is perturbed by
        zero = lam_h < m
        shown = "λ" if alpha == 0 else f"λ(1 − α) = {lam_h:.3g}"
        text = (
            f"<b>λ = {lam:.3g}</b>, α = {alpha:.2f}. Margin <b>m = {m:.3g}</b> = the smallest "
            "perturbation for which y(c + λ∂Hamming/∂y) ≠ y(c) (here: how far the nearest wrong "
            "decision's cost is from flipping). "
            + (
                "With α &gt; 0 the loss is α·BCE + (1 − α)·Hamming, so the solver is perturbed by λ(1 − α). "
                if alpha > 0
                else ""
            )
            + (
                f"<b>The gradient is 0 while λ &lt; m</b>: now {shown} &lt; m, so the Hamming part is 0 "
                "everywhere" + (" (only the BCE part moves the costs)." if alpha > 0 else ".")
                if zero
                else f"Now {shown} ≥ m: {st['nonzero']} gradient entries of ±1/λ = ±{1 / lam:.3g}."
            )
            + f" At t = 0: true loss {mid['true_loss']:.3g}, f_λ {mid['f_lambda']:.3g}, slope "
            f"{mid['grad']:.3g}."
        )
        if st["descent"] is not None:
            d = pd.DataFrame(st["descent"])
            reached = d.index[d.hamming == 0]
            text += (
                f"<br><b>Descend</b> ({int(steps)} steps on c): Hamming loss {d.hamming.iloc[0]:.0f} → "
                f"{d.hamming.iloc[-1]:.0f}"
                + (
                    f" (0 at step {int(d.step[reached[0]])})."
                    if len(reached)
                    else " — never 0: the gradient is 0, the costs never move."
                    if d.grad_norm.max() == 0
                    else "."
                )
            )
            desc = (
                alt.Chart(d)
                .mark_line(point=True)
                .encode(x=alt.X("step:Q", title="descent step"), y=alt.Y("hamming:Q", title="Hamming loss"))
                .properties(width=380, height=110, title="Descend: loss of y(c) during gradient steps on c")
            )
            chart = alt.vconcat(chart, desc)
        return chart, text

    render.state = None
    panel = Panel(
        {
            "lam": log_slider("λ", 0.3, 0.001, 3.0),
            "direction": dropdown("direction", options, options[0]),
            "alpha": slider("α (BCE weight)", 0.0, 0.0, 1.0, 0.05),
            "steps": slider("steps", 30, 1, 100),
        },
        render,
        title="λ explorer: blackbox differentiation through the assignment",
        key="tracking-lambda",
    )
    button = widgets.Button(
        description="Descend",
        button_style="primary",
        tooltip="take `steps` gradient steps on the costs with this λ and α",
    )

    def descend_now(_=None):
        flags["descend"] = True
        return panel.update()

    button.on_click(descend_now)
    panel.widget.children[-3].children = tuple(panel.widget.children[-3].children) + (button,)
    panel.descend = descend_now
    panel.descend_button = button
    panel.wrong_entries = [f"({i}, {j})" for i, j in wrong]
    return panel


lambda_panel = lambda_explorer  # the old name


def assignment_chart(cost: np.ndarray, y: np.ndarray, target: np.ndarray | None = None) -> alt.Chart:
    """Heat map of a cost matrix, chosen pairs (and true pairs) marked; forbidden pairs grey with "∞"."""
    n, m = cost.shape
    rows = [
        dict(
            row=i,
            col=j,
            cost=float(cost[i, j]) if np.isfinite(cost[i, j]) else None,
            forbidden=not np.isfinite(cost[i, j]),
            chosen=bool(y[i, j]),
            true=bool(target[i, j]) if target is not None else False,
            label="∞" if not np.isfinite(cost[i, j]) else f"{cost[i, j]:.2f}",
        )
        for i in range(n)
        for j in range(m)
    ]
    base = alt.Chart(pd.DataFrame(rows)).encode(
        x=alt.X("col:O", title="hit in layer l+1"), y=alt.Y("row:O", title="hit in layer l")
    )
    heat = (
        base.transform_filter(~alt.datum.forbidden)
        .mark_rect()
        .encode(color=alt.Color("cost:Q", scale=alt.Scale(scheme="viridis"), title="cost"))
    )
    grey = base.transform_filter(alt.datum.forbidden).mark_rect(color="#bdbdbd")
    # viridis is dark below ~0.5: white text there, black on the bright half and on the grey forbidden cells
    text = base.mark_text(fontSize=12).encode(
        text="label:N",
        color=alt.condition(
            "datum.cost !== null && datum.cost < 0.5", alt.value("white"), alt.value("black")
        ),
    )
    chosen = base.transform_filter(alt.datum.chosen).mark_rect(fill=None, stroke="red", strokeWidth=3)
    true = base.transform_filter(alt.datum.true).mark_point(
        shape="diamond", size=60, color="orange", filled=True, yOffset=-12
    )
    return (heat + grey + text + chosen + true).properties(width=50 * m, height=50 * n)


def stability_chart(rows: Sequence[dict]) -> alt.HConcatChart:
    """The shipped stability study: excess instability (m_minmax − noise floor, 95 % CI) and purity vs λ."""
    df = pd.DataFrame([r for r in rows if r.get("lam") is not None])
    base = alt.Chart(df).encode(x=alt.X("lam:Q", scale=alt.Scale(type="log"), title="λ (cost units)"))
    pts = base.mark_line(point=True).encode(y=alt.Y("excess:Q", title="m_minmax − noise floor"))
    bars = base.mark_errorbar().encode(y="excess_lo:Q", y2="excess_hi:Q")
    floor = base.mark_line(strokeDash=[4, 3], color="grey").encode(y="floor:Q")
    two = [r for r in rows if r.get("lam") is None]
    layers = [pts, bars, floor]
    if two:
        ref = (
            alt.Chart(pd.DataFrame(two)).mark_rule(color="firebrick", strokeDash=[2, 2]).encode(y="excess:Q")
        )
        layers.append(ref)
    left = alt.layer(*layers).properties(
        width=260, height=170, title="instability between seeds (red: two-step; grey: floor)"
    )
    right = (
        base.mark_line(point=True, color="seagreen")
        .encode(y=alt.Y("purity_mean:Q", title="paper purity (mean of seeds)", scale=alt.Scale(zero=False)))
        .properties(width=220, height=170)
    )
    return alt.hconcat(left, right)


def event_chart(event: Event, view: str = "x", *, edges=None, linked=None) -> alt.Chart:
    """Event display in the x–z (``view="x"``) or y–z plane, hits coloured by particle (grey = noise).

    ``edges`` (2, E) with optional 0/1 ``linked`` draws candidate / linked segments.
    """
    if view not in ("x", "y"):
        raise ValueError(f"view must be one of 'x', 'y'; got {view!r}")
    coord = event.x if view == "x" else event.y
    hits = pd.DataFrame(
        dict(
            z=event.z,
            u=coord,
            particle=np.where(event.particle_id > 0, event.particle_id.astype(str), "noise"),
        )
    )
    pts = (
        alt.Chart(hits)
        .mark_circle(size=28)
        .encode(
            x=alt.X("z:Q", title="z (mm)"),
            y=alt.Y("u:Q", title=f"{view} (mm)", scale=alt.Scale(zero=False)),
            color=alt.Color("particle:N", legend=None, scale=alt.Scale(scheme="category20")),
            tooltip=["particle:N", "z:Q", "u:Q"],
        )
    )
    layers = []
    if edges is not None:
        e = np.asarray(edges)
        on = np.ones(e.shape[1], bool) if linked is None else np.asarray(linked, bool)
        seg = pd.DataFrame(
            dict(
                z=np.concatenate([event.z[e[0]], event.z[e[1]]]),
                u=np.concatenate([coord[e[0]], coord[e[1]]]),
                edge=np.tile(np.arange(e.shape[1]), 2),
                linked=np.tile(on, 2),
            )
        )
        layers.append(
            alt.Chart(seg)
            .mark_line(strokeWidth=1)
            .encode(
                x="z:Q",
                y="u:Q",
                detail="edge:N",
                color=alt.condition(alt.datum.linked, alt.value("#333"), alt.value("#ddd")),
            )
        )
    return alt.layer(*layers, pts).properties(width=420, height=260)


def graph_chart(event: Event, data) -> alt.Chart:
    """Candidate edges of an event's graph: true segments dark, fake ones light."""
    return event_chart(event, "x", edges=data.edge_index.numpy(), linked=data.y.numpy() > 0)


def event_panel(events: Sequence[Event], config: DetectorConfig | None = None) -> Panel:
    """Browse events: x–z / y–z views, optionally with the candidate edges of the graph."""
    from .graph import build_graph

    cfg = as_config(config)

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

    return Panel(
        {
            "event": slider("event", 0, 0, len(events) - 1),
            "view": dropdown("view", ["x", "y"]),
            "edges": toggle("candidate edges", False),
        },
        render,
        title="Event display",
        key="tracking-event",
    )


def training_panel(train_graphs, test_graphs, n_layers: int, *, epochs: int = 3, lr: float = 1e-2) -> Panel:
    """Train with a button: mode, estimator, λ, epochs; loss curves stream live, test metrics in a readout."""
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

        model, hist = fit(
            train_graphs,
            TrainConfig(mode=mode, estimator=estimator, lam=lam, epochs=epochs, lr=lr),
            n_layers=n_layers,
            callback=push,
        )
        if live is not None:
            live.flush()
        with one_thread():
            r = evaluate(model, test_graphs, n_layers)
        render.models[run] = model
        render.results[run] = r
        text = (
            f"<b>{run}</b>: paper purity {r['purity']:.3f}, paper efficiency {r['efficiency']:.3f}, "
            f"exact-match purity {r['exact_purity']:.3f}, TrackML {r['trackml']:.3f}, "
            f"edge P/R {r['edge_precision']:.3f}/{r['edge_recall']:.3f}"
        )
        if mode != "two_step" and estimator == "blackbox":
            from torch_geometric.data import Batch

            from .pipeline import edge_logits, lambda_scale

            probe = Batch.from_data_list(list(train_graphs[:16]))
            sc = lambda_scale(edge_logits(model, probe), lam, data=probe, n_layers=n_layers)
            text += (
                f"<br>λ = {lam:.3g} is λ_paper ≈ {sc['lam_paper']:.3g} on a 16-event batch; y_λ equals the "
                "target "
                f"on {sc['frac_target']:.0%} of the layer-pair problems"
                + (
                    " — <b>degenerate regime</b>: a larger λ only rescales the gradient."
                    if sc["degenerate"]
                    else "."
                )
            )
        return None, text

    render.models, render.results = {}, {}
    return Panel(
        {
            "mode": dropdown("mode", ["two_step", "e2e", "mixed"]),
            "estimator": dropdown("estimator", ["blackbox", "straight_through", "sinkhorn"]),
            "lam": log_slider("lam", 0.01, 1e-4, 1.0),
            "epochs": slider("epochs", epochs, 1, 20),
        },
        render,
        title="Two-step vs end-to-end training",
        button="Train",
        key="tracking-train",
    )


def sweep_chart(rows: Sequence[dict]) -> alt.HConcatChart:
    """Instability m_minmax and loss barrier against λ (log axis)."""
    df = pd.DataFrame(rows)
    base = alt.Chart().encode(x=alt.X("lam:Q", scale=alt.Scale(type="log"), title="λ"))
    a = (
        base.mark_line(point=True)
        .encode(y=alt.Y("m_minmax_mean:Q", title="m_minmax (seed pairs)"))
        .properties(width=220, height=160)
    )
    b = (
        base.mark_line(point=True, color="firebrick")
        .encode(y=alt.Y("barrier_bce:Q", title="BCE barrier"))
        .properties(width=220, height=160)
    )
    c = (
        base.mark_line(point=True, color="seagreen")
        .encode(y=alt.Y("purity_mean:Q", title="purity", scale=alt.Scale(zero=False)))
        .properties(width=220, height=160)
    )
    return alt.hconcat(a, b, c, data=df)


def image_chart(images: dict[str, np.ndarray], extent: float) -> alt.Chart:
    """Side-by-side radiographs (mean WEPL per pixel), one facet per entry of ``images``."""
    frames = []
    for name, img in images.items():
        k = img.shape[0]
        centres = np.linspace(-extent, extent, k + 1)[:-1] + extent / k
        yy, xx = np.meshgrid(centres, centres, indexing="ij")
        frames.append(
            pd.DataFrame(dict(x=xx.ravel().round(2), y=yy.ravel().round(2), wepl=img.ravel(), image=name))
        )
    df = pd.concat(frames)
    df["wepl"] = df["wepl"].astype(float).where(np.isfinite(df["wepl"]), None)
    return (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("x:O", title="x (mm)", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:O", title="y (mm)", sort="descending", axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color("wepl:Q", title="WEPL (mm)", scale=alt.Scale(scheme="greys", reverse=True)),
        )
        .properties(width=180, height=180)
        .facet(column=alt.Column("image:N", title=None))
    )
