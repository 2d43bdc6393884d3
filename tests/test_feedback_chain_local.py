"""Analytic linear chain (closed form vs ODE), the non-linear chain's fixed points, and local rules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolkit.feedback import chain, local
from toolkit.feedback.data import load_digits_split


@settings(max_examples=12, deadline=None)
@given(w1=st.floats(-2, 2), w2=st.floats(-2, 2), b=st.floats(0.2, 2) | st.floats(-2, -0.2))
def test_rbp_closed_form_limit_matches_ode(w1, w2, b):
    p1, p2 = chain.rbp_limit(w1, w2, b=b)
    assert abs(p1 * p2 - 1.0) < 1e-9  # on the fixed-point hyperbola
    # Near the line of fixed points the Jacobian's non-zero eigenvalue is -(b w2* + w1*^2): the
    # approach is exp(-rate t), so integrate for ~25 time constants (slow cases need longer).
    rate = b * p2 + p1**2
    assume(rate > 0.02)
    t_max = max(60.0, 25.0 / rate)
    traj = chain.simulate_chain(w1, w2, rule="rbp", b=b, t_max=t_max, steps=int(t_max / 0.02))
    inv = chain.rbp_invariant(traj[:, 0], traj[:, 1], b=b)
    assert np.ptp(inv) < 1e-6 * max(1.0, abs(inv[0]))  # conserved quantity
    np.testing.assert_allclose(traj[-1], [p1, p2], atol=1e-4)  # and where the ODE ends


def test_bp_chain_conserves_w1_squared_minus_w2_squared_and_has_saddle():
    traj = chain.simulate_chain(1.5, 0.2, rule="bp", t_max=20, steps=4000)
    q = traj[:, 0] ** 2 - traj[:, 1] ** 2
    assert np.ptp(q) < 1e-6
    assert abs(traj[-1, 0] * traj[-1, 1] - 1) < 1e-6
    assert np.allclose(chain.simulate_chain(0.0, 0.0, rule="bp", t_max=5, steps=50)[-1], 0)  # saddle at 0
    v1, v2 = chain.chain_velocity(
        np.array([2.0, 0.5]), chain.fixed_point_w2(np.array([2.0, 0.5])), rule="rbp", b=0.7
    )
    assert np.allclose(v1, 0) and np.allclose(v2, 0)


def test_nonlinear_chain_fixed_points_with_and_without_derivative():
    fps = chain.nonlinear_fixed_points(derivative=True)
    assert len(fps) == 2
    for w1, w2 in fps:
        d1, d2 = chain.nonlinear_velocity(w1, w2, derivative=True)
        assert abs(d1) < 1e-9 and abs(d2) < 1e-9
    assert chain.nonlinear_fixed_points(derivative=False) == []
    # with f' RBP converges to the fixed point; without it the weights keep moving
    end = chain.simulate_nonlinear(0.5, 0.5, derivative=True, t_max=200, steps=2000)[-1]
    np.testing.assert_allclose(end, fps[0], atol=1e-4)
    traj = chain.simulate_nonlinear(0.5, 0.5, derivative=False, t_max=200, steps=2000)
    speed = np.hypot(*chain.nonlinear_velocity(*traj[-1], derivative=False))
    assert speed > 1e-3


def test_chain_validation():
    with pytest.raises(ValueError, match="rule"):
        chain.simulate_chain(0.1, 0.1, rule="srbp")
    with pytest.raises(ValueError, match="b must be non-zero"):
        chain.rbp_limit(0.1, 0.1, b=0.0)
    with pytest.raises(ValueError, match="alpha"):
        chain.simulate_chain(0.1, 0.1, alpha=0.0)


def test_oja_finds_the_principal_subspace():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 5)) * np.sqrt([5.0, 3.0, 1.0, 0.1, 0.1])
    w = rng.normal(0, 0.1, (2, 5))
    for _ in range(20):
        for i in range(0, 4000, 50):
            w = local.oja_step(w, x[i : i + 50], 0.02)
    # rows orthonormal and spanning the first two axes
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=0.05)
    assert np.abs(w[:, 2:]).max() < 0.08


def test_deep_local_learning_misses_low_variance_labels_and_recirculation_learns():
    lowvar = local.make_low_variance_task(random_state=0)
    report = local.local_learning_report(lowvar, hidden=(8,))
    assert report["deep_local"] < 0.6
    digits = load_digits_split(random_state=0)
    assert local.local_learning_report(digits, hidden=(32,))["deep_local"] > 0.85
    ae = local.RecirculationAutoencoder(64, 24, random_state=0)
    errors = ae.fit(digits.x_train.numpy().astype(float), epochs=8)
    assert errors[-1] < 0.5 * errors[0]


def test_tanh_chain_without_derivative_never_settles_and_ends_linear():
    """No fixed point without f′: a long plateau near w1 ≈ 5.17, then w1 → 0, w2 → ∞, w1·w2 → β/α."""
    from toolkit.feedback import chain

    t, w = chain.simulate_nonlinear_long(0.3, -1.0, derivative=False, b=1.0, t_max=1e5)
    at = lambda tt: w[int(np.argmin(np.abs(t - tt)))]  # noqa: E731
    assert 5.1 < w[:, 0].max() < 5.25
    assert abs(at(100)[0] - at(20)[0]) < 0.05  # looks converged at the old horizon (t = 100)
    assert at(1e4)[0] > 3.5 and at(2e4)[0] < 0.1 and at(1e5)[0] < at(2e4)[0]
    assert at(1e5)[1] > at(2e4)[1] > 5
    beta_over_alpha = (chain.NONLINEAR_X @ chain.NONLINEAR_Y) / (chain.NONLINEAR_X @ chain.NONLINEAR_X)
    assert abs(at(1e5)[0] * at(1e5)[1] - beta_over_alpha) < 0.01
    # with f′ the same start settles on a fixed point of BP
    _, wf = chain.simulate_nonlinear_long(0.3, -1.0, derivative=True, b=1.0, t_max=1e4)
    v = chain.nonlinear_velocity(*wf[-1], derivative=True, b=1.0)
    assert max(abs(float(np.squeeze(a))) for a in v) < 1e-8


def test_w2_nullcline_zeroes_the_w2_velocity():
    from toolkit.feedback import chain

    for w1 in (-3.0, -0.4, 0.2, 1.0, 5.0):
        w2 = float(chain.w2_nullcline(w1))
        for d in (True, False):
            assert abs(float(np.squeeze(chain.nonlinear_velocity(w1, w2, derivative=d)[1]))) < 1e-12


def test_tourbillon_stack_levels_are_trained_by_recirculation_only():
    """Greedy self-supervised phase: each level's weights change only through its own recirculation;
    the supervised phase without feedback leaves the stack untouched, with random feedback moves it."""
    from toolkit.feedback.local import TourbillonStack

    split = load_digits_split(random_state=0)
    x, y = split.x_train.numpy().astype(float), split.y_train.numpy()
    plain = TourbillonStack([64, 32, 16], 10, random_state=0).fit(x, y, ae_epochs=2, top_epochs=1)
    again = TourbillonStack([64, 32, 16], 10, random_state=0)
    again.lo, again.hi = x.min(0), x.max(0) + 1e-9
    h = again._scale(x)
    for ae in again.autoencoders:  # the same greedy recirculation, level by level, by hand
        ae.fit(h, epochs=2, lr=1.0, batch_size=32, random_state=0)
        h = ae.encode(h)
    for a, b in zip(plain.autoencoders, again.autoencoders):
        np.testing.assert_allclose(a.w, b.w)
        np.testing.assert_allclose(a.v, b.v)
    fed = TourbillonStack([64, 32, 16], 10, feedback="random", random_state=0).fit(
        x, y, ae_epochs=2, top_epochs=1
    )
    assert not np.allclose(fed.autoencoders[0].w, plain.autoencoders[0].w)
    np.testing.assert_allclose(fed.autoencoders[0].v, plain.autoencoders[0].v)  # decoders: recirculation only
    with pytest.raises(ValueError, match="feedback"):
        TourbillonStack([64, 32], 10, feedback="symmetric")


def test_tourbillon_learns_digits():
    from toolkit.feedback.local import TourbillonStack

    split = load_digits_split(random_state=0)
    stack = TourbillonStack([64, 100, 100], 10, random_state=0).fit(
        split.x_train.numpy().astype(float), split.y_train.numpy(), ae_epochs=10, top_epochs=20, top_lr=0.1
    )
    assert stack.score(split.x_test.numpy().astype(float), split.y_test.numpy()) > 0.9
