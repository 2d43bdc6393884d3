"""Accuracy of every learning rule (3 seeds, MNIST-1D and digits) and time per training step vs BP.

    python benchmarks/bench_feedback.py                 # both tables (accuracy, then step time)
    python benchmarks/bench_feedback.py --only timing --threads 2 --steps 50 --batch 256
    python benchmarks/bench_feedback.py --only accuracy --seeds 0 1 2 --optimizer sgd --lr 0.1   # paper mode
    python benchmarks/bench_feedback.py --only cnn          # converted 1-D CNN (tanh) vs BP on MNIST-1D
    python benchmarks/bench_feedback.py --only tourbillon   # Tourbillon stack vs BP/RBP/SRBP/top/local-only

Accuracy: every rule of ``RULES`` plus RBP without f′, trained side by side on the same batches
(``compare_rules``), at the notebook panel's defaults — three tanh hidden layers of 100, Adam lr
1e-3, batch 32, 10 epochs — on MNIST-1D and on digits, mean ± sd over seeds (the seed sets the
data split, the initial weights, the feedback and the batch order), plus the gaps the notebook
describes (BP − top, RBP − RBP without f′, BP − RBP) per seed.

One step = ``compute_gradients`` (forward + learning channel) + ``Adam.step``. The rules are run
in interleaved rounds (rule order shuffled each round) and the median over rounds is reported,
so load from other processes hits every rule alike. Times are process CPU time
(``time.process_time``), which other processes on a shared machine disturb far less than wall
time; with ``--threads 1`` it equals the compute cost. ``autograd`` is BP via ``loss.backward()``
for reference. Ratios are relative to the engine's own ``bp``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
import torch.nn.functional as F

from toolkit.feedback import RULES, FeedbackMLP  # installed with the package (make setup: pip install -e .)


def _step_fn(net: FeedbackMLP, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, autograd: bool):
    def step() -> None:
        opt.zero_grad()
        if autograd:
            F.cross_entropy(net(x), y).backward()
        else:
            net.compute_gradients(x, y)
        opt.step()

    return step


def bench(
    hidden: list[int],
    *,
    n_in: int = 784,
    n_out: int = 10,
    batch: int = 128,
    steps: int = 20,
    rounds: int = 7,
    seed: int = 0,
) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g)
    y = torch.randint(0, n_out, (batch,), generator=g)
    sizes = [n_in, *hidden, n_out]
    entries = {}
    for rule in ("autograd", *RULES):
        net = FeedbackMLP(sizes, "bp" if rule == "autograd" else rule, seed=seed)
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        entries[rule] = _step_fn(net, opt, x, y, autograd=rule == "autograd")
        entries[rule]()  # warm-up
    times = {rule: [] for rule in entries}
    order = list(entries)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for rule in order:
            t0 = time.process_time()
            for _ in range(steps):
                entries[rule]()
            times[rule].append((time.process_time() - t0) / steps)
    bp = statistics.median(times["bp"])
    return [
        {"rule": r, "ms_per_step": 1e3 * statistics.median(t), "ratio_vs_bp": statistics.median(t) / bp}
        for r, t in times.items()
    ]


def accuracy_table(
    dataset: str,
    seeds: list[int],
    *,
    epochs: int = 10,
    width: int = 100,
    depth: int = 3,
    lr: float = 1e-3,
    optimizer: str = "adam",
) -> str:
    """Test accuracy and final hidden-layer angles of every rule (and RBP without f′) on ``dataset``,
    mean ± sd over ``seeds``, then the notebook's three gaps for every seed."""
    from toolkit.feedback import TrainConfig, compare_rules, load_dataset

    per_rule: dict[str, list[dict]] = {}
    for seed in seeds:
        split = load_dataset(dataset, random_state=seed)
        cfg = TrainConfig(hidden=[width] * depth, epochs=epochs, lr=lr, seed=seed, optimizer=optimizer)
        nets = {r: cfg.build(r, split.n_features, split.n_classes) for r in RULES}
        nets["rbp, no f'"] = FeedbackMLP(
            [split.n_features, *cfg.hidden, split.n_classes], "rbp", derivative=False, seed=seed
        )
        history = compare_rules(nets, split, cfg)
        for r in history:
            if r["epoch"] == history[-1]["epoch"]:
                per_rule.setdefault(r["rule"], []).append(r)

    def ms(values: list[float], fmt: str) -> str:
        values = [v for v in values if v == v]
        if not values:
            return "n/a"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):{fmt}} ± {sd:{fmt}}"

    lines = [
        f"{dataset}, {depth}×{width} tanh, {optimizer} lr {lr:g}, {epochs} epochs, batch 32, seeds {seeds}",
        f"{'rule':<16}{'test accuracy':>18}"
        + "".join(f"{'angle L' + str(k + 1) + ' (deg)':>20}" for k in range(depth)),
    ]
    order = sorted(per_rule, key=lambda k: -statistics.mean(r["test_acc"] for r in per_rule[k]))
    for rule in order:
        rows = per_rule[rule]
        line = f"{rule:<16}{ms([r['test_acc'] for r in rows], '.3f'):>18}"
        for k in range(depth):
            line += f"{ms([r['angles'][k] for r in rows], '.1f'):>20}"
        lines.append(line)
    acc = {k: [r["test_acc"] for r in v] for k, v in per_rule.items()}
    for name, (a, b) in {
        "BP - top": ("bp", "top"),
        "RBP - RBP(no f')": ("rbp", "rbp, no f'"),
        "BP - RBP": ("bp", "rbp"),
    }.items():
        gaps = [x - y for x, y in zip(acc[a], acc[b])]
        lines.append(
            f"gap {name:<18} mean {statistics.mean(gaps):+.3f}   per seed "
            + " ".join(f"{g:+.3f}" for g in gaps)
        )
    return "\n".join(lines)


