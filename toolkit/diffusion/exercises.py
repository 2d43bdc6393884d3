"""Self-checking exercises for the diffusion notebook (reference solutions live here)."""

from __future__ import annotations

import numpy as np

from ..check import Exercise
from .samplers import nfe_for

__all__ = [
    "ex_gaussian_denoiser",
    "ex_karras",
    "ex_euler_step",
    "ex_crps",
    "ex_heun_nfe",
    "ex_one_step",
    "ex_rank_shape",
    "EXERCISES",
]


def _gaussian_denoiser(x, sigma, mu, s):
    x = np.asarray(x, dtype=float)
    return (s**2 * x + sigma**2 * mu) / (s**2 + sigma**2)


def _karras(steps, sigma_min, sigma_max, rho):
    i = np.arange(steps)
    sig = (
        sigma_max ** (1 / rho) + i / (steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
    ) ** rho
    return np.append(sig, 0.0)


def _euler_step(x, denoised, sigma, sigma_next):
    x, denoised = np.asarray(x, dtype=float), np.asarray(denoised, dtype=float)
    return x + (sigma_next - sigma) * (x - denoised) / sigma


def _crps_fair(obs, members):
    m = np.asarray(members, dtype=float)
    k = len(m)
    return np.abs(m - obs).mean() - np.abs(m[:, None] - m[None, :]).sum() / (2 * k * (k - 1))


_rng = np.random.default_rng(3)

ex_gaussian_denoiser = Exercise(
    "gaussian-denoiser",
    "Data y ~ N(μ, s²) is observed as x = y + σ n. Write `denoiser(x, sigma, mu, s)` returning the best "
    "guess E[y | x] (it must work elementwise on arrays).",
    _gaussian_denoiser,
    hints=(
        "Both y and x are Gaussian: E[y | x] is a precision-weighted average of x and μ.",
        "The weight of x is s² / (s² + σ²): large noise -> trust the prior mean.",
        "return (s**2 * x + sigma**2 * mu) / (s**2 + sigma**2)",
    ),
    inputs=[
        (_rng.normal(size=5), 0.5, 1.0, 2.0),
        (np.linspace(-3, 3, 7), 4.0, -0.5, 0.3),
        (2.0, 0.01, 0.0, 1.0),
    ],
)

ex_karras = Exercise(
    "karras-sigmas",
    "Compute the EDM noise levels for steps = 6, σ_min = 0.002, σ_max = 80, ρ = 7 by the formula "
    "σ_i = (σ_max^(1/ρ) + i/(N-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ, i = 0..N-1, followed by a final 0 "
    "(a NumPy array of length 7). Do not call karras_sigmas.",
    lambda: _karras(6, 0.002, 80.0, 7.0),
    hints=(
        "Interpolate linearly between σ_max^(1/ρ) and σ_min^(1/ρ), then raise to the power ρ.",
        "i = np.arange(6); the last element is appended with np.append(..., 0.0).",
    ),
)

ex_euler_step = Exercise(
    "euler-step",
    "Write `euler_step(x, denoised, sigma, sigma_next)`: one Euler step of the probability-flow ODE "
    "dx/dσ = (x − D(x; σ)) / σ from σ to σ_next, given denoised = D(x; σ).",
    _euler_step,
    hints=("The slope is d = (x − denoised) / σ.", "x_next = x + (σ_next − σ) · d"),
    inputs=[(_rng.normal(size=4), _rng.normal(size=4), 2.0, 1.2), (np.ones(3), np.zeros(3), 0.5, 0.0)],
)


def _crps_standard(obs, members):
    m = np.asarray(members, dtype=float)
    return np.abs(m - obs).mean() - np.abs(m[:, None] - m[None, :]).mean() / 2


ex_crps = Exercise(
    "fair-crps",
    "The CRPS of an ensemble is E|X − y| − ½ E|X − X′|. The *fair* CRPS takes the second expectation over "
    "the "
    "m(m − 1) pairs of distinct members only (a pair of a member with itself always differs by 0). Compute "
    "the "
    "fair CRPS by hand (NumPy, no toolkit) for the observation and members given to check().",
    _crps_fair,
    hints=(
        "Broadcast members[:, None] - members[None, :] to get all m² pairs; the m diagonal ones are 0.",
        "Sum over all pairs, then divide by the number of distinct pairs, and halve.",
    ),
    misconceptions=[
        (
            lambda a, e, obs, members: np.isclose(a, _crps_standard(obs, members)),
            "that is the standard CRPS: it averages the spread term over all m² pairs, including the m zero "
            "ones. "
            "The fair CRPS divides by m(m − 1).",
        ),
        (
            lambda a, e, obs, members: np.isclose(
                a, 2 * _crps_fair(obs, members) - np.abs(np.asarray(members) - obs).mean()
            ),
            "the spread term needs its factor ½.",
        ),
        (
            lambda a, e, obs, members: np.isclose(a, np.abs(np.asarray(members, float) - obs).mean()),
            "that is the mean absolute error of the members alone: subtract the spread term.",
        ),
    ],
)

ex_heun_nfe = Exercise(
    "heun-nfe",
    "Write `heun_nfe(steps)`: how many network evaluations does the Heun sampler spend for `steps` steps, "
    "when its last step goes to σ = 0?",
    lambda steps: nfe_for("heun", steps),
    hints=(
        "Heun evaluates the denoiser at the start of a step and again at its end (the trapezoid correction).",
        "At σ = 0 the correction cannot be evaluated (the ODE's slope divides by σ): the last step is Euler.",
    ),
    inputs=[(1,), (2,), (5,), (18,)],
    misconceptions=[
        (
            lambda got, want: got == want + 1,
            "Heun's last step to σ = 0 is a plain Euler step: one evaluation, not two.",
        ),
        (
            lambda got, want: 2 * got - 1 == want,
            "that counts one evaluation per step, as Euler does; Heun corrects "
            "each step with a second evaluation.",
        ),
    ],
)

ex_one_step = Exercise(
    "one-step-euler",
    "A 1-step Euler sampler jumps from σ_max straight to σ = 0: x₀ = x + (0 − σ_max)(x − D(x; σ_max))/σ_max. "
    "What does it return?",
    "the denoised estimate",
    choices=("pure noise", "the denoised estimate", "a sample from the data distribution"),
    hints=("Simplify x + (0 − σ)(x − D)/σ.",),
    misconceptions=[
        (lambda a, e: a == "pure noise", "simplify the step: the x terms cancel."),
        (
            lambda a, e: a == "a sample from the data distribution",
            "D(x; σ) = E[y | x] is an average over everything x could have come from: at σ_max that is "
            "close to the "
            "data mean, a blurry field, not a sample.",
        ),
    ],
)

ex_rank_shape = Exercise(
    "rank-histogram",
    "The truth's rank among the ensemble members is counted over many cases. The histogram is U-shaped: the "
    "truth falls below the lowest or above the highest member far more often than in the middle. The "
    "ensemble "
    "is …",
    "under-dispersed",
    choices=("over-dispersed", "under-dispersed", "calibrated", "biased high"),
    hints=("Where does the truth fall when the members huddle too close together?",),
    misconceptions=[
        (
            lambda a, e: a == "over-dispersed",
            "over-dispersed members bracket the truth too often: that gives a dome, "
            "the truth mostly in the middle ranks.",
        ),
        (lambda a, e: a == "calibrated", "a calibrated ensemble gives a flat rank histogram."),
        (
            lambda a, e: a == "biased high",
            "a bias makes the histogram lopsided (one end high), not U-shaped.",
        ),
    ],
)

EXERCISES = [ex_gaussian_denoiser, ex_karras, ex_euler_step, ex_crps, ex_heun_nfe, ex_one_step, ex_rank_shape]
