"""Panels: controls + a live chart + a text readout, the building block of every notebook.

A panel calls ``render(**values)`` with the current control values and shows what it returns:
an Altair chart, a readout string (HTML allowed), a ``(chart, text)`` pair, or ``None`` when
``render`` streamed into the panel's chart itself (it receives it as ``live=`` if it asks for it).
Without a button the panel re-renders on every control change; with ``button="Train"`` only on
click. Errors raised by ``render`` are shown in the readout and kept in ``panel.last_error``
(ipywidgets would otherwise swallow them silently).

``panel.state()`` packs the control values into a short string (``key:base64``) that a teacher can
paste into an assignment; ``panel.load_state(s)`` restores it — the TensorFlow-Playground idea.
"""

from __future__ import annotations

import asyncio
import base64
import html
import inspect
import json
import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets

from .a11y import PanelA11y, name_controls
from .livechart import LiveChart

__all__ = [
    "Panel",
    "slider",
    "log_slider",
    "dropdown",
    "toggle",
    "encode_state",
    "decode_state",
    "CLI_PANELS",
    "SliderPreview",
]

#: Panels whose state string may start a command (``python -m toolkit ACTION TOPIC --state S``), with
#: the controls each one has: ``--state`` sets these options and nothing else (tests build every
#: panel listed here and check its controls agree).
CLI_PANELS: dict[str, tuple[str, ...]] = {
    "feedback-train": (
        "rules",
        "dataset",
        "depth",
        "width",
        "sparsity",
        "bits",
        "derivative",
        "lr",
        "epochs",
        "optimizer",
    ),
    "tracking-train": ("mode", "estimator", "lam", "epochs"),
    "intro-fit": ("degree", "noise", "seed"),
}
MAX_STATE_CHARS = 4096  # a panel has a handful of controls; anything longer is not a panel state


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def encode_state(key: str, values: Mapping[str, Any]) -> str:
    """``key:<base64url JSON>`` — short, copyable, and safe in URLs and shells."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"key must be a non-empty string, got {key!r}")
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of control names to values, got {type(values).__name__}")
    for name, value in values.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        if not isinstance(name, str) or not all(_scalar(v) for v in items):
            raise TypeError(
                f"values[{name!r}] must be a number, string, bool or a flat list of them, got {value!r}"
            )
    payload = json.dumps(dict(values), separators=(",", ":"), sort_keys=True, allow_nan=False)
    return f"{key}:{base64.urlsafe_b64encode(payload.encode()).decode().rstrip('=')}"


def decode_state(state: str, key: str | None = None) -> dict[str, Any]:
    """Inverse of :func:`encode_state`; checks the key when one is given.

    A state string is untrusted text: it must be short and hold a flat dict of control values
    (numbers, strings, bools or flat lists of them); anything else is a ``ValueError`` naming ``state``.
    """
    if not isinstance(state, str) or ":" not in state:
        raise ValueError(f"state must look like 'panel-key:XXXX', got {state!r}")
    if key is not None and not isinstance(key, str):
        raise TypeError(f"key must be a string or None, got {type(key).__name__}")
    if len(state) > MAX_STATE_CHARS:
        raise ValueError(f"state must be at most {MAX_STATE_CHARS} characters, got {len(state)}")
    got_key, _, body = state.rpartition(":")
    if key is not None and got_key != key:
        raise ValueError(f"state is for panel {got_key!r}, not for {key!r}")
    try:
        values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"state {state[:80]!r} is damaged (not base64 JSON): {exc}") from None
    if not isinstance(values, dict):
        raise ValueError(f"state {state[:80]!r} does not hold a dict of control values")
    for name, value in values.items():
        items = value if isinstance(value, list) else [value]
        if not all(_scalar(v) for v in items):
            raise ValueError(
                f"state sets {name!r} to {value!r}; a control value is a number, string, bool "
                "or a flat list of them"
            )
    return values


class Panel:
    """Controls + live chart + readout. See the module docstring.

    ``seed``: if given, Python, NumPy and torch are seeded with it before every ``render`` call, so
    the same control values always give the same run (seed before anything is built).
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        render: Callable[..., Any],
        *,
        title: str = "",
        button: str | None = None,
        key: str | None = None,
        chart: LiveChart | None = None,
        seed: int | None = None,
    ) -> None:
        if not callable(render):
            raise TypeError(f"render must be callable, got {type(render).__name__}")
        if not isinstance(controls, Mapping):
            raise TypeError(f"controls must be a mapping of names to widgets, got {type(controls).__name__}")
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {type(title).__name__}")
        for name, value in (("button", button), ("key", key)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        if chart is not None and not isinstance(chart, LiveChart):
            raise TypeError(f"chart must be a LiveChart or None, got {type(chart).__name__}")
        for name, control in controls.items():
            if not isinstance(control, widgets.ValueWidget):
                raise TypeError(
                    f"controls[{name!r}] must be an ipywidgets value widget, got {type(control).__name__}"
                )
        if seed is not None:
            from .validation import check_int

            check_int("seed", seed, low=0, high=2**32 - 1)
        self.seed = seed
        self.controls = dict(controls)
        self.render = render
        self.key = key or getattr(render, "__name__", "panel")
        self.chart = chart if chart is not None else LiveChart()
        self.readout = widgets.HTML()
        self.button = widgets.Button(description=button, button_style="primary") if button else None
        self.result: Any = None
        self.last_error: BaseException | None = None
        self._wants_live = "live" in inspect.signature(render).parameters
        self._silent = False

        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        # accessibility: every control has a name, the chart a text description (toolkit.a11y)
        name_controls(self.controls)
        self.a11y = PanelA11y()
        control_box = widgets.HBox(
            list(self.controls.values()) + [self.a11y] + ([self.button] if self.button else []),
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        self.widget = widgets.VBox([*header, control_box, self.chart, self.readout])
        # stable hooks for browser tests and styling: every panel, and which kind it is
        self.widget.add_class("gl-panel")
        self.widget.add_class("gl-panel-button" if self.button else "gl-panel-live")
        if self.button is not None:
            self.button.on_click(lambda _: self.update())
        else:
            for control in self.controls.values():
                control.observe(self._on_change, names="value")
            self.update()

    @property
    def values(self) -> dict[str, Any]:
        """The current control values, keyed like ``controls``."""
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, _change: Any) -> None:
        if not self._silent:
            self.update()

    def update(self) -> Any:
        """Call ``render`` with the current values and show its result; returns it."""
        kwargs = self.values
        had_error = self.last_error is not None
        if self._wants_live:
            kwargs["live"] = self.chart
        if self.button is not None:
            self.button.disabled = True
        try:
            if self.seed is not None:  # seed before render builds anything: the same click, the same run
                _seed_all(self.seed)
            result = self.render(**kwargs)
            chart, text = result if isinstance(result, tuple) else (result, None)
            if isinstance(chart, str) and text is None:
                chart, text = None, chart
            if chart is not None:
                self.chart.chart = chart
        except Exception as exc:  # shown to the learner instead of vanishing in a callback
            self.last_error = exc
            self.readout.add_class("gl-panel-error")  # a stable hook for tests and styling
            self.readout.value = (
                f"<pre style='color:#b00'>{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</pre>"
            )
            self._traceback = traceback.format_exc()
            return None
        finally:
            if self.button is not None:
                self.button.disabled = False
        self.last_error = None
        self.a11y.describe_chart(self.chart)  # the chart's text alternative, from its current rows
        self.readout.remove_class("gl-panel-error")
        self.result = result
        if text is not None:
            self.readout.value = text
        elif had_error:
            self.readout.value = ""
        return result

    # -- shareable setups ---------------------------------------------------------------------
    def state(self) -> str:
        """The control values as a short copyable string (see :func:`encode_state`)."""
        return encode_state(self.key, self.values)

    def load_state(self, state: str) -> None:
        """Set the controls from a :meth:`state` string, then render once."""
        values = decode_state(state, self.key)
        unknown = set(values) - set(self.controls)
        if unknown:
            raise ValueError(
                f"state names unknown controls {sorted(unknown)}; this panel has {sorted(self.controls)}"
            )
        self._silent = True
        try:
            old = self.values
            for name, value in values.items():
                try:
                    self.controls[name].value = tuple(value) if isinstance(value, list) else value
                except Exception as exc:  # traitlets.TraitError: undo, report as bad input
                    for n, v in old.items():
                        self.controls[n].value = v
                    raise ValueError(f"state value {value!r} does not fit control {name!r}: {exc}") from exc
        finally:
            self._silent = False
        if self.button is None:
            self.update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (like ``training.seed_everything``, without importing Lightning)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # panels work without torch
        return
    torch.manual_seed(seed)


# -- control shorthands with sensible teaching defaults ----------------------------------------
_STYLE = {"description_width": "initial"}


def _check_range(description: Any, value: Any, low: Any, high: Any) -> tuple[float, float, float]:
    """Control arguments: a text label and finite numbers with low <= high and value in [low, high]."""
    from .validation import check_float

    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}")
    low, high = check_float("low", low), check_float("high", high)
    if low > high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    check_float("value", value, low=low, high=high)
    return value, low, high


