"""Issue 12: the unbiased low-bit channel, the B↔Wᵀ slider, guarded channel options and the
peers' rules (Kolen–Pollack, sign-symmetry, DRTP, weight mirror) — exact identities and properties."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.feedback import FeedbackMLP, TrainConfig, angle_between, compare_rules, gradient_angles, quantize
from toolkit.feedback.data import Split
from toolkit.feedback.train import apply_weight_decay


def _batch(sizes, n=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (n,), generator=g)
    return x, y


def _grads(net, x, y, step=True):
    _, wg, bg, _ = net.updates(x, y, step=step)
    return wg + bg


# -- quantisation ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["stochastic", "stochastic-maxabs"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_stochastic_rounding_is_unbiased(bits, mode):
    t = torch.tensor([[1.0, -0.3, 0.05, 0.62, -1.0, 0.0, 0.999]], dtype=torch.float64)  # range = [-α, α]
    g = torch.Generator().manual_seed(0)
    n = 10_000
    draws = torch.stack([quantize(t, bits, mode, generator=g) for _ in range(n)])
    step = 2.0 / (2**bits - 1)
    # q is one of the two levels around t, the upper with probability p: Var q = Δ² p (1 - p)
    p = ((t + 1) / step) - torch.floor((t + 1) / step)
    sigma = step * torch.sqrt(p * (1 - p) / n)
    bias = (draws.mean(0) - t).abs()
    assert bool((bias <= 5 * sigma + 1e-12).all()), (bias, sigma)
    if bits >= 3:  # Δ small enough for the plain bound to be a 5σ statement
        assert float(bias.max()) < 1e-2
    levels = (draws + 1.0) / step  # α = 1: every draw sits on a level -1 + jΔ
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-9)
    assert float(levels.min()) >= 0 and float(levels.max()) <= 2**bits - 1
    assert float((draws - t).abs().max()) < step  # never further than one level


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_range_stochastic_rounding_uses_the_rows_own_range_and_is_less_noisy(bits):
    """A softmax-like error [p - 1, small positives]: levels lo + jΔ on [min t, max t], E[q] = t with
    per-entry variance Δ²p(1 - p), well below the symmetric (max-abs) quantiser's in total."""
    t = torch.tensor([[-0.8, 0.5, 0.1, 0.02, 0.0, 0.18]], dtype=torch.float64)
    n = 20_000
    rows = t.expand(n, -1)
    q = quantize(rows, bits, generator=torch.Generator().manual_seed(bits))
    qm = quantize(rows, bits, "stochastic-maxabs", generator=torch.Generator().manual_seed(bits))
    lo, hi = -0.8, 0.5
    step = (hi - lo) / (2**bits - 1)
    levels = (q - lo) / step
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-9)
    p = (t - lo) / step - torch.floor((t - lo) / step)
    var = step**2 * p * (1 - p)
    assert bool(((q.mean(0) - t[0]).abs() <= 5 * (var[0] / n).sqrt() + 1e-12).all())
    torch.testing.assert_close(q.var(0), var[0], atol=5 * float(var.max()) * math.sqrt(2 / n) + 1e-12, rtol=0)
    if bits == 1:  # (hi - t)(t - lo) <= (α - t)(t + α) entry by entry, since [lo, hi] ⊆ [-α, α]
        assert bool((q.var(0) <= qm.var(0) + 1e-3).all())
    assert float(q.var(0).sum()) < 0.7 * float(
        qm.var(0).sum()
    )  # a finer grid: Δ = (hi - lo)/(2^k - 1) < 2α/(2^k - 1)


def test_one_bit_stochastic_depends_on_the_prediction_midrise_does_not():
    """1-bit midrise sends α(1 - 2·onehot) whatever the prediction; stochastic keeps E[q] = error."""
    p1 = torch.tensor([[0.7, 0.1, 0.1, 0.1]]) - F.one_hot(torch.tensor([1]), 4)
    p2 = torch.tensor([[0.1, 0.1, 0.1, 0.7]]) - F.one_hot(torch.tensor([1]), 4)
    m1, m2 = quantize(p1, 1, "midrise"), quantize(p2, 1, "midrise")
    assert torch.equal(torch.sign(m1), torch.sign(m2))  # same message for different predictions
    g = torch.Generator().manual_seed(1)
    s1 = quantize(p1.double().expand(20_000, 4), 1, generator=g).mean(0, keepdim=True)
    torch.testing.assert_close(s1, p1.double(), atol=0.05, rtol=0)  # 8 standard errors


