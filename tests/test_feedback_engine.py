"""Exact identities and learning tests for toolkit.feedback's engine."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.feedback import RULES, FeedbackMLP, feedback_angles, gradient_angles, quantize


def _batch(sizes, n=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (n,), generator=g)
    return x, y


def _autograd(net, x, y):
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return [p.grad.clone() for p in net.layers.parameters()]


def _rule_grads(net, x, y):
    loss = net.compute_gradients(x, y)
    return loss, [p.grad.clone() for p in net.layers.parameters()]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 7), min_size=2, max_size=5),
    activation=st.sampled_from(["tanh", "relu", "sigmoid", "linear"]),
    seed=st.integers(0, 1000),
)
def test_bp_equals_autograd(sizes, activation, seed):
    net = FeedbackMLP(sizes, "bp", activation, seed=seed).double()
    x, y = _batch(sizes, seed=seed)
    loss, grads = _rule_grads(net, x, y)
    expected = _autograd(net, x, y)
    with torch.no_grad():
        assert float(loss) == pytest.approx(float(F.cross_entropy(net(x), y)), abs=1e-12)
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rule", ["rbp", "arbp", "rbp-resampled"])
@pytest.mark.parametrize("derivative", [True, False])
def test_rbp_with_transposed_weights_equals_bp(rule, derivative):
    sizes = [6, 5, 4, 3, 4]
    bp = FeedbackMLP(sizes, "bp", "tanh", derivative=derivative, seed=3).double()
    net = FeedbackMLP(sizes, rule, "tanh", derivative=derivative, seed=3).double()
    net.load_state_dict({**net.state_dict(), **bp.state_dict()})  # same forward weights
    with torch.no_grad():
        for i, b in enumerate(net.feedback):
            assert b.shape == net.layers[i + 1].weight.T.shape
            b.copy_(net.layers[i + 1].weight.T)
    x, y = _batch(sizes)
    # the resampled rule redraws B every batch; with the diagnostic path (no resampling) it matches
    _, wg, bg, _ = net.updates(x, y, step=False)
    _, wbp, bbp, _ = bp.updates(x, y)
    for a, b in zip(wg + bg, wbp + bbp):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_bp_without_derivative_is_not_the_gradient():
    sizes = [5, 6, 3]
    net = FeedbackMLP(sizes, "bp", "tanh", derivative=False, seed=0).double()
    x, y = _batch(sizes)
    _, grads = _rule_grads(net, x, y)
    expected = _autograd(net, x, y)
    assert not torch.allclose(grads[0], expected[0])
    torch.testing.assert_close(grads[2], expected[2])  # top layer unaffected


@pytest.mark.parametrize("rule", sorted(set(RULES) - {"bp"}))
def test_top_layer_matches_bp_for_every_rule(rule):
    sizes = [5, 7, 6, 4]
    net = FeedbackMLP(sizes, rule, seed=1).double()
    x, y = _batch(sizes)
    _, grads = _rule_grads(net, x, y)
    expected = _autograd(net, x, y)
    torch.testing.assert_close(grads[-2], expected[-2])  # top weight
    torch.testing.assert_close(grads[-1], expected[-1])  # top bias


def test_srbp_shapes_and_single_hidden_layer_identity():
    sizes = [6, 5, 4, 3]
    net = FeedbackMLP(sizes, "srbp", seed=0)
    assert [tuple(b.shape) for b in net.feedback] == [(5, 3), (4, 3)]
    # one hidden layer: the skip path *is* the BP path when B = W_2ᵀ
    s1 = [6, 5, 3]
    bp = FeedbackMLP(s1, "bp", seed=2).double()
    sk = FeedbackMLP(s1, "srbp", seed=2).double()
    sk.load_state_dict({**sk.state_dict(), **bp.state_dict()})
    with torch.no_grad():
        sk.feedback[0].copy_(sk.layers[1].weight.T)
    x, y = _batch(s1)
    for a, b in zip(_rule_grads(sk, x, y)[1], _rule_grads(bp, x, y)[1]):
        torch.testing.assert_close(a, b)


def test_linear_srbp_with_product_feedback_equals_bp():
    # linear network: BP sends T_L through W_Lᵀ…W_{i+1}ᵀ, which SRBP can hold as one matrix
    sizes = [4, 5, 6, 3]
    bp = FeedbackMLP(sizes, "bp", "linear", seed=4).double()
    sk = FeedbackMLP(sizes, "srbp", "linear", seed=4).double()
    sk.load_state_dict({**sk.state_dict(), **bp.state_dict()})
    w = [l.weight for l in sk.layers]
    with torch.no_grad():
        sk.feedback[1].copy_(w[2].T)
        sk.feedback[0].copy_((w[2] @ w[1]).T)
    assert all(r["angle"] < 1e-5 for r in feedback_angles(sk))
    x, y = _batch(sizes)
    for a, b in zip(_rule_grads(sk, x, y)[1], _rule_grads(bp, x, y)[1]):
        torch.testing.assert_close(a, b)


def test_nonlinear_channel_with_tiny_messages_is_rbp():
    # tanh(m) = m + O(m³): with the channel's messages scaled down both rules agree to first order
    sizes = [4, 6, 5, 3]
    a = FeedbackMLP(sizes, "nonlinear", "linear", seed=5).double()
    b = FeedbackMLP(sizes, "rbp", "linear", seed=5).double()
    with torch.no_grad():
        for fa, fb in zip(a.feedback, b.feedback):
            fa.mul_(1e-4)
            fb.mul_(1e-4)
    x, y = _batch(sizes)
    for ga, gb in zip(_rule_grads(a, x, y)[1], _rule_grads(b, x, y)[1]):
        torch.testing.assert_close(ga, gb, rtol=1e-6, atol=1e-12)
    # with full-size feedback the channel itself squashes: different from RBP
    a = FeedbackMLP(sizes, "nonlinear", "tanh", seed=5).double()
    b = FeedbackMLP(sizes, "rbp", "tanh", seed=5).double()
    assert not torch.allclose(_rule_grads(a, 3 * x, y)[1][0], _rule_grads(b, 3 * x, y)[1][0])


def test_top_rule_leaves_hidden_layers_alone():
    net = FeedbackMLP([5, 6, 4, 3], "top", seed=0)
    x, y = _batch([5, 6, 4, 3])
    net.compute_gradients(x.float(), y)
    assert all(float(l.weight.grad.abs().sum()) == 0 for l in net.layers[:-1])
    assert float(net.layers[-1].weight.grad.abs().sum()) > 0
    assert net.feedback == []
    assert all(math.isnan(a) for a in gradient_angles(net, x.float(), y)[:-1])


@given(st.integers(1, 12), st.integers(0, 100))
@settings(max_examples=30, deadline=None)
def test_quantize_midrise_levels_and_error_bound(bits, seed):
    t = torch.randn(40, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q = quantize(t, bits, "midrise")
    alpha = t.abs().max()
    step = 2 * alpha / (2**bits - 1)
    assert float((q - t).abs().max()) <= float(step / 2) * (1 + 1e-9)
    levels = torch.round((q + alpha) / step)
    torch.testing.assert_close(levels * step - alpha, q)
    assert float(levels.min()) >= 0 and float(levels.max()) <= 2**bits - 1
    if bits == 1:
        torch.testing.assert_close(q, alpha * torch.sign(t))


def test_many_bits_converge_to_float():
    sizes = [6, 8, 5, 4]
    ref = FeedbackMLP(sizes, "rbp", seed=7).double()
    x, y = _batch(sizes)
    _, g_ref = _rule_grads(ref, x, y)
    errors = []
    for bits in (2, 4, 8, 16, 22):
        net = FeedbackMLP(sizes, "rbp", error_bits=bits, seed=7).double()
        _, g = _rule_grads(net, x, y)
        errors.append(max(float((a - b).abs().max()) for a, b in zip(g, g_ref)))
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-6


@pytest.mark.parametrize("rule", ["rbp", "srbp", "arbp", "asrbp", "sign", "sign-resampled", "rbp-resampled"])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9])
def test_sparsity_fraction_is_exact_and_kept(rule, sparsity):
    net = FeedbackMLP([7, 9, 11, 5], rule, sparsity=sparsity, seed=1)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    x, y = _batch([7, 9, 11, 5])
    for _ in range(3):
        opt.zero_grad()
        net.compute_gradients(x.float(), y)
        opt.step()
    for b in net.feedback:
        assert int((b == 0).sum()) == round(sparsity * b.numel())


def test_arbp_keeps_b_minus_wT_constant_under_sgd():
    net = FeedbackMLP([6, 8, 7, 4], "arbp", seed=0).double()
    diff0 = [b - net.layers[i + 1].weight.T for i, b in enumerate(net.feedback)]
    b0 = [b.clone() for b in net.feedback]
    opt = torch.optim.SGD(net.parameters(), lr=0.3)
    x, y = _batch([6, 8, 7, 4], n=40)
    for _ in range(20):
        opt.zero_grad()
        net.compute_gradients(x, y)
        opt.step()
    for i, b in enumerate(net.feedback):
        torch.testing.assert_close(b - net.layers[i + 1].weight.T, diff0[i])
        assert not torch.allclose(b, b0[i])


def test_asrbp_feedback_grad_is_forward_rule():
    sizes = [5, 6, 4, 3]
    net = FeedbackMLP(sizes, "asrbp", seed=0).double()
    x, y = _batch(sizes)
    net.compute_gradients(x, y)
    h1 = torch.tanh(net.layers[0](x))
    h2 = torch.tanh(net.layers[1](h1))
    err = torch.softmax(net.layers[2](h2), 1) - F.one_hot(y, 3)
    torch.testing.assert_close(net.feedback[0].grad, h1.T @ err / len(y))
    torch.testing.assert_close(net.feedback[1].grad, h2.T @ err / len(y))


def test_sign_rules_follow_weight_signs():
    net = FeedbackMLP([5, 6, 4, 3], "sign", seed=0)
    mags = [b.abs().clone() for b in net.feedback]
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    x, y = _batch([5, 6, 4, 3])
    for _ in range(5):
        opt.zero_grad()
        net.compute_gradients(x.float(), y)
        opt.step()
    net.compute_gradients(x.float(), y)
    for i, b in enumerate(net.feedback):
        assert torch.equal(torch.sign(b), torch.sign(net.layers[i + 1].weight.T))
        torch.testing.assert_close(b.abs(), mags[i])  # fixed magnitudes
    rs = FeedbackMLP([5, 6, 4, 3], "sign-resampled", seed=0)
    before = rs.feedback[0].clone()
    rs.compute_gradients(x.float(), y)
    assert not torch.equal(before.abs(), rs.feedback[0].abs())
    assert torch.equal(torch.sign(rs.feedback[0]), torch.sign(rs.layers[1].weight.T))


def test_resampled_rule_draws_new_feedback_each_batch_and_seed_repeats():
    x, y = _batch([5, 6, 4, 3])
    a = FeedbackMLP([5, 6, 4, 3], "rbp-resampled", seed=9)
    b = FeedbackMLP([5, 6, 4, 3], "rbp-resampled", seed=9)
    first = a.feedback[0].clone()
    a.compute_gradients(x.float(), y)
    b.compute_gradients(x.float(), y)
    assert not torch.equal(first, a.feedback[0])
    assert torch.equal(a.feedback[0], b.feedback[0])


def test_gradient_angles_exact_cases_and_no_side_effects():
    sizes = [6, 7, 5, 3]
    x, y = _batch(sizes)
    bp = FeedbackMLP(sizes, "bp", seed=0).double()
    assert max(gradient_angles(bp, x, y)) < 1e-5
    net = FeedbackMLP(sizes, "rbp", seed=0).double()
    net.compute_gradients(x, y)
    saved = [p.grad.clone() for p in net.parameters()]
    angles = gradient_angles(net, x, y)
    assert len(angles) == 3 and 0 < angles[0] < 180 and angles[-1] < 1e-5
    assert all(torch.equal(p.grad, s) for p, s in zip(net.parameters(), saved))
    with torch.no_grad():
        net.feedback[0].copy_(-net.layers[1].weight.T)  # anti-aligned B
        net.feedback[1].copy_(net.layers[2].weight.T)
    fa = feedback_angles(net)
    assert fa[1]["angle"] < 1e-5 and fa[1]["norm_ratio"] == pytest.approx(1.0)
    assert fa[0]["angle"] > 179.99 and fa[0]["norm_ratio"] == pytest.approx(1.0)


def test_state_dict_round_trip_keeps_feedback():
    a = FeedbackMLP([4, 5, 3], "sign", sparsity=0.4, seed=1)
    b = FeedbackMLP([4, 5, 3], "sign", sparsity=0.4, seed=2)
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(p, q) for p, q in zip(a.feedback, b.feedback))


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        (dict(sizes=[4]), ValueError, "sizes"),
        (dict(sizes="44"), TypeError, "sizes"),
        (dict(sizes=[4, 0, 3]), ValueError, "sizes[1]"),
        (dict(sizes=[4, 3], rule="magic"), ValueError, "rule"),
        (dict(sizes=[4, 3], activation="gelu"), ValueError, "activation"),
        (dict(sizes=[4, 5, 3], rule="rbp", sparsity=1.0), ValueError, "sparsity"),
        (dict(sizes=[4, 5, 3], rule="bp", sparsity=0.5), ValueError, "sparsity"),
        (dict(sizes=[4, 5, 3], error_bits=0), ValueError, "error_bits"),
        (dict(sizes=[4, 5, 3], derivative="yes"), TypeError, "derivative"),
    ],
)
def test_constructor_validation(kwargs, exc, words):
    with pytest.raises(exc, match=words.replace("[", r"\[").replace("]", r"\]")):
        FeedbackMLP(**kwargs)


def test_input_validation_names_the_argument():
    net = FeedbackMLP([4, 5, 3], "rbp", seed=0)
    with pytest.raises(ValueError, match="x must have shape"):
        net.compute_gradients(torch.zeros(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class indices"):
        net.compute_gradients(torch.zeros(2, 4), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="integer"):
        net.compute_gradients(torch.zeros(2, 4), torch.tensor([0.0, 1.0]))
    assert FeedbackMLP([4, 3], "dfa").rule == "srbp" and FeedbackMLP([4, 3], "FA").rule == "rbp"


def test_pickling_keeps_the_generator_state():
    """ddp_spawn and multiprocessing pickle the model; the random feedback stream must survive."""
    import pickle

    net = FeedbackMLP([8, 6, 6, 3], "rbp-resampled", seed=3)
    clone = pickle.loads(pickle.dumps(net))
    net.resample_feedback()
    clone.resample_feedback()
    for a, b in zip(net.feedback, clone.feedback):
        assert torch.equal(a, b)
