"""Self-checking exercises of the tracking notebook (the reference solutions live here)."""

from __future__ import annotations

import numpy as np

from ..check import Exercise
from .assignment import DEFAULT_NO_MATCH, solve_assignment
from .detector import highland_theta0
from .landscape import flip_margin
from .metrics import m_minmax

__all__ = [
    "ex_highland",
    "ex_blackbox_gradient",
    "ex_hamming",
    "ex_instability",
    "ex_smallest_lambda",
    "EXERCISES",
]


def _hamming(y, target) -> float:
    return float(np.abs(np.asarray(y, float) - np.asarray(target, float)).sum())


def _blackbox_gradient(cost, target, lam) -> np.ndarray:
    cost, target = np.asarray(cost, float), np.asarray(target, float)
    y = solve_assignment(cost, DEFAULT_NO_MATCH)
    y_lam = solve_assignment(cost + lam * (1 - 2 * target), DEFAULT_NO_MATCH)
    return -(y - y_lam) / lam


ex_highland = Exercise(
    "tracking-1",
    "Multiple scattering: what is the Highland width θ0 (rad) for a 100 MeV proton crossing "
    "x/X0 = 0.04 of material? Use θ0 = 13.6 MeV/(βcp)·√(x/X0)·(1 + 0.038 ln(x/(X0 β²))), "
    "p = √(E(E + 2m)), β = p/(E + m), m = 938.272 MeV.",
    lambda energy, x_over_x0: float(highland_theta0(energy, x_over_x0)),
    hints=(
        "βcp has units of MeV: compute p first, then β = p / (E + m).",
        "p = sqrt(100 * (100 + 2 * 938.272)); beta = p / (100 + 938.272).",
        "theta0 = 13.6 / (beta * p) * sqrt(0.04) * (1 + 0.038 * log(0.04 / beta**2)) ≈ 0.01346",
    ),
    rtol=1e-4,
    misconceptions=[
        (
            lambda a, e: np.isclose(a, np.degrees(e), rtol=1e-3),
            "that is in degrees: the formula gives radians.",
        ),
        (
            lambda a, e: 0 < a / e < 0.6,
            "far too small: is the momentum-velocity product βcp (in MeV) in the "
            "denominator, not βcp² or E²?",
        ),
    ],
)

ex_hamming = Exercise(
    "tracking-2",
    "Write the Hamming loss Σ|y − t| between an assignment y and the true assignment t (both 0/1 matrices).",
    _hamming,
    hints=("Count the entries where y and t differ.", "np.abs(y - t).sum()"),
    inputs=[(np.eye(3), np.eye(3)), (np.eye(3), np.eye(3)[::-1]), (np.zeros((2, 4)), np.ones((2, 4)))],
)

ex_blackbox_gradient = Exercise(
    "tracking-3",
    "Compute the blackbox gradient by hand: for the Hamming loss ∂L/∂y = 1 − 2t; perturb the "
    "costs c' = c + λ(1 − 2t), solve again, and return −(y(c) − y(c'))/λ.",
    _blackbox_gradient,
    hints=(
        "Use solve_assignment(cost) twice: once on c, once on c + lam * (1 - 2 * target).",
        "grad = -(y - y_lam) / lam  — entries are 0 or ±1/λ.",
    ),
    misconceptions=[
        (
            lambda a, e: np.allclose(a, -e) and np.any(e != 0),
            "the sign is flipped: the gradient is −(y(c) − y(c′))/λ, "
            "so a true pair the solver missed gets +1/λ (descent lowers its cost).",
        ),
        (
            lambda a, e: np.any(e != 0) and np.allclose(np.sign(a), np.sign(e)) and not np.allclose(a, e),
            "the right entries with the wrong size: the non-zero entries are ±1/λ (did you divide by λ?).",
        ),
        (
            lambda a, e: np.all(np.asarray(a) == 0) and np.any(e != 0),
            "all zeros: at λ = 0.7 the perturbed problem has another solution; perturb with (1 − 2t), not "
            "(1 − 2y).",
        ),
    ],
)

ex_instability = Exercise(
    "tracking-4",
    "Two models disagree on a fraction d of the edges; their error rates are e_a and e_b. "
    "Normalise: m_minmax = (d − |e_a − e_b|) / (min(e_a + e_b, 1) − |e_a − e_b|). Compute it for "
    "the decisions given.",
    lambda a, b, t: m_minmax(a, b, t),
    misconceptions=[
        (
            lambda a, e: not 0 <= a <= 1,
            "m_minmax lies in [0, 1]: d is normalised between its smallest and largest possible values.",
        ),
    ],
    hints=(
        "d = mean(a != b), e_a = mean(a != t), e_b = mean(b != t).",
        "lo = abs(e_a - e_b); hi = min(e_a + e_b, 1); (d - lo) / (hi - lo)",
    ),
)

ex_smallest_lambda = Exercise(
    "tracking-5",
    "What is the smallest λ for which the blackbox gradient of the Hamming loss is non-zero for "
    "`cost, target` (τ = 0.5)? That is the margin m: below it y(c + λ(1 − 2t)) = y(c).",
    lambda cost, target: flip_margin(cost, target, DEFAULT_NO_MATCH),
    hints=(
        "The gradient −(y(c) − y(c + λ(1 − 2t)))/λ is 0 exactly when the perturbed solution equals y(c).",
        "Which wrong decision is cheapest to flip? Here a true pair is left unmatched because its cost is "
        "above "
        "τ = 0.5: lowering it by λ links it once c − λ < τ.",
        "m = c_ij − τ for the true pair (1, 2): 0.699 − 0.5 = 0.199 (or bisect λ with two solver calls per "
        "try).",
    ),
    rtol=1e-3,
    atol=1e-6,
    misconceptions=[
        (
            lambda a, e: np.isclose(a, e + 0.5, rtol=1e-3),
            "that is the pair's cost itself; the decision flips when "
            "the cost crosses τ = 0.5, so how far must it move?",
        ),
        (lambda a, e: np.isclose(a, 0.5, rtol=1e-3), "0.5 is τ, the threshold, not the distance to it."),
    ],
)

EXERCISES = [ex_highland, ex_hamming, ex_blackbox_gradient, ex_instability, ex_smallest_lambda]
