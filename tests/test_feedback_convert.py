"""The swap-in path (convert) agrees exactly with the FeedbackMLP engine."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from toolkit.feedback import FeedbackMLP
from toolkit.feedback.convert import FeedbackLinear, convert

SIZES = [6, 7, 5, 4]


def _pair(rule, seed=0, **options):
    net = FeedbackMLP(SIZES, rule, "tanh", seed=seed, **options).double()
    model = nn.Sequential(nn.Linear(6, 7), nn.Tanh(), nn.Linear(7, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    with torch.no_grad():
        for lin, layer in zip([model[0], model[2], model[4]], net.layers):
            lin.weight.copy_(layer.weight)
            lin.bias.copy_(layer.bias)
    conv = convert(model, rule, seed=seed, **options)
    lins = [m for m in conv.modules() if isinstance(m, FeedbackLinear)]
    with torch.no_grad():
        for i, b in enumerate(net.feedback):
            lins[i + 1].feedback.copy_(b)
            if hasattr(lins[i + 1], "magnitude"):
                lins[i + 1].magnitude.copy_(getattr(net, f"magnitude_{i}"))
    return net, conv, lins


@pytest.mark.parametrize(
    "rule, options",
    [
        ("rbp", {}),
        ("srbp", {}),
        ("sign", {}),
        ("nonlinear", {}),
        ("nonlinear", {"channel_activation": "softsign"}),
        ("rbp", {"feedback_mix": 0.5}),
        ("arbp", {"feedback_mix": 0.25}),
    ],
)
def test_converted_model_matches_engine(rule, options):
    net, conv, lins = _pair(rule, **options)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(11, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (11,), generator=g)
    net.compute_gradients(x, y)
    F.cross_entropy(conv(x), y).backward()
    for lin, layer in zip(lins, net.layers):
        torch.testing.assert_close(lin.weight.grad, layer.weight.grad)
        torch.testing.assert_close(lin.bias.grad, layer.bias.grad)
    torch.testing.assert_close(conv(x), net(x))


def test_bp_conversion_is_a_copy_and_original_untouched():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    out = convert(model, "bp")
    assert out is not model and all(type(m) is not FeedbackLinear for m in out.modules())
    conv = convert(model, "rbp")
    assert all(type(m) is nn.Linear for m in model if not isinstance(m, nn.ReLU))
    assert sum(isinstance(m, FeedbackLinear) for m in conv.modules()) == 2


def test_srbp_shapes_and_nested_modules():
    model = nn.Sequential(
        nn.Sequential(nn.Linear(3, 8), nn.Tanh()), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 2)
    )
    conv = convert(model, "dfa", seed=3)
    lins = [m for m in conv.modules() if isinstance(m, FeedbackLinear)]
    assert [tuple(l.feedback.shape) for l in lins] == [(3, 2), (8, 2), (6, 2)]
    x = torch.randn(5, 3)
    F.cross_entropy(conv(x), torch.tensor([0, 1, 0, 1, 1])).backward()
    assert all(l.weight.grad is not None for l in lins)


def test_resampled_conversion_changes_feedback_in_training_only():
    conv = convert(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), "rbp-resampled", seed=0)
    b0 = conv[2].feedback.clone()
    conv(torch.randn(2, 3))
    assert not torch.equal(b0, conv[2].feedback)
    conv.eval()
    b1 = conv[2].feedback.clone()
    conv(torch.randn(2, 3))
    assert torch.equal(b1, conv[2].feedback)


def test_convert_validation():
    with pytest.raises(ValueError, match="rule"):
        convert(nn.Sequential(nn.Linear(2, 2)), "magic")
    with pytest.raises(ValueError, match="channel_activation"):
        convert(nn.Sequential(nn.Linear(2, 2)), "nonlinear", channel_activation="relu")
    with pytest.raises(ValueError, match="feedback_mix"):
        convert(nn.Sequential(nn.Linear(2, 2)), "srbp", feedback_mix=0.5)
    with pytest.raises(ValueError, match="rule"):
        convert(nn.Sequential(nn.Linear(2, 2)), "bp", error_bits=2)
    with pytest.raises(ValueError, match="error_bits"):
        convert(nn.Sequential(nn.Linear(2, 2)), "rbp", error_bits=1, error_quant="midtread")
    with pytest.raises(ValueError, match="no nn.Linear"):
        convert(nn.Sequential(nn.ReLU()), "rbp")
    with pytest.raises(TypeError, match="model"):
        convert("net", "rbp")


def test_alignment_report_on_converted_models():
    from toolkit.feedback import alignment_report, convert, feedback_angles, gradient_angles

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)
    ).double()
    x = torch.randn(20, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    fa = convert(model, "rbp", seed=0)
    rows = alignment_report(fa, x, y)
    assert [r["layer"] for r in rows] == ["0", "2", "4"]
    assert rows[-1]["gradient_angle"] < 1e-6  # the top layer gets the true error
    assert rows[0]["gradient_angle"] > 1 and 0 < rows[1]["weight_angle"] < 180
    assert gradient_angles(fa, x, y) == [r["gradient_angle"] for r in rows]
    assert [r["angle"] for r in feedback_angles(fa)] == [r["weight_angle"] for r in rows]
    with torch.no_grad():  # B = Wᵀ everywhere: every angle is zero, norm ratio one
        for m in fa.modules():
            if hasattr(m, "feedback"):
                m.feedback.copy_(m.weight.T)
    for r in alignment_report(fa, x, y):
        assert r["gradient_angle"] < 1e-5 and r["weight_angle"] < 1e-5 and abs(r["norm_ratio"] - 1) < 1e-12
    assert all(m.mode != "bp" for m in fa.modules() if hasattr(m, "mode"))  # modes restored
    skip = convert(model, "srbp", seed=0)
    rows = alignment_report(skip, x, y)
    assert math.isnan(rows[0]["weight_angle"]) and rows[-1]["gradient_angle"] < 1e-6
    with pytest.raises(TypeError, match="convert"):
        alignment_report(model, x, y)


@pytest.mark.parametrize("dims", [1, 2])
def test_converted_conv_with_B_equal_W_matches_autograd(dims):
    torch.manual_seed(dims)
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    shape = (5, 2, 12) if dims == 1 else (5, 2, 9, 8)
    model = nn.Sequential(
        conv(2, 4, 3, stride=2, padding=1),
        nn.Tanh(),
        conv(4, 3, 3, dilation=1, padding=2),
        nn.Tanh(),
        nn.Flatten(),
        nn.LazyLinear(4),
    ).double()
    x = torch.randn(*shape, dtype=torch.float64)
    y = torch.randint(0, 4, (5,))
    model(x)  # materialise the lazy layer
    ref = [g.clone() for g in torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))]
    fa = convert(model, "rbp", seed=0)
    from toolkit.feedback.convert import FeedbackConv

    convs = [m for m in fa.modules() if isinstance(m, FeedbackConv)]
    assert len(convs) == 2
    with torch.no_grad():
        for m in fa.modules():
            if isinstance(m, FeedbackConv):
                m.feedback.copy_(m.weight)
            elif isinstance(m, FeedbackLinear):
                m.feedback.copy_(m.weight.T)
    got = torch.autograd.grad(F.cross_entropy(fa(x), y), list(fa.parameters()))
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    # random kernels: the top layer is exact, the first conv's update is not
    rnd = convert(model, "rbp", seed=1)
    got = torch.autograd.grad(F.cross_entropy(rnd(x), y), list(rnd.parameters()))
    torch.testing.assert_close(got[-1], ref[-1])
    assert not torch.allclose(got[0], ref[0])


def test_srbp_converted_conv_projects_the_output_error():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 3, 3, padding=1),
        nn.Tanh(),
        nn.Conv1d(3, 2, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(16, 4),
    ).double()
    x = torch.randn(6, 1, 8, dtype=torch.float64)
    y = torch.randint(0, 4, (6,))
    dfa = convert(model, "srbp", seed=0)
    loss = F.cross_entropy(dfa(x), y)
    grads = torch.autograd.grad(loss, list(dfa.parameters()))
    conv2 = dfa[2]
    h1 = torch.tanh(dfa[0](x))
    e = (torch.softmax(dfa(x), 1) - F.one_hot(y, 4)) / len(y)
    # the second conv's output receives the Linear's skip message e Bᵀ, the first conv's from conv2's B
    g2 = (e @ dfa[5].feedback.T).reshape(6, 2, 8) * (1 - torch.tanh(conv2(h1)) ** 2)
    expected_w2 = torch.nn.grad.conv1d_weight(h1, conv2.weight.shape, g2, padding=1)
    torch.testing.assert_close(grads[2], expected_w2)
    g1 = (e @ conv2.feedback.T).reshape(6, 3, 8) * (1 - h1**2)
    torch.testing.assert_close(grads[0], torch.nn.grad.conv1d_weight(x, dfa[0].weight.shape, g1, padding=1))


def test_alignment_report_covers_converted_convolutions():
    from toolkit.feedback import alignment_report

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 3, 3, padding=1),
        nn.Tanh(),
        nn.Conv1d(3, 2, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(16, 4),
    ).double()
    x = torch.randn(6, 1, 8, dtype=torch.float64)
    y = torch.randint(0, 4, (6,))
    fa = convert(model, "rbp", seed=0)
    rows = alignment_report(fa, x, y)
    assert [r["layer"] for r in rows] == ["0", "2", "5"] and rows[-1]["gradient_angle"] < 1e-5
    with torch.no_grad():
        fa[0].feedback.copy_(fa[0].weight)
        fa[2].feedback.copy_(fa[2].weight)
        fa[5].feedback.copy_(fa[5].weight.T)
    assert all(r["gradient_angle"] < 1e-5 and r["weight_angle"] < 1e-5 for r in alignment_report(fa, x, y))


@pytest.mark.parametrize("rule, decay", [("arbp", 0.0), ("kp", 0.05)])
def test_converted_adaptive_rules_keep_or_shrink_B_minus_WT(rule, decay):
    """ΔB = ΔWᵀ at every SGD step: B − Wᵀ is constant (arbp) or shrinks by (1 − lr·λ) per step (kp)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(1, 3, 3, padding=1), nn.Tanh(), nn.Flatten(), nn.Linear(24, 7), nn.Tanh(), nn.Linear(7, 4)
    ).double()
    net = convert(model, rule, seed=0)
    from toolkit.feedback.convert import FeedbackConv

    pairs = [
        (m.feedback, m.weight if isinstance(m, FeedbackConv) else None, m)
        for m in net.modules()
        if hasattr(m, "feedback")
    ]
    diff0 = [
        (fb - (m.weight if isinstance(m, FeedbackConv) else m.weight.T)).detach().clone()
        for fb, _, m in pairs
    ]
    assert all(isinstance(fb, nn.Parameter) for fb, _, _ in pairs)
    lr, steps = 0.1, 6
    opt = torch.optim.SGD(net.parameters(), lr=lr, weight_decay=decay)
    x = torch.randn(10, 1, 8, dtype=torch.float64)
    y = torch.randint(0, 4, (10,))
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    for (fb, _, m), d0 in zip(pairs, diff0):
        w = m.weight if isinstance(m, FeedbackConv) else m.weight.T
        torch.testing.assert_close(fb - w, d0 * (1 - lr * decay) ** steps)


