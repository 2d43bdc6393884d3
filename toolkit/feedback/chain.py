"""The linear chain A[1,1,1] as an analytic system (Baldi, Sadowski & Lu 2018, section on chains).

One input, one hidden unit, one output: ``ŷ = w2 · f(w1 · x)``. With the data statistics
``α = E[x²]`` and ``β = E[x y]`` and linear units, gradient flow on ``E = ½ E[(y - ŷ)²]`` is

    BP :  dw1/dt = w2 (β - α w1 w2),   dw2/dt = w1 (β - α w1 w2)
    RBP:  dw1/dt = b  (β - α w1 w2),   dw2/dt = w1 (β - α w1 w2)      (b: fixed random feedback)

Both share the fixed-point hyperbola ``w1 w2 = β/α`` (BP also has the saddle (0, 0)). RBP
conserves ``b w2 - w1²/2``: every trajectory runs along a parabola and, on it, ``w1`` obeys a
1-D flow whose limit is a root of the cubic ``w1³/2 + C w1 - bβ/α = 0`` — RBP always converges.

Non-linear hidden unit (tanh) on the three points ``x = (1, 2, 3)``, ``y = (1, 2, 1)``:
with f′ the RBP fixed points are those of BP (b is a scalar, so ``b E[e f′ x] = 0`` iff
``w2 E[e f′ x] = 0``); without f′ the condition becomes ``E[e x] = 0`` together with
``E[e f(w1 x)] = 0``, which has no solution at finite weights here. The weights never settle,
but they do not simply run off either: from (0.3, −1) with b = 1, w1 climbs to ≈ 5.17 (tanh
saturates, learning nearly stops — up to t ≈ 100 this *looks* converged), creeps down (4.18 at
t = 10⁴), then collapses (0.06 at t = 2·10⁴, 0.03 at 10⁵) while w2 grows without bound and
``w1·w2 → β/α = E[xy]/E[x²]``: the hidden unit is pushed into its linear range and the chain
ends up as the linear fit. The trajectory hugs the w2-nullcline ``w2 = y·h / h·h`` (dw2/dt = 0).
Long horizons need a stiff solver (:func:`simulate_nonlinear_long`, LSODA): fixed-step RK4 with
a large step stalls on a spurious cycle.
"""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_bool, check_choice, check_float, check_int

__all__ = [
    "chain_velocity",
    "simulate_chain",
    "rbp_invariant",
    "rbp_limit",
    "fixed_point_w2",
    "NONLINEAR_X",
    "NONLINEAR_Y",
    "nonlinear_velocity",
    "simulate_nonlinear",
    "nonlinear_fixed_points",
    "simulate_nonlinear_long",
    "w2_nullcline",
]

NONLINEAR_X = np.array([1.0, 2.0, 3.0])
NONLINEAR_Y = np.array([1.0, 2.0, 1.0])


def chain_velocity(w1, w2, *, rule: str = "rbp", b: float = 1.0, alpha: float = 1.0, beta: float = 1.0):
    """(dw1/dt, dw2/dt) of the linear chain under ``rule`` ∈ {bp, rbp}; works on arrays."""
    check_choice("rule", rule, ("bp", "rbp"))
    err = beta - alpha * np.asarray(w1) * np.asarray(w2)
    return (w2 if rule == "bp" else b) * err, w1 * err


def fixed_point_w2(w1, *, alpha: float = 1.0, beta: float = 1.0):
    """The fixed-point hyperbola: ``w2 = β / (α w1)``."""
    return beta / (alpha * np.asarray(w1, dtype=float))


def rbp_invariant(w1, w2, *, b: float = 1.0):
    """``b w2 - w1²/2``, constant along every RBP trajectory of the linear chain."""
    return b * np.asarray(w2) - np.asarray(w1) ** 2 / 2


def _rk4(f, state: np.ndarray, dt: float, steps: int) -> np.ndarray:
    out = np.empty((steps + 1, len(state)))
    out[0] = state
    for k in range(steps):
        k1 = f(state)
        k2 = f(state + dt / 2 * k1)
        k3 = f(state + dt / 2 * k2)
        k4 = f(state + dt * k3)
        state = state + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if not np.all(np.isfinite(state)):
            return out[: k + 1]
        out[k + 1] = state
    return out


def simulate_chain(
    w1: float,
    w2: float,
    *,
    rule: str = "rbp",
    b: float = 1.0,
    alpha: float = 1.0,
    beta: float = 1.0,
    t_max: float = 10.0,
    steps: int = 1000,
) -> np.ndarray:
    """Integrate the linear-chain ODE with RK4; returns an array of shape (steps + 1, 2)."""
    w1, w2 = check_float("w1", w1), check_float("w2", w2)
    b = check_float("b", b)
    alpha = check_float("alpha", alpha, low=0.0, low_open=True)
    beta = check_float("beta", beta)
    t_max = check_float("t_max", t_max, low=0.0, low_open=True, high=1e6)
    steps = check_int("steps", steps, low=1, high=1_000_000)
    check_choice("rule", rule, ("bp", "rbp"))
    f = lambda s: np.array(chain_velocity(s[0], s[1], rule=rule, b=b, alpha=alpha, beta=beta))  # noqa: E731
    return _rk4(f, np.array([w1, w2], dtype=float), t_max / steps, steps)


