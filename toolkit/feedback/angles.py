"""How well does a learning rule align with the true gradient?

``gradient_angles``: for every layer, the angle between the rule's weight update and the true
gradient of the loss (autograd). Below 90° the rule still descends the loss (to first order);
feedback alignment (Lillicrap et al. 2016) shows the forward weights *turn towards* the feedback
so that this angle shrinks during training.

``feedback_angles``: the angle between each feedback matrix ``B`` and the matrix BP would use
(``W_{i+1}ᵀ``; for skipped rules the product ``(W_{L}…W_{i+1})ᵀ`` of the linearised path), and
the ratio of their Frobenius norms. ARBP started small makes ``B ≈ Wᵀ`` (Baldi et al. 2017).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..validation import check_tensor
from .engine import SKIP_RULES, FeedbackMLP

__all__ = ["gradient_angles", "feedback_angles", "angle_between", "alignment_report"]


def angle_between(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle in degrees between two tensors seen as flat vectors.

    NaN if either is zero or holds a non-finite entry (an angle to a NaN/inf vector is undefined;
    reporting 0° would hide a diverged run).
    """
    # finite=False: a NaN/inf vector is a legal input whose angle is NaN (said above), not an error
    a = check_tensor("a", a, finite=False, dtype=torch.float64).detach().reshape(-1)
    b = check_tensor("b", b, finite=False, dtype=torch.float64).detach().reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same number of entries, got {a.numel()} and {b.numel()}")
    if not (bool(torch.isfinite(a).all()) and bool(torch.isfinite(b).all())):
        return math.nan
    if not (bool(a.any()) and bool(b.any())):
        return math.nan
    a, b = a / a.abs().max(), b / b.abs().max()  # rescale first: squares of huge entries overflow
    na, nb = a.norm(), b.norm()
    cos = float((a / na) @ (b / nb))  # normalise first: na * nb may overflow
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def _check_net(net: object) -> FeedbackMLP:
    if not isinstance(net, FeedbackMLP):
        raise TypeError(f"net must be a FeedbackMLP, got {type(net).__name__}")
    return net


def true_gradients(net: FeedbackMLP, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Autograd's gradient of the mean cross-entropy w.r.t. every layer's weight (``.grad`` untouched)."""
    _check_net(net)
    weights = [layer.weight for layer in net.layers]
    with torch.enable_grad():
        loss = F.cross_entropy(net(x), net._check_y(y, x.shape[0]))
        return list(torch.autograd.grad(loss, weights))


def gradient_angles(net, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Per-layer angle (degrees) between the rule's weight update and the true gradient.

    One number per ``nn.Linear`` layer, bottom first; the top layer is 0 for every rule without
    quantisation. NaN where the rule's update is zero (``top`` rule's hidden layers). Neither
    ``.grad`` nor the feedback matrices are changed (resampled rules use their current draw).
    A model made by :func:`~toolkit.feedback.convert` gets one angle per converted layer
    (see :func:`alignment_report`).
    """
    if not isinstance(net, FeedbackMLP) and _converted_layers(net):
        return [r["gradient_angle"] for r in alignment_report(net, x, y)]
    _check_net(net)
    _, rule_grads, _, _ = net.updates(x, y, step=False)
    return [angle_between(r, t) for r, t in zip(rule_grads, true_gradients(net, x, y))]


def _bp_feedback(net: FeedbackMLP, i: int) -> torch.Tensor:
    """What BP would put where ``net.feedback[i]`` sits (ignoring f′ for the skipped path)."""
    if net.rule in SKIP_RULES:
        m = net.layers[-1].weight
        for layer in list(net.layers)[i + 1 : -1][::-1]:
            m = m @ layer.weight
        return m.T
    return net.layers[i + 1].weight.T


def feedback_angles(net) -> list[dict]:
    """For each feedback matrix: ``{"layer", "angle", "norm_ratio"}`` comparing ``B`` with BP's matrix.

    ``layer`` is the index i of ``net.feedback[i]``; ``norm_ratio`` = ‖B‖ / ‖Wᵀ‖. Empty for
    rules without feedback matrices (``bp``, ``top``). For a converted model: one row per converted
    layer, ``layer`` being its name (NaN angle where B does not have Wᵀ's shape, e.g. skipped layers).
    """
    if not isinstance(net, FeedbackMLP) and _converted_layers(net):
        return [{"layer": name, **_weight_alignment(m)} for name, m in _converted_layers(net)]
    _check_net(net)
    rows = []
    with torch.no_grad():
        for i, b in enumerate(net.feedback):
            w = _bp_feedback(net, i)
            wn = float(w.norm())
            rows.append(
                {
                    "layer": i,
                    "angle": angle_between(b, w),
                    "norm_ratio": float(b.norm()) / wn if wn > 0 else math.nan,
                }
            )
    return rows


def _converted_layers(model) -> list:
    from .convert import FeedbackConv, FeedbackLinear

    if not isinstance(model, torch.nn.Module):
        return []
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (FeedbackLinear, FeedbackConv))]


