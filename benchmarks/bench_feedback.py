"""Time per training step of every learning rule vs BP, same network, side by side.

    python benchmarks/bench_feedback.py                 # 4×100 and 3×1000 hidden units
    python benchmarks/bench_feedback.py --threads 2 --steps 50 --batch 256
    python benchmarks/bench_feedback.py --accuracy --seeds 0 1 2   # digits: accuracy + angles per rule

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
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.feedback import RULES, FeedbackMLP  # noqa: E402


def _step_fn(net: FeedbackMLP, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, autograd: bool):
    def step() -> None:
        opt.zero_grad()
        if autograd:
            F.cross_entropy(net(x), y).backward()
        else:
            net.compute_gradients(x, y)
        opt.step()
    return step


def bench(hidden: list[int], *, n_in: int = 784, n_out: int = 10, batch: int = 128, steps: int = 20,
          rounds: int = 7, seed: int = 0) -> list[dict]:
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
    return [{"rule": r, "ms_per_step": 1e3 * statistics.median(t), "ratio_vs_bp": statistics.median(t) / bp}
            for r, t in times.items()]


def accuracy_table(seeds: list[int], *, epochs: int = 10, width: int = 100, depth: int = 2, lr: float = 3e-3) -> str:
    """Test accuracy and final hidden-layer angles of every rule on digits, mean ± sd over seeds
    (the seed sets the train/test split, the initial weights, the feedback and the batch order)."""
    from toolkit.feedback import TrainConfig, compare_rules, load_digits_split

    per_rule: dict[str, list[dict]] = {}
    for seed in seeds:
        split = load_digits_split(random_state=seed)
        cfg = TrainConfig(hidden=[width] * depth, epochs=epochs, lr=lr, seed=seed)
        history = compare_rules(list(RULES), split, cfg)
        for r in history:
            if r["epoch"] == history[-1]["epoch"]:
                per_rule.setdefault(r["rule"], []).append(r)

    def ms(values: list[float], fmt: str) -> str:
        values = [v for v in values if v == v]
        if not values:
            return "n/a"
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):{fmt}} ± {sd:{fmt}}"

    lines = [f"digits, {depth}×{width} tanh, Adam lr {lr:g}, {epochs} epochs, batch 32, seeds {seeds}",
             f"{'rule':<16}{'test accuracy':>18}" + "".join(f"{'angle L' + str(k + 1) + ' (deg)':>20}" for k in range(depth))]
    for rule, rows in per_rule.items():
        line = f"{rule:<16}{ms([r['test_acc'] for r in rows], '.3f'):>18}"
        for k in range(depth):
            line += f"{ms([r['angles'][k] for r in rows], '.1f'):>20}"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="steps per timing round")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--configs", nargs="+", default=["4x100", "3x1000"], help="DEPTHxWIDTH hidden layers")
    p.add_argument("--accuracy", action="store_true", help="instead: accuracy/angle table on digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.accuracy:
        print(accuracy_table(args.seeds))
        return 0
    results = {}
    for cfg in args.configs:
        depth, width = (int(v) for v in cfg.lower().split("x"))
        steps = args.steps if width <= 300 else max(3, args.steps // 4)
        results[cfg] = {r["rule"]: r for r in bench([width] * depth, batch=args.batch, steps=steps, rounds=args.rounds)}
    print(f"CPU time per training step (batch {args.batch}, input 784, 10 classes, Adam, {args.threads} thread(s)); "
          f"ratio = rule / bp")
    header = f"{'rule':<16}" + "".join(f"{cfg + ' ms':>13}{'ratio':>8}" for cfg in results)
    print(header)
    print("-" * len(header))
    for rule in results[args.configs[0]]:
        line = f"{rule:<16}"
        for cfg in results:
            r = results[cfg][rule]
            line += f"{r['ms_per_step']:>13.3f}{r['ratio_vs_bp']:>8.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
