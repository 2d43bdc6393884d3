"""Swap-in random feedback for *existing* models (the BioTorch idea, written from scratch).

``convert(model, "rbp")`` replaces every ``nn.Linear`` by a :class:`FeedbackLinear` whose
custom autograd Function computes the usual forward pass but sends ``grad_output @ Bᵀ`` down
instead of ``grad_output @ W``. The weight gradient stays local (``grad_outputᵀ · input``), so
``loss.backward()`` and any optimizer work unchanged.

For ``srbp`` (direct feedback alignment) the *last* Linear in registration order is taken as the
output layer: its backward stores the output error ``e`` in a context shared by all layers,
and every other layer then passes ``e @ Bᵀ`` down (``B`` of shape ``(in_features, n_out)``).
This assumes the Linear layers form one chain in registration order (an MLP); convolutions and
other layers keep exact backprop.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_choice, check_int
from .engine import canonical_rule

__all__ = ["FeedbackLinear", "convert", "CONVERT_RULES"]

CONVERT_RULES = ("bp", "rbp", "srbp", "sign", "sign-resampled", "rbp-resampled")


class _SkipContext:
    """Shared by the layers of one converted model: the output error of the current backward."""

    def __init__(self) -> None:
        self.error: torch.Tensor | None = None


class _FeedbackLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, feedback, mode, context):
        ctx.save_for_backward(x, weight, feedback)
        ctx.mode, ctx.context, ctx.has_bias = mode, context, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, feedback = ctx.saved_tensors
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        grad_w = g2.T @ x2
        grad_b = g2.sum(0) if ctx.has_bias else None
        grad_x = None
        if ctx.mode == "output":  # DFA output layer: remember e for the layers below
            ctx.context.error = g2
        if ctx.needs_input_grad[0]:
            if ctx.mode == "bp":
                carried = g2 @ weight
            elif ctx.mode in ("output", "feedback"):
                carried = g2 @ feedback.T
            else:  # "skip": the output error, straight from the top
                if ctx.context.error is None or ctx.context.error.shape[0] != g2.shape[0]:
                    raise RuntimeError("srbp conversion: the output layer's error is missing; the last "
                                       "nn.Linear must be the model's output layer")
                carried = ctx.context.error @ feedback.T
            grad_x = carried.reshape(x.shape)
        return grad_x, grad_w, grad_b, None, None, None


class FeedbackLinear(nn.Linear):
    """``nn.Linear`` whose backward pass uses a feedback matrix ``feedback`` instead of ``Wᵀ``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rule: str = "rbp",
                 feedback_cols: int | None = None, mode: str = "feedback", generator: torch.Generator | None = None,
                 context: _SkipContext | None = None) -> None:
        super().__init__(in_features, out_features, bias)
        self.rule = rule
        self.mode = mode
        self._context = context
        self._gen = generator or torch.Generator().manual_seed(0)
        cols = out_features if feedback_cols is None else feedback_cols
        self.register_buffer("feedback", self._draw((in_features, cols)))
        if rule in ("sign", "sign-resampled"):
            self.register_buffer("magnitude", self.feedback.abs().clone())

    def _draw(self, shape: tuple[int, int]) -> torch.Tensor:
        bound = 1.0 / math.sqrt(shape[0])
        return (torch.rand(shape, generator=self._gen) * 2 - 1) * bound

    @torch.no_grad()
    def _prepare(self) -> None:
        if self.training and self.rule == "rbp-resampled":
            self.feedback.copy_(self._draw(tuple(self.feedback.shape)))
        if self.rule in ("sign", "sign-resampled"):
            if self.training and self.rule == "sign-resampled":
                self.magnitude.copy_(self._draw(tuple(self.feedback.shape)).abs())
            self.feedback.copy_(self.magnitude * torch.sign(self.weight.T))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self._prepare()
        return _FeedbackLinearFn.apply(x, self.weight, self.bias, self.feedback, self.mode, self._context)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rule={self.rule!r}, mode={self.mode!r}"


def convert(model: nn.Module, rule: str = "rbp", *, seed: int | None = 0, inplace: bool = False) -> nn.Module:
    """Return ``model`` with every ``nn.Linear`` replaced by a :class:`FeedbackLinear` for ``rule``.

    Weights and biases are copied; feedback matrices are drawn from ``seed``. ``rule`` is one of
    :data:`CONVERT_RULES` (adaptive rules and the non-linear channel live in ``FeedbackMLP``).
    The input layer's backward output is never used, so its feedback only matters for ``rbp``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    rule = check_choice("rule", canonical_rule(rule), CONVERT_RULES)
    if not inplace:
        model = copy.deepcopy(model)
    if rule == "bp":
        return model
    gen = torch.Generator().manual_seed(0 if seed is None else check_int("seed", seed, low=0))
    linears = [(name, m) for name, m in model.named_modules() if type(m) is nn.Linear]
    if not linears:
        raise ValueError("model has no nn.Linear layer to convert")
    n_out = linears[-1][1].out_features
    context = _SkipContext()
    for k, (name, old) in enumerate(linears):
        if rule == "srbp":
            mode = "output" if k == len(linears) - 1 else "skip"
            cols = n_out
        else:
            mode, cols = "feedback", None
        new = FeedbackLinear(old.in_features, old.out_features, old.bias is not None, rule=rule,
                             feedback_cols=cols, mode=mode, generator=gen, context=context)
        new = new.to(device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(old.weight)
            if old.bias is not None:
                new.bias.copy_(old.bias)
        new.train(old.training)
        parent = model
        *path, leaf = name.split(".") if name else [""]
        if not name:
            raise ValueError("model is itself an nn.Linear; wrap it in nn.Sequential to convert it")
        for part in path:
            parent = getattr(parent, part)
        setattr(parent, leaf, new)
    return model
