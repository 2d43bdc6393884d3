"""Small measured studies behind the notebook's claims (each returns plain numbers to assert on).

Every study names its optimiser and settings in its docstring; the notebook prints them next to
the numbers. They are thin wrappers of :func:`compare_rules` so the same code can be re-run by
``benchmarks/bench_feedback.py`` over several seeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..validation import check_choice
from .angles import feedback_angles
from .data import Split
from .engine import QUANT_MODES, FeedbackMLP
from .train import TrainConfig, compare_rules

__all__ = [
    "final_accuracy",
    "logistic_baseline",
    "bits_study",
    "sparsity_study",
    "optimizer_study",
    "kp_run",
    "tourbillon_score",
    "tourbillon_table",
]


def final_accuracy(history: list[dict]) -> dict[str, float]:
    """``{label: test accuracy}`` at the last evaluation of a :func:`compare_rules` history."""
    last = history[-1]["epoch"]
    return {r["rule"]: r["test_acc"] for r in history if r["epoch"] == last}


def logistic_baseline(split: Split, *, seed: int = 0) -> float:
    """Test accuracy of multinomial logistic regression on the raw features (scikit-learn,
    standardised inputs, C = 1): the no-hidden-layer baseline every rule must beat."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    with threadpool_limits(1):  # a 40-feature problem: BLAS threads only fight (0.1 s vs 10 s under load)
        model.fit(split.x_train.numpy(), split.y_train.numpy())
        return float(model.score(split.x_test.numpy(), split.y_test.numpy()))


def bits_study(
    split: Split,
    *,
    rule: str = "srbp",
    bits: Sequence[int] = (1, 2),
    modes: Sequence[str] = QUANT_MODES,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 4,
    lr: float = 3e-3,
    seed: int = 0,
) -> dict[str, float]:
    """``rule`` with an error channel of ``bits`` bits under each quantiser, plus float and top-only.

    Adam (lr ``lr``), batch 32, tanh. Labels: ``"<mode> <k> bit"``, ``"float"``, ``"top"``
    (midtread is skipped at 1 bit, where it does not exist).
    """
    sizes = [split.n_features, *hidden, split.n_classes]
    nets = {}
    for mode in modes:
        check_choice("modes", mode, QUANT_MODES)
        for k in bits:
            if not (mode == "midtread" and k < 2):
                nets[f"{mode} {k} bit"] = FeedbackMLP(sizes, rule, error_bits=k, error_quant=mode, seed=seed)
    nets["float"] = FeedbackMLP(sizes, rule, seed=seed)
    nets["top"] = FeedbackMLP(sizes, "top", seed=seed)
    cfg = TrainConfig(hidden=list(hidden), epochs=epochs, lr=lr, seed=seed)
    return final_accuracy(compare_rules(nets, split, cfg, angle_examples=64))


def sparsity_study(
    split: Split,
    *,
    rule: str = "srbp",
    sparsity: float = 0.99,
    hidden: Sequence[int] = (100, 100, 100),
    epochs: int = 10,
    lr: float = 1e-3,
    seed: int = 0,
) -> dict[str, dict]:
    """``rule``'s sparse feedback spread per receiving neuron vs anywhere, at equal connection counts (Adam).

    ``per_neuron`` keeps ``max(1, round((1 − sparsity)·cols))`` entries in every row, so it can hold more
    connections than ``sparsity`` asks for (SRBP's 100 × 10 matrices at 0.99: one per row, 90 % zeros);
    ``entries`` then gets as many connections in total (up to rounding), placed anywhere — a fair comparison
    of *how* the zeros are spread, not of how many there are. The count is equal matrix by matrix when all
    feedback matrices have one shape (SRBP, DRTP); for RBP-like rules ``entries`` applies one rate to every
    matrix, so connections move between layers. When that differs from ``sparsity``, ``entries_requested``
    adds ``sparsity`` zeros placed anywhere. Returns ``{label: {"test_acc", "dead_units", "connections",
    "zeros"}}``; ``dead_units`` counts hidden units whose feedback row is all zero (they never learn),
    ``zeros`` the share of zero feedback entries.
    """
    sizes = [split.n_features, *hidden, split.n_classes]
    per_neuron = FeedbackMLP(sizes, rule, sparsity=sparsity, sparsity_mode="per_neuron", seed=seed)
    kept, total = _connections(per_neuron), sum(b.numel() for b in per_neuron.feedback)
    nets = {
        "entries": FeedbackMLP(sizes, rule, sparsity=1 - kept / total, seed=seed),
        "per_neuron": per_neuron,
    }
    if abs((1 - kept / total) - sparsity) > 1e-9:
        nets["entries_requested"] = FeedbackMLP(sizes, rule, sparsity=sparsity, seed=seed)
    acc = final_accuracy(
        compare_rules(
            nets, split, TrainConfig(hidden=list(hidden), epochs=epochs, lr=lr, seed=seed), angle_examples=64
        )
    )
    out = {}
    for k, n in nets.items():
        kept = _connections(n)
        dead = sum(int((m.sum(1) == 0).sum()) for m in n.feedback_masks if m is not None)
        out[k] = {"test_acc": acc[k], "dead_units": dead, "connections": kept, "zeros": 1 - kept / total}
    return out


