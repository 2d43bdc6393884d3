"""Plain PyTorch training loops for FeedbackMLP (no Lightning needed): one net, or several rules
side by side in lock-step on the same mini-batches, streaming accuracy and angles as rows."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import torch

from ..validation import check_bool, check_choice, check_float, check_int
from .angles import feedback_angles, gradient_angles
from .data import Split
from .engine import ACTIVATIONS, NO_FEEDBACK_RULES, FeedbackMLP, canonical_rule

__all__ = ["TrainConfig", "accuracy", "make_optimizer", "fit", "compare_rules", "symmetry_run", "torch_threads"]


@dataclass
class TrainConfig:
    """Training settings shared by the loops, the LightningModule and the CLI."""

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

    def __post_init__(self) -> None:
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

    def build(self, rule: str, n_in: int, n_out: int) -> FeedbackMLP:
        """A FeedbackMLP for ``rule`` (sparsity is ignored by rules without feedback matrices)."""
        rule = canonical_rule(rule)
        return FeedbackMLP([n_in, *self.hidden, n_out], rule, self.activation,
                           sparsity=0.0 if rule in NO_FEEDBACK_RULES else self.sparsity,
                           error_bits=self.error_bits, derivative=self.derivative, seed=self.seed)

    def to_dict(self) -> dict:
        return asdict(self)


def accuracy(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of correctly classified examples."""
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def make_optimizer(net: torch.nn.Module, name: str, lr: float) -> torch.optim.Optimizer:
    """Adam or plain SGD over all parameters (adaptive feedback matrices included)."""
    check_choice("optimizer", name, ("adam", "sgd"))
    params = list(net.parameters())
    return torch.optim.Adam(params, lr=lr) if name == "adam" else torch.optim.SGD(params, lr=lr)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily use ``n`` intra-op threads (None: leave torch's setting alone).

    These networks are tiny: on a shared 2-core machine one thread is often 10× faster than two
    fighting over busy cores.
    """
    if n is None:
        yield
        return
    n = check_int("threads", n, low=1, high=1024)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        yield perm[i: i + batch_size]


def fit(net: FeedbackMLP, split: Split, config: TrainConfig | None = None,
        on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train ``net`` on ``split``; returns one dict per epoch (loss, test accuracy, angles)."""
    return compare_rules({net.rule: net}, split, config, on_epoch=on_epoch)


def compare_rules(
    rules: Sequence[str] | dict[str, FeedbackMLP],
    split: Split,
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
    same initial forward weights) or a ``{label: net}`` dict. After each evaluation point a row
    ``{"epoch", "rule", "loss", "train_acc", "test_acc", "angles": [...]}`` is recorded, and
    long-form rows ``{"epoch", "rule", "metric", "value"}`` are pushed to ``live`` (a LiveChart).
    ``threads``: torch threads while training (see :func:`torch_threads`; None = unchanged).
    """
    with torch_threads(threads):
        return _compare_rules(rules, split, config, live=live, on_epoch=on_epoch,
                              evals_per_epoch=evals_per_epoch, angle_examples=angle_examples)


def _compare_rules(rules, split, config, *, live, on_epoch, evals_per_epoch, angle_examples) -> list[dict]:
    config = config or TrainConfig()
    evals_per_epoch = check_int("evals_per_epoch", evals_per_epoch, low=1, high=1000)
    if isinstance(rules, dict):
        nets = dict(rules)
    else:
        if isinstance(rules, str) or len(rules) == 0:
            raise ValueError(f"rules must be a non-empty list of rule names, got {rules!r}")
        nets = {r: config.build(r, split.n_features, split.n_classes) for r in rules}
    opts = {k: make_optimizer(n, config.optimizer, config.lr) for k, n in nets.items()}
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
                "epoch": round(epoch, 4), "rule": key, "loss": losses[key],
                "train_acc": accuracy(net, xa, ya), "test_acc": accuracy(net, split.x_test, split.y_test),
                "angles": gradient_angles(net, xa, ya),
            }
            history.append(row)
            rows.append({"epoch": row["epoch"], "rule": key, "metric": "test accuracy", "value": row["test_acc"]})
            for layer, a in enumerate(row["angles"][:-1]):  # top layer: 0° for every rule
                rows.append({"epoch": row["epoch"], "rule": key, "metric": f"angle layer {layer + 1}", "value": a})
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
            if b in marks:
                evaluate(epoch + (b + 1) / n_batches)
    if live is not None:
        live.flush()
    return history


def symmetry_run(split: Split, *, init_scale: float = 0.01, hidden: Sequence[int] = (50,),
                 epochs: int = 5, lr: float = 0.05, seed: int = 0, rule: str = "arbp") -> list[dict]:
    """ARBP from a small start: forward weights and feedback both scaled by ``init_scale``.

    With the forward rule on B, ``ΔB_i = ΔW_{i+1}ᵀ`` at every SGD step, so ``B_i − W_{i+1}ᵀ`` never
    changes; started small, it is soon dwarfed by the learned part and B ≈ Wᵀ (Baldi, Sadowski
    & Lu 2017). Returns rows ``{"step", "layer", "angle", "norm_ratio", "test_acc"}``.
    """
    init_scale = check_float("init_scale", init_scale, low=0.0, high=10.0, low_open=True)
    cfg = TrainConfig(hidden=list(hidden), epochs=epochs, lr=lr, optimizer="sgd", seed=seed)
    net = cfg.build(rule, split.n_features, split.n_classes)
    with torch.no_grad():
        for p in [*net.parameters(), *net.feedback]:
            p.mul_(init_scale)
    rows: list[dict] = []
    step = 0

    def record(row: dict) -> None:
        for fb in feedback_angles(net):
            rows.append({"step": step, "epoch": row["epoch"], "layer": fb["layer"], "angle": fb["angle"],
                         "norm_ratio": fb["norm_ratio"], "test_acc": row["test_acc"]})

    def on_epoch(row: dict) -> None:
        nonlocal step
        step += 1
        record(row)

    compare_rules({rule: net}, split, cfg, on_epoch=on_epoch, evals_per_epoch=4)
    return rows