@given(st.integers(2, 10), st.integers(0, 100))
@settings(max_examples=30, deadline=None)
def test_midtread_has_a_zero_level_and_is_symmetric(bits, seed):
    t = torch.randn(3, 30, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    q = quantize(t, bits, "midtread")
    m = 2 ** (bits - 1) - 1
    alpha = t.abs().amax(-1, keepdim=True)
    j = q / alpha * m
    torch.testing.assert_close(j, j.round(), rtol=0, atol=1e-9)
    assert float(j.abs().max()) <= m + 1e-9
    assert bool(((q - t).abs() <= alpha / m / 2 * (1 + 1e-9)).all())
    torch.testing.assert_close(quantize(-t, bits, "midtread"), -q)  # odd: no bias towards a sign
    small = torch.tensor([[1.0, 0.4 / m]], dtype=torch.float64)
    assert float(quantize(small, bits, "midtread")[0, 1]) == 0.0  # small errors are sent as exact zeros


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(bits=0), "bits"),
        (dict(bits=25), "bits"),
        (dict(bits=1, mode="midtread"), "bits"),
        (dict(bits=2, mode="round"), "mode"),
    ],
)
def test_quantize_validation(kwargs, words):
    with pytest.raises(ValueError, match=words):
        quantize(torch.randn(2, 3), **kwargs)


def test_diagnostics_do_not_consume_the_quantisation_noise():
    sizes = [5, 6, 4, 3]
    a = FeedbackMLP(sizes, "rbp", error_bits=1, seed=2).double()
    b = FeedbackMLP(sizes, "rbp", error_bits=1, seed=2).double()
    x, y = _batch(sizes)
    gradient_angles(a, x, y)  # uses updates(step=False)
    for ga, gb in zip(_grads(a, x, y), _grads(b, x, y)):
        assert torch.equal(ga, gb)


# -- the B ↔ Wᵀ slider -------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["rbp", "arbp", "sign", "nonlinear", "kp"])
def test_feedback_mix_zero_is_exactly_the_rule(rule):
    sizes = [6, 7, 5, 3]
    a = FeedbackMLP(sizes, rule, seed=3).double()
    b = FeedbackMLP(sizes, rule, feedback_mix=0.0, seed=3).double()
    x, y = _batch(sizes)
    for ga, gb in zip(_grads(a, x, y), _grads(b, x, y)):
        assert torch.equal(ga, gb)


def test_feedback_mix_one_gives_bp_gradients():
    sizes = [6, 7, 5, 4, 3]
    net = FeedbackMLP(sizes, "rbp", feedback_mix=1.0, seed=4).double()
    bp = FeedbackMLP(sizes, "bp", seed=4).double()
    x, y = _batch(sizes)
    for ga, gb in zip(_grads(net, x, y), _grads(bp, x, y)):
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-6)
    assert max(gradient_angles(net, x, y)) < 1e-4


def test_feedback_mix_reads_W_live():
    sizes = [4, 5, 3]
    net = FeedbackMLP(sizes, "rbp", feedback_mix=1.0, seed=0).double()
    with torch.no_grad():
        net.layers[1].weight.mul_(-2.0)  # W changes after construction: B_μ must follow
    bp = FeedbackMLP(sizes, "bp", seed=0).double()
    bp.load_state_dict({k: v for k, v in net.state_dict().items() if k.startswith("layers")})
    x, y = _batch(sizes)
    for ga, gb in zip(_grads(net, x, y), _grads(bp, x, y)):
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-9)


def test_initial_gradient_angle_falls_monotonically_with_mu():
    sizes = [20, 30, 30, 30, 10]
    x, y = _batch(sizes, n=256, seed=1)
    means = []
    for mu in (0.0, 0.25, 0.5, 0.75, 1.0):
        net = FeedbackMLP(sizes, "rbp", feedback_mix=mu, seed=0).double()
        means.append(sum(gradient_angles(net, x, y)[:-1]) / 3)
    assert all(a > b for a, b in zip(means, means[1:])), means
    assert means[-1] < 1e-4 and means[0] > 60


def test_feedback_mix_refused_where_it_has_no_meaning():
    with pytest.raises(ValueError, match="feedback_mix"):
        FeedbackMLP([4, 5, 5, 3], "srbp", feedback_mix=0.5)
    with pytest.raises(ValueError, match="feedback_mix"):
        FeedbackMLP([4, 5, 3], "rbp", feedback_mix=1.5)


# -- guarded channel options -------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["relu", "sigmoid"])
def test_non_sign_preserving_channel_is_refused(bad):
    with pytest.raises(ValueError, match="sign"):
        FeedbackMLP([4, 5, 3], "nonlinear", channel_activation=bad)