def cnn_table(*, epochs: int = 20, activation: str = "tanh", seed: int = 0) -> str:
    """A small 1-D CNN on MNIST-1D trained by BP (autograd) and by ``convert(model, rule)`` (Adam 1e-3)."""
    import torch.nn as nn

    from toolkit.feedback import convert, load_dataset

    split = load_dataset("mnist1d", random_state=seed)
    act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]

    def make() -> nn.Module:
        torch.manual_seed(seed)
        return nn.Sequential(
            nn.Conv1d(1, 16, 5, padding=2),
            act(),
            nn.Conv1d(16, 16, 5, stride=2, padding=2),
            act(),
            nn.Flatten(),
            nn.Linear(16 * 20, 64),
            act(),
            nn.Linear(64, 10),
        )

    def train(model: nn.Module) -> float:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        x, y = split.x_train[:, None, :], split.y_train
        for _ in range(epochs):
            perm = torch.randperm(len(y), generator=g)
            for i in range(0, len(y), 32):
                idx = perm[i : i + 32]
                opt.zero_grad()
                F.cross_entropy(model(x[idx]), y[idx]).backward()
                opt.step()
        with torch.no_grad():
            return float((model(split.x_test[:, None, :]).argmax(1) == split.y_test).float().mean())

    acc = {
        rule: train(make() if rule == "bp" else convert(make(), rule, seed=seed))
        for rule in ("bp", "srbp", "rbp")
    }
    return "\n".join(
        [f"1-D CNN ({activation}) on MNIST-1D, Adam 1e-3, {epochs} epochs, seed {seed}"]
        + [f"{r:<8}{a:.3f}   ({a / acc['bp']:.0%} of BP)" for r, a in acc.items()]
    )


def timing_table(args: argparse.Namespace) -> str:
    results = {}
    for cfg in args.configs:
        depth, width = (int(v) for v in cfg.lower().split("x"))
        steps = args.steps if width <= 300 else max(3, args.steps // 4)
        results[cfg] = {
            r["rule"]: r for r in bench([width] * depth, batch=args.batch, steps=steps, rounds=args.rounds)
        }
    lines = [
        f"CPU time per training step (batch {args.batch}, input 784, 10 classes, Adam, {args.threads} "
        "thread(s)); "
        f"ratio = rule / bp"
    ]
    header = f"{'rule':<16}" + "".join(f"{cfg + ' ms':>13}{'ratio':>8}" for cfg in results)
    lines += [header, "-" * len(header)]
    for rule in results[args.configs[0]]:
        line = f"{rule:<16}"
        for cfg in results:
            r = results[cfg][rule]
            line += f"{r['ms_per_step']:>13.3f}{r['ratio_vs_bp']:>8.2f}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="steps per timing round")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--configs", nargs="+", default=["4x100", "3x1000"], help="DEPTHxWIDTH hidden layers")
    p.add_argument(
        "--only",
        choices=["accuracy", "timing", "cnn", "tourbillon"],
        default=None,
        help="print one table only (cnn, tourbillon: extra studies, not in the default run)",
    )
    p.add_argument("--datasets", nargs="+", default=["mnist1d", "digits"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.only == "cnn":
        print(cnn_table(epochs=args.epochs if args.epochs != 10 else 20))
        return 0
    if args.only == "tourbillon":
        from toolkit.feedback import load_dataset, studies

        for dataset in args.datasets:
            runs = [
                studies.tourbillon_table(load_dataset(dataset, random_state=s), seed=s) for s in args.seeds
            ]
            print(
                f"{dataset}: Tourbillon (recirculation 10 epochs/level + SGD top 20 epochs) vs MLPs 2×100 "
                "tanh "
                f"(Adam 1e-3, 20 epochs), seeds {args.seeds}"
            )
            for k in runs[0]:
                vals = [r[k] for r in runs]
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                print(f"  {k:<30}{statistics.mean(vals):.3f} ± {sd:.3f}")
        return 0
    if args.only != "timing":
        for dataset in args.datasets:
            print(
                accuracy_table(dataset, args.seeds, epochs=args.epochs, lr=args.lr, optimizer=args.optimizer),
                flush=True,
            )
            print(flush=True)
    if args.only != "accuracy":
        print(timing_table(args), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
