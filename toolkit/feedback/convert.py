"""Swap-in random feedback for *existing* models (the BioTorch idea, written from scratch).

``convert(model, "rbp")`` replaces every ``nn.Linear`` by a :class:`FeedbackLinear` whose
custom autograd Function computes the usual forward pass but sends ``grad_output @ Bᵀ`` down
instead of ``grad_output @ W``. The weight gradient stays local (``grad_outputᵀ · input``), so
``loss.backward()`` and any optimizer work unchanged.

For ``srbp`` (direct feedback alignment) the *last* Linear in registration order is taken as the
output layer: its backward stores the output error ``e`` in a context shared by all layers,
and every other layer then passes ``e @ Bᵀ`` down (``B`` of shape ``(in_features, n_out)``).
This assumes the Linear layers form one chain in registration order (an MLP).

``nn.Conv1d`` / ``nn.Conv2d`` become :class:`FeedbackConv`: the weight gradient stays local
(``conv{1,2}d_weight(input, grad_output)``) and the signal sent down is the *transposed
convolution* of ``grad_output`` with a feedback kernel ``B`` of the weight's shape instead of W
(``conv{1,2}d_input``). Under ``srbp`` a convolution sends the flattened output error projected by
``B`` of shape ``(input size per example, n_out)`` (drawn at the first forward pass, when the
input size is known): "flatten and project". Other layers keep exact backprop.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_choice, check_int
from .engine import canonical_rule

__all__ = ["FeedbackLinear", "FeedbackConv", "convert", "CONVERT_RULES"]

CONVERT_RULES = ("bp", "rbp", "srbp", "sign", "sign-resampled", "rbp-resampled", "arbp", "asrbp", "kp", "dkp")
# adaptive rules: B is a parameter whose gradient is the forward rule's update, ΔB = ΔWᵀ (x · δᵀ);
# kp / dkp are arbp / asrbp trained with weight decay on W and B (the optimiser's weight_decay)
_ADAPTIVE = ("arbp", "asrbp", "kp", "dkp")
_SKIPPING = ("srbp", "asrbp", "dkp")


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
        grad_x = grad_fb = None
        if ctx.mode == "output":  # DFA output layer: remember e for the layers below
            ctx.context.error = g2
        if ctx.needs_input_grad[3]:  # adaptive: the feedback synapse learns x · (what it carries)ᵀ
            carried_down = ctx.context.error if ctx.mode == "skip" else g2
            grad_fb = x2.T @ carried_down
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
        return grad_x, grad_w, grad_b, grad_fb, None, None


class FeedbackLinear(nn.Linear):
    """``nn.Linear`` whose backward pass uses a feedback matrix ``feedback`` instead of ``Wᵀ``."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rule: str = "rbp",
                 feedback_cols: int | None = None, mode: str = "feedback", generator: torch.Generator | None = None,
                 context: _SkipContext | None = None) -> None:
        # sizes first: a weight and a feedback matrix of in × out floats are allocated right away
        if check_int("in_features", in_features, low=1) * check_int("out_features", out_features, low=1) > 10**8:
            raise ValueError(f"in_features × out_features must be at most 1e8 (weights of 400 MB), "
                             f"got {in_features} × {out_features}")
        super().__init__(in_features, out_features, bias)
        self.rule = rule
        self.mode = mode
        self._context = context
        self._gen = generator or torch.Generator().manual_seed(0)
        cols = out_features if feedback_cols is None else feedback_cols
        if rule in _ADAPTIVE:
            self.feedback = nn.Parameter(self._draw((in_features, cols)))
        else:
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


_CONV_GRADS = {1: (torch.nn.grad.conv1d_input, torch.nn.grad.conv1d_weight, F.conv1d),
               2: (torch.nn.grad.conv2d_input, torch.nn.grad.conv2d_weight, F.conv2d)}