@pytest.mark.parametrize("channel", ["tanh", "softsign"])
def test_nonlinear_channel_is_g_of_the_rbp_message(channel):
    sizes = [4, 6, 3]
    nl = FeedbackMLP(sizes, "nonlinear", "relu", channel_activation=channel, seed=5).double()
    x, y = _batch(sizes)
    h = torch.relu(nl.layers[0](x))
    err = torch.softmax(nl.layers[1](h), 1) - F.one_hot(y, 3)
    m = err @ nl.feedback[0].T
    g = torch.tanh(m) if channel == "tanh" else m / (1 + m.abs())
    delta = g * (nl.layers[0](x) > 0)
    torch.testing.assert_close(_grads(nl, x, y)[0], delta.T @ x / len(y))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 12),
    cols=st.integers(2, 40),
    frac=st.floats(0, 1, exclude_max=True),
    seed=st.integers(0, 1000),
    rule=st.sampled_from(["rbp", "srbp", "arbp", "sign"]),
)
def test_per_neuron_sparsity_never_leaves_a_row_empty(rows, cols, frac, seed, rule):
    s = frac * (1 - 1 / cols)  # any s < 1 - 1/n_cols
    sizes = [3, rows, cols] if rule != "srbp" else [3, rows, 4, cols]
    net = FeedbackMLP(sizes, rule, sparsity=s, sparsity_mode="per_neuron", seed=seed)
    for mask, b in zip(net.feedback_masks, net.feedback):
        if s > 0:
            keep = max(1, round((1 - s) * mask.shape[1]))
            assert torch.equal(mask.sum(1), torch.full((mask.shape[0],), keep))
        assert bool((b != 0).any(1).all())


def test_entry_sparsity_leaves_dead_rows_per_neuron_does_not():
    entries = FeedbackMLP([40, 100, 10], "srbp", sparsity=0.99, seed=0)
    per = FeedbackMLP([40, 100, 10], "srbp", sparsity=0.99, sparsity_mode="per_neuron", seed=0)
    assert int((entries.feedback_masks[0].sum(1) == 0).sum()) > 50
    assert int((per.feedback_masks[0].sum(1) == 0).sum()) == 0


def test_sparsity_rescale():
    a = FeedbackMLP([5, 8, 9, 3], "rbp", sparsity=0.75, seed=1)
    b = FeedbackMLP([5, 8, 9, 3], "rbp", sparsity=0.75, sparsity_rescale=True, seed=1)
    for fa, fb in zip(a.feedback, b.feedback):
        torch.testing.assert_close(fb, 4.0 * fa)


# -- peers' rules ------------------------------------------------------------------------------
def _split(sizes, n=96, seed=0):
    x, y = _batch(sizes, n=n, seed=seed)
    return Split(x.float(), y, x.float()[:20], y[:20], "toy")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_kp_is_arbp_plus_decay_and_B_minus_WT_shrinks_geometrically(optimizer):
    sizes = [6, 8, 7, 4]
    split = _split(sizes)
    lam = 0.05
    cfg_kp = TrainConfig(
        hidden=sizes[1:-1], epochs=2, lr=0.05, optimizer=optimizer, batch_size=32, weight_decay=lam
    )
    nets = {
        "kp": FeedbackMLP(sizes, "kp", seed=0).double(),
        "arbp": FeedbackMLP(sizes, "arbp", seed=0).double(),
    }
    split = Split(
        *(
            t.double() if t.is_floating_point() else t
            for t in (split.x_train, split.y_train, split.x_test, split.y_test)
        ),
        "toy",
    )
    d0 = [b - nets["kp"].layers[i + 1].weight.T for i, b in enumerate(nets["kp"].feedback)]
    compare_rules(nets, split, cfg_kp, angle_examples=8)
    for p, q in zip(nets["kp"].state_dict().values(), nets["arbp"].state_dict().values()):
        assert torch.equal(p, q)  # same updates, same decay: KP ≡ ARBP + weight decay
    steps = 2 * 3  # 2 epochs × 3 batches of 32
    for i, b in enumerate(nets["kp"].feedback):
        torch.testing.assert_close(b - nets["kp"].layers[i + 1].weight.T, d0[i] * (1 - lam) ** steps)


