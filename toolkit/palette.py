"""Colour-blind-safe colours, dashes and markers: one palette for every chart.

About 1 in 12 men and 1 in 200 women see colour with a deficiency, most often red–green (protan,
deutan). The series colours are the Okabe–Ito palette (Okabe & Ito 2008, "Color Universal Design";
recommended by Wong 2011, Nature Methods 8:441), which stays distinguishable under all common
deficiencies; yellow is left out of lines because it has almost no contrast on white. Series that
can overlap also differ by dash (lines) or shape (points), so colour is never the only cue.
The truth / reference series is black and drawn last, on top of everything else.

:func:`simulate` shows a colour as a dichromat sees it (Machado, Oliveira & Fernandes 2009, IEEE
TVCG 15:1291, severity 1.0, applied to linear RGB): ``c' = M c``. :func:`confusable` calls two
colours a *red/green pair* when they are clearly different for normal vision (CIELAB ΔE76 ≥
``DISTINCT``) but nearly the same for a protan or deutan viewer (ΔE76 < ``CONFUSED``); tests use it
to check that no chart separates series by such a pair alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "OKABE_ITO",
    "SERIES",
    "DASHES",
    "SHAPES",
    "REFERENCE",
    "MUTED",
    "HIGHLIGHT",
    "SEQUENTIAL",
    "DIVERGING",
    "color_scale",
    "dash_scale",
    "shape_scale",
    "series_color",
    "series_dash",
    "to_rgb",
    "simulate",
    "delta_e",
    "confusable",
    "DISTINCT",
    "CONFUSED",
]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: series colours in the order charts use them (no yellow: too light for lines on white)
SERIES = tuple(
    OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple", "sky_blue")
)
#: stroke dashes paired with SERIES position by position (solid first)
DASHES = ([1, 0], [6, 3], [2, 2], [8, 3, 2, 3], [1, 3], [12, 4])
#: point shapes paired with SERIES position by position
SHAPES = ("circle", "square", "triangle-up", "diamond", "cross", "triangle-down")
REFERENCE = OKABE_ITO["black"]  # truth, exact or reference series (draw it last: on top)
MUTED = "#BBBBBB"  # context: other λ, other runs, faint guides
HIGHLIGHT = OKABE_ITO["vermillion"]  # the one thing to look at (a chosen cell, a current value)
SEQUENTIAL = "viridis"  # Vega scheme for ordered values (perceptually uniform, colour-blind safe)
DIVERGING = "blueorange"  # Vega scheme for signed values (no red-green)


def _cycle(values: tuple | list, n: int) -> list:
    return [values[k % len(values)] for k in range(n)]


def _domain(domain: Any) -> list | None:
    """None, or the list of series values (scalars: str, int, float, bool)."""
    if domain is None:
        return None
    if isinstance(domain, (str, bytes, Mapping)) or not isinstance(domain, (list, tuple)):
        raise TypeError(f"domain must be a list of series values or None, got {type(domain).__name__}")
    if not domain:
        raise ValueError("domain must hold at least one series value")
    for value in domain:
        if not isinstance(value, (str, int, float)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise TypeError(f"domain values must be strings or finite numbers, got {value!r}")
    return list(domain)


def _reference(reference: Any) -> Any:
    if reference is not None and not isinstance(reference, (str, int, float)):
        raise TypeError(
            f"reference must be a series value (string or number) or None, got {type(reference).__name__}"
        )
    if isinstance(reference, float) and not math.isfinite(reference):
        raise ValueError(f"reference must be a finite number or a string, got {reference!r}")
    return reference


def _field_args(field: Any, title: Any, legend: Any) -> None:
    if not isinstance(field, str) or not field:
        raise TypeError(
            f"field must be a non-empty column name, got {field!r}"
            if isinstance(field, str)
            else f"field must be a column name (str), got {type(field).__name__}"
        )
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    if not (legend is None or isinstance(legend, (bool, Mapping)) or hasattr(legend, "to_dict")):
        raise TypeError(f"legend must be True, None, a dict or an alt.Legend, got {type(legend).__name__}")


def color_scale(domain: list | None = None, *, reference: Any = None):
    """An Altair colour scale over ``domain`` with the palette (``reference`` member in black)."""
    import altair as alt

    domain, reference = _domain(domain), _reference(reference)
    if domain is None:
        return alt.Scale(range=list(SERIES))
    colors, k = [], 0
    for value in domain:
        if reference is not None and value == reference:
            colors.append(REFERENCE)
        else:
            colors.append(SERIES[k % len(SERIES)])
            k += 1
    return alt.Scale(domain=domain, range=colors)


def dash_scale(domain: list | None = None, *, reference: Any = None):
    """An Altair strokeDash scale paired with :func:`color_scale`; with a ``reference``, it alone is solid."""
    import altair as alt

    domain, reference = _domain(domain), _reference(reference)
    if domain is None:
        return alt.Scale(range=list(DASHES))
    dashes, k = [], (0 if reference is None or reference not in domain else 1)  # only the reference solid
    for value in domain:
        if reference is not None and value == reference:
            dashes.append([1, 0])
        else:
            dashes.append(DASHES[k % len(DASHES)])
            k += 1
    return alt.Scale(domain=domain, range=dashes)


def shape_scale(domain: list | None = None):
    """An Altair shape scale paired with :func:`color_scale`."""
    import altair as alt

    domain = _domain(domain)
    if domain is None:
        return alt.Scale(range=list(SHAPES))
    return alt.Scale(domain=domain, range=_cycle(SHAPES, len(domain)))


def series_color(
    field: str,
    *,
    title: str | None = None,
    domain: list | None = None,
    reference: Any = None,
    legend: Any = True,
):
    """``alt.Color`` for a series field with the palette (shares its legend with :func:`series_dash`)."""
    import altair as alt

    _field_args(field, title, legend)
    kwargs = {} if legend is True else {"legend": legend}
    return alt.Color(
        f"{field}:N", title=title or field, scale=color_scale(domain, reference=reference), **kwargs
    )


def series_dash(
    field: str,
    *,
    title: str | None = None,
    domain: list | None = None,
    reference: Any = None,
    legend: Any = True,
):
    """``alt.StrokeDash`` for the same field: overlapping lines also differ by dash."""
    import altair as alt

    _field_args(field, title, legend)
    kwargs = {} if legend is True else {"legend": legend}
    return alt.StrokeDash(
        f"{field}:N", title=title or field, scale=dash_scale(domain, reference=reference), **kwargs
    )


# -- colour-vision simulation ------------------------------------------------------------------
_NAMED = {
    "black": "#000000",
    "white": "#ffffff",
    "red": "#ff0000",
    "green": "#008000",
    "lime": "#00ff00",
    "blue": "#0000ff",
    "orange": "#ffa500",
    "grey": "#808080",
    "gray": "#808080",
    "firebrick": "#b22222",
    "darkred": "#8b0000",
    "darkgreen": "#006400",
    "steelblue": "#4682b4",
    "purple": "#800080",
    "yellow": "#ffff00",
    "brown": "#a52a2a",
    "pink": "#ffc0cb",
    "crimson": "#dc143c",
    "navy": "#000080",
    "seagreen": "#2e8b57",
    "forestgreen": "#228b22",
    "tomato": "#ff6347",
    "gold": "#ffd700",
    "teal": "#008080",
    "magenta": "#ff00ff",
    "cyan": "#00ffff",
    "silver": "#c0c0c0",
    "lightgrey": "#d3d3d3",
    "lightgray": "#d3d3d3",
    "darkgrey": "#a9a9a9",
    "darkgray": "#a9a9a9",
}

# Machado et al. 2009, Table 1, severity 1.0 (rows map linear RGB to simulated linear RGB)
_MACHADO = {
    "protan": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deutan": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritan": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
DISTINCT = 20.0  # ΔE76 above which two colours read as different series for normal vision
CONFUSED = 12.0  # ΔE76 below which a dichromat can hardly tell two series apart


def to_rgb(color: str) -> np.ndarray:
    """``#rgb``, ``#rrggbb``, ``rgb(r, g, b)`` or a common CSS name -> sRGB in [0, 1]."""
    if not isinstance(color, str):
        raise TypeError(f"color must be a CSS colour string, got {type(color).__name__}")
    text = _NAMED.get(color.strip().lower(), color.strip().lower())
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        text = "#" + "".join(ch * 2 for ch in text[1:])
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return np.array([int(text[k : k + 2], 16) for k in (1, 3, 5)]) / 255.0
    match = re.fullmatch(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(,\s*[\d.]+\s*)?\)", text)
    if match:
        return np.array([int(g) for g in match.groups()[:3]]) / 255.0
    raise ValueError(f"color {color!r} is not a hex, rgb() or known CSS colour")


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _gamma(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate(color: str, deficiency: str) -> np.ndarray:
    """sRGB in [0, 1] of ``color`` as seen with full protanopia, deuteranopia or tritanopia."""
    if not isinstance(deficiency, str) or deficiency not in _MACHADO:
        raise ValueError(f"deficiency must be one of {sorted(_MACHADO)}, got {deficiency!r}")
    return _gamma(_MACHADO[deficiency] @ _linear(to_rgb(color)))


def _lab(srgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour in [0, 1]."""
    xyz = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    ) @ _linear(np.clip(srgb, 0, 1))
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str | np.ndarray, b: str | np.ndarray) -> float:
    """CIE76 colour difference ΔE = ‖Lab(a) − Lab(b)‖ (colours as CSS strings or sRGB arrays)."""
    return float(np.linalg.norm(_lab(_srgb("a", a)) - _lab(_srgb("b", b))))


def _srgb(name: str, color: Any) -> np.ndarray:
    """A CSS colour string or 3 sRGB numbers in [0, 1]."""
    if isinstance(color, str):
        return to_rgb(color)
    try:
        rgb = np.asarray(color, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(
            f"{name} must be a CSS colour or 3 sRGB numbers in [0, 1], got {type(color).__name__}"
        ) from None
    if rgb.shape != (3,) or not np.all(np.isfinite(rgb)) or rgb.min() < 0 or rgb.max() > 1:
        raise ValueError(f"{name} must be 3 finite sRGB numbers in [0, 1], got {color!r}")
    return rgb


def confusable(a: str, b: str) -> str | None:
    """The red–green deficiency ("protan"/"deutan") under which two distinct colours merge, else None."""
    if delta_e(a, b) < DISTINCT:
        return None  # not meant to be told apart by colour in the first place
    for deficiency in ("deutan", "protan"):
        if delta_e(simulate(a, deficiency), simulate(b, deficiency)) < CONFUSED:
            return deficiency
    return None
