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
``nonlinear``         ``T_h = f'(S_h) ⊙ g(B_h T_{h+1})``: the channel neurons are non-linear too (g =
                      ``channel_activation``, sign-preserving)
``kp``                Kolen–Pollack (Akrout et al. 2019): ``arbp`` whose W and B both decay,
                      ``ΔW = -η T Oᵀ - λW``, ``ΔB = -η O Tᵀ - λB``; the decay λ is the training
                      loop's ``weight_decay`` (default 1e-4 per step for ``kp``), so B - Wᵀ shrinks
                      by (1 - λ) every step
``dkp``               direct KP (Webster et al. 2020): ``asrbp`` + the same decay
``usf``               uniform sign-concordant (Liao, Leibo & Poggio 2016): ``B_h = c · sign(W_{h+1}ᵀ)``,
                      ``c = sqrt(2 / (fan_in + fan_out))``; ``frsf`` = ``sign``, ``brsf`` = ``sign-resampled``
``drtp``              direct random target projection (Frenkel et al. 2021): ``T_h = f'(S_h) ⊙ B_h (-y*)``
                      — the one-hot target replaces the error (the top layer still uses its error)
``wm``                weight mirror (Akrout et al. 2019): ``rbp`` plus, before every step, a mirror
                      phase: white noise ``ξ`` (batch × n_h, unit variance) drives layer h+1 and
                      ``ΔB_h = η_m (ξᵀ (ξ W_{h+1}ᵀ) / n - B_h)``, so ``E[ΔB_h] = η_m (W_{h+1}ᵀ - B_h)``
====================  ==========================================================================

Options that act on the channel: ``derivative=False`` drops ``f'(S_h)``; ``error_bits=k``
quantises every signal *sent down the channel* (the top layer's own update uses its exact
error), one example at a time, with ``error_quant``:

* ``"stochastic"`` (default): the ``2**k`` levels ``lo + j·Δ``, ``Δ = (hi - lo) / (2**k - 1)``,
  spanning the example's own range ``[lo, hi] = [min t, max t]``, with stochastic rounding
  ``q = lo + Δ·⌊(t - lo)/Δ + u⌋``, ``u ~ U[0, 1)``: unbiased, ``E[q(t)] = t``, with per-entry
  variance ``(lo + (j+1)Δ - t)(t - lo - jΔ) ≤ Δ²/4``; at 1 bit the levels are ``lo`` and ``hi`` and the
  variance ``(hi - t)(t - lo)`` — never more than the symmetric scale's ``α² - t²``;
* ``"stochastic-maxabs"``: the same rounding on the symmetric levels ``-α + j·Δ``,
  ``Δ = 2α / (2**k - 1)``, α = the example's largest magnitude (also unbiased, but at 1 bit every
  small entry becomes ±α: a softmax error ``[p - 1, p_2, …]`` spends half its range where it has
  no entries, which makes the channel much noisier);
* ``"midrise"``: the symmetric levels, rounded to the nearest (biased; no zero level, so 1 bit is
  ``α·sign(t)``);
* ``"midtread"``: ``2**k - 1`` symmetric levels ``j·α/m``, ``m = 2**(k-1) - 1``, zero included,
  rounded to the nearest (needs k ≥ 2).

``feedback_mix=μ`` interpolates the channel ``B_μ = (1 - μ) B + μ Wᵀ`` (Wᵀ read live as W
learns): μ = 0 is the rule itself, μ = 1 is BP. ``sparsity=s`` zeroes feedback entries, the mask
stays fixed (also for adaptive and resampled rules): ``sparsity_mode="entries"`` zeroes exactly
``round(s · size)`` entries of every matrix anywhere (rows can end up empty: units that never
learn); ``"per_neuron"`` keeps ``k = max(1, round((1 - s) · n_cols))`` connections in every row
(each receiving unit hears k channel lines). ``sparsity_rescale=True`` multiplies B by 1/(1 - s).
Backward signals are per example (O(1) values); weight gradients average them over the batch, so
``bp`` reproduces autograd's gradient of the mean cross-entropy exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import check_bool, check_choice, check_float, check_instance, check_int, check_tensor

