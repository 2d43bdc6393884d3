"""Assignment solver and its three gradient estimators."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from toolkit.tracking import (
    assignment_objective,
    blackbox_assignment,
    f_lambda,
    sinkhorn_assignment,
    solve_assignment,
    straight_through_assignment,
)

TAU = 0.5


def brute_force(cost: np.ndarray, tau: float) -> float:
    """Minimum of Σ c_ij y_ij + τ/2 (#unmatched rows + #unmatched cols) over all partial matchings."""
    n, m = cost.shape
    best = math.inf
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                c = sum(cost[r, q] for r, q in zip(rows, cols))
                best = min(best, c + tau / 2 * (n + m - 2 * k))
    return best


def objective(cost, y, tau):
    n, m = cost.shape
    k = y.sum()
    return float(np.where(y > 0, cost, 0).sum() + tau / 2 * (n + m - 2 * k))


costs = st.integers(1, 4).flatmap(
    lambda n: st.integers(1, 4).flatmap(
        lambda m: arrays(
            np.float64, (n, m), elements=st.one_of(st.floats(-1.0, 2.0, allow_nan=False), st.just(np.inf))
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(cost=costs, tau=st.floats(0.0, 1.5))
def test_forward_matches_brute_force(cost, tau):
    y = solve_assignment(cost, tau)
    assert y.shape == cost.shape
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert (y.sum(0) <= 1).all() and (y.sum(1) <= 1).all()
    assert not (y[np.isinf(cost)] > 0).any(), "a forbidden pair was linked"
    assert objective(cost, y, tau) == pytest.approx(brute_force(cost, tau), abs=1e-9)


def test_batched_equals_loop_and_tensor_type():
    rng = np.random.default_rng(0)
    c = rng.random((6, 5, 7))
    c[rng.random(c.shape) < 0.3] = np.inf
    yb = solve_assignment(c)
    for b in range(6):
        np.testing.assert_array_equal(yb[b], solve_assignment(c[b]))
    yt = solve_assignment(torch.tensor(c, dtype=torch.float32))
    assert isinstance(yt, torch.Tensor) and yt.dtype == torch.float32 and yt.shape == (6, 5, 7)


def test_all_forbidden_and_empty_are_feasible():
    assert solve_assignment(np.full((3, 2), np.inf)).sum() == 0
    assert solve_assignment(np.zeros((0, 3))).shape == (0, 3)
    # costs above the no-match option are never linked
    assert solve_assignment(np.full((3, 3), 0.9), 0.5).sum() == 0


@pytest.mark.parametrize(
    "bad, err",
    [
        (np.array([[np.nan]]), ValueError),
        (np.array([[-np.inf]]), ValueError),
        (np.zeros(3), ValueError),
        ([[1.0]], TypeError),
    ],
)
def test_solver_input_errors(bad, err):
    with pytest.raises(err, match="cost"):
        solve_assignment(bad)


def test_blackbox_rejects_bad_lambda():
    with pytest.raises(ValueError, match="lam"):
        blackbox_assignment(torch.zeros(2, 2), 0.0)
    with pytest.raises(TypeError, match="cost"):
        blackbox_assignment(np.zeros((2, 2)), 0.1)


def hamming(target):
    t = torch.as_tensor(target, dtype=torch.float64)
    return lambda y: (y * (1 - 2 * t) + t).sum()


def test_backward_is_finite_difference_slope_of_f_lambda():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        n, m = rng.integers(2, 6, size=2)
        cost = rng.random((n, m))
        cost[rng.random((n, m)) < 0.25] = np.inf
        target = (rng.random((n, m)) < 0.3).astype(float)
        lam = float(rng.choice([0.05, 0.3, 1.0]))
        c = torch.tensor(cost, requires_grad=True)
        y = blackbox_assignment(c, lam)
        hamming(target)(y).backward()
        grad = c.grad.numpy()
        assert np.all(grad[np.isinf(cost)] == 0)
        d = np.where(np.isfinite(cost), rng.standard_normal((n, m)), 0.0)
        h = 1e-6
        fd = (f_lambda(cost + h * d, hamming(target), lam) - f_lambda(cost - h * d, hamming(target), lam)) / (
            2 * h
        )
        assert fd == pytest.approx(float(np.sum(np.where(np.isfinite(cost), grad * d, 0))), abs=1e-5)
        checked += 1
    assert checked == 60


def test_backward_formula_and_batch_shapes():
    rng = np.random.default_rng(2)
    cost = rng.random((3, 4, 5))
    cost[:, 0, 0] = np.inf
    g = torch.tensor(rng.standard_normal((3, 4, 5)))
    c = torch.tensor(cost, requires_grad=True)
    y = blackbox_assignment(c, 0.4)
    (y * g).sum().backward()
    expected = -(solve_assignment(cost) - solve_assignment(cost + 0.4 * g.numpy())) / 0.4
    np.testing.assert_allclose(c.grad.numpy(), expected)
    assert c.grad.shape == (3, 4, 5)


def test_gradient_step_reduces_hamming_loss():
    """Following −∂f_λ/∂c on the cost must eventually reproduce the target assignment."""
    rng = np.random.default_rng(3)
    cost = torch.tensor(rng.random((5, 5)), requires_grad=True)
    target = np.eye(5)
    for _ in range(20):
        y = blackbox_assignment(cost, 0.5)
        loss = hamming(target)(y)
        cost.grad = None
        loss.backward()
        with torch.no_grad():
            cost -= 0.1 * cost.grad
    assert float(hamming(target)(solve_assignment(cost.detach()))) == 0


def test_f_lambda_is_a_lower_envelope_and_exact_far_from_jumps():
    rng = np.random.default_rng(4)
    for _ in range(20):
        cost = rng.random((4, 4))
        target = np.eye(4)
        true = float(hamming(target)(torch.tensor(solve_assignment(cost))))
        assert f_lambda(cost, hamming(target), 0.2) <= true + 1e-12
        assert f_lambda(cost, hamming(target), 1e-9) == pytest.approx(true)


def test_straight_through_gradient_is_minus_identity():
    c = torch.tensor([[0.1, np.inf], [0.3, 0.2]], requires_grad=True)
    y = straight_through_assignment(c)
    torch.testing.assert_close(y, torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    g = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    (y * g).sum().backward()
    torch.testing.assert_close(c.grad, torch.tensor([[-1.0, 0.0], [-3.0, -4.0]]))


def test_sinkhorn_tends_to_exact_solution():
    rng = np.random.default_rng(5)
    cost = rng.random((2, 5, 6))
    cost[rng.random(cost.shape) < 0.2] = np.inf
    p = sinkhorn_assignment(torch.tensor(cost), TAU, epsilon=0.002, n_iter=500)
    np.testing.assert_allclose(p.numpy(), solve_assignment(cost, TAU), atol=0.02)
    soft = sinkhorn_assignment(torch.tensor(cost, requires_grad=True), TAU, epsilon=0.1)
    assert (soft.sum(-1) <= 1 + 1e-6).all() and (soft.sum(-2) <= 1 + 1e-6).all()
    assert (soft[torch.isinf(torch.tensor(cost))] == 0).all()


def test_sinkhorn_gradient_matches_finite_differences():
    c = torch.rand(3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: sinkhorn_assignment(x, TAU, epsilon=0.2, n_iter=30), (c,))


def test_assignment_objective_counts_only_chosen_pairs():
    c = np.array([[0.1, np.inf], [0.3, 0.2]])
    assert assignment_objective(c, np.eye(2), TAU) == pytest.approx((0.1 - 0.5) + (0.2 - 0.5))
    assert assignment_objective(c, np.eye(2)) == pytest.approx(0.1 + 0.2)  # default: Σ c y


finite_costs = st.integers(1, 5).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda m: arrays(np.float64, (n, m), elements=st.floats(-3.0, 3.0, allow_nan=False))
    )
)


@settings(max_examples=150, deadline=None)
@given(cost=finite_costs)
def test_default_agrees_with_scipy_linear_sum_assignment(cost):
    """no_match=None is scipy's assignment whenever scipy's problem is feasible (trusted oracle)."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(cost)
    y = solve_assignment(cost)
    assert y.sum() == min(cost.shape)
    assert np.where(y > 0, cost, 0).sum() == pytest.approx(cost[rows, cols].sum(), abs=1e-9)
    yt = blackbox_assignment(torch.tensor(cost), lam=1.0)
    assert torch.equal(yt, torch.tensor(y))


@settings(max_examples=150, deadline=None)
@given(cost=costs)
def test_default_is_maximum_cardinality_then_minimum_cost(cost):
    """With forbidden pairs: as many links as possible, then the cheapest (brute force)."""
    n, m = cost.shape
    best = (0, 0.0)
    for k in range(min(n, m) + 1):
        for rows in itertools.combinations(range(n), k):
            for cols in itertools.permutations(range(m), k):
                total = sum(cost[r, q] for r, q in zip(rows, cols))
                if math.isfinite(total) and (k > best[0] or (k == best[0] and total < best[1])):
                    best = (k, total)
    y = solve_assignment(cost)
    assert not (y[np.isinf(cost)] > 0).any()
    assert (y.sum(0) <= 1).all() and (y.sum(1) <= 1).all()
    assert y.sum() == best[0]
    assert np.where(y > 0, cost, 0).sum() == pytest.approx(best[1], abs=1e-9)


@pytest.mark.parametrize("no_match", [0.5, None])
def test_components_solver_matches_dense_loop_reference(no_match):
    """≥ 1000 random batches with ties (costs on a coarse grid) and forbidden pairs: the batched
    solver reaches exactly the reference objective (and, without τ, the same number of links)."""
    from toolkit.tracking.assignment import assignment_objective

    rng = np.random.default_rng(11)
    for _ in range(1000):
        B, n, m = rng.integers(1, 6), rng.integers(1, 7), rng.integers(1, 7)
        cost = rng.integers(0, 5, (B, n, m)) / 4.0  # a coarse grid: many ties
        cost[rng.random(cost.shape) < rng.uniform(0, 0.8)] = np.inf
        fast = solve_assignment(cost, no_match)
        ref = solve_assignment(cost, no_match, method="loop")
        np.testing.assert_allclose(
            assignment_objective(cost, fast, no_match), assignment_objective(cost, ref, no_match), atol=1e-12
        )
        if no_match is None:  # maximum cardinality (with τ, optima of equal cost may differ in size)
            assert np.array_equal(fast.sum((1, 2)), ref.sum((1, 2)))
        assert fast.sum(2).max(initial=0) <= 1 and fast.sum(1).max(initial=0) <= 1
        assert not np.any(fast[np.isinf(cost)])
    with pytest.raises(ValueError, match="method"):
        solve_assignment(np.zeros((2, 2)), method="fastest")


def _staircase(k: int) -> np.ndarray:
    """(k+1) × (k+1): a free k-link matching whose only augmenting path re-links all k pairs at cost 1.

    Maximum cardinality (k + 1 links, cost k + 1) needs a no-match cost τ > k + 1: a solver that took a
    smaller one (e.g. a few times the cost range) would stop at k links.
    """
    cost = np.full((k + 1, k + 1), np.inf)
    cost[np.arange(k), np.arange(k)] = 0.0
    cost[np.arange(k), np.arange(1, k + 1)] = 1.0
    cost[k, 0] = 1.0
    return cost


def test_a_large_problem_reaches_maximum_cardinality_on_a_long_augmenting_path():
    """Skip-layer-sized problems (220 × 221): a staircase whose maximum matching needs one augmenting path
    through every row, beside a sparse random problem with ties."""
    k = 220
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 5, (k + 1, k + 1)) / 4.0
    noise[rng.random(noise.shape) < 0.97] = np.inf
    cost = np.stack([_staircase(k), noise])
    y = solve_assignment(cost, None)
    ref = solve_assignment(cost, None, method="loop")
    assert y[0].sum() == k + 1 and y[0][np.arange(k), np.arange(1, k + 1)].all()
    assert np.array_equal(y.sum((1, 2)), ref.sum((1, 2)))
    np.testing.assert_allclose(
        assignment_objective(cost, y, None), assignment_objective(cost, ref, None), atol=1e-12
    )


def test_extreme_magnitudes_without_threshold_fall_back_to_the_reference_loop():
    """Costs beyond 1e100 could overflow the no-match cost: the batched solver hands them to the loop, so
    both give the same links (numpy and torch input)."""
    rng = np.random.default_rng(4)
    cost = rng.integers(-3, 4, (3, 5, 6)) * 1e200
    cost[rng.random(cost.shape) < 0.4] = np.inf
    ref = solve_assignment(cost, None, method="loop")
    np.testing.assert_array_equal(solve_assignment(cost, None), ref)
    np.testing.assert_array_equal(solve_assignment(torch.tensor(cost), None).numpy(), ref)
    assert ref.sum() > 0
