"""The λ explorer: margin, descent, mixed loss slices and the panel (hand-made problems)."""

import numpy as np
import pytest

from toolkit.tracking import solve_assignment
from toolkit.tracking.exercises import ex_smallest_lambda
from toolkit.tracking.landscape import bce_of_costs, descend, flip_margin, loss_slice, random_direction
from toolkit.tracking.widgets import demo_problem, explorer_state, lambda_explorer


def test_flip_margin_by_hand():
    inf = np.inf
    # τ = 0.5: the true pair (0, 0) costs 0.7 and is left unmatched; lowering it by λ links it when λ > 0.2
    cost = np.array([[0.7, inf], [inf, 0.1]])
    target = np.eye(2)
    assert flip_margin(cost, target, 0.5) == pytest.approx(0.2, abs=1e-6)
    # already the target: nothing flips
    assert flip_margin(np.array([[0.1, inf], [inf, 0.1]]), target, 0.5) == np.inf
    # gradient zero below m, non-zero above (the definition)
    for lam in (0.19, 0.21):
        y, yl = solve_assignment(cost, 0.5), solve_assignment(cost + lam * (1 - 2 * target), 0.5)
        assert (np.count_nonzero(y - yl) > 0) == (lam > 0.2)


def test_exercise_reference_is_the_margin(monkeypatch):
    monkeypatch.delenv("GRADIENT_LAB_STRICT", raising=False)  # a wrong answer would raise in strict mode
    cost, target = demo_problem()
    m = flip_margin(cost, target, 0.5)
    assert ex_smallest_lambda.check(m, cost, target)
    assert not ex_smallest_lambda.check(m / 2, cost, target)
    assert m == pytest.approx(0.199, abs=1e-6)  # the hint's hand computation


def test_descend_reaches_zero_above_margin_only():
    cost, target = demo_problem()
    m = flip_margin(cost, target, 0.5)
    tiny = descend(cost, target, m / 2, steps=20)
    assert all(r["hamming"] == tiny[0]["hamming"] > 0 for r in tiny) and tiny[-1]["grad_norm"] == 0
    moderate = descend(cost, target, 1.5 * m, steps=20)
    assert moderate[-1]["hamming"] == 0
    # with the BCE part (α > 0) even a tiny λ moves the costs
    mixed = descend(cost, target, m / 2, steps=60, alpha=0.5)
    assert mixed[-1]["hamming"] < tiny[-1]["hamming"]


def test_mixed_slice_and_bce_gradient():
    cost, target = demo_problem()
    value, grad = bce_of_costs(cost, target)
    eps = 1e-6
    c2 = cost.copy()
    c2[0, 0] += eps
    assert (bce_of_costs(c2, target)[0] - value) / eps == pytest.approx(grad[0, 0], rel=1e-4)
    d = random_direction(cost)
    assert np.all(d[~np.isfinite(cost)] == 0) and np.linalg.norm(d) == pytest.approx(1.0)
    t0 = np.array([0.0])
    pure = loss_slice(cost, target, 0.3, direction=d, t=t0)
    mixed = loss_slice(cost, target, 0.3, direction=d, t=t0, alpha=0.25)
    assert mixed[0]["true_loss"] == pytest.approx(0.25 * value + 0.75 * pure[0]["true_loss"])
    # the Hamming part is the pure one at λ(1 − α), weighted (1 − α): the solver of the mixed loss is
    # perturbed by λ·∂L/∂y = λ(1 − α)(1 − 2t)
    part = loss_slice(cost, target, 0.3 * 0.75, direction=d, t=t0)
    assert mixed[0]["grad"] == pytest.approx(0.25 * float((grad * d).sum()) + 0.75 * part[0]["grad"])
    assert mixed[0]["f_lambda"] == pytest.approx(0.25 * value + 0.75 * part[0]["f_lambda"])


@pytest.mark.parametrize("lam, alpha", [(0.3, 0.0), (0.3, 0.5), (0.25, 0.2), (0.5, 0.7), (0.3, 1.0)])
def test_explorer_gradient_is_what_mixed_training_backpropagates(lam, alpha):
    """Autograd through ``blackbox_assignment`` of (1 − α)·Hamming (the Hamming term of training's ``mixed``
    loss) gives the explorer's gradient, and the first Descend step uses it with the BCE part."""
    import torch

    from toolkit.tracking import DEFAULT_NO_MATCH, blackbox_assignment

    cost, target = demo_problem()
    c = torch.tensor(cost, requires_grad=True)
    y = blackbox_assignment(c, lam, DEFAULT_NO_MATCH)
    t = torch.tensor(target)
    ((1 - alpha) * (y * (1 - 2 * t) + t).sum()).backward()  # Σ|y − t| for 0/1 y and t
    st = explorer_state(cost, target, lam, "random (all costs)", alpha=alpha)
    np.testing.assert_allclose(st["grad"], c.grad.numpy(), atol=1e-12)
    if alpha == 1:  # no Hamming term: the perturbed solution drawn beside y(c) is y(c) itself
        np.testing.assert_array_equal(st["y_lam"], st["y"])
    assert st["nonzero"] == np.count_nonzero(c.grad.numpy())
    g_bce = bce_of_costs(cost, target)[1]
    expected = alpha * g_bce + np.where(np.isfinite(cost), c.grad.numpy(), 0.0)
    assert descend(cost, target, lam, steps=0, alpha=alpha)[0]["grad_norm"] == pytest.approx(
        np.abs(expected).max()
    )


def test_explorer_panel_and_state():
    cost, target = demo_problem()
    st = explorer_state(cost, target, 0.01, "(1, 2)", run_descent=True)
    assert st["nonzero"] == 0 and st["descent"][-1]["hamming"] == 1
    assert len(st["faint"]) >= 3
    p = lambda_explorer(cost, target)
    assert p.last_error is None and "m = 0.199" in p.readout.value
    p.controls["lam"].value = 0.01
    assert "gradient is 0 while λ &lt; m" in p.readout.value
    p.descend()
    assert p.last_error is None and "never 0" in p.readout.value
    p.controls["lam"].value = 0.3
    assert p.last_error is None and "→ 0" in p.readout.value
    p.controls["alpha"].value = 0.5
    p.controls["direction"].value = p.controls["direction"].options[1]
    assert p.last_error is None
    assert "∞" in str(p.chart.chart)  # forbidden pairs are labelled