def test_converted_asrbp_feedback_grad_is_input_times_output_error():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    net = convert(model, "asrbp", seed=0)
    x = torch.randn(9, 5, dtype=torch.float64)
    y = torch.randint(0, 3, (9,))
    F.cross_entropy(net(x), y).backward()
    h1 = torch.tanh(net[0](x))
    h2 = torch.tanh(net[2](h1))
    e = (torch.softmax(net[4](h2), 1) - F.one_hot(y, 3)) / len(y)
    torch.testing.assert_close(net[2].feedback.grad, h1.T @ e)
    torch.testing.assert_close(net[4].feedback.grad, h2.T @ e)
    with pytest.raises(ValueError, match="convolution"):
        convert(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(12, 3)), "dkp")


# -- the channel options on converted models (issue 12, item 6) ---------------------------------------------


def _conv_model(dims=1):
    conv = nn.Conv1d if dims == 1 else nn.Conv2d
    shape = (6, 2, 12) if dims == 1 else (6, 2, 9, 8)
    torch.manual_seed(3)
    model = nn.Sequential(
        conv(2, 4, 3, stride=2, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.LazyLinear(7),
        nn.Tanh(),
        nn.Linear(7, 4),
    ).double()
    x = torch.randn(*shape, dtype=torch.float64)
    model(x)  # materialise the lazy layer
    return model, x, torch.randint(0, 4, (shape[0],))


@pytest.mark.parametrize("rule", ["rbp", "arbp", "sign", "rbp-resampled", "kp"])
@pytest.mark.parametrize("dims", [1, 2])
def test_mix_one_on_a_converted_model_gives_autograds_gradients(rule, dims):
    model, x, y = _conv_model(dims)
    ref = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()))
    mixed = convert(model, rule, seed=0, feedback_mix=1.0)
    params = [p for n, p in mixed.named_parameters() if not n.endswith("feedback")]
    got = torch.autograd.grad(F.cross_entropy(mixed(x), y), params)
    assert len(got) == len(ref)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    plain = convert(model, rule, seed=0)  # μ = 0: the rule itself, which differs
    got0 = torch.autograd.grad(
        F.cross_entropy(plain(x), y), [p for n, p in plain.named_parameters() if not n.endswith("feedback")]
    )
    assert (got0[0] - ref[0]).abs().max() > 1e-3