def slider(
    description: str, value: float, low: float, high: float, step: float | None = None
) -> widgets.ValueWidget:
    """An int or float slider (int when all numbers are ints) that updates on release."""
    from .validation import check_float

    _check_range(description, value, low, high)
    if step is not None:
        check_float("step", step, low=0.0, high=max(float(high) - float(low), 1.0), low_open=True)
    if all(isinstance(v, int) for v in (value, low, high)) and (step is None or isinstance(step, int)):
        return widgets.IntSlider(
            value=value,
            min=low,
            max=high,
            step=step or 1,
            description=description,
            continuous_update=False,
            style=_STYLE,
        )
    return widgets.FloatSlider(
        value=value,
        min=low,
        max=high,
        step=step or (high - low) / 100,
        description=description,
        continuous_update=False,
        style=_STYLE,
        readout_format=".3g",
    )


def log_slider(description: str, value: float, low: float, high: float) -> widgets.FloatLogSlider:
    """A log-scale slider between ``low`` and ``high`` (both > 0)."""
    import math

    from .validation import check_float

    check_float("low", low, low=0.0, low_open=True)
    _check_range(description, value, low, high)

    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(low),
        max=math.log10(high),
        step=0.05,
        description=description,
        continuous_update=False,
        style=_STYLE,
        readout_format=".3g",
    )