class _FeedbackConvFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, feedback, mode, context, dims, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight, feedback)
        ctx.conf = (mode, context, dims, stride, padding, dilation, groups, bias is not None)
        return _CONV_GRADS[dims][2](x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, feedback = ctx.saved_tensors
        mode, context, dims, stride, padding, dilation, groups, has_bias = ctx.conf
        conv_input, conv_weight, _ = _CONV_GRADS[dims]
        grad_w = conv_weight(x, weight.shape, grad_out, stride, padding, dilation, groups)  # local
        grad_b = grad_out.sum(dim=(0, *range(2, grad_out.ndim))) if has_bias else None
        grad_x = None
        grad_fb = grad_w if ctx.needs_input_grad[3] else None  # adaptive kernel: ΔB = ΔW
        if ctx.needs_input_grad[0]:
            if mode == "skip":  # flatten and project the output error
                if context.error is None or context.error.shape[0] != grad_out.shape[0]:
                    raise RuntimeError("srbp conversion: the output layer's error is missing; the last "
                                       "nn.Linear must be the model's output layer")
                grad_x = (context.error @ feedback.T).reshape(x.shape)
            else:  # transposed convolution with B (bp: with W itself)
                kernel = weight if mode == "bp" else feedback
                grad_x = conv_input(x.shape, kernel, grad_out, stride, padding, dilation, groups)
        return grad_x, grad_w, grad_b, grad_fb, None, None, None, None, None, None, None


class FeedbackConv(nn.Module):
    """A Conv1d/Conv2d whose backward pass uses a feedback kernel ``feedback`` instead of W.

    Holds a copy of the convolution's weight, bias and hyper-parameters; ``mode`` is ``"feedback"``
    (B of the weight's shape, sent through the transposed convolution), ``"skip"`` (srbp: B of shape
    ``(input size, n_out)``, drawn at the first forward pass) or ``"bp"`` (exact, for diagnostics).
    """

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, *, rule: str = "rbp", mode: str = "feedback", n_out: int = 0,
                 generator: torch.Generator | None = None, context: _SkipContext | None = None) -> None:
        super().__init__()
        if not isinstance(conv, (nn.Conv1d, nn.Conv2d)) or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("only nn.Conv1d / nn.Conv2d with numeric zero padding can be converted, got "
                             f"{conv!r}")
        self.dims = 1 if isinstance(conv, nn.Conv1d) else 2
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())
        self.rule, self.mode, self.n_out, self._context = rule, mode, n_out, context
        self._gen = generator or torch.Generator().manual_seed(0)
        fan_in = self.weight[0].numel()
        if mode == "skip":
            if rule in _ADAPTIVE:
                raise ValueError(f"rule {rule!r} cannot convert a convolution: its skip feedback is drawn at the "
                                 f"first forward pass and could not be handed to an optimizer; use 'srbp' or 'arbp'")
            self.register_buffer("feedback", torch.empty(0, n_out, dtype=self.weight.dtype))
        else:
            b = ((torch.rand(self.weight.shape, generator=self._gen) * 2 - 1) / math.sqrt(fan_in)).to(self.weight.dtype)
            if rule in _ADAPTIVE:
                self.feedback = nn.Parameter(b)
            else:
                self.register_buffer("feedback", b)
            if rule in ("sign", "sign-resampled"):
                self.register_buffer("magnitude", self.feedback.abs().clone())

    @torch.no_grad()
    def _prepare(self, x: torch.Tensor) -> None:
        if self.mode == "skip":
            size = x[0].numel()
            if self.feedback.shape[0] != size:  # first pass: now the input size is known
                b = (torch.rand(size, self.n_out, generator=self._gen) * 2 - 1) / math.sqrt(size)
                self.feedback = b.to(self.weight)
            return
        if self.training and self.rule == "rbp-resampled":
            self.feedback.copy_((torch.rand(self.feedback.shape, generator=self._gen) * 2 - 1)
                                / math.sqrt(self.weight[0].numel()))
        if self.rule in ("sign", "sign-resampled"):
            if self.training and self.rule == "sign-resampled":
                self.magnitude.copy_(torch.rand(self.feedback.shape, generator=self._gen) / math.sqrt(self.weight[0].numel()))
            self.feedback.copy_(self.magnitude * torch.sign(self.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self._prepare(x)
        return _FeedbackConvFn.apply(x, self.weight, self.bias, self.feedback, self.mode, self._context, self.dims,
                                     self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return f"dims={self.dims}, weight={tuple(self.weight.shape)}, rule={self.rule!r}, mode={self.mode!r}"


def convert(model: nn.Module, rule: str = "rbp", *, seed: int | None = 0, inplace: bool = False) -> nn.Module:
    """Return ``model`` with every ``nn.Linear`` replaced by a :class:`FeedbackLinear` for ``rule``.

    Weights and biases are copied; feedback matrices are drawn from ``seed``. ``rule`` is one of
    :data:`CONVERT_RULES`. For the adaptive rules ``arbp`` / ``asrbp`` the feedback matrices are
    parameters whose ``.grad`` is the forward rule's update (ΔB = ΔWᵀ); ``kp`` / ``dkp`` are the same
    mechanics — train them with weight decay on W and B (``torch.optim.SGD(..., weight_decay=λ)`` or
    ``AdamW``): then B − Wᵀ shrinks by (1 − lr·λ) per step (Kolen–Pollack). Channel options (bits,
    sparsity, μ, the non-linear channel) live in ``FeedbackMLP`` only.
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
    for name, old in [(n, m) for n, m in model.named_modules() if type(m) in (nn.Conv1d, nn.Conv2d)]:
        new = FeedbackConv(old, rule=rule, mode="skip" if rule in _SKIPPING else "feedback", n_out=n_out,
                           generator=gen, context=context).to(device=old.weight.device)
        new.train(old.training)
        _replace(model, name, new)
    for k, (name, old) in enumerate(linears):
        if rule in _SKIPPING:
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
        _replace(model, name, new)
    return model


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    if not name:
        raise ValueError("model is itself a layer; wrap it in nn.Sequential to convert it")
    parent = model
    *path, leaf = name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, new)
