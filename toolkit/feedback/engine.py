"""FeedbackMLP: one engine that sends the output error down a *learning channel*.

Notation (Baldi, Sadowski & Lu 2018). Layer h computes ``S_h = W_h O_{h-1} + b_h`` and
``O_h = f(S_h)`` (the top layer is linear: logits). With softmax + cross-entropy the output
error is ``T_L = softmax(S_L) - onehot(y)``. Every rule updates ``ΔW_h ∝ -T_h O_{h-1}ᵀ`` (a
*local* rule: postsynaptic signal × presynaptic activity); the rules differ only in how the
backward signal ``T_h`` of a hidden layer reaches it:

====================  ==========================================================================
rule                  backward signal of hidden layer h
====================  ==========================================================================
``bp``                ``T_h = f'(S_h) ⊙ W_{h+1}ᵀ T_{h+1}``  (exact gradient, needs weight transport)
``rbp``               ``T_h = f'(S_h) ⊙ B_h T_{h+1}`` with a fixed random ``B_h`` (= feedback alignment)
``srbp``              ``T_h = f'(S_h) ⊙ B_h T_L`` skipped: output error sent straight down (= DFA)
``arbp`` / ``asrbp``  as rbp / srbp, but ``B`` learns with the forward rule: ``ΔB_h ∝ -O_h T_{h+1}ᵀ``
``sign``              ``B_h = |M_h| ⊙ sign(W_{h+1}ᵀ)`` fixed random magnitudes, signs of W (sign-concordant)
``sign-resampled``    as ``sign`` with fresh magnitudes every batch
``rbp-resampled``     as ``rbp`` with a fresh random ``B_h`` every batch
``top``               only the top layer learns (hidden updates are zero)
``nonlinear``         ``T_h = f'(S_h) ⊙ f(B_h T_{h+1})``: the channel neurons are non-linear too
====================  ==========================================================================

Options that act on the channel: ``derivative=False`` drops ``f'(S_h)``; ``error_bits=k``
quantises every signal *sent down the channel* to ``2**k`` evenly spaced levels in ``[-α, α]``,
α = its largest magnitude for that example (the top layer's own update uses its exact error); ``sparsity=s`` zeroes exactly ``round(s · size)`` entries of every
feedback matrix (the mask stays fixed, also for adaptive and resampled rules).
Backward signals are per example (O(1) values); weight gradients average them over the batch, so
``bp`` reproduces autograd's gradient of the mean cross-entropy exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_bool, check_choice, check_float, check_int

__all__ = ["FeedbackMLP", "RULES", "ACTIVATIONS", "quantize", "canonical_rule"]

RULES = (
    "bp", "rbp", "srbp", "arbp", "asrbp", "sign", "sign-resampled", "rbp-resampled", "top", "nonlinear",
)
ALIASES = {"fa": "rbp", "dfa": "srbp", "sign-concordant": "sign", "top-only": "top"}
SKIP_RULES = ("srbp", "asrbp")
ADAPTIVE_RULES = ("arbp", "asrbp")
SIGN_RULES = ("sign", "sign-resampled")
NO_FEEDBACK_RULES = ("bp", "top")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


def canonical_rule(rule: str) -> str:
    """Return the canonical rule name (accepts the aliases fa, dfa, sign-concordant, top-only)."""
    if isinstance(rule, str):
        rule = rule.lower()
    rule = check_choice("rule", rule, RULES + tuple(ALIASES))
    return ALIASES.get(rule, rule)


def _act(name: str, s: torch.Tensor) -> torch.Tensor:
    if name == "tanh":
        return torch.tanh(s)
    if name == "relu":
        return torch.relu(s)
    if name == "sigmoid":
        return torch.sigmoid(s)
    return s


def _dact(name: str, s: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
    """f'(S) written with the already computed output O = f(S) where that is cheaper."""
    if name == "tanh":
        return 1.0 - o * o
    if name == "relu":
        return (s > 0).to(s.dtype)
    if name == "sigmoid":
        return o * (1.0 - o)
    return torch.ones_like(s)