__all__ = [
    "FeedbackMLP",
    "RULES",
    "ACTIVATIONS",
    "CHANNEL_ACTIVATIONS",
    "QUANT_MODES",
    "SPARSITY_MODES",
    "quantize",
    "canonical_rule",
    "default_decay",
    "parameter_count",
    "MAX_PARAMETERS",
]

RULES = (
    "bp",
    "rbp",
    "srbp",
    "arbp",
    "asrbp",
    "sign",
    "sign-resampled",
    "rbp-resampled",
    "top",
    "nonlinear",
    "kp",
    "dkp",
    "usf",
    "drtp",
    "wm",
)
ALIASES = {
    "fa": "rbp",
    "dfa": "srbp",
    "sign-concordant": "sign",
    "top-only": "top",
    "frsf": "sign",
    "brsf": "sign-resampled",
    "kolen-pollack": "kp",
    "weight-mirror": "wm",
}
SKIP_RULES = ("srbp", "asrbp", "dkp", "drtp")
ADAPTIVE_RULES = ("arbp", "asrbp", "kp", "dkp")
SIGN_RULES = ("sign", "sign-resampled", "usf")
NO_FEEDBACK_RULES = ("bp", "top")
# rules whose definition includes weight decay (per step). Scan on MNIST-1D (3×100 tanh, Adam 1e-3, batch 32,
# 10 epochs = 1000 steps, seeds 0-2; BP 0.565 ± 0.010): KP test accuracy for λ = 0 / 1e-5 / 3e-5 / 1e-4 /
# 3e-4 /
# 1e-3 / 3e-3 was 0.542 / 0.540 / 0.543 / 0.533 / 0.502 / 0.444 / 0.267, mean angle(B, Wᵀ) of layer 1 51° /
# … /
# 49° / 46° / 33° / 8°. The decay shrinks W as fast as it shrinks B - Wᵀ, so a decay that aligns B within one
# short run costs 0.1–0.3 accuracy; 1e-4 is the largest that costs < 0.01 (time constant 1/λ = 10⁴ steps).
# DKP alike (0.522 / … / 0.516 at 1e-4 / 0.309 at 3e-3).
DECAY_RULES = {"kp": 1e-4, "dkp": 1e-4}
ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
CHANNEL_ACTIVATIONS = ("tanh", "softsign")
QUANT_MODES = ("stochastic", "midtread", "midrise", "stochastic-maxabs")
SPARSITY_MODES = ("entries", "per_neuron")
MAX_PARAMETERS = 50_000_000  # ~200 MB of float32: far beyond a teaching net, refused before allocating


def default_decay(rule: str) -> float:
    """The per-step weight decay a rule's definition includes (1e-4 for ``kp``/``dkp``, else 0)."""
    return DECAY_RULES.get(canonical_rule(rule), 0.0)


def parameter_count(sizes: Sequence[int], rule: str = "bp") -> int:
    """Number of weights, biases and feedback entries of ``FeedbackMLP(sizes, rule)`` (no allocation)."""
    rule = canonical_rule(rule)
    sizes = [int(n) for n in sizes]
    n = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if rule not in NO_FEEDBACK_RULES:
        cols = [sizes[-1]] * (len(sizes) - 2) if rule in SKIP_RULES else sizes[2:]
        n += sum(r * c for r, c in zip(sizes[1:-1], cols))
    return n


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


def _channel_act(name: str, m: torch.Tensor) -> torch.Tensor:
    # odd, sign-preserving squashing: a non-linear channel neuron may saturate but must not
    # flip or drop the sign of the error it carries
    return torch.tanh(m) if name == "tanh" else F.softsign(m)