@pytest.mark.parametrize("bits", [1, 2])
def test_converted_quantised_channel_is_unbiased(bits):
    """A batch of N copies of one example: every row of grad_x is an independent quantisation draw."""
    from toolkit.feedback.convert import FeedbackConv

    n = 20_000
    g = torch.Generator().manual_seed(bits)
    lin = FeedbackLinear(5, 6, rule="rbp", error_bits=bits).double()
    conv = FeedbackConv(nn.Conv1d(2, 3, 3, padding=1).double(), rule="rbp", error_bits=bits)
    for layer, x_one, shape in (
        (lin, torch.randn(1, 5, generator=g, dtype=torch.float64), (6,)),
        (conv, torch.randn(1, 2, 7, generator=g, dtype=torch.float64), (3, 7)),
    ):
        grad_one = torch.randn(1, *shape, generator=g, dtype=torch.float64)
        x = x_one.expand(n, *x_one.shape[1:]).clone().requires_grad_(True)
        out = layer(x)
        (gx,) = torch.autograd.grad(out, x, grad_one.expand(n, *shape))
        layer.channel = type(layer.channel)()  # the same layer with a float channel: the exact message
        xe = x_one.clone().requires_grad_(True)
        (exact,) = torch.autograd.grad(layer(xe), xe, grad_one)
        draws = gx.reshape(n, -1)
        assert draws.std(0).max() > 1e-3  # really quantised
        se = draws.std(0) / math.sqrt(n)
        assert ((draws.mean(0) - exact.reshape(-1)).abs() <= 5 * se + 1e-12).all()