def quantize(t: torch.Tensor, bits: int | None) -> torch.Tensor:
    """Round ``t`` to the nearest of ``2**bits`` evenly spaced levels in ``[-α, α]``.

    α is the largest magnitude along the last axis (one scale per example, as a physical
    channel would send it with each message). ``bits=1`` keeps only the sign (times α); the
    rounding error is at most ``α / (2**bits - 1)``.
    """
    if bits is None:
        return t
    alpha = t.abs().amax(dim=-1, keepdim=True)
    step = 2 * alpha / (2**bits - 1)
    safe = torch.where(step > 0, step, torch.ones_like(step))
    return torch.where(step > 0, torch.round((t + alpha) / safe) * safe - alpha, t)


class FeedbackMLP(nn.Module):
    """A multilayer perceptron trained by one of :data:`RULES` (see the module docstring).

    Parameters
    ----------
    sizes : layer widths ``[n_in, n_hidden..., n_out]`` (at least two numbers).
    rule : learning rule; aliases ``fa`` (= rbp), ``dfa`` (= srbp), ``sign-concordant`` (= sign).
    activation : hidden non-linearity f, one of :data:`ACTIVATIONS`; the output layer is linear.
    sparsity : fraction of exact zeros in every feedback matrix, in [0, 1) (random-feedback rules only).
    error_bits : quantise the backward signals to ``2**error_bits`` levels (None = float).
    derivative : multiply by the local derivative f'(S_h) (False drops it).
    seed : seeds the forward and feedback initialisation and the per-batch resampling.

    ``net.layers`` are ``nn.Linear`` modules, ``net(x)`` returns logits, and
    ``net.compute_gradients(x, y)`` writes every parameter's ``.grad`` (set, not accumulated).
    ``net.feedback[i]`` (one per layer above the first) replaces ``W_{i+1}ᵀ`` for the RBP family
    (shape ``(sizes[i+1], sizes[i+2])``) and carries the output error to hidden layer i for the
    skipped family (shape ``(sizes[i+1], sizes[-1])``). It is editable in place; for adaptive
    rules the feedback tensors are parameters (``requires_grad=False``, their ``.grad`` holds the
    forward-rule update) so any torch optimizer adapts them too.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        rule: str = "bp",
        activation: str = "tanh",
        *,
        sparsity: float = 0.0,
        error_bits: int | None = None,
        derivative: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a list of layer widths like [64, 100, 10], got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer widths (input and output), got {list(sizes)}")
        self.sizes = [check_int(f"sizes[{i}]", n, low=1, high=100_000) for i, n in enumerate(sizes)]
        self.rule = canonical_rule(rule)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.sparsity = check_float("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
        if self.sparsity > 0 and self.rule in NO_FEEDBACK_RULES:
            raise ValueError(
                f"sparsity must be 0 for rule {self.rule!r} (it has no feedback matrices); "
                f"use a random-feedback rule such as 'rbp' or 'srbp'"
            )
        self.error_bits = None if error_bits is None else check_int("error_bits", error_bits, low=1, high=24)
        self.derivative = check_bool("derivative", derivative)
        self.seed = None if seed is None else check_int("seed", seed, low=0, high=2**63 - 1)
        self._gen = torch.Generator()
        self._gen.manual_seed(self.seed if self.seed is not None else int(torch.randint(0, 2**62, ()).item()))

        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        with torch.no_grad():
            for layer in self.layers:  # nn.Linear's default init, drawn from our own generator
                bound = 1.0 / math.sqrt(layer.in_features)
                layer.weight.copy_(self._uniform(layer.weight.shape, bound))
                layer.bias.copy_(self._uniform(layer.bias.shape, bound))
        self._init_feedback()

    # -- feedback matrices ---------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def feedback_shape(self, i: int) -> tuple[int, int]:
        """Shape of ``feedback[i]``: that of ``W_{i+1}ᵀ`` (RBP family) or ``(n_{i+1}, n_out)`` (skipped)."""
        cols = self.sizes[-1] if self.rule in SKIP_RULES else self.sizes[i + 2]
        return (self.sizes[i + 1], cols)

    def _uniform(self, shape: Sequence[int], bound: float) -> torch.Tensor:
        return (torch.rand(tuple(shape), generator=self._gen) * 2 - 1) * bound

    def _random_feedback(self, i: int) -> torch.Tensor:
        # Drawn like the nn.Linear weight whose transpose it stands for: U(-1/sqrt(rows), 1/sqrt(rows)).
        shape = self.feedback_shape(i)
        return self._uniform(shape, 1.0 / math.sqrt(shape[0]))

    def _init_feedback(self) -> None:
        self._fb_names: list[str] = []
        if self.rule in NO_FEEDBACK_RULES:
            return
        for i in range(self.n_layers - 1):
            shape = self.feedback_shape(i)
            if self.sparsity > 0:
                n = shape[0] * shape[1]
                zeros = round(self.sparsity * n)
                mask = torch.ones(n, dtype=torch.bool)
                mask[torch.randperm(n, generator=self._gen)[:zeros]] = False
                self.register_buffer(f"feedback_mask_{i}", mask.reshape(shape))
            b = self._random_feedback(i)
            if self.rule in SIGN_RULES:
                self.register_buffer(f"magnitude_{i}", b.abs())
            b = self._apply_mask(i, b)
            name = f"feedback_{i}"
            if self.rule in ADAPTIVE_RULES:
                self.register_parameter(name, nn.Parameter(b, requires_grad=False))
            else:
                self.register_buffer(name, b)
            self._fb_names.append(name)
        if self.rule in SIGN_RULES:
            self._refresh_sign()

    def _apply_mask(self, i: int, b: torch.Tensor) -> torch.Tensor:
        mask = getattr(self, f"feedback_mask_{i}", None)
        return b if mask is None else b * mask

    @property
    def feedback(self) -> list[torch.Tensor]:
        """The feedback tensors, one per layer above the first (empty for ``bp`` and ``top``)."""
        return [getattr(self, name) for name in self._fb_names]

    @property
    def feedback_masks(self) -> list[torch.Tensor | None]:
        """Boolean masks of the non-zero feedback entries (None when ``sparsity == 0``)."""
        return [getattr(self, f"feedback_mask_{i}", None) for i in range(len(self._fb_names))]

    @torch.no_grad()
    def _refresh_sign(self) -> None:
        for i, b in enumerate(self.feedback):
            magnitude = getattr(self, f"magnitude_{i}")
            b.copy_(self._apply_mask(i, magnitude * torch.sign(self.layers[i + 1].weight.T)))

    @torch.no_grad()
    def resample_feedback(self) -> None:
        """Draw fresh random feedback (magnitudes for the sign rules); done every batch by the
        ``*-resampled`` rules, available for any rule with feedback matrices."""
        for i, b in enumerate(self.feedback):
            fresh = self._random_feedback(i).to(b)
            if self.rule in SIGN_RULES:
                getattr(self, f"magnitude_{i}").copy_(fresh.abs())
            else:
                b.copy_(self._apply_mask(i, fresh))
        if self.rule in SIGN_RULES:
            self._refresh_sign()

    # -- forward ---------------------------------------------------------------------------------
    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, {self.sizes[0]}), got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have shape (batch, {self.sizes[0]}), got {tuple(x.shape)}")
        return x.to(self.layers[0].weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``S_L`` (hidden layers use f, the top layer is linear)."""
        h = self._check_x(x)
        for layer in self.layers[:-1]:
            h = _act(self.activation, layer(h))
        return self.layers[-1](h)

    def _check_y(self, y: torch.Tensor, n: int) -> torch.Tensor:
        if not isinstance(y, torch.Tensor) or y.dtype.is_floating_point or y.dtype == torch.bool:
            raise TypeError("y must be an integer torch.Tensor of class indices")
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},) to match x, got {tuple(y.shape)}")
        if n and (int(y.min()) < 0 or int(y.max()) >= self.sizes[-1]):
            raise ValueError(f"y must hold class indices in [0, {self.sizes[-1] - 1}], got range "
                             f"[{int(y.min())}, {int(y.max())}]")
        return y.long()

    # -- the learning channel -------------------------------------------------------------------
    @torch.no_grad()
    def updates(self, x: torch.Tensor, y: torch.Tensor, *, step: bool = True):
        """Compute the rule's updates without touching ``.grad``.

        Returns ``(loss, weight_grads, bias_grads, feedback_grads)`` (lists; feedback grads only
        for adaptive rules). ``step=False`` skips per-batch resampling (used for diagnostics).
        """
        x = self._check_x(x)
        n = x.shape[0]
        if n == 0:
            raise ValueError("x must hold at least one example")
        y = self._check_y(y, n)
        if step and self.rule in ("rbp-resampled", "sign-resampled"):
            self.resample_feedback()
        elif self.rule in SIGN_RULES:
            self._refresh_sign()

        act = self.activation
        outs, pre = [x], []
        for l, layer in enumerate(self.layers):
            s = F.linear(outs[-1], layer.weight, layer.bias)
            pre.append(s)
            if l < self.n_layers - 1:
                outs.append(_act(act, s))
        logits = pre[-1]
        loss = F.cross_entropy(logits, y)
        err = torch.softmax(logits, dim=1)
        err[torch.arange(n), y] -= 1.0
        L = self.n_layers
        deltas: list[torch.Tensor | None] = [None] * L
        deltas[-1] = err
        sent = quantize(err, self.error_bits)  # what travels down the channel
        top_sent = sent
        fb = self.feedback
        if self.rule != "top":
            for l in range(L - 2, -1, -1):
                above = top_sent if self.rule in SKIP_RULES else sent
                if self.rule == "bp":
                    message = above @ self.layers[l + 1].weight
                else:
                    message = above @ fb[l].T
                    if self.rule == "nonlinear":
                        message = _act(act, message)
                if self.derivative:
                    message = message * _dact(act, pre[l], outs[l + 1])
                deltas[l] = message
                if l > 0 and self.rule not in SKIP_RULES:
                    sent = quantize(message, self.error_bits)

        w_grads, b_grads = [], []
        for l, layer in enumerate(self.layers):
            d = deltas[l]
            if d is None:
                w_grads.append(torch.zeros_like(layer.weight))
                b_grads.append(torch.zeros_like(layer.bias))
            else:
                w_grads.append(d.T @ outs[l] / n)
                b_grads.append(d.sum(0) / n)
        fb_grads = []
        if self.rule in ADAPTIVE_RULES:
            for i in range(L - 1):
                # the feedback synapse sees the (possibly quantised) signal it carries
                carried = quantize(deltas[L - 1] if self.rule in SKIP_RULES else deltas[i + 1], self.error_bits)
                # forward rule on the feedback synapse: postsynaptic activity O_{i+1} × presynaptic T
                fb_grads.append(self._apply_mask(i, outs[i + 1].T @ carried / n))
        return loss.detach(), w_grads, b_grads, fb_grads

    def compute_gradients(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Fill ``.grad`` of every parameter with the rule's update; return the (mean CE) loss."""
        loss, w_grads, b_grads, fb_grads = self.updates(x, y)
        for layer, gw, gb in zip(self.layers, w_grads, b_grads):
            layer.weight.grad = gw
            layer.bias.grad = gb
        for b, g in zip(self.feedback, fb_grads):
            b.grad = g
        return loss

    def __getstate__(self) -> dict:
        # torch.Generator cannot be pickled (ddp_spawn, multiprocessing): keep its state instead
        state = self.__dict__.copy()
        state["_gen_state"] = state.pop("_gen").get_state()
        return state

    def __setstate__(self, state: dict) -> None:
        gen_state = state.pop("_gen_state")
        self.__dict__.update(state)
        self._gen = torch.Generator()
        self._gen.set_state(gen_state)

    def extra_repr(self) -> str:
        opts = [f"rule={self.rule!r}", f"activation={self.activation!r}"]
        if self.sparsity:
            opts.append(f"sparsity={self.sparsity}")
        if self.error_bits is not None:
            opts.append(f"error_bits={self.error_bits}")
        if not self.derivative:
            opts.append("derivative=False")
        return ", ".join(opts)

    def config(self) -> dict:
        """The constructor arguments (JSON-friendly), to rebuild this network from a checkpoint."""
        return dict(sizes=list(self.sizes), rule=self.rule, activation=self.activation,
                    sparsity=self.sparsity, error_bits=self.error_bits, derivative=self.derivative,
                    seed=self.seed)