def _dact(name: str, s: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
    """f'(S) written with the already computed output O = f(S) where that is cheaper."""
    if name == "tanh":
        return 1.0 - o * o
    if name == "relu":
        return (s > 0).to(s.dtype)
    if name == "sigmoid":
        return o * (1.0 - o)
    return torch.ones_like(s)


def quantize(
    t: torch.Tensor, bits: int | None, mode: str = "stochastic", *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Quantise ``t`` to ``bits`` bits per entry, one row (last axis) at a time.

    ``mode`` (see the module docstring): ``"stochastic"`` — levels ``lo + jΔ`` spanning the row's
    range ``[lo, hi]``, ``Δ = (hi - lo)/(2**bits - 1)``, ``q = lo + Δ⌊(t - lo)/Δ + u⌋`` with
    ``u ~ U[0, 1)``, so ``E[q] = t`` (unbiased) and ``|q - t| < Δ``; ``"stochastic-maxabs"`` — the
    same rounding on the symmetric levels ``-α + jΔ``, α = max |t|, ``Δ = 2α/(2**bits - 1)``;
    ``"midrise"`` — the symmetric levels, nearest rounding (``|q - t| ≤ Δ/2``, biased; 1 bit = α·sign);
    ``"midtread"`` — levels ``jα/m``, ``m = 2**(bits-1) - 1``, ``j = -m…m`` (zero included; bits ≥ 2).
    ``bits=None`` returns ``t`` unchanged. ``generator`` drives the stochastic rounding.
    """
    # NaN/inf pass through (quantising them gives NaN, never hides them); rows need a last axis
    t = check_tensor("t", t, finite=False)
    if t.ndim == 0:
        raise ValueError(
            "t must have at least one dimension (quantised row by row along its last axis), got a scalar"
        )
    if bits is None:
        return t
    bits = check_int("bits", bits, low=1, high=24)
    mode = check_choice("mode", mode, QUANT_MODES)
    if generator is not None:
        check_instance("generator", generator, torch.Generator)
    if mode == "midtread" and bits < 2:
        raise ValueError(
            "bits must be >= 2 for mode='midtread': one bit cannot hold both signs and a zero "
            "level; use 'stochastic' or 'midrise' for 1 bit"
        )
    if mode == "stochastic":  # the row's own range: the smallest grid that still holds every entry
        lo, hi = t.amin(dim=-1, keepdim=True), t.amax(dim=-1, keepdim=True)
        return _stochastic_round(t, lo, (hi - lo) / (2**bits - 1), bits, generator)
    alpha = t.abs().amax(dim=-1, keepdim=True)
    if mode == "stochastic-maxabs":
        return _stochastic_round(t, -alpha, 2 * alpha / (2**bits - 1), bits, generator)
    if mode == "midtread":
        step = alpha / (2 ** (bits - 1) - 1)
        safe = torch.where(step > 0, step, torch.ones_like(step))
        return torch.where(step > 0, torch.round(t / safe) * safe, t)
    step = 2 * alpha / (2**bits - 1)
    safe = torch.where(step > 0, step, torch.ones_like(step))
    level = torch.round((t + alpha) / safe)
    return torch.where(step > 0, level * safe - alpha, t)


def _stochastic_round(
    t: torch.Tensor, lo: torch.Tensor, step: torch.Tensor, bits: int, generator: torch.Generator | None
) -> torch.Tensor:
    """``lo + step·⌊(t - lo)/step + u⌋`` with ``u ~ U[0, 1)``: unbiased rounding onto ``2**bits`` levels."""
    safe = torch.where(step > 0, step, torch.ones_like(step))  # a constant row is sent exactly
    noise = torch.rand(t.shape, generator=generator, dtype=t.dtype, device=t.device)
    # clamp: float rounding may push the top entry a hair past the top level
    level = torch.clamp(torch.floor((t - lo) / safe + noise), max=2**bits - 1)
    return torch.where(step > 0, lo + level * safe, t)


def sparse_mask(
    shape: tuple[int, int], sparsity: float, mode: str, generator: torch.Generator
) -> torch.Tensor:
    """Boolean ``(rows, cols)`` mask of the kept feedback entries; a row is one receiving unit.

    ``"entries"`` drops exactly ``round(sparsity · rows · cols)`` entries anywhere (a row may end up
    empty); ``"per_neuron"`` keeps ``k = max(1, round((1 - sparsity) · cols))`` entries in every row.
    """
    rows, cols = shape
    if mode == "per_neuron":
        keep = max(1, round((1 - sparsity) * cols))  # never an all-zero row
        order = torch.rand(rows, cols, generator=generator).argsort(dim=1)
        return order < keep
    n = rows * cols
    mask = torch.ones(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=generator)[: round(sparsity * n)]] = False
    return mask.reshape(shape)


class FeedbackMLP(nn.Module):
    """A multilayer perceptron trained by one of :data:`RULES` (see the module docstring).

    Parameters
    ----------
    sizes : layer widths ``[n_in, n_hidden..., n_out]`` (at least two numbers).
    rule : learning rule; aliases ``fa`` (= rbp), ``dfa`` (= srbp), ``sign-concordant`` (= sign).
    activation : hidden non-linearity f, one of :data:`ACTIVATIONS`; the output layer is linear.
    sparsity : fraction of zeros in every feedback matrix, in [0, 1) (random-feedback rules only).
    sparsity_mode : ``"entries"`` (zeros anywhere) or ``"per_neuron"`` (k connections per row).
    sparsity_rescale : multiply the sparse feedback by 1 / (1 - sparsity).
    error_bits : quantise the backward signals to ``error_bits`` bits (None = float).
    error_quant : ``"stochastic"`` (unbiased, the example's own range; default), ``"stochastic-maxabs"``
        (unbiased, symmetric levels), ``"midtread"`` or ``"midrise"``.
    derivative : multiply by the local derivative f'(S_h) (False drops it).
    channel_activation : g of the ``nonlinear`` rule's channel neurons (``tanh`` or ``softsign``).
    feedback_mix : μ in [0, 1]; the channel uses ``(1 - μ) B + μ Wᵀ`` (RBP-shaped rules only).
    mirror_rate : η_m of the ``wm`` rule's mirror phase.
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
        sparsity_mode: str = "entries",
        sparsity_rescale: bool = False,
        error_bits: int | None = None,
        error_quant: str = "stochastic",
        derivative: bool = True,
        channel_activation: str = "tanh",
        feedback_mix: float = 0.0,
        mirror_rate: float = 0.05,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence):
            raise TypeError(f"sizes must be a list of layer widths like [64, 100, 10], got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer widths (input and output), got {list(sizes)}")
        self.sizes = [check_int(f"sizes[{i}]", n, low=1, high=100_000) for i, n in enumerate(sizes)]
        self.rule = canonical_rule(rule)
        n_params = parameter_count(self.sizes, self.rule)
        if n_params > MAX_PARAMETERS:
            raise ValueError(
                f"sizes {self.sizes} need {n_params:,} parameters, more than the budget of "
                f"{MAX_PARAMETERS:,} (MAX_PARAMETERS); use narrower layers"
            )
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.sparsity = check_float("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
        if self.sparsity > 0 and self.rule in NO_FEEDBACK_RULES:
            raise ValueError(
                f"sparsity must be 0 for rule {self.rule!r} (it has no feedback matrices); "
                f"use a random-feedback rule such as 'rbp' or 'srbp'"
            )
        self.sparsity_mode = check_choice("sparsity_mode", sparsity_mode, SPARSITY_MODES)
        self.sparsity_rescale = check_bool("sparsity_rescale", sparsity_rescale)
        self.error_bits = None if error_bits is None else check_int("error_bits", error_bits, low=1, high=24)
        self.error_quant = check_choice("error_quant", error_quant, QUANT_MODES)
        if self.error_quant == "midtread" and self.error_bits == 1:
            raise ValueError(
                "error_bits must be >= 2 with error_quant='midtread' (one bit cannot hold both "
                "signs and a zero level); use error_quant='stochastic' for 1 bit"
            )
        self.derivative = check_bool("derivative", derivative)
        if isinstance(channel_activation, str) and channel_activation in ("relu", "sigmoid"):
            raise ValueError(
                f"channel_activation={channel_activation!r} is refused: it is never negative, so "
                f"g(B·δ) ≥ 0 throws away the sign of the error and the hidden layers cannot learn "
                f"(the net stalls at chance); use a sign-preserving one: {', '.join(CHANNEL_ACTIVATIONS)}"
            )
        self.channel_activation = check_choice("channel_activation", channel_activation, CHANNEL_ACTIVATIONS)
        self.feedback_mix = check_float("feedback_mix", feedback_mix, low=0.0, high=1.0)
        if self.feedback_mix > 0 and (self.rule in NO_FEEDBACK_RULES or self.rule in SKIP_RULES):
            raise ValueError(
                f"feedback_mix must be 0 for rule {self.rule!r}: it mixes B with Wᵀ and needs a "
                f"feedback matrix of Wᵀ's shape (rules such as 'rbp', 'arbp', 'sign')"
            )
        self.mirror_rate = check_float("mirror_rate", mirror_rate, low=0.0, high=1.0, low_open=True)
        self.seed = None if seed is None else check_int("seed", seed, low=0, high=2**63 - 1)
        self._gen = torch.Generator()
        self._gen.manual_seed(self.seed if self.seed is not None else int(torch.randint(0, 2**62, ()).item()))
        # a separate stream for quantisation noise, so diagnostics can rewind it without
        # disturbing the feedback draws
        self._qgen = torch.Generator()
        qseed = (
            (self.seed + 0x9E3779B9) % 2**63 if self.seed is not None else int(torch.randint(0, 2**62, ()))
        )
        self._qgen.manual_seed(qseed)

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
                self.register_buffer(f"feedback_mask_{i}", self._sparse_mask(shape))
            b = self._random_feedback(i)
            if self.rule in SIGN_RULES and self.rule != "usf":
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

    def _sparse_mask(self, shape: tuple[int, int]) -> torch.Tensor:
        """Boolean mask of the kept feedback entries (see ``sparsity_mode``)."""
        return sparse_mask(shape, self.sparsity, self.sparsity_mode, self._gen)

    def _apply_mask(self, i: int, b: torch.Tensor, *, rescale: bool = True) -> torch.Tensor:
        mask = getattr(self, f"feedback_mask_{i}", None)
        if mask is None:
            return b
        scale = 1.0 / (1.0 - self.sparsity) if (rescale and self.sparsity_rescale) else 1.0
        return b * mask * scale

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
            w = self.layers[i + 1].weight
            if self.rule == "usf":  # uniform magnitude, Glorot's scale for this layer
                magnitude = math.sqrt(2.0 / (w.shape[0] + w.shape[1]))
            else:
                magnitude = getattr(self, f"magnitude_{i}")
            b.copy_(self._apply_mask(i, magnitude * torch.sign(w.T)))

    @torch.no_grad()
    def resample_feedback(self) -> None:
        """Draw fresh random feedback (magnitudes for the sign rules); done every batch by the
        ``*-resampled`` rules, available for any rule with feedback matrices."""
        for i, b in enumerate(self.feedback):
            fresh = self._random_feedback(i).to(b)
            if self.rule == "usf":
                continue
            if self.rule in SIGN_RULES:
                getattr(self, f"magnitude_{i}").copy_(fresh.abs())
            else:
                b.copy_(self._apply_mask(i, fresh))
        if self.rule in SIGN_RULES:
            self._refresh_sign()

    # -- forward ---------------------------------------------------------------------------------
    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"x must be a torch.Tensor of shape (batch, {self.sizes[0]}), got {type(x).__name__}"
            )
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
            raise ValueError(
                f"y must hold class indices in [0, {self.sizes[-1] - 1}], got range "
                f"[{int(y.min())}, {int(y.max())}]"
            )
        return y.long()

    # -- the learning channel -------------------------------------------------------------------
    def _send(self, t: torch.Tensor) -> torch.Tensor:
        """What a signal becomes on its way down the channel (quantised if ``error_bits``)."""
        return quantize(t, self.error_bits, self.error_quant, generator=self._qgen)

    def _channel(self, l: int) -> torch.Tensor:
        """The matrix carrying the signal down to hidden layer l: B, Wᵀ, or their μ-mix."""
        w_t = self.layers[l + 1].weight.T
        if self.rule == "bp":
            return w_t
        b = self.feedback[l]
        mu = self.feedback_mix
        return b if mu == 0 else (1 - mu) * b + mu * w_t

    @torch.no_grad()
    def mirror_step(self, n: int = 32) -> None:
        """One weight-mirror phase (rule ``wm``): noise ξ drives each layer, B learns ξᵀ(ξ Wᵀ)/n.

        With unit-variance noise ``E[ξᵀ ξ] / n = I``, so ``B ← B + η_m (ξᵀ ξ Wᵀ / n - B)`` relaxes B
        towards Wᵀ using only signals local to the feedback synapse (its two ends' activities).
        """
        for i, b in enumerate(self.feedback):
            w = self.layers[i + 1].weight
            xi = torch.randn(n, w.shape[1], generator=self._gen, dtype=w.dtype)
            b.add_(self._apply_mask(i, xi.T @ (xi @ w.T) / n - b, rescale=False), alpha=self.mirror_rate)

    @torch.no_grad()
    def updates(self, x: torch.Tensor, y: torch.Tensor, *, step: bool = True):
        """Compute the rule's updates without touching ``.grad``.

        Returns ``(loss, weight_grads, bias_grads, feedback_grads)`` (lists; feedback grads only
        for adaptive rules). ``step=False`` (diagnostics) skips per-batch resampling and the
        mirror phase and leaves the quantisation noise stream where it was.
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
        if step and self.rule == "wm":
            self.mirror_step(n)
        qstate = None if step else self._qgen.get_state()

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
        if self.rule == "drtp":  # the target, not the error, is projected down (sign of e for a fresh net)
            err_down = -F.one_hot(y, self.sizes[-1]).to(err.dtype)
        else:
            err_down = err
        top_sent = sent = self._send(err_down)  # what travels down the channel
        if self.rule != "top":
            for l in range(L - 2, -1, -1):
                above = top_sent if self.rule in SKIP_RULES else sent
                message = above @ self._channel(l).T
                if self.rule == "nonlinear":
                    message = _channel_act(self.channel_activation, message)
                if self.derivative:
                    message = message * _dact(act, pre[l], outs[l + 1])
                deltas[l] = message
                if l > 0 and self.rule not in SKIP_RULES:
                    sent = self._send(message)

        w_grads, b_grads = [], []
        for l, layer in enumerate(self.layers):
            d = deltas[l]
            if d is None:
                w_grads.append(torch.zeros_like(layer.weight))
                b_grads.append(torch.zeros_like(layer.bias))
            else:
                # dᵀ O / n in one BLAS call (alpha = 1/n; beta = 0 ignores the weight): no second pass
                # over a (fan_out, fan_in) matrix to divide it
                w_grads.append(torch.addmm(layer.weight, d.T, outs[l], beta=0, alpha=1.0 / n))
                b_grads.append(d.sum(0) / n)
        fb_grads = []
        if self.rule in ADAPTIVE_RULES:
            for i in range(L - 1):
                # the feedback synapse sees the (possibly quantised) signal it carries
                carried = self._send(deltas[L - 1] if self.rule in SKIP_RULES else deltas[i + 1])
                # forward rule on the feedback synapse: postsynaptic activity O_{i+1} × presynaptic T
                fb_grads.append(self._apply_mask(i, outs[i + 1].T @ carried / n, rescale=False))
        if qstate is not None:
            self._qgen.set_state(qstate)
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
        state["_qgen_state"] = state.pop("_qgen").get_state()
        return state

    def __setstate__(self, state: dict) -> None:
        gen_state, qgen_state = state.pop("_gen_state"), state.pop("_qgen_state", None)
        self.__dict__.update(state)
        self._gen = torch.Generator()
        self._gen.set_state(gen_state)
        self._qgen = torch.Generator()
        if qgen_state is not None:
            self._qgen.set_state(qgen_state)

    def extra_repr(self) -> str:
        opts = [f"rule={self.rule!r}", f"activation={self.activation!r}"]
        defaults = self._defaults()
        for k, v in self.config().items():
            if k in defaults and v != defaults[k]:
                opts.append(f"{k}={v!r}")
        return ", ".join(opts)

    @staticmethod
    def _defaults() -> dict:
        return dict(
            sparsity=0.0,
            sparsity_mode="entries",
            sparsity_rescale=False,
            error_bits=None,
            error_quant="stochastic",
            derivative=True,
            channel_activation="tanh",
            feedback_mix=0.0,
            mirror_rate=0.05,
        )

    def config(self) -> dict:
        """The constructor arguments (JSON-friendly), to rebuild this network from a checkpoint."""
        return dict(
            sizes=list(self.sizes),
            rule=self.rule,
            activation=self.activation,
            sparsity=self.sparsity,
            sparsity_mode=self.sparsity_mode,
            sparsity_rescale=self.sparsity_rescale,
            error_bits=self.error_bits,
            error_quant=self.error_quant,
            derivative=self.derivative,
            channel_activation=self.channel_activation,
            feedback_mix=self.feedback_mix,
            mirror_rate=self.mirror_rate,
            seed=self.seed,
        )