def test_kp_default_decay_and_apply_weight_decay():
    cfg = TrainConfig()
    assert cfg.decay_for("kp") == 1e-4 and cfg.decay_for("dkp") == 1e-4 and cfg.decay_for("rbp") == 0.0
    assert TrainConfig(weight_decay=0.0).decay_for("kp") == 0.0
    net = FeedbackMLP([3, 4, 4, 2], "kp", seed=0)
    before = [p.clone() for p in net.state_dict().values()]
    apply_weight_decay(net, 0.5)
    for (k, p), q in zip(net.state_dict().items(), before):
        torch.testing.assert_close(p, q if "bias" in k else 0.5 * q)
    with pytest.raises(ValueError, match="weight_decay"):
        TrainConfig(weight_decay=1.0)


def test_usf_frsf_brsf_match_their_formulas():
    sizes = [5, 6, 4, 3]
    x, y = _batch(sizes)
    usf = FeedbackMLP(sizes, "usf", seed=0).double()
    usf.compute_gradients(x, y)
    for i, b in enumerate(usf.feedback):
        w = usf.layers[i + 1].weight
        torch.testing.assert_close(b, math.sqrt(2 / (w.shape[0] + w.shape[1])) * torch.sign(w.T))
    frsf = FeedbackMLP(sizes, "frsf", seed=0)
    brsf = FeedbackMLP(sizes, "brsf", seed=0)
    assert frsf.rule == "sign" and brsf.rule == "sign-resampled"
    m0 = [b.abs().clone() for b in brsf.feedback]
    brsf.compute_gradients(x.float(), y)
    frsf.compute_gradients(x.float(), y)
    for i in range(2):
        assert torch.equal(torch.sign(brsf.feedback[i]), torch.sign(brsf.layers[i + 1].weight.T))
        assert not torch.equal(brsf.feedback[i].abs(), m0[i])  # |M| redrawn every batch
        torch.testing.assert_close(frsf.feedback[i].abs(), m0[i])  # |M| fixed


def test_drtp_projects_the_target_not_the_error():
    sizes = [5, 6, 4, 3]
    net = FeedbackMLP(sizes, "drtp", seed=0).double()
    x, y = _batch(sizes)
    g = _grads(net, x, y)
    h1 = torch.tanh(net.layers[0](x))
    h2 = torch.tanh(net.layers[1](h1))
    target = -F.one_hot(y, 3).double()
    d2 = (target @ net.feedback[1].T) * (1 - h2**2)
    d1 = (target @ net.feedback[0].T) * (1 - h1**2)
    torch.testing.assert_close(g[1], d2.T @ h1 / len(y))
    torch.testing.assert_close(g[0], d1.T @ x / len(y))
    with torch.no_grad():  # the hidden update does not depend on the output weights at all
        net.layers[2].weight.mul_(3.0)
    torch.testing.assert_close(_grads(net, x, y)[0], g[0])


def test_weight_mirror_makes_B_follow_WT():
    net = FeedbackMLP([10, 30, 20, 5], "wm", mirror_rate=0.05, seed=0).double()
    start = [angle_between(b, net.layers[i + 1].weight.T) for i, b in enumerate(net.feedback)]
    for _ in range(400):
        net.mirror_step(64)
    end = [angle_between(b, net.layers[i + 1].weight.T) for i, b in enumerate(net.feedback)]
    assert min(start) > 70 and max(end) < 15, (start, end)
    ratio = [float(b.norm() / net.layers[i + 1].weight.detach().norm()) for i, b in enumerate(net.feedback)]
    assert all(0.8 < r < 1.2 for r in ratio), ratio


def test_angle_between_is_nan_for_non_finite_vectors():
    assert math.isnan(angle_between(torch.tensor([math.nan, 1.0]), torch.tensor([1.0, 1.0])))
    assert math.isnan(angle_between(torch.tensor([math.inf, 1.0]), torch.tensor([1.0, 1.0])))
    assert math.isnan(angle_between(torch.tensor([1.0, 1.0]), torch.zeros(2)))
    assert angle_between(
        torch.tensor([1e200, 0.0], dtype=torch.float64), torch.tensor([0.0, 1e200], dtype=torch.float64)
    ) == pytest.approx(90.0)


@pytest.mark.parametrize("rule", ["rbp", "arbp", "kp"])
def test_symmetry_run_scales_every_tensor_once(rule):
    """The small start of `symmetry_run`: forward weights and feedback both × s, exactly once (an adaptive
    rule's B is also a parameter of the net; scaling both lists scaled it by s² before)."""
    from toolkit.feedback.train import _scale_weights

    net = FeedbackMLP([6, 5, 4, 3], rule, seed=0)
    before = [t.detach().clone() for t in [*net.parameters(), *net.feedback]]
    _scale_weights(net, 0.01)
    for old, new in zip(before, [*net.parameters(), *net.feedback]):
        torch.testing.assert_close(new.detach(), 0.01 * old)
