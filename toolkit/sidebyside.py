"""Surrogate gradients side by side: one chart per estimator, the same axes (notebook 04).

Each topic has an interpolation factor between an exact and a surrogate gradient. A
:class:`Surrogate` names it and gives a ``curve(factors, seed=...)`` function that returns a
DataFrame with ``factor``, ``cosine`` (to the exact gradient) and one column saying what the bias
buys or costs. This module knows no topic: the notebook passes the topics' functions in.

:func:`alignment_panel` draws every curve on the same cosine axis, marks each slider's value, and
reads out the measured numbers at the sliders' values (computed, not interpolated; cached, so a
slider move recomputes only its own topic).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from .chart_template import ChartTemplate, ReadySpec
from .check import Exercise
from .panels import Panel, log_slider, slider
from .validation import check_array, check_bool, check_float, check_instance, check_int

__all__ = [
    "Surrogate",
    "alignment_chart",
    "alignment_panel",
    "ex_best_lambda",
    "ex_exact_direction",
    "ex_first_mu",
]


@dataclass(frozen=True)
class Surrogate:
    """One surrogate gradient and its interpolation factor."""

    name: str  # e.g. "solver: blackbox λ"
    factor: str  # the control's label, e.g. "λ"
    curve: Callable[..., pd.DataFrame]  # curve(factors, seed=...) -> factor, cosine, <extra>
    grid: tuple[float, ...]  # the factors drawn as the curve
    default: float
    extra: str  # the column with what the bias buys, e.g. "accuracy"
    extra_title: str
    log: bool = False

    def __post_init__(self) -> None:
        for name in ("name", "factor", "extra", "extra_title"):
            _check_text(name, getattr(self, name))
        if not callable(self.curve):
            raise TypeError(f"curve must be callable, got {type(self.curve).__name__}")
        if isinstance(self.grid, (str, bytes)) or not isinstance(self.grid, Sequence):
            raise TypeError(f"grid must be a list of factors, got {type(self.grid).__name__}")
        grid = check_array("grid", self.grid, ndim=1, min_size=0)
        if len(grid) < 2:
            raise ValueError(f"grid must list at least 2 factors, got {list(self.grid)}")
        check_float("default", self.default)
        check_bool("log", self.log)
        low, high = min(self.grid), max(self.grid)
        if not low <= self.default <= high:
            raise ValueError(f"default must lie in the grid's range [{low}, {high}], got {self.default}")
        if self.log and low <= 0:
            raise ValueError(f"a log grid must be positive, got minimum {low}")


def _check_text(name: str, value: object, empty: bool = False) -> None:
    if not isinstance(value, str) or not (value or empty):
        raise TypeError(f"{name} must be a {'' if empty else 'non-empty '}string, got {value!r}")


def alignment_chart(
    frame: pd.DataFrame,
    *,
    title: str,
    factor: str,
    extra: str,
    extra_title: str,
    log: bool = False,
    marker: float | None = None,
) -> alt.VConcatChart:
    """Cosine to the exact gradient (top, fixed axis [−0.1, 1.05]) and ``extra`` (bottom) vs the factor."""
    check_instance("frame", frame, pd.DataFrame, "a pandas DataFrame")
    for name, value in (("title", title), ("factor", factor), ("extra", extra), ("extra_title", extra_title)):
        _check_text(name, value, empty=name == "title")
    check_bool("log", log)
    if marker is not None:
        marker = check_float("marker", marker)
    for column in ("factor", "cosine", extra):
        if column not in frame:
            raise ValueError(f"frame must have a {column!r} column, got {list(frame.columns)}")
    x = alt.X("factor:Q", title=factor, scale=alt.Scale(type="log") if log else alt.Scale(zero=False))
    base = alt.Chart(frame).encode(x=x, tooltip=["factor:Q", "cosine:Q", f"{extra}:Q"])
    cosine = (
        base.mark_line(point=True)
        .encode(y=alt.Y("cosine:Q", title="cosine to exact", scale=alt.Scale(domain=[-0.1, 1.05])))
        .properties(title=title, width=220, height=150)
    )
    bought = (
        base.mark_line(point=True, strokeDash=[4, 2])
        .encode(y=alt.Y(f"{extra}:Q", title=extra_title, scale=alt.Scale(zero=False)))
        .properties(width=220, height=110)
    )
    if marker is not None:
        rule = (
            alt.Chart(pd.DataFrame({"factor": [marker]}))
            .mark_rule(color="black", strokeDash=[2, 2])
            .encode(x=x)
        )
        cosine, bought = cosine + rule, bought + rule
    return alt.vconcat(cosine, bought)


def alignment_panel(surrogates: Sequence[Surrogate], *, seed: int = 0) -> Panel:
    """One slider per surrogate's factor and a shared seed; a chart per surrogate, the same axes."""
    if isinstance(surrogates, (str, bytes)) or not isinstance(surrogates, Iterable):
        raise TypeError(f"surrogates must be a non-empty list of Surrogate, got {type(surrogates).__name__}")
    surrogates = list(surrogates)
    if not surrogates or not all(isinstance(s, Surrogate) for s in surrogates):
        raise TypeError("surrogates must be a non-empty list of Surrogate")
    check_int("seed", seed, low=0, high=1000)

    @functools.lru_cache(maxsize=64)
    def curve(index: int, seed: int) -> pd.DataFrame:
        s = surrogates[index]
        return s.curve(list(s.grid), seed=seed)

    @functools.lru_cache(maxsize=256)
    def point(index: int, value: float, seed: int) -> pd.Series:
        frame = curve(index, seed)
        on_grid = frame[np.isclose(frame["factor"], value, rtol=1e-12, atol=0)]
        if len(on_grid):  # the curves are seeded, so a grid point is the same measurement
            return on_grid.iloc[0]
        return surrogates[index].curve([value], seed=seed).iloc[0]

    controls = {}
    for i, s in enumerate(surrogates):
        make = log_slider if s.log else slider
        controls[f"f{i}"] = make(s.factor, s.default, min(s.grid), max(s.grid))
    controls["seed"] = slider("seed", seed, 0, 9)

    looks = tuple(
        dict(title=s.name, factor=s.factor, extra=s.extra, extra_title=s.extra_title, log=s.log)
        for s in surrogates
    )

    def figure(*slots: pd.DataFrame) -> alt.HConcatChart:
        """alignment_chart per surrogate; its datasets in drawing order: curve, marker, curve, marker."""
        return alt.hconcat(
            *(
                alignment_chart(slots[4 * i], marker=float(slots[4 * i + 1]["factor"].iloc[0]), **look)
                for i, look in enumerate(looks)
            )
        )

    # a slider step moves one marker: build the figure once, then only its rows change (≈ 200 -> 20 ms)
    template = ChartTemplate(figure)

    def render(seed: int, **factors: float) -> tuple[ReadySpec, str]:
        slots, lines = [], []
        for i, s in enumerate(surrogates):
            value = float(factors[f"f{i}"])
            mark = pd.DataFrame({"factor": [value]})
            slots += [curve(i, seed), mark, curve(i, seed), mark]
            here = point(i, value, seed)
            lines.append(
                f"<b>{s.name}</b> at {s.factor} = {value:.3g}: cosine <b>{here['cosine']:.2f}</b>, "
                f"{s.extra_title} {here[s.extra]:.3g}"
            )
        return template("figure", *slots), "<br>".join(lines)

    panel = Panel(controls, render, title="Three surrogate gradients, one axis", key="three-gradients")
    panel.curve, panel.point = curve, point  # the measured numbers, for cells that assert on them
    return panel