@pytest.mark.parametrize("rule", ["rbp", "arbp", "sign-resampled", "rbp-resampled", "srbp"])
def test_converted_sparse_feedback_keeps_its_mask_and_per_neuron_has_no_empty_row(rule):
    model, x, y = _conv_model(1)
    sparse = convert(model, rule, seed=0, sparsity=0.9, sparsity_mode="per_neuron")
    opt = torch.optim.SGD(sparse.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(sparse(x), y).backward()
        opt.step()
    layers = [m for m in sparse.modules() if hasattr(m, "feedback_mask") and m.feedback_mask is not None]
    assert len(layers) == 3
    for m in layers:
        mask = m.feedback_mask
        assert (m.feedback[~mask] == 0).all()  # pruned entries stay pruned (adaptive and resampled too)
        rows = mask.movedim(1, 0) if mask.ndim == 3 else mask  # conv kernel: receiving unit = input channel
        assert (rows.reshape(rows.shape[0], -1).sum(1) >= 1).all()


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 30),
    cols=st.integers(2, 30),
    frac=st.floats(0.0, 1.0, exclude_max=True),
    seed=st.integers(0, 2**31),
)
def test_per_neuron_mask_of_a_converted_layer_never_has_an_empty_row(rows, cols, frac, seed):
    s = frac * (1 - 1 / cols)  # any s < 1 - 1/n_cols
    layer = FeedbackLinear(
        rows,
        cols,
        rule="rbp",
        sparsity=s,
        sparsity_mode="per_neuron",
        generator=torch.Generator().manual_seed(seed),
    )
    if s > 0:
        assert (layer.feedback_mask.sum(1) >= 1).all()
        assert (layer.feedback[~layer.feedback_mask] == 0).all()


def test_converted_nonlinear_channel_with_relu_forward_net_learns():
    """The non-linear channel with a ReLU forward net: g = tanh keeps the error's sign, so it trains."""
    torch.manual_seed(0)
    x = torch.randn(256, 6)
    y = (x[:, 0] + x[:, 1] > 0).long() + 2 * (x[:, 2] > 0).long()
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    net = convert(model, "nonlinear", seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = F.cross_entropy(net(x), y).item()
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    assert F.cross_entropy(net(x), y).item() < 0.5 * first
