"""How close is the feedback-channel gradient to backprop's? (the feedback column of notebook 04)

Random backpropagation sends the output error down through a fixed random matrix B instead of the
transposed forward weights Wᵀ. Mixing the two, ``B_μ = (1 − μ) B + μ Wᵀ`` (``feedback_mix=μ``),
interpolates from RBP (μ = 0, no weight transport) to BP (μ = 1, exact gradient). For each μ,
:func:`mix_alignment` measures at initialisation the cosine between the rule's hidden-layer weight
update and autograd's gradient (the top layer is exact for every μ and is left out), and what the
bias costs: test accuracy after a short run of plain SGD from the same initial weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch

from toolkit.validation import check_float, check_int

from .angles import gradient_angles
from .data import load_digits_split
from .engine import FeedbackMLP
from .train import accuracy

__all__ = ["mix_alignment"]


def _short_sgd(
    net: FeedbackMLP, x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float, seed: int
) -> None:
    """``steps`` minibatch SGD steps (batch 64) with the net's own rule: W ← W − lr·ΔW."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (64,), generator=gen)
        net.compute_gradients(x[idx], y[idx])
        optimizer.step()


def mix_alignment(
    mus: Sequence[float],
    *,
    hidden: Sequence[int] = (64, 64),
    n_examples: int = 256,
    train_steps: int = 150,
    lr: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Cosine to BP's gradient and short-run accuracy for each feedback mix μ (digits, tanh MLP).

    Returns one row per μ: ``factor`` (μ), ``cosine`` (mean over hidden layers, at init),
    ``accuracy`` (test accuracy after ``train_steps`` SGD steps; ``train_steps=0`` skips training).
    """
    mus = [check_float("mus", mu, low=0.0, high=1.0) for mu in mus]
    if not mus:
        raise ValueError("mus must list at least one μ in [0, 1]")
    n_examples = check_int("n_examples", n_examples, low=8, high=5000)
    train_steps = check_int("train_steps", train_steps, low=0, high=100_000)
    lr = check_float("lr", lr, low=0.0, high=10.0, low_open=True)
    split = load_digits_split(random_state=seed)
    x, y = split.x_train.float(), split.y_train
    sizes = [split.n_features, *[check_int("hidden", h, low=1, high=4096) for h in hidden], split.n_classes]
    rows = []
    for mu in mus:
        net = FeedbackMLP(sizes, "rbp", feedback_mix=mu, seed=seed)
        angles = gradient_angles(net, x[:n_examples], y[:n_examples])[:-1]  # the top layer is exact
        cosine = sum(math.cos(math.radians(a)) for a in angles) / len(angles)
        if train_steps:
            _short_sgd(net, x, y, steps=train_steps, lr=lr, seed=seed)
        acc = accuracy(net, split.x_test.float(), split.y_test) if train_steps else math.nan
        rows.append({"factor": mu, "cosine": cosine, "accuracy": acc})
    return pd.DataFrame(rows)