def dropdown(description: str, options: Any, value: Any = None) -> widgets.Dropdown:
    """A drop-down of options (first option by default)."""
    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}")
    if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        raise TypeError(f"options must be a list of choices, got {type(options).__name__}")
    options = list(options)
    if not options:
        raise ValueError("options must hold at least one choice")
    for option in options:
        plain = (str, int, float)
        if not (
            isinstance(option, plain)
            or isinstance(option, tuple)
            and len(option) == 2
            and isinstance(option[0], str)
        ):
            raise TypeError(f"options must be strings, numbers or (label, value) pairs, got {option!r}")
    allowed = [o[1] if isinstance(o, tuple) and len(o) == 2 else o for o in options]  # (label, value) pairs
    if value is not None and not any(value is a or (type(value) is type(a) and value == a) for a in allowed):
        raise ValueError(f"value must be one of the options {options!r}, got {value!r}")
    return widgets.Dropdown(
        options=options, value=options[0] if value is None else value, description=description, style=_STYLE
    )


def toggle(description: str, value: bool = False) -> widgets.Checkbox:
    """An on/off checkbox."""
    from .validation import check_bool

    if not isinstance(description, str):
        raise TypeError(f"description must be a string, got {type(description).__name__}")
    value = check_bool("value", value)
    return widgets.Checkbox(value=value, description=description, style=_STYLE, indent=False)


class SliderPreview:
    """A cheap preview while a slider is dragged, the full render once it rests.

    ``watch(controls)`` turns on ``continuous_update`` for the sliders (the browser then reports every
    position while dragging) and observes them BEFORE the Panel does: on a move it marks the coming
    render as a preview (:attr:`active`) and, once that render is done, (re)schedules :meth:`release`
    ``debounce_s`` seconds later on the kernel's event loop; :meth:`release` renders in full. Without a
    running event loop (a script, a test, ``load_state``) there is nothing to schedule the release
    with, so every render is full.
    A render reads :attr:`active` and says in its readout which reduced settings it used; it records
    the settings it used in :attr:`last`.
    """

    def __init__(self, debounce_s: float = 0.35):
        from .validation import check_float

        self.debounce_s = check_float("debounce_s", debounce_s, low=0.0, high=10.0)
        self.active = False
        self.panel: Panel | None = None
        self.last: dict = {}
        self.n_full = 0  # full renders after a preview (tests and benchmarks read them)
        self._handle = None

    def watch(self, controls: dict) -> dict:
        for control in controls.values():
            if isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider)):
                control.continuous_update = True
                control.observe(self._moved, names="value")
        return controls

    def attach(self, panel: Panel) -> Panel:
        self.panel = panel
        panel.preview = self
        return panel

    def _moved(self, _change) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: render in full at once
            return
        if self.panel is None or self.panel._silent:
            return
        self.begin()
        # armed after the panel's own observer has drawn the preview: the quiet time counts from then
        loop.call_soon(self._arm, loop)

    def _arm(self, loop) -> None:
        if self.active:
            self._disarm()
            self._handle = loop.call_later(self.debounce_s, self.release)

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def begin(self) -> None:
        """The next render is a preview (a slider is moving)."""
        self._disarm()
        self.active = True

    def cancel(self) -> None:
        """Forget a pending release (and the preview mark)."""
        self._disarm()
        self.active = False

    def release(self) -> None:
        """The slider rests: render in full now."""
        self._handle = None
        if not self.active:
            return
        self.active = False
        if self.panel is not None:
            self.n_full += 1
            self.panel.update()

    def note(self, what: str) -> str:
        """The readout's preview line (empty for a full render)."""
        return (
            f"<br><i>Preview while the slider moves: {what}; the full result follows when it rests.</i>"
            if self.active
            else ""
        )
