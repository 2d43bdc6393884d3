"""The three surrogate-gradient curves of notebook 04 against exact results, and the shared panel."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from toolkit import sidebyside
from toolkit.diffusion.fidelity import scaled_denoiser, score_scale_alignment
from toolkit.diffusion.samplers import karras_sigmas, sample
from toolkit.diffusion.toy import gaussian_denoiser
from toolkit.feedback.fidelity import mix_alignment
from toolkit.tracking.assignment import solve_assignment
from toolkit.tracking.fidelity import blackbox_alignment, planted_problems


# -- tracking -------------------------------------------------------------------------------------------
def test_planted_problems_miss_their_target():
    cost, target = planted_problems(20, 6, random_state=3)
    assert cost.shape == target.shape == (20, 6, 6)
    assert all(not torch.equal(solve_assignment(c), t) for c, t in zip(cost, target))


def test_blackbox_is_zero_for_tiny_lambda_and_target_direction_for_huge_lambda():
    frame = blackbox_alignment([1e-9, 1e3, 1e4], n_problems=16, size=5, seed=1)
    assert frame.cosine.iloc[0] == 0.0 and frame.nonzero.iloc[0] == 0.0
    # for λ beyond every cost gap, y_λ is the target: g = (y* − y)/λ, the same direction for every λ
    assert frame.nonzero.iloc[1] == 1.0 and frame.cosine.iloc[1] == pytest.approx(
        frame.cosine.iloc[2], abs=1e-12
    )


def test_blackbox_saturated_cosine_matches_a_hand_computation():
    from toolkit.tracking.assignment import sinkhorn_assignment

    cost, target = planted_problems(8, 5, random_state=2)
    c = cost.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(
        (sinkhorn_assignment(c, None, epsilon=0.05, n_iter=300) * (1 - 2 * target)).sum(), c
    )
    direction = (target - solve_assignment(cost)).flatten(1)
    cos = (direction * ref.flatten(1)).sum(1) / (direction.norm(dim=1) * ref.flatten(1).norm(dim=1))
    frame = blackbox_alignment([1e4], n_problems=8, size=5, seed=2)
    assert frame.cosine.iloc[0] == pytest.approx(float(cos.mean()), abs=1e-9)


# -- feedback -------------------------------------------------------------------------------------------
def test_mix_alignment_is_exact_at_mu_one_and_monotone():
    frame = mix_alignment([0.0, 0.5, 1.0], train_steps=0, hidden=(32,), n_examples=128)
    assert frame.cosine.iloc[-1] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(frame.cosine) > 0) and frame.accuracy.isna().all()


# -- diffusion ------------------------------------------------------------------------------------------
def test_scaled_denoiser_is_identity_at_gamma_one():
    den = gaussian_denoiser(0.0, 1.0)
    assert scaled_denoiser(den, 1.0) is den
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)
    assert torch.allclose(scaled_denoiser(den, 2.0)(x, 1.5) - x, 2 * (den(x, 1.5) - x))


@pytest.mark.parametrize("gamma", [0.7, 1.0, 1.3])
def test_scaled_score_spread_matches_the_closed_form_for_gaussian_data(gamma):
    """PF-ODE with γ·score on N(0, s²): std(x0) = std(x_T) · (s² / (s² + σ_max²))^(γ/2)."""
    s, sigma_max = 0.8, 20.0
    sigmas = karras_sigmas(200, sigma_max=sigma_max).double()
    x_t = torch.linspace(-3, 3, 101, dtype=torch.float64)[:, None]  # a deterministic map: test it pointwise
    x0 = sample(scaled_denoiser(gaussian_denoiser(0.0, s), gamma), x_t, sigmas, "heun")
    # sample() starts at x = noise · σ_max; closed form from σ_max down to σ_min, then the last Euler step
    # to σ = 0 lands on D_γ(x; σ_min) = x (1 − γ σ_min² / (s² + σ_min²))
    smin = float(sigmas[-2])
    factor = ((s**2 + smin**2) / (s**2 + sigma_max**2)) ** (gamma / 2) * (
        1 - gamma * smin**2 / (s**2 + smin**2)
    )
    assert torch.allclose(x0, x_t * sigma_max * factor, rtol=1e-3)  # Heun's O(h²) error over 200 steps
    other = ((s**2 + smin**2) / (s**2 + sigma_max**2)) ** ((gamma + 0.05) / 2)
    assert not torch.allclose(x0, x_t * sigma_max * other, rtol=1e-3)  # the tolerance tells γ from γ + 0.05


def test_score_scale_alignment_direction_exact_length_scaled():
    frame = score_scale_alignment([0.8, 1.0, 1.25], n_samples=500, steps=10)
    assert np.allclose(frame.cosine, 1.0, atol=1e-12) and np.allclose(
        frame.magnitude, frame.factor, rtol=1e-12
    )
    assert np.all(np.diff(frame.spread) < 0)


# -- the shared panel -----------------------------------------------------------------------------------
def _toy_curve(factors, seed=0):
    return pd.DataFrame(
        {"factor": factors, "cosine": [math.cos(f) for f in factors], "extra": [seed] * len(factors)}
    )


def test_panel_reads_out_the_measured_point_and_marks_it():
    s = sidebyside.Surrogate("toy", "t", _toy_curve, (0.0, 0.5, 1.0), 0.5, extra="extra", extra_title="seed")
    panel = sidebyside.alignment_panel([s, s])
    assert panel.last_error is None and f"cosine <b>{math.cos(0.5):.2f}</b>" in panel.readout.value
    panel.controls["f1"].value = 1.0
    assert f"cosine <b>{math.cos(1.0):.2f}</b>" in panel.readout.value
    panel.controls["seed"].value = 3
    assert "seed 3" in panel.readout.value


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(grid=(0.0,)), "grid"),
        (dict(default=5.0), "default"),
        (dict(log=True), "log grid"),
        (dict(curve=3), "curve"),
    ],
)
def test_surrogate_rejects_bad_input(kwargs, match):
    base = dict(
        name="x", factor="t", curve=_toy_curve, grid=(0.0, 1.0), default=0.5, extra="extra", extra_title="e"
    )
    with pytest.raises((ValueError, TypeError), match=match):
        sidebyside.Surrogate(**{**base, **kwargs})


def test_chart_needs_its_columns():
    with pytest.raises(ValueError, match="extra"):
        sidebyside.alignment_chart(
            pd.DataFrame({"factor": [1], "cosine": [1]}), title="", factor="t", extra="extra", extra_title="e"
        )


def test_closing_exercises_explain_wrong_choices(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)  # a wrong answer would raise in strict mode
    assert "zero" in sidebyside.ex_best_lambda.check("tiny lambda").message
    assert "direction" in sidebyside.ex_exact_direction.check("feedback mix").message
    assert sidebyside.ex_exact_direction.check("score scale")


def test_first_mu_reads_the_table(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)
    mix = pd.DataFrame({"factor": [0.0, 0.5, 0.75, 1.0], "cosine": [0.0, 0.6, 0.93, 1.0]})
    assert sidebyside.ex_first_mu.check(0.75, mix)
    assert "backprop itself" in sidebyside.ex_first_mu.check(1.0, mix).message
    assert "at most 0.9" in sidebyside.ex_first_mu.check(0.5, mix).message