def _connections(net: FeedbackMLP) -> int:
    """Kept feedback entries (a matrix without a mask keeps all of them)."""
    return sum(b.numel() if m is None else int(m.sum()) for b, m in zip(net.feedback, net.feedback_masks))


def optimizer_study(
    split: Split,
    *,
    rules: Sequence[str] = ("rbp-resampled", "top"),
    hidden: Sequence[int] = (64, 64),
    epochs: int = 4,
    settings: Sequence[tuple[str, float]] = (("adam", 3e-3), ("sgd", 0.1)),
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The same rules under each ``(optimiser, lr)``: ``{"adam lr 0.003": {rule: acc}, ...}``."""
    out = {}
    for name, lr in settings:
        cfg = TrainConfig(hidden=list(hidden), epochs=epochs, lr=lr, optimizer=name, seed=seed)
        out[f"{name} lr {lr:g}"] = final_accuracy(compare_rules(list(rules), split, cfg, angle_examples=64))
    return out


def kp_run(
    split: Split,
    *,
    rule: str = "kp",
    hidden: Sequence[int] = (100, 100),
    epochs: int = 20,
    lr: float = 3e-3,
    optimizer: str = "adam",
    weight_decay: float | None = None,
    seed: int = 0,
) -> list[dict]:
    """Train ``rule`` from the standard init; rows ``{"epoch", "layer", "angle", "test_acc"}`` with
    angle(B, Wᵀ) per feedback matrix after every epoch (``weight_decay=None``: the rule's own)."""
    cfg = TrainConfig(
        hidden=list(hidden), epochs=epochs, lr=lr, optimizer=optimizer, seed=seed, weight_decay=weight_decay
    )
    net = cfg.build(rule, split.n_features, split.n_classes)
    rows: list[dict] = []

    def record(row: dict) -> None:
        for fb in feedback_angles(net):
            rows.append(
                {
                    "epoch": row["epoch"],
                    "layer": fb["layer"],
                    "angle": fb["angle"],
                    "test_acc": row["test_acc"],
                }
            )

    compare_rules({rule: net}, split, cfg, on_epoch=record, angle_examples=64)
    return rows


def tourbillon_score(
    split: Split,
    *,
    hidden: Sequence[int] = (100, 100),
    feedback: str = "none",
    seed: int = 0,
    ae_epochs: int = 10,
    top_epochs: int = 20,
) -> float:
    """Test accuracy of a :class:`~toolkit.feedback.local.TourbillonStack`: recirculation ``ae_epochs``
    per level, then the top layer by SGD (lr 0.1, ``top_epochs``); random feedback (if any) at lr 0.002."""
    from threadpoolctl import threadpool_limits

    from .local import TourbillonStack

    xtr, ytr = split.x_train.numpy().astype(float), split.y_train.numpy()
    with threadpool_limits(1):  # small matrices: BLAS threads only fight
        stack = TourbillonStack(
            [split.n_features, *hidden], split.n_classes, feedback=feedback, random_state=seed
        )
        stack.fit(
            xtr,
            ytr,
            ae_epochs=ae_epochs,
            top_epochs=top_epochs,
            top_lr=0.1,
            feedback_lr=0.002,
            random_state=seed,
        )
        return stack.score(split.x_test.numpy().astype(float), split.y_test.numpy())


def tourbillon_table(
    split: Split,
    *,
    hidden: Sequence[int] = (100, 100),
    seed: int = 0,
    ae_epochs: int = 10,
    top_epochs: int = 20,
    epochs: int = 20,
) -> dict[str, float]:
    """Test accuracy of a Tourbillon stack (with and without random feedback through the stack) next
    to BP and RBP (tanh MLP of the same widths, Adam lr 1e-3, ``epochs``), SRBP, top-only and
    local-only learning (Oja stack + delta-rule top). Tourbillon: recirculation ``ae_epochs`` per
    level, then the top layer by SGD (lr 0.1, ``top_epochs``); random feedback at lr 0.002."""
    from threadpoolctl import threadpool_limits

    from .local import local_learning_report

    out = {}
    for fb in ("none", "random"):
        out[f"tourbillon{'' if fb == 'none' else ' + random feedback'}"] = tourbillon_score(
            split, hidden=hidden, feedback=fb, seed=seed, ae_epochs=ae_epochs, top_epochs=top_epochs
        )
    with threadpool_limits(1):
        out["local only (Oja + delta)"] = local_learning_report(split, hidden=tuple(hidden), seed=seed)[
            "deep_local"
        ]
    cfg = TrainConfig(hidden=list(hidden), epochs=epochs, lr=1e-3, seed=seed)
    out.update(final_accuracy(compare_rules(["bp", "rbp", "srbp", "top"], split, cfg, angle_examples=64)))
    return out
