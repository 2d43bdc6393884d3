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

The channel options of :class:`~toolkit.feedback.FeedbackMLP` work on converted models too
(``convert(model, rule, error_bits=, error_quant=, sparsity=, sparsity_mode=, feedback_mix=,
channel_activation=)``): the signal a layer sends down is quantised per example before it meets B
(the layer's own weight gradient keeps its exact signal); B is masked once (the mask also holds
for resampled, sign and adaptive rules); the channel is ``(1 - μ) B + μ W`` (μ = 1 is BP); the
``nonlinear`` rule passes ``B·δ`` through ``channel_activation`` (tanh or softsign), applied to the
per-example signal (the loss is assumed to be a mean over the batch, like ``F.cross_entropy``'s default).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_bool, check_choice, check_float, check_instance, check_int
from .engine import CHANNEL_ACTIVATIONS, QUANT_MODES, SPARSITY_MODES, canonical_rule, quantize, sparse_mask

__all__ = ["FeedbackLinear", "FeedbackConv", "convert", "CONVERT_RULES"]

CONVERT_RULES = (
    "bp",
    "rbp",
    "srbp",
    "sign",
    "sign-resampled",
    "rbp-resampled",
    "arbp",
    "asrbp",
    "kp",
    "dkp",
    "nonlinear",
)
_MODES = ("feedback", "output", "skip", "bp")
# adaptive rules: B is a parameter whose gradient is the forward rule's update, ΔB = ΔWᵀ (x · δᵀ);
# kp / dkp are arbp / asrbp trained with weight decay on W and B (the optimiser's weight_decay)
_ADAPTIVE = ("arbp", "asrbp", "kp", "dkp")
_SKIPPING = ("srbp", "asrbp", "dkp")


class _SkipContext:
    """Shared by the layers of one converted model: the output error of the current backward."""

    def __init__(self) -> None:
        self.error: torch.Tensor | None = None


@dataclass(frozen=True)
class _Channel:
    """What happens to a signal on its way down (see the module docstring); one per converted layer."""

    error_bits: int | None = None
    error_quant: str = "stochastic"
    feedback_mix: float = 0.0
    activation: str | None = None  # g of the non-linear channel; None = linear
    generator: torch.Generator | None = None  # quantisation noise

    def send(self, t: torch.Tensor) -> torch.Tensor:
        """Quantise ``t`` with one scale per example (its first axis), unbiased by default."""
        if self.error_bits is None:
            return t
        q = quantize(t.reshape(t.shape[0], -1), self.error_bits, self.error_quant, generator=self.generator)
        return q.reshape(t.shape)

    def squash(self, m: torch.Tensor) -> torch.Tensor:
        """The channel neurons' own (sign-preserving) non-linearity, if any.

        g acts on the per-example signal, as in FeedbackMLP: autograd's signals of a batch-mean loss
        carry a factor 1/N (N = the first axis), which is taken out before g and put back after it.
        """
        if self.activation is None:
            return m
        n = m.shape[0]
        g = torch.tanh if self.activation == "tanh" else F.softsign
        return g(m * n) / n

    def mix(self, feedback_like_w: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``(1 - μ) B + μ W`` in W's layout (μ = 0: B itself, exactly)."""
        mu = self.feedback_mix
        return feedback_like_w if mu == 0 else (1 - mu) * feedback_like_w + mu * weight


def _channel(
    *, error_bits=None, error_quant="stochastic", feedback_mix=0.0, channel_activation=None, generator=None
) -> _Channel:
    """Validated channel options (shared by convert, FeedbackLinear and FeedbackConv)."""
    bits = None if error_bits is None else check_int("error_bits", error_bits, low=1, high=24)
    quant = check_choice("error_quant", error_quant, QUANT_MODES)
    if quant == "midtread" and bits == 1:
        raise ValueError(
            "error_bits must be >= 2 with error_quant='midtread' (one bit cannot hold both signs and a "
            "zero level); use error_quant='stochastic' for 1 bit"
        )
    mu = check_float("feedback_mix", feedback_mix, low=0.0, high=1.0)
    if channel_activation is not None:
        if isinstance(channel_activation, str) and channel_activation in ("relu", "sigmoid"):
            raise ValueError(
                f"channel_activation={channel_activation!r} is refused: it is never negative, so "
                f"g(B·δ) ≥ 0 throws away the sign of the error and the hidden layers cannot learn; "
                f"use a sign-preserving one: {', '.join(CHANNEL_ACTIVATIONS)}"
            )
        channel_activation = check_choice("channel_activation", channel_activation, CHANNEL_ACTIVATIONS)
    if generator is not None:
        check_instance("generator", generator, torch.Generator)
    elif bits is not None:
        generator = torch.Generator().manual_seed(0)
    return _Channel(bits, quant, mu, channel_activation, generator)


def _rows_mask(
    shape: tuple[int, ...], sparsity: float, mode: str, gen: torch.Generator, row_dim: int
) -> torch.Tensor:
    """A :func:`~toolkit.feedback.engine.sparse_mask` for a feedback tensor whose receiving units run along
    ``row_dim`` (0 for a linear B of shape (in, cols); 1 for a convolution kernel: its input channels)."""
    moved = (shape[row_dim], *shape[:row_dim], *shape[row_dim + 1 :])
    mask = sparse_mask((moved[0], math.prod(moved[1:])), sparsity, mode, gen).reshape(moved)
    return mask.movedim(0, row_dim)


class _FeedbackLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, feedback, mode, context, layer):
        ctx.save_for_backward(x, weight, feedback)
        ctx.mode, ctx.context, ctx.layer, ctx.has_bias = mode, context, layer, bias is not None
        return F.linear(x, weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, feedback = ctx.saved_tensors
        channel, mask = ctx.layer.channel, ctx.layer.feedback_mask
        g2 = grad_out.reshape(-1, grad_out.shape[-1])
        x2 = x.reshape(-1, x.shape[-1])
        grad_w = g2.T @ x2  # local: the layer's own signal, never quantised
        grad_b = g2.sum(0) if ctx.has_bias else None
        grad_x = grad_fb = None
        sent = g2 if ctx.mode == "bp" else channel.send(g2)  # what travels down the channel
        if ctx.mode == "output":  # DFA output layer: remember e for the layers below
            ctx.context.error = sent
        if ctx.needs_input_grad[3]:  # adaptive: the feedback synapse learns x · (what it carries)ᵀ
            carried_down = ctx.context.error if ctx.mode == "skip" else sent
            grad_fb = x2.T @ carried_down
            if mask is not None:  # a pruned feedback synapse stays pruned
                grad_fb = grad_fb * mask
        if ctx.needs_input_grad[0]:
            if ctx.mode == "bp":
                carried = g2 @ weight
            elif ctx.mode in ("output", "feedback"):
                carried = channel.squash(sent @ channel.mix(feedback.T, weight))
            else:  # "skip": the output error, straight from the top
                if ctx.context.error is None or ctx.context.error.shape[0] != g2.shape[0]:
                    raise RuntimeError(
                        "srbp conversion: the output layer's error is missing; the last "
                        "nn.Linear must be the model's output layer"
                    )
                carried = channel.squash(ctx.context.error @ feedback.T)
            grad_x = carried.reshape(x.shape)
        return grad_x, grad_w, grad_b, grad_fb, None, None, None


class FeedbackLinear(nn.Linear):
    """``nn.Linear`` whose backward pass uses a feedback matrix ``feedback`` instead of ``Wᵀ``.

    ``feedback`` has shape ``(in_features, feedback_cols or out_features)``. ``mode``: ``"feedback"``
    (send ``δ·Bᵀ`` down), ``"output"`` / ``"skip"`` (srbp's output layer / a layer fed the output error;
    both need the shared ``context`` of one converted model) or ``"bp"`` (exact). The channel options
    (``error_bits``, ``error_quant``, ``feedback_mix``, ``channel_activation``, ``sparsity``,
    ``sparsity_mode``) are those of :func:`convert`.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        rule: str = "rbp",
        feedback_cols: int | None = None,
        mode: str = "feedback",
        generator: torch.Generator | None = None,
        context: _SkipContext | None = None,
        error_bits: int | None = None,
        error_quant: str = "stochastic",
        feedback_mix: float = 0.0,
        channel_activation: str | None = None,
        sparsity: float = 0.0,
        sparsity_mode: str = "entries",
    ) -> None:
        # sizes first: a weight and a feedback matrix of in × out floats are allocated right away
        if (
            check_int("in_features", in_features, low=1) * check_int("out_features", out_features, low=1)
            > 10**8
        ):
            raise ValueError(
                f"in_features × out_features must be at most 1e8 (weights of 400 MB), "
                f"got {in_features} × {out_features}"
            )
        bias = check_bool("bias", bias)
        rule = check_choice("rule", canonical_rule(rule), CONVERT_RULES)
        mode = check_choice("mode", mode, _MODES)
        cols = (
            out_features
            if feedback_cols is None
            else check_int("feedback_cols", feedback_cols, low=1, high=10**8 // in_features)
        )
        if mode in ("output", "skip"):
            check_instance(
                "context", context, _SkipContext, "the _SkipContext shared by a converted model's layers"
            )
        if generator is not None:
            check_instance("generator", generator, torch.Generator)
        channel = _channel(
            error_bits=error_bits,
            error_quant=error_quant,
            feedback_mix=feedback_mix,
            channel_activation=channel_activation,
        )
        sparsity = check_float("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
        sparsity_mode = check_choice("sparsity_mode", sparsity_mode, SPARSITY_MODES)
        super().__init__(in_features, out_features, bias)
        self.rule, self.mode, self.channel, self._context = rule, mode, channel, context
        self._gen = generator or torch.Generator().manual_seed(0)
        mask = (
            _rows_mask((in_features, cols), sparsity, sparsity_mode, self._gen, 0) if sparsity > 0 else None
        )
        self.register_buffer("feedback_mask", mask)
        b = self._draw((in_features, cols))
        if rule in _ADAPTIVE:
            self.feedback = nn.Parameter(b)
        else:
            self.register_buffer("feedback", b)
        if rule in ("sign", "sign-resampled"):
            self.register_buffer("magnitude", b.abs().clone())

    def _draw(self, shape: tuple[int, int]) -> torch.Tensor:
        bound = 1.0 / math.sqrt(shape[0])
        b = (torch.rand(shape, generator=self._gen) * 2 - 1) * bound
        return b if self.feedback_mask is None else b * self.feedback_mask

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
        return _FeedbackLinearFn.apply(
            x, self.weight, self.bias, self.feedback, self.mode, self._context, self
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rule={self.rule!r}, mode={self.mode!r}"


_CONV_GRADS = {
    1: (torch.nn.grad.conv1d_input, torch.nn.grad.conv1d_weight, F.conv1d),
    2: (torch.nn.grad.conv2d_input, torch.nn.grad.conv2d_weight, F.conv2d),
}


class _FeedbackConvFn(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, x, weight, bias, feedback, mode, context, dims, stride, padding, dilation, groups, layer
    ):
        ctx.save_for_backward(x, weight, feedback)
        ctx.conf = (mode, context, dims, stride, padding, dilation, groups, bias is not None)
        ctx.layer = layer
        return _CONV_GRADS[dims][2](x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, feedback = ctx.saved_tensors
        mode, context, dims, stride, padding, dilation, groups, has_bias = ctx.conf
        channel, mask = ctx.layer.channel, ctx.layer.feedback_mask
        conv_input, conv_weight, _ = _CONV_GRADS[dims]
        grad_w = conv_weight(x, weight.shape, grad_out, stride, padding, dilation, groups)  # local
        grad_b = grad_out.sum(dim=(0, *range(2, grad_out.ndim))) if has_bias else None
        grad_x = None
        grad_fb = None
        if ctx.needs_input_grad[
            3
        ]:  # adaptive kernel: ΔB = ΔW (with the signal it carries), pruned entries stay 0
            grad_fb = (
                grad_w
                if channel.error_bits is None
                else conv_weight(x, weight.shape, channel.send(grad_out), stride, padding, dilation, groups)
            )
            grad_fb = grad_fb if mask is None else grad_fb * mask
        if ctx.needs_input_grad[0]:
            if mode == "skip":  # flatten and project the output error
                if context.error is None or context.error.shape[0] != grad_out.shape[0]:
                    raise RuntimeError(
                        "srbp conversion: the output layer's error is missing; the last "
                        "nn.Linear must be the model's output layer"
                    )
                grad_x = channel.squash(context.error @ feedback.T).reshape(x.shape)
            elif mode == "bp":  # exact: the transposed convolution with W itself
                grad_x = conv_input(x.shape, weight, grad_out, stride, padding, dilation, groups)
            else:  # transposed convolution with B (μ-mixed with W)
                kernel = channel.mix(feedback, weight)
                grad_x = channel.squash(
                    conv_input(x.shape, kernel, channel.send(grad_out), stride, padding, dilation, groups)
                )
        return grad_x, grad_w, grad_b, grad_fb, None, None, None, None, None, None, None, None


class FeedbackConv(nn.Module):
    """A Conv1d/Conv2d whose backward pass uses a feedback kernel ``feedback`` instead of W.

    Holds a copy of the convolution's weight, bias and hyper-parameters; ``mode`` is ``"feedback"``
    (B of the weight's shape, sent through the transposed convolution), ``"skip"`` (srbp: B of shape
    ``(input size, n_out)``, drawn at the first forward pass) or ``"bp"`` (exact, for diagnostics).
    The channel options are those of :func:`convert`; a sparse kernel keeps, per *input channel*
    (the receiving unit), the entries the mask allows.
    """

    def __init__(
        self,
        conv: nn.Conv1d | nn.Conv2d,
        *,
        rule: str = "rbp",
        mode: str = "feedback",
        n_out: int = 0,
        generator: torch.Generator | None = None,
        context: _SkipContext | None = None,
        error_bits: int | None = None,
        error_quant: str = "stochastic",
        feedback_mix: float = 0.0,
        channel_activation: str | None = None,
        sparsity: float = 0.0,
        sparsity_mode: str = "entries",
    ) -> None:
        super().__init__()
        if (
            not isinstance(conv, (nn.Conv1d, nn.Conv2d))
            or conv.padding_mode != "zeros"
            or isinstance(conv.padding, str)
        ):
            raise ValueError(
                f"only nn.Conv1d / nn.Conv2d with numeric zero padding can be converted, got {conv!r}"
            )
        rule = check_choice("rule", canonical_rule(rule), CONVERT_RULES)
        mode = check_choice("mode", mode, ("feedback", "skip", "bp"))
        if mode == "skip":
            n_out = check_int("n_out", n_out, low=1, high=100_000)
            check_instance(
                "context", context, _SkipContext, "the _SkipContext shared by a converted model's layers"
            )
        if generator is not None:
            check_instance("generator", generator, torch.Generator)
        self.channel = _channel(
            error_bits=error_bits,
            error_quant=error_quant,
            feedback_mix=feedback_mix,
            channel_activation=channel_activation,
        )
        self.sparsity = check_float("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
        self.sparsity_mode = check_choice("sparsity_mode", sparsity_mode, SPARSITY_MODES)
        if self.sparsity > 0 and conv.groups != 1:
            raise ValueError(
                "sparsity must be 0 for a grouped convolution (groups > 1): its input channels hear "
                "only their own group, so a per-channel mask is not defined"
            )
        self.dims = 1 if isinstance(conv, nn.Conv1d) else 2
        self.stride, self.padding, self.dilation, self.groups = (
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
        )
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())
        self.rule, self.mode, self.n_out, self._context = rule, mode, n_out, context
        self._gen = generator or torch.Generator().manual_seed(0)
        fan_in = self.weight[0].numel()
        if mode == "skip":
            if rule in _ADAPTIVE:
                raise ValueError(
                    f"rule {rule!r} cannot convert a convolution: its skip feedback is drawn at the "
                    f"first forward pass and could not be handed to an optimizer; use 'srbp' or 'arbp'"
                )
            self.register_buffer("feedback_mask", None)  # drawn with B at the first forward pass
            self.register_buffer("feedback", torch.empty(0, n_out, dtype=self.weight.dtype))
        else:
            mask = (
                _rows_mask(tuple(self.weight.shape), self.sparsity, self.sparsity_mode, self._gen, 1)
                if self.sparsity > 0
                else None
            )
            self.register_buffer("feedback_mask", mask)
            b = self._masked((torch.rand(self.weight.shape, generator=self._gen) * 2 - 1) / math.sqrt(fan_in))
            b = b.to(self.weight.dtype)
            if rule in _ADAPTIVE:
                self.feedback = nn.Parameter(b)
            else:
                self.register_buffer("feedback", b)
            if rule in ("sign", "sign-resampled"):
                self.register_buffer("magnitude", self.feedback.abs().clone())

    def _masked(self, b: torch.Tensor) -> torch.Tensor:
        return b if self.feedback_mask is None else b * self.feedback_mask

    @torch.no_grad()
    def _prepare(self, x: torch.Tensor) -> None:
        if self.mode == "skip":
            size = x[0].numel()
            if self.feedback.shape[0] != size:  # first pass: now the input size is known
                if self.sparsity > 0:
                    self.feedback_mask = _rows_mask(
                        (size, self.n_out), self.sparsity, self.sparsity_mode, self._gen, 0
                    )
                b = (torch.rand(size, self.n_out, generator=self._gen) * 2 - 1) / math.sqrt(size)
                self.feedback = self._masked(b).to(self.weight)
            return
        if self.training and self.rule == "rbp-resampled":
            self.feedback.copy_(
                self._masked(
                    (torch.rand(self.feedback.shape, generator=self._gen) * 2 - 1)
                    / math.sqrt(self.weight[0].numel())
                )
            )
        if self.rule in ("sign", "sign-resampled"):
            if self.training and self.rule == "sign-resampled":
                self.magnitude.copy_(
                    self._masked(
                        torch.rand(self.feedback.shape, generator=self._gen)
                        / math.sqrt(self.weight[0].numel())
                    )
                )
            self.feedback.copy_(self.magnitude * torch.sign(self.weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        self._prepare(x)
        return _FeedbackConvFn.apply(
            x,
            self.weight,
            self.bias,
            self.feedback,
            self.mode,
            self._context,
            self.dims,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
            self,
        )

    def extra_repr(self) -> str:
        return f"dims={self.dims}, weight={tuple(self.weight.shape)}, rule={self.rule!r}, mode={self.mode!r}"


def convert(
    model: nn.Module,
    rule: str = "rbp",
    *,
    seed: int | None = 0,
    inplace: bool = False,
    error_bits: int | None = None,
    error_quant: str = "stochastic",
    sparsity: float = 0.0,
    sparsity_mode: str = "entries",
    feedback_mix: float = 0.0,
    channel_activation: str = "tanh",
) -> nn.Module:
    """Return ``model`` with every ``nn.Linear`` replaced by a :class:`FeedbackLinear` for ``rule``.

    Weights and biases are copied; feedback matrices are drawn from ``seed``. ``rule`` is one of
    :data:`CONVERT_RULES`. For the adaptive rules ``arbp`` / ``asrbp`` the feedback matrices are
    parameters whose ``.grad`` is the forward rule's update (ΔB = ΔWᵀ); ``kp`` / ``dkp`` are the same
    mechanics — train them with weight decay on W and B (``torch.optim.SGD(..., weight_decay=λ)`` or
    ``AdamW``): then B − Wᵀ shrinks by (1 − lr·λ) per step (Kolen–Pollack).

    Channel options, as in :class:`~toolkit.feedback.FeedbackMLP`: ``error_bits`` / ``error_quant``
    quantise every signal sent down (one scale per example; ``"stochastic"`` is unbiased);
    ``sparsity`` / ``sparsity_mode`` mask the feedback once (``"per_neuron"``: k entries per receiving
    unit, never an all-zero row); ``feedback_mix`` μ uses ``(1 - μ) B + μ Wᵀ`` (μ = 1 is BP; not for the
    skipped rules); ``channel_activation`` is g of the ``nonlinear`` rule, ``δ_below = f'(S) ⊙ g(B δ)``
    (tanh or softsign; ReLU and sigmoid are refused: they drop the error's sign).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    rule = check_choice("rule", canonical_rule(rule), CONVERT_RULES)
    inplace = check_bool("inplace", inplace)
    seed = 0 if seed is None else check_int("seed", seed, low=0, high=2**63 - 1)
    sparsity = check_float("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    sparsity_mode = check_choice("sparsity_mode", sparsity_mode, SPARSITY_MODES)
    options = dict(
        error_bits=error_bits,
        error_quant=error_quant,
        feedback_mix=feedback_mix,
        channel_activation=channel_activation,
    )
    channel = _channel(**options)  # validates every option once, here
    if rule == "bp" and (channel.error_bits is not None or sparsity > 0 or channel.feedback_mix > 0):
        raise ValueError(
            "rule must have a feedback channel for error_bits, sparsity or feedback_mix; for BP's own "
            "channel with these options use rule='rbp' with feedback_mix=1"
        )
    if rule in _SKIPPING and channel.feedback_mix > 0:
        raise ValueError(
            f"feedback_mix must be 0 for rule {rule!r}: it mixes B with Wᵀ and needs a feedback matrix "
            f"of Wᵀ's shape (rules such as 'rbp', 'arbp', 'sign')"
        )
    if not inplace:
        model = copy.deepcopy(model)
    if rule == "bp":
        return model
    gen = torch.Generator().manual_seed(seed)
    options["channel_activation"] = channel.activation if rule == "nonlinear" else None
    options.update(sparsity=sparsity, sparsity_mode=sparsity_mode)
    qgen = torch.Generator().manual_seed((seed + 0x9E3779B9) % 2**63)  # quantisation noise, its own stream
    linears = [(name, m) for name, m in model.named_modules() if type(m) is nn.Linear]
    if not linears:
        raise ValueError("model has no nn.Linear layer to convert")
    n_out = linears[-1][1].out_features
    context = _SkipContext()
    for name, old in [(n, m) for n, m in model.named_modules() if type(m) in (nn.Conv1d, nn.Conv2d)]:
        new = FeedbackConv(
            old,
            rule=rule,
            mode="skip" if rule in _SKIPPING else "feedback",
            n_out=n_out,
            generator=gen,
            context=context,
            **options,
        ).to(device=old.weight.device)
        new.channel = _with_generator(new.channel, qgen)
        new.train(old.training)
        _replace(model, name, new)
    for k, (name, old) in enumerate(linears):
        if rule in _SKIPPING:
            mode = "output" if k == len(linears) - 1 else "skip"
            cols = n_out
        else:
            mode, cols = "feedback", None
        new = FeedbackLinear(
            old.in_features,
            old.out_features,
            old.bias is not None,
            rule=rule,
            feedback_cols=cols,
            mode=mode,
            generator=gen,
            context=context,
            **options,
        )
        new.channel = _with_generator(new.channel, qgen)
        new = new.to(device=old.weight.device, dtype=old.weight.dtype)
        with torch.no_grad():
            new.weight.copy_(old.weight)
            if old.bias is not None:
                new.bias.copy_(old.bias)
        new.train(old.training)
        _replace(model, name, new)
    return model


def _with_generator(channel: _Channel, gen: torch.Generator) -> _Channel:
    """The same options drawing their quantisation noise from the converted model's shared stream."""
    return channel if channel.error_bits is None else dataclasses.replace(channel, generator=gen)


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    if not name:
        raise ValueError("model is itself a layer; wrap it in nn.Sequential to convert it")
    parent = model
    *path, leaf = name.split(".")
    for part in path:
        parent = getattr(parent, part)
    setattr(parent, leaf, new)
