"""Self-checking exercises for the random-backprop notebook (reference solutions live here)."""

from __future__ import annotations

import math

import numpy as np

from ..check import Exercise

__all__ = [
    "ex_rbp_delta",
    "ex_fixed_point",
    "ex_quantize",
    "ex_angle",
    "ex_unbiased_bit",
    "ex_nothing_to_align",
    "EXERCISES",
]


def _rbp_delta(delta_above, B, s):
    delta_above, B, s = (np.asarray(a, dtype=float) for a in (delta_above, B, s))
    return (1 - np.tanh(s) ** 2) * (delta_above @ B.T)


def _fixed_point(alpha, beta, w1):
    return beta / (alpha * w1)


def _quantize(t, bits, u):
    t, u = np.asarray(t, dtype=float), np.asarray(u, dtype=float)
    alpha = np.abs(t).max(axis=-1, keepdims=True)
    step = 2 * alpha / (2**bits - 1)
    level = np.minimum(np.floor((t + alpha) / step + u), 2**bits - 1)
    return level * step - alpha


def _angle(a, b):
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    return math.degrees(math.acos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


_rng = np.random.default_rng(0)
_cases = [(_rng.normal(size=(4, 3)), _rng.normal(size=(5, 3)), _rng.normal(size=(4, 5))) for _ in range(3)]

ex_rbp_delta = Exercise(
    "rbp-delta",
    "Write `rbp_delta(delta_above, B, s)`: the backward signal of a tanh hidden layer under RBP, for a "
    "batch. `delta_above` is (batch, n_above), `B` is the feedback matrix (n_hidden, n_above) standing "
    "where BP uses Wᵀ, `s` the layer's pre-activations (batch, n_hidden).",
    _rbp_delta,
    hints=(
        "BP would compute f'(S) ⊙ (W_{h+1}ᵀ T_{h+1}); RBP swaps Wᵀ for B.",
        "With rows as examples, 'B T' becomes delta_above @ B.T; tanh'(s) = 1 - tanh(s)².",
        "return (1 - np.tanh(s)**2) * (delta_above @ B.T)",
    ),
    inputs=_cases,
)

ex_fixed_point = Exercise(
    "chain-fixed-point",
    "The linear chain A[1,1,1] with data statistics α = E[x²] and β = E[xy] stops learning when the "
    "error term vanishes. For α = 2, β = 3 and w1 = 1.5, which w2 is a fixed point (BP and RBP alike)?",
    _fixed_point,
    hints=(
        "Both rules multiply the same factor (β − α w1 w2).",
        "Solve β − α w1 w2 = 0 for w2.",
        "w2 = β / (α w1) = 1.0",
    ),
)

ex_quantize = Exercise(
    "quantize",
    "Write `quantize(t, bits, u)`: *stochastic* rounding of every entry of the array t onto the 2**bits "
    "evenly spaced levels in [−α, α], α = max |t| along the last axis (one scale per row; no all-zero "
    "row). `u` holds one uniform draw in [0, 1) per entry: round up when u is below the fractional "
    "part, so that the expected result is exactly t (unbiased).",
    _quantize,
    hints=(
        "The levels are −α + k·step, k = 0 … 2**bits − 1, with step = 2α / (2**bits − 1).",
        "k = floor((t + α)/step + u) rounds up with probability equal to the fractional part; "
        "clip k at 2**bits − 1 (t = α exactly).",
        "alpha = np.abs(t).max(axis=-1, keepdims=True); step = 2*alpha/(2**bits-1); "
        "k = np.minimum(np.floor((t+alpha)/step + u), 2**bits-1); return k*step - alpha",
    ),
    inputs=[
        (_rng.normal(size=12), 1, _rng.random(12)),
        (_rng.normal(size=12), 2, _rng.random(12)),
        (_rng.normal(size=(3, 4)), 5, _rng.random((3, 4))),
    ],
)

ex_angle = Exercise(
    "angle",
    "Write `angle(a, b)`: the angle in degrees between two arrays seen as flat vectors — the number "
    "`gradient_angles` reports for each layer.",
    _angle,
    hints=(
        "cos θ = a·b / (‖a‖ ‖b‖).",
        "Flatten with np.ravel; convert with math.degrees(math.acos(...)).",
        "math.degrees(math.acos(np.ravel(a) @ np.ravel(b) / (np.linalg.norm(a) * np.linalg.norm(b))))",
    ),
    inputs=[
        (np.array([1.0, 0.0]), np.array([0.0, 2.0])),
        (_rng.normal(size=(3, 3)), _rng.normal(size=(3, 3))),
        (np.array([1.0, 1.0]), np.array([2.0, 2.0 + 1e-3])),
    ],
    atol=1e-6,
)

ex_unbiased_bit = Exercise(
    "unbiased-bit",
    "A 1-bit channel has two levels, −α and +α (α = 1). With stochastic rounding, t = 0.3 becomes +1 with "
    "probability (t + α)/(2α) and −1 otherwise. What is the expected quantised value E[q(0.3)]?",
    0.3,
    hints=("E[q] = (+1)·P(up) + (−1)·(1 − P(up)).", "P(up) = (0.3 + 1)/2 = 0.65."),
    misconceptions=[
        (
            lambda a, e: np.isclose(a, 1.0),
            "that is deterministic rounding to the nearest level — biased. Average the "
            "two levels with their probabilities.",
        ),
        (lambda a, e: np.isclose(a, 0.65), "0.65 is the probability of rounding up, not the expected value."),
        (
            lambda a, e: np.isclose(a, 0.0),
            "the two levels are not equally likely: t is closer to +1 than to −1.",
        ),
    ],
)

ex_nothing_to_align = Exercise(
    "nothing-to-align",
    "Under RBP the forward weights come to align with the fixed feedback B, and the angle to the gradient "
    "falls "
    "below 90° during training. Which rule's hidden updates have nothing to align with, so they stay at "
    "about "
    "90° to the gradient however long it trains?",
    "rbp-resampled",
    choices=("rbp", "srbp", "rbp-resampled", "sign"),
    hints=("Alignment needs the same B at every step.", "Which rule draws a new B for every batch?"),
    misconceptions=[
        (
            lambda a, e: a in ("rbp", "srbp"),
            "its B is fixed, so the forward weights align with it: the angle falls "
            "during training (section 5's RBP curve).",
        ),
        (lambda a, e: a == "sign", "sign-concordant feedback shares W's signs, so it starts well below 90°."),
    ],
)

EXERCISES = {
    e.key: e
    for e in (ex_rbp_delta, ex_fixed_point, ex_quantize, ex_angle, ex_unbiased_bit, ex_nothing_to_align)
}