# -- the closing exercises of notebook 04 (multiple choice: the answer is a reason, not a number) ----------
ex_best_lambda = Exercise(
    key="4.1",
    question=(
        "Where does the blackbox gradient point most nearly like the smoothed solver's exact gradient? "
        "Answer with one of the choices."
    ),
    reference="lambda near the cost gaps",
    choices=("tiny lambda", "lambda near the cost gaps", "any large lambda"),
    misconceptions=[
        (
            lambda a, e: a == "tiny lambda",
            "a tiny λ perturbs no cost enough to change the solution: y(c + λ∂L/∂y) = y(c), the gradient is "
            "0 "
            "and a zero vector has no direction (the chart's cosine is ~0 there).",
        ),
        (
            lambda a, e: a == "any large lambda",
            "past a point every problem jumps straight to the target, so the gradient is (y* − y)/λ "
            "whatever λ is: "
            "the curve is flat there, and lower than its peak. Look for where it is highest.",
        ),
    ],
    hints=(
        "Read the tracking chart from left to right: what happens at both ends?",
        "The interpolation f_λ changes slope only where the perturbed costs cross each other.",
    ),
)

ex_exact_direction = Exercise(
    key="4.2",
    question=(
        "Which surrogate has exactly the exact gradient's direction at every value of its factor "
        "(and why does it still change the result)? Answer with one of the choices."
    ),
    reference="score scale",
    choices=("blackbox lambda", "feedback mix", "score scale"),
    misconceptions=[
        (
            lambda a, e: a == "feedback mix",
            "B_μ = (1 − μ)B + μWᵀ changes the direction of the hidden updates; only μ = 1 is exact (see the "
            "cosine curve).",
        ),
        (
            lambda a, e: a == "blackbox lambda",
            "the blackbox gradient's direction changes with λ (its cosine peaks and then falls to a "
            "plateau).",
        ),
    ],
    hints=(
        "Which chart is a flat line at cosine 1?",
        "γ·∇log p is the exact score of another density, p^γ: right direction, wrong length.",
    ),
)


def _first_above(frame: pd.DataFrame, level: float = 0.9) -> float:
    above = frame[frame["cosine"] > level]
    return float(above["factor"].min()) if len(above) else float("nan")


ex_first_mu = Exercise(
    key="4.3",
    question=(
        "Read the feedback channel's curve (the table `mix` above): what is the smallest μ on the grid "
        "whose hidden-layer update has a cosine above 0.9 with backprop's gradient?"
    ),
    reference=_first_above,
    misconceptions=[
        (
            lambda a, e: a == 1.0,
            "μ = 1 is backprop itself (cosine exactly 1); a smaller μ already passes 0.9.",
        ),
        (
            lambda a, e, frame: (
                a in set(frame["factor"]) and frame.set_index("factor").loc[a, "cosine"] <= 0.9
            ),
            "at that μ the cosine is still at most 0.9: read the cosine column again.",
        ),
        (lambda a, e, frame: a not in set(frame["factor"]), "answer with one of the μ values of the grid."),
    ],
    hints=("Scan the cosine column from μ = 0 upwards.",),
)
