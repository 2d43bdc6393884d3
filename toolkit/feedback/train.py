"""Plain PyTorch training loops for FeedbackMLP (no Lightning needed): one net, or several rules
side by side in lock-step on the same mini-batches, streaming accuracy and angles as rows."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch

from ..cliopts import torch_threads as _torch_threads
from ..validation import check_bool, check_choice, check_float, check_instance, check_int, check_tensor
from .angles import feedback_angles, gradient_angles
from .data import Split, check_labels
from .engine import (
    ACTIVATIONS,
    ALIASES,
    CHANNEL_ACTIVATIONS,
    NO_FEEDBACK_RULES,
    QUANT_MODES,
    RULES,
    SKIP_RULES,
    SPARSITY_MODES,
    FeedbackMLP,
    canonical_rule,
    default_decay,
)

__all__ = [
    "TrainConfig",
    "accuracy",
    "make_optimizer",
    "fit",
    "compare_rules",
    "symmetry_run",
    "torch_threads",
    "apply_weight_decay",
    "PAPER_MODE",
]

# "Paper mode": plain SGD as in Baldi, Sadowski & Lu's simulations (no momentum, no Adam).
PAPER_MODE = {"optimizer": "sgd", "lr": 0.1}


@dataclass
class TrainConfig:
    """Training settings shared by the loops, the LightningModule and the CLI.

    ``weight_decay`` λ: after every optimiser step each weight matrix *and* each feedback matrix
    is multiplied by (1 - λ) (Kolen–Pollack's decay, independent of the optimiser, so B - Wᵀ
    shrinks by exactly (1 - λ) per step under ``kp``; biases are not decayed). ``None`` uses each
    rule's own default (1e-4 for ``kp``/``dkp``, 0 otherwise). ``feedback_mix`` is applied to the
    rules whose feedback has Wᵀ's shape and ignored by the others.
    """

    hidden: Sequence[int] = field(default_factory=lambda: [100, 100])
    activation: str = "tanh"
    sparsity: float = 0.0
    error_bits: int | None = None
    derivative: bool = True
    epochs: int = 10
    lr: float = 1e-3
    batch_size: int = 32
    optimizer: str = "adam"
    seed: int = 0
    error_quant: str = "stochastic"
    sparsity_mode: str = "entries"
    sparsity_rescale: bool = False
    channel_activation: str = "tanh"
    feedback_mix: float = 0.0
    weight_decay: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.hidden, (str, bytes)) or not isinstance(self.hidden, Sequence):
            raise TypeError(
                f"hidden must be a list of hidden-layer widths like [100, 100], got {self.hidden!r}"
            )
        self.hidden = [check_int(f"hidden[{i}]", h, low=1, high=100_000) for i, h in enumerate(self.hidden)]
        self.epochs = check_int("epochs", self.epochs, low=1, high=100_000)
        self.lr = check_float("lr", self.lr, low=0.0, high=10.0, low_open=True)
        self.batch_size = check_int("batch_size", self.batch_size, low=1, high=1_000_000)
        self.optimizer = check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        self.seed = check_int("seed", self.seed, low=0)
        self.activation = check_choice("activation", self.activation, ACTIVATIONS)
        self.sparsity = check_float("sparsity", self.sparsity, low=0.0, high=1.0, high_open=True)
        if self.error_bits is not None:
            self.error_bits = check_int("error_bits", self.error_bits, low=1, high=24)
        self.derivative = check_bool("derivative", self.derivative)
        self.error_quant = check_choice("error_quant", self.error_quant, QUANT_MODES)
        self.sparsity_mode = check_choice("sparsity_mode", self.sparsity_mode, SPARSITY_MODES)
        self.sparsity_rescale = check_bool("sparsity_rescale", self.sparsity_rescale)
        self.channel_activation = check_choice(
            "channel_activation", self.channel_activation, CHANNEL_ACTIVATIONS
        )
        self.feedback_mix = check_float("feedback_mix", self.feedback_mix, low=0.0, high=1.0)
        if self.weight_decay is not None:
            self.weight_decay = check_float(
                "weight_decay", self.weight_decay, low=0.0, high=1.0, high_open=True
            )

    def decay_for(self, rule: str) -> float:
        """The per-step weight decay used for ``rule`` (``weight_decay``, or the rule's default)."""
        return default_decay(rule) if self.weight_decay is None else self.weight_decay

    def build(self, rule: str, n_in: int, n_out: int) -> FeedbackMLP:
        """A FeedbackMLP for ``rule`` (channel options are ignored by rules without feedback matrices)."""
        rule = canonical_rule(rule)
        plain = rule in NO_FEEDBACK_RULES
        return FeedbackMLP(
            [n_in, *self.hidden, n_out],
            rule,
            self.activation,
            sparsity=0.0 if plain else self.sparsity,
            sparsity_mode=self.sparsity_mode,
            sparsity_rescale=self.sparsity_rescale,
            error_bits=self.error_bits,
            error_quant=self.error_quant,
            derivative=self.derivative,
            channel_activation=self.channel_activation,
            feedback_mix=0.0 if plain or rule in SKIP_RULES else self.feedback_mix,
            seed=self.seed,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified examples (``net(x)`` gives logits; ``y`` holds class indices)."""
    check_instance("net", net, torch.nn.Module, "a torch.nn.Module returning logits")
    x = check_tensor("x", x, min_size=0)  # NaN inputs refused: their argmax would be a silent guess
    if x.ndim == 0:
        raise ValueError("x must have a batch dimension, got a 0-d tensor")
    y = check_labels("y", y, len(x))
    if len(y) == 0:
        raise ValueError("x must hold at least one example (the accuracy of nothing is undefined)")
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def make_optimizer(net: torch.nn.Module, name: str, lr: float) -> torch.optim.Optimizer:
    """Adam or plain SGD over all parameters (adaptive feedback matrices included)."""
    check_choice("optimizer", name, ("adam", "sgd"))
    params = list(net.parameters())
    return torch.optim.Adam(params, lr=lr) if name == "adam" else torch.optim.SGD(params, lr=lr)


@torch.no_grad()
def apply_weight_decay(net: FeedbackMLP, decay: float) -> None:
    """``W ← (1 - λ) W`` and ``B ← (1 - λ) B`` for every layer and feedback matrix (not biases).

    Kolen–Pollack's decay term, applied after the optimiser step: if the optimiser moved B and Wᵀ
    by the same amount, ``B - Wᵀ`` is multiplied by exactly (1 - λ).
    """
    decay = check_float("decay", decay, low=0.0, high=1.0, high_open=True)
    if decay == 0:
        return
    for layer in net.layers:
        layer.weight.mul_(1.0 - decay)
    for b in net.feedback:
        b.mul_(1.0 - decay)


def torch_threads(n: int | None) -> contextlib.AbstractContextManager[None]:
    """Temporarily use ``n`` intra-op threads (None: leave torch's setting alone); the shared
    :func:`toolkit.cliopts.torch_threads` with this module's ``threads`` check.

    These networks are tiny: on a shared 2-core machine one thread is often 10× faster than two
    fighting over busy cores.
    """
    return _torch_threads(0 if n is None else check_int("threads", n, low=1, high=1024))


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        yield perm[i : i + batch_size]


def fit(
    net: FeedbackMLP,
    split: Split,
    config: TrainConfig | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Train ``net`` on ``split``; returns one dict per epoch (loss, test accuracy, angles)."""
    check_instance("net", net, FeedbackMLP)
    return compare_rules({net.rule: net}, split, config, on_epoch=on_epoch)


DEFAULT_HIDDEN = (100, 100, 100)


def compare_rules(
    rules: Sequence[str] | dict[str, FeedbackMLP],
    split: Split | None = None,
    config: TrainConfig | None = None,
    *,
    live=None,
    on_epoch: Callable[[dict], None] | None = None,
    evals_per_epoch: int = 1,
    angle_examples: int = 512,
    threads: int | None = 1,
) -> list[dict]:
    """Train one network per rule on the *same* mini-batches, side by side.

    ``rules`` is a list of rule names (nets built from ``config`` with the same seed, hence the
    same initial forward weights) or a ``{label: net}`` dict. Defaults: ``split`` = MNIST-1D (our
    generator, seed 0 — a task on which the rules differ; digits is too easy to tell them apart)
    and ``config`` = ``TrainConfig(hidden=[100, 100, 100])``. After each evaluation point a row
    ``{"epoch", "rule", "loss", "train_acc", "test_acc", "angles": [...]}`` is recorded, and
    long-form rows ``{"epoch", "rule", "metric", "value"}`` are pushed to ``live`` (a LiveChart).
    ``threads``: torch threads while training (see :func:`torch_threads`; None = unchanged).
    """
    with torch_threads(threads):
        return _compare_rules(
            rules,
            split,
            config,
            live=live,
            on_epoch=on_epoch,
            evals_per_epoch=evals_per_epoch,
            angle_examples=angle_examples,
        )


def _check_rules(rules) -> None:
    """A non-empty list of rule names or a ``{label: FeedbackMLP}`` dict."""
    if isinstance(rules, dict):
        if not rules or not all(isinstance(k, str) and isinstance(v, FeedbackMLP) for k, v in rules.items()):
            raise TypeError(
                "rules must be a non-empty list of rule names or a non-empty {label: FeedbackMLP} dict"
            )
        return
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence) or len(rules) == 0:
        raise TypeError(f"rules must be a non-empty list of rule names, got {rules!r}")
    known = RULES + tuple(ALIASES)
    for r in rules:
        if not isinstance(r, str) or r.lower() not in known:
            raise ValueError(f"rules must list rule names from {', '.join(RULES)}, got {r!r}")


def _compare_rules(rules, split, config, *, live, on_epoch, evals_per_epoch, angle_examples) -> list[dict]:
    _check_rules(rules)
    if split is not None:
        check_instance("split", split, Split)
    if config is not None:
        check_instance("config", config, TrainConfig)
    if on_epoch is not None and not callable(on_epoch):
        raise TypeError(f"on_epoch must be None or a callable taking one row, got {type(on_epoch).__name__}")
    if live is not None and not callable(getattr(live, "push", None)):
        raise TypeError(
            f"live must be None or a LiveChart (an object with push and flush), got {type(live).__name__}"
        )
    evals_per_epoch = check_int("evals_per_epoch", evals_per_epoch, low=1, high=1000)
    angle_examples = check_int("angle_examples", angle_examples, low=1, high=1_000_000)
    if split is None:
        from .data import load_dataset

        split = load_dataset("mnist1d", random_state=0)
    config = config or TrainConfig(hidden=list(DEFAULT_HIDDEN))
    if isinstance(rules, dict):
        nets = dict(rules)
    else:
        nets = {r: config.build(r, split.n_features, split.n_classes) for r in rules}
    opts = {k: make_optimizer(n, config.optimizer, config.lr) for k, n in nets.items()}
    decays = {k: config.decay_for(n.rule) for k, n in nets.items()}
    gen = torch.Generator().manual_seed(config.seed)
    n = len(split.y_train)
    probe = torch.randperm(n, generator=torch.Generator().manual_seed(config.seed + 1))[:angle_examples]
    xa, ya = split.x_train[probe], split.y_train[probe]
    n_batches = math.ceil(n / config.batch_size)
    marks = {round((k + 1) * n_batches / evals_per_epoch) - 1 for k in range(evals_per_epoch)}
    history: list[dict] = []
    losses = {k: 0.0 for k in nets}

    def evaluate(epoch: float) -> None:
        rows = []
        for key, net in nets.items():
            row = {
                "epoch": round(epoch, 4),
                "rule": key,
                "loss": losses[key],
                "train_acc": accuracy(net, xa, ya),
                "test_acc": accuracy(net, split.x_test, split.y_test),
                "angles": gradient_angles(net, xa, ya),
            }
            history.append(row)
            rows.append(
                {"epoch": row["epoch"], "rule": key, "metric": "test accuracy", "value": row["test_acc"]}
            )
            for layer, a in enumerate(row["angles"][:-1]):  # top layer: 0° for every rule
                rows.append(
                    {"epoch": row["epoch"], "rule": key, "metric": f"angle layer {layer + 1}", "value": a}
                )
            if on_epoch is not None:
                on_epoch(row)
        if live is not None:
            live.push(rows)

    evaluate(0.0)
    for epoch in range(config.epochs):
        for b, idx in enumerate(_batches(n, config.batch_size, gen)):
            x, y = split.x_train[idx], split.y_train[idx]
            for key, net in nets.items():
                opts[key].zero_grad()
                losses[key] = float(net.compute_gradients(x, y))
                opts[key].step()
                apply_weight_decay(net, decays[key])
            if b in marks:
                evaluate(epoch + (b + 1) / n_batches)
    if live is not None:
        live.flush()
    return history


def _scale_weights(net, factor: float) -> None:
    """Multiply every forward weight, bias and feedback matrix by ``factor``, each tensor once (an adaptive
    rule's feedback B is also one of the net's parameters: scaling both lists would scale it twice)."""
    with torch.no_grad():
        for p in {id(t): t for t in [*net.parameters(), *net.feedback]}.values():
            p.mul_(factor)


def symmetry_run(
    split: Split,
    *,
    init_scale: float = 0.01,
    hidden: Sequence[int] = (50,),
    epochs: int = 5,
    lr: float = 0.05,
    seed: int = 0,
    rule: str = "arbp",
) -> list[dict]:
    """ARBP from a small start: forward weights and feedback both scaled by ``init_scale``.

    With the forward rule on B, ``ΔB_i = ΔW_{i+1}ᵀ`` at every SGD step, so ``B_i − W_{i+1}ᵀ`` never
    changes; started small, it is soon dwarfed by the learned part and B ≈ Wᵀ (Baldi, Sadowski
    & Lu 2017). Returns rows ``{"step", "layer", "angle", "norm_ratio", "test_acc"}``.
    """
    check_instance("split", split, Split)
    init_scale = check_float("init_scale", init_scale, low=0.0, high=10.0, low_open=True)
    rule = canonical_rule(rule)
    cfg = TrainConfig(hidden=hidden, epochs=epochs, lr=lr, optimizer="sgd", seed=seed)
    net = cfg.build(rule, split.n_features, split.n_classes)
    _scale_weights(net, init_scale)
    rows: list[dict] = []
    step = 0

    def record(row: dict) -> None:
        for fb in feedback_angles(net):
            rows.append(
                {
                    "step": step,
                    "epoch": row["epoch"],
                    "layer": fb["layer"],
                    "angle": fb["angle"],
                    "norm_ratio": fb["norm_ratio"],
                    "test_acc": row["test_acc"],
                }
            )

    def on_epoch(row: dict) -> None:
        nonlocal step
        step += 1
        record(row)

    compare_rules({rule: net}, split, cfg, on_epoch=on_epoch, evals_per_epoch=4)
    return rows