def _weight_alignment(layer) -> dict:
    from .convert import FeedbackConv

    # what BP would use: Wᵀ for a linear layer, the kernel W itself for a (transposed) convolution
    b, w_t = (
        layer.feedback.detach(),
        (layer.weight.detach() if isinstance(layer, FeedbackConv) else layer.weight.detach().T),
    )
    if b.shape != w_t.shape:
        return {"angle": math.nan, "norm_ratio": math.nan}
    wn = float(w_t.norm())
    return {"angle": angle_between(b, w_t), "norm_ratio": float(b.norm()) / wn if wn > 0 else math.nan}


def _layer_grads(model, layers, x, y, loss_fn) -> list[torch.Tensor]:
    weights = [m.weight for _, m in layers]
    with torch.enable_grad():
        return [
            g.detach().clone() for g in torch.autograd.grad(loss_fn(model(x), y), weights, allow_unused=False)
        ]


def alignment_report(model, x: torch.Tensor, y: torch.Tensor, *, loss_fn=F.cross_entropy) -> list[dict]:
    """Per layer: angle(B, Wᵀ), ‖B‖/‖Wᵀ‖ and the angle between the rule's weight update and the true
    gradient, for a :class:`FeedbackMLP` or any model made by :func:`~toolkit.feedback.convert`.

    Rows ``{"layer", "weight_angle", "norm_ratio", "gradient_angle"}``. For a converted model the
    true gradient is computed by switching every converted layer to exact backprop for one backward
    pass (then back); ``.grad`` of the parameters is left untouched.
    """
    if isinstance(model, FeedbackMLP):
        grads = gradient_angles(model, x, y)
        fb = {r["layer"]: r for r in feedback_angles(model)}
        return [
            {
                "layer": i,
                "weight_angle": fb[i - 1]["angle"] if i - 1 in fb else math.nan,
                "norm_ratio": fb[i - 1]["norm_ratio"] if i - 1 in fb else math.nan,
                "gradient_angle": g,
            }
            for i, g in enumerate(grads)
        ]
    layers = _converted_layers(model)
    if not layers:
        raise TypeError(
            f"model must be a FeedbackMLP or a model made by convert(), got {type(model).__name__} "
            f"without FeedbackLinear layers"
        )
    modes, training = [m.mode for _, m in layers], [m.training for _, m in layers]
    try:
        for _, m in layers:
            m.training = False  # no per-batch redraw of resampled feedback: a diagnostic, not a step
        rule = _layer_grads(model, layers, x, y, loss_fn)
        for _, m in layers:
            m.mode = "bp"
        true = _layer_grads(model, layers, x, y, loss_fn)
    finally:
        for (_, m), mode, tr in zip(layers, modes, training):
            m.mode, m.training = mode, tr
    return [
        {
            "layer": name,
            **{("weight_angle" if k == "angle" else k): v for k, v in _weight_alignment(m).items()},
            "gradient_angle": angle_between(r, t),
        }
        for (name, m), r, t in zip(layers, rule, true)
    ]
