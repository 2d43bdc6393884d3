"""`python -m toolkit train feedback` / `python -m toolkit evaluate feedback`.

Option names match the notebook's training panel, so ``--state`` strings from the panel work.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cliopts import config_option, format_table, torch_threads
from ..io import atomic_write

__all__ = ["ACTIONS"]

KIND = "feedback-mlp"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        choices=["digits", "mnist1d", "mnist"],
        default="mnist1d",
        help="mnist1d (default: separates the rules), digits (quick, every rule ≈ 0.95), mnist",
    )
    p.add_argument("--data-path", default=None, help="folder with the MNIST / Fashion-MNIST IDX files")
    from .train import TrainConfig

    config_option(p, TrainConfig, "seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small nets)")


def _add_train(p: argparse.ArgumentParser) -> None:
    from .engine import RULES
    from .train import TrainConfig

    _add_common(p)
    # no argparse `choices` here: the rules are checked in run() (aliases fa/dfa allowed), which
    # also keeps --state strings with a list of rules working
    p.add_argument(
        "--rules",
        nargs="+",
        default=["bp", "rbp", "srbp"],
        metavar="RULE",
        help=f"rules trained side by side, from: {', '.join(RULES)}",
    )
    p.add_argument("--depth", type=int, default=3, help="number of hidden layers")
    p.add_argument("--width", type=int, default=100, help="units per hidden layer")
    # defaults (and types) of the TrainConfig fields come from TrainConfig itself
    config_option(p, TrainConfig, "activation", choices=["tanh", "relu", "sigmoid", "linear"])
    config_option(
        p,
        TrainConfig,
        "channel_activation",
        choices=["tanh", "softsign"],
        help="channel neurons of the 'nonlinear' rule (sign-preserving; relu/sigmoid would "
        "drop the error's sign and stall the net)",
    )
    config_option(p, TrainConfig, "sparsity", help="fraction of zeros in the feedback matrices")
    config_option(p, TrainConfig, "sparsity_mode", choices=["entries", "per_neuron"])
    p.add_argument("--rescale", action="store_true", help="multiply sparse feedback by 1/(1 - sparsity)")
    p.add_argument("--bits", type=int, default=0, help="error precision in bits (0 = float)")
    config_option(
        p,
        TrainConfig,
        "error_quant",
        flag="--quant",
        dest="quant",
        choices=["stochastic", "midtread", "midrise", "stochastic-maxabs"],
        help="how the error is rounded to --bits (the stochastic modes are unbiased)",
    )
    config_option(p, TrainConfig, "feedback_mix", help="μ: channel (1-μ)B + μWᵀ (RBP-shaped rules)")
    config_option(
        p,
        TrainConfig,
        "weight_decay",
        type=float,
        help="per-step decay of W and B (default: the rule's own, 1e-4 for kp/dkp, else 0)",
    )
    config_option(p, TrainConfig, "optimizer", choices=["adam", "sgd"], help="sgd = the papers' plain SGD")
    config_option(p, TrainConfig, "derivative", help="multiply by f'(S) in the backward signal")
    config_option(p, TrainConfig, "lr")
    config_option(p, TrainConfig, "epochs")
    config_option(p, TrainConfig, "batch_size")
    p.add_argument("--lightning", action="store_true", help="train through the LightningModule")
    p.add_argument("--out", type=Path, default=None, help="folder for <rule>.pt, metrics.json, curves.png")


def _table(rows: list[dict]) -> str:
    """Rule, test accuracy and the update-gradient angle of each hidden layer."""
    return format_table(
        [
            {
                "rule": r["rule"],
                "test acc": float(r["test_acc"]),
                "angles (deg, bottom→top hidden)": " ".join(
                    "  nan" if a != a else f"{a:5.1f}" for a in r["angles"][:-1]
                ),
            }
            for r in rows
        ]
    )


def _run_train(args: argparse.Namespace) -> int:
    with torch_threads(args.threads):
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from ..io import save_checkpoint
    from ..validation import check_int
    from .data import load_dataset
    from .engine import canonical_rule
    from .train import TrainConfig, compare_rules

    depth = check_int("depth", args.depth, low=0, high=20)
    cfg = TrainConfig(
        hidden=[args.width] * depth,
        activation=args.activation,
        sparsity=args.sparsity,
        error_bits=args.bits or None,
        derivative=args.derivative,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        optimizer=args.optimizer,
        error_quant=args.quant,
        sparsity_mode=args.sparsity_mode,
        sparsity_rescale=args.rescale,
        channel_activation=args.channel_activation,
        feedback_mix=args.feedback_mix,
        weight_decay=args.weight_decay,
    )
    split = load_dataset(args.dataset, path=args.data_path, random_state=args.seed)
    rules = list(dict.fromkeys(canonical_rule(r) for r in args.rules))
    nets = {r: cfg.build(r, split.n_features, split.n_classes) for r in rules}
    if args.lightning:
        from ..training import make_trainer
        from .angles import gradient_angles
        from .lightning import FeedbackClassifier, FeedbackDataModule
        from .train import accuracy

        final = []
        for rule, net in nets.items():
            dm = FeedbackDataModule(
                args.dataset, batch_size=args.batch_size, path=args.data_path, seed=args.seed
            )
            make_trainer(max_epochs=args.epochs, seed=args.seed, progress_bar=False).fit(
                FeedbackClassifier(
                    net, lr=args.lr, optimizer=args.optimizer, weight_decay=cfg.decay_for(rule)
                ),
                dm,
            )
            final.append(
                {
                    "rule": rule,
                    "test_acc": accuracy(net, split.x_test, split.y_test),
                    "angles": gradient_angles(net, split.x_train[:512], split.y_train[:512]),
                }
            )
    else:
        history = compare_rules(nets, split, cfg)
        final = [r for r in history if r["epoch"] == max(h["epoch"] for h in history)]
    print(_table(final))
    if args.out is not None:
        out = Path(args.out)
        for rule, net in nets.items():
            save_checkpoint(
                out / f"{rule}.pt",
                net.state_dict(),
                kind=KIND,
                config=net.config(),
                extra={
                    "dataset": args.dataset,
                    "test_acc": next(r["test_acc"] for r in final if r["rule"] == rule),
                },
            )
        with atomic_write(out / "metrics.json") as fh:
            json.dump({"config": cfg.to_dict(), "dataset": args.dataset, "final": final}, fh, indent=2)
        print(f"saved {len(nets)} checkpoint(s) and metrics.json in {out}")
    return 0


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    _add_common(p)
    p.add_argument("--checkpoint", type=Path, required=True, help="a <rule>.pt written by train")


def _check_budget(ckpt: dict, path: Path) -> None:
    """Refuse a checkpoint whose config would allocate more than it can hold, before allocating.

    The config is untrusted text: ``sizes=[1e5]*3`` in a 1.5 KB file would ask for 2·10¹⁰
    parameters. The count is computed from the sizes alone and must fit the budget and must not
    exceed the number of values the checkpoint really stores.
    """
    from .engine import MAX_PARAMETERS, parameter_count

    config = ckpt["config"]
    sizes = config.get("sizes") if isinstance(config, dict) else None
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)
    ):
        raise ValueError(
            f"{path}: config 'sizes' must be a list of at least 2 positive integers, got {sizes!r}"
        )
    try:
        n = parameter_count(sizes, config.get("rule", "bp"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    stored = sum(t.numel() for t in ckpt["state_dict"].values())
    if n > MAX_PARAMETERS:
        raise ValueError(
            f"{path}: config sizes {sizes} need {n:,} parameters, over the budget of "
            f"{MAX_PARAMETERS:,}; refusing to build the network"
        )
    if n > stored:
        raise ValueError(
            f"{path}: config sizes {sizes} need {n:,} parameters but the checkpoint stores only "
            f"{stored:,} values; the config does not match the weights"
        )


def _run_evaluate(args: argparse.Namespace) -> int:
    with torch_threads(args.threads):
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from ..io import load_checkpoint
    from .angles import feedback_angles, gradient_angles
    from .data import load_dataset
    from .engine import FeedbackMLP
    from .train import accuracy

    ckpt = load_checkpoint(args.checkpoint, kind=KIND)
    _check_budget(ckpt, args.checkpoint)
    net = FeedbackMLP(**ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    split = load_dataset(args.dataset, path=args.data_path, random_state=args.seed)
    if split.n_features != net.sizes[0]:
        raise ValueError(
            f"checkpoint expects {net.sizes[0]} inputs but dataset {args.dataset!r} has {split.n_features}"
        )
    row = {
        "rule": net.rule,
        "test_acc": accuracy(net, split.x_test, split.y_test),
        "angles": gradient_angles(net, split.x_train[:512], split.y_train[:512]),
    }
    print(_table([row]))
    for fb in feedback_angles(net):
        print(f"B_{fb['layer']} vs BP matrix: angle {fb['angle']:.1f} deg, norm ratio {fb['norm_ratio']:.3f}")
    return 0


ACTIONS = {
    "train": ("train FeedbackMLPs with several learning rules side by side", _add_train, _run_train),
    "evaluate": (
        "evaluate a saved FeedbackMLP checkpoint (accuracy, gradient and feedback angles)",
        _add_evaluate,
        _run_evaluate,
    ),
}