def rbp_limit(
    w1: float, w2: float, *, b: float = 1.0, alpha: float = 1.0, beta: float = 1.0
) -> tuple[float, float]:
    """Where RBP started at (w1, w2) ends, in closed form.

    On the parabola ``b w2 = w1²/2 + C`` the flow is ``dw1/dt = b β - α w1 (w1²/2 + C)``, a cubic
    in w1 that tends to ∓∞ at ±∞: w1 moves monotonically to the nearest root in the direction
    of its velocity. Requires ``b != 0``.
    """
    b = check_float("b", b)
    if b == 0:
        raise ValueError("b must be non-zero (with b = 0 the hidden weight never learns)")
    c = float(rbp_invariant(w1, w2, b=b))
    roots = np.roots([-alpha / 2, 0.0, -alpha * c, b * beta])
    real = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    v = b * beta - alpha * w1 * (w1**2 / 2 + c)
    if v > 0:
        target = real[real >= w1 - 1e-12].min()
    elif v < 0:
        target = real[real <= w1 + 1e-12].max()
    else:
        target = w1
    return float(target), float((target**2 / 2 + c) / b)


# -- non-linear hidden unit -------------------------------------------------------------------
def nonlinear_velocity(
    w1,
    w2,
    *,
    derivative: bool = True,
    b: float = 1.0,
    x: np.ndarray = NONLINEAR_X,
    y: np.ndarray = NONLINEAR_Y,
):
    """(dw1/dt, dw2/dt) for ``ŷ = w2 tanh(w1 x)`` under RBP with feedback b, with or without f′.

    Broadcasts over arrays of (w1, w2).
    """
    w1 = np.asarray(w1, dtype=float)[..., None]
    w2 = np.asarray(w2, dtype=float)[..., None]
    h = np.tanh(w1 * x)
    e = y - w2 * h
    local = (1 - h**2) if derivative else 1.0
    return b * np.mean(e * local * x, axis=-1), np.mean(e * h, axis=-1)


def simulate_nonlinear(
    w1: float, w2: float, *, derivative: bool = True, b: float = 1.0, t_max: float = 50.0, steps: int = 2000
) -> np.ndarray:
    """RK4 trajectory (steps + 1, 2) of the non-linear chain under RBP."""
    w1, w2, b = check_float("w1", w1), check_float("w2", w2), check_float("b", b)
    check_bool("derivative", derivative)
    t_max = check_float("t_max", t_max, low=0.0, low_open=True, high=1e6)
    steps = check_int("steps", steps, low=1, high=1_000_000)
    f = lambda s: np.array(nonlinear_velocity(s[0], s[1], derivative=derivative, b=b))  # noqa: E731
    return _rk4(f, np.array([w1, w2]), t_max / steps, steps)


def nonlinear_fixed_points(
    *, derivative: bool = True, w1_max: float = 5.0, x: np.ndarray = NONLINEAR_X, y: np.ndarray = NONLINEAR_Y
) -> list[tuple[float, float]]:
    """All fixed points with ``0 < |w1| ≤ w1_max`` (found by bracketing + bisection).

    ``dw2/dt = 0`` fixes ``w2 = y·h / h·h``; what remains is one equation in w1. Solutions come
    in ± pairs (tanh is odd) — both are returned.
    """
    from scipy.optimize import brentq

    check_bool("derivative", derivative)

    def g(w1: float) -> float:
        h = np.tanh(w1 * x)
        w2 = (y @ h) / (h @ h)
        e = y - w2 * h
        return float(np.mean(e * ((1 - h**2) if derivative else 1.0) * x))

    grid = np.linspace(1e-3, w1_max, 1500)
    vals = np.array([g(w) for w in grid])
    points = []
    for a, c, va, vc in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
        if va == 0 or va * vc < 0:
            r = brentq(g, a, c, xtol=1e-12) if va != 0 else a
            h = np.tanh(r * x)
            w2 = float((y @ h) / (h @ h))
            if math.isfinite(w2):
                points += [(float(r), w2), (float(-r), -w2)]
    return points


def w2_nullcline(w1, *, x: np.ndarray = NONLINEAR_X, y: np.ndarray = NONLINEAR_Y):
    """``w2 = y·h / h·h`` with ``h = tanh(w1 x)``: where dw2/dt = 0 (with or without f′). Arrays broadcast."""
    w1 = np.asarray(w1, dtype=float)
    h = np.tanh(w1[..., None] * x)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (h @ y) / np.einsum("...i,...i->...", h, h)


def simulate_nonlinear_long(
    w1: float, w2: float, *, derivative: bool = False, b: float = 1.0, t_max: float = 2e4, n_points: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """The non-linear chain under RBP over a long horizon, with a stiff solver (LSODA, rtol 1e-9).

    Returns ``(t, w)``: ``n_points`` times spaced logarithmically from 0.01 to ``t_max`` (plus 0),
    and the weights there, shape (len(t), 2).
    """
    from scipy.integrate import solve_ivp

    w1, w2, b = check_float("w1", w1), check_float("w2", w2), check_float("b", b)
    check_bool("derivative", derivative)
    t_max = check_float("t_max", t_max, low=0.01, low_open=True, high=1e7)
    n_points = check_int("n_points", n_points, low=2, high=100_000)

    def f(_t, s):
        v1, v2 = nonlinear_velocity(s[0], s[1], derivative=derivative, b=b)
        return [float(v1), float(v2)]

    t = np.concatenate([[0.0], np.geomspace(0.01, t_max, n_points - 1)])
    sol = solve_ivp(f, (0.0, t_max), [w1, w2], method="LSODA", t_eval=t, rtol=1e-9, atol=1e-12)
    if not sol.success:
        raise RuntimeError(f"the chain ODE solver failed: {sol.message}")
    return sol.t, sol.y.T
