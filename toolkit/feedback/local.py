"""Learning without a learning channel: purely local rules (Baldi & Sadowski 2016).

*Deep local learning*: every layer learns from its own input only — here Oja's subspace rule
``ΔW = η (y xᵀ - y yᵀ W)``, ``y = W x`` (Oja 1989), which finds the principal subspace of its
input — and a supervised top layer learns with the (also local) delta rule. Such a stack can
only keep what has large variance; a target that lives in a low-variance direction is lost,
which is the paper's point: deep targets need a learning channel.

*Recirculation* (Hinton & McClelland 1988; the building block of Tavakoli, Sadowski & Baldi's
Tourbillon): an autoencoder trained without backprop. The visible pattern goes round the loop
twice, ``x0 → h0 → x1 = λ x0 + (1-λ) σ(V h0 + c) → h1 = σ(W x1 + b)``, and each synapse learns
from the difference of its own postsynaptic activity between the two passes:
``ΔV ∝ (x0 - x1) h0ᵀ``, ``ΔW ∝ (h0 - h1) x1ᵀ``.

*Tourbillon* (:class:`TourbillonStack`): such circular autoencoders stacked and trained greedily,
a supervised top layer trained by SGD, and optionally the output error sent down the stack
through fixed random, non-symmetric connections.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..validation import as_rng, check_float, check_int
from .data import Split

__all__ = [
    "oja_step",
    "OjaStack",
    "DeltaRuleReadout",
    "RecirculationAutoencoder",
    "make_low_variance_task",
    "local_learning_report",
    "TourbillonStack",
]


def oja_step(w: np.ndarray, x: np.ndarray, lr: float) -> np.ndarray:
    """One mini-batch of Oja's subspace rule; ``w`` (k, n), ``x`` (batch, n). Returns the new w."""
    y = x @ w.T
    n = len(x)
    return w + lr * (y.T @ x - (y.T @ y) @ w) / n


class OjaStack:
    """Layers learned one after the other by Oja's rule on their (centred) input, tanh outputs."""

    def __init__(self, sizes: Sequence[int], *, random_state=0) -> None:
        self.sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
        if len(self.sizes) < 2:
            raise ValueError(f"sizes must list at least 2 widths, got {list(sizes)}")
        rng = as_rng(random_state)
        self.weights = [rng.normal(0, 0.1, (b, a)) for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        self.means = [np.zeros(a) for a in self.sizes[:-1]]
        self.scales = [1.0 for _ in self.sizes[:-1]]

    def _layer_input(self, x: np.ndarray, k: int) -> np.ndarray:
        return (x - self.means[k]) / self.scales[k]

    def fit(
        self, x: np.ndarray, *, epochs: int = 20, lr: float = 0.01, batch_size: int = 64, random_state=0
    ) -> OjaStack:
        """Greedy, layer by layer: no signal ever travels downwards."""
        epochs = check_int("epochs", epochs, low=1)
        lr = check_float("lr", lr, low=0.0, low_open=True)
        rng = as_rng(random_state)
        h = np.asarray(x, dtype=float)
        for k in range(len(self.weights)):
            self.means[k] = h.mean(0)
            self.scales[k] = float(np.sqrt(((h - self.means[k]) ** 2).sum(1).mean())) or 1.0
            z = self._layer_input(h, k)
            for _ in range(epochs):
                perm = rng.permutation(len(z))
                for i in range(0, len(z), batch_size):
                    self.weights[k] = oja_step(self.weights[k], z[perm[i : i + batch_size]], lr)
            h = np.tanh(3.0 * z @ self.weights[k].T)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=float)
        for k, w in enumerate(self.weights):
            h = np.tanh(3.0 * self._layer_input(h, k) @ w.T)
        return h


class DeltaRuleReadout:
    """Softmax top layer trained by the delta rule ``ΔW ∝ (t - p) hᵀ`` (local: the target is there)."""

    def __init__(self, n_in: int, n_classes: int) -> None:
        self.w = np.zeros((n_classes, n_in + 1))

    def _h(self, h: np.ndarray) -> np.ndarray:
        return np.hstack([h, np.ones((len(h), 1))])

    def fit(self, h: np.ndarray, y: np.ndarray, *, epochs: int = 50, lr: float = 0.5, random_state=0):
        rng = as_rng(random_state)
        hb = self._h(h)
        onehot = np.eye(self.w.shape[0])[y]
        for _ in range(epochs):
            perm = rng.permutation(len(hb))
            for i in range(0, len(hb), 32):
                idx = perm[i : i + 32]
                p = self._probs(hb[idx])
                self.w += lr * (onehot[idx] - p).T @ hb[idx] / len(idx)
        return self

    def _probs(self, hb: np.ndarray) -> np.ndarray:
        s = hb @ self.w.T
        s -= s.max(1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(1, keepdims=True)

    def predict(self, h: np.ndarray) -> np.ndarray:
        return self._probs(self._h(h)).argmax(1)

    def score(self, h: np.ndarray, y: np.ndarray) -> float:
        return float((self.predict(h) == y).mean())


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class RecirculationAutoencoder:
    """A sigmoid autoencoder trained by recirculation (no backpropagated error at all)."""

    def __init__(self, n_visible: int, n_hidden: int, *, regression: float = 0.75, random_state=0) -> None:
        self.n_visible = check_int("n_visible", n_visible, low=1)
        self.n_hidden = check_int("n_hidden", n_hidden, low=1)
        self.regression = check_float("regression", regression, low=0.0, high=1.0, high_open=True)
        rng = as_rng(random_state)
        self.w = rng.normal(0, 0.1, (n_hidden, n_visible))  # visible -> hidden
        self.v = rng.normal(0, 0.1, (n_visible, n_hidden))  # hidden -> visible
        self.b = np.zeros(n_hidden)
        self.c = np.zeros(n_visible)

    def encode(self, x: np.ndarray) -> np.ndarray:
        return _sigmoid(x @ self.w.T + self.b)

    def decode(self, h: np.ndarray) -> np.ndarray:
        return _sigmoid(h @ self.v.T + self.c)

    def reconstruction_error(self, x: np.ndarray) -> float:
        """Mean squared error of one trip round the loop (λ = 0)."""
        return float(((self.decode(self.encode(x)) - x) ** 2).mean())

    def step(self, x0: np.ndarray, lr: float) -> None:
        """One recirculation update on a mini-batch: two passes round the loop, local differences."""
        lam = self.regression
        h0 = self.encode(x0)
        x1 = lam * x0 + (1 - lam) * self.decode(h0)
        h1 = self.encode(x1)
        n = len(x0)
        self.v += lr * (x0 - x1).T @ h0 / n
        self.c += lr * (x0 - x1).mean(0)
        self.w += lr * (h0 - h1).T @ x1 / n
        self.b += lr * (h0 - h1).mean(0)

    def fit(
        self, x: np.ndarray, *, epochs: int = 30, lr: float = 2.0, batch_size: int = 32, random_state=0
    ) -> list[float]:
        """Train; returns the reconstruction error after every epoch."""
        epochs = check_int("epochs", epochs, low=1)
        lr = check_float("lr", lr, low=0.0, low_open=True)
        rng = as_rng(random_state)
        history = []
        for _ in range(epochs):
            perm = rng.permutation(len(x))
            for i in range(0, len(x), batch_size):
                self.step(x[perm[i : i + batch_size]], lr)
            history.append(self.reconstruction_error(x))
        return history


def make_low_variance_task(
    n_samples: int = 1500, *, n_features: int = 20, test_fraction: float = 0.3, random_state=0
) -> Split:
    """Two classes decided by the sign of a *low-variance* coordinate hidden among loud ones.

    Coordinates 0…n-2 have standard deviation 3 and carry no label information; coordinate n-1 has
    standard deviation 0.3 and its sign is the class. Principal-subspace features miss it.
    """
    from .data import _split

    n_samples = check_int("n_samples", n_samples, low=20)
    n_features = check_int("n_features", n_features, low=2)
    rng = as_rng(random_state)
    x = rng.normal(0, 3.0, (n_samples, n_features))
    x[:, -1] = rng.normal(0, 0.3, n_samples)
    y = (x[:, -1] > 0).astype(np.int64)
    return _split(x.astype(np.float32), y, test_fraction, rng, "low-variance")


def local_learning_report(
    split: Split, *, hidden: Sequence[int] = (16,), epochs: int = 10, seed: int = 0
) -> dict:
    """Test accuracy of a deep-local (Oja) stack + delta-rule top vs the delta rule on raw inputs."""
    xtr, xte = split.x_train.numpy().astype(float), split.x_test.numpy().astype(float)
    ytr, yte = split.y_train.numpy(), split.y_test.numpy()
    stack = OjaStack([xtr.shape[1], *hidden], random_state=seed).fit(xtr, epochs=epochs, random_state=seed)
    top = DeltaRuleReadout(hidden[-1], split.n_classes).fit(stack.transform(xtr), ytr, random_state=seed)
    raw = DeltaRuleReadout(xtr.shape[1], split.n_classes).fit(xtr / np.abs(xtr).max(), ytr, random_state=seed)
    return {
        "deep_local": top.score(stack.transform(xte), yte),
        "linear_readout": raw.score(xte / np.abs(xtr).max(), yte),
    }


class TourbillonStack:
    """Tourbillon (Tavakoli, Sadowski & Baldi): a *stack* of circular autoencoders trained by
    recirculation, plus a supervised top layer.

    1. Self-supervised, greedy: autoencoder k (:class:`RecirculationAutoencoder`) learns to
       recirculate the code of level k − 1 (level 0: the inputs, min–max scaled to [0, 1]); no
       error ever crosses a level.
    2. Supervised: a softmax top layer on the last code learns by SGD with the delta rule
       ``ΔU ∝ (y* - p) hᵀ``. With ``feedback="random"`` the output error also travels down the
       stack through fixed random, non-symmetric matrices ``B_k`` (an RBP channel):
       ``δ_top = p - y*``, ``δ_k = (B_k δ_{k+1}) ⊙ h_k (1 - h_k)``, ``ΔW_k ∝ -δ_k h_{k-1}ᵀ``
       (the encoders' recirculation weights are the forward weights that get fine-tuned).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        n_classes: int,
        *,
        feedback: str = "none",
        regression: float = 0.75,
        random_state=0,
    ) -> None:
        from ..validation import check_choice

        self.sizes = [check_int(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
        if len(self.sizes) < 2:
            raise ValueError(
                f"sizes must list the input width and at least one code width, got {list(sizes)}"
            )
        self.n_classes = check_int("n_classes", n_classes, low=2)
        self.feedback = check_choice("feedback", feedback, ("none", "random"))
        rng = as_rng(random_state)
        self.autoencoders = [
            RecirculationAutoencoder(a, b, regression=regression, random_state=rng)
            for a, b in zip(self.sizes[:-1], self.sizes[1:])
        ]
        self.top = DeltaRuleReadout(self.sizes[-1], self.n_classes)
        # fixed random feedback from level k+1's error to level k (shape of W_{k+1}ᵀ; the top's Uᵀ)
        outs = [*self.sizes[2:], self.n_classes]
        self.feedback_matrices = [
            rng.uniform(-1, 1, (h, o)) / np.sqrt(h) for h, o in zip(self.sizes[1:], outs)
        ]
        self.lo = self.hi = None

    def _scale(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.lo) / (self.hi - self.lo), 0.0, 1.0)

    def codes(self, x: np.ndarray) -> list[np.ndarray]:
        """Activities of every level, inputs (scaled) first."""
        hs = [self._scale(np.asarray(x, dtype=float))]
        for ae in self.autoencoders:
            hs.append(ae.encode(hs[-1]))
        return hs

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        ae_epochs: int = 10,
        ae_lr: float = 1.0,
        top_epochs: int = 20,
        top_lr: float = 0.5,
        feedback_lr: float = 0.1,
        batch_size: int = 32,
        random_state=0,
    ) -> TourbillonStack:
        x, y = np.asarray(x, dtype=float), np.asarray(y)
        self.lo, self.hi = x.min(0), x.max(0) + 1e-9
        h = self._scale(x)
        for ae in self.autoencoders:  # greedy, bottom up: each level only ever sees its own input
            ae.fit(h, epochs=ae_epochs, lr=ae_lr, batch_size=batch_size, random_state=random_state)
            h = ae.encode(h)
        self.mu, self.sd = h.mean(0), h.std(0) + 1e-6
        rng = as_rng(random_state)
        onehot = np.eye(self.n_classes)[y]
        for _ in range(check_int("top_epochs", top_epochs, low=1)):
            perm = rng.permutation(len(x))
            for i in range(0, len(x), batch_size):
                idx = perm[i : i + batch_size]
                self._supervised_step(x[idx], onehot[idx], top_lr, feedback_lr)
        return self

    def _top_input(self, h: np.ndarray) -> np.ndarray:
        return self.top._h((h - self.mu) / self.sd)

    def _supervised_step(self, x: np.ndarray, target: np.ndarray, top_lr: float, feedback_lr: float) -> None:
        hs = self.codes(x)
        hb = self._top_input(hs[-1])
        err = self.top._probs(hb) - target  # δ_top = p - y*
        n = len(x)
        if self.feedback == "random":
            delta = err
            for k in range(len(self.autoencoders) - 1, -1, -1):
                gain = (
                    1.0 / self.sd if k == len(self.autoencoders) - 1 else 1.0
                )  # through the standardisation
                delta = (delta @ self.feedback_matrices[k].T) * gain * hs[k + 1] * (1 - hs[k + 1])
                ae = self.autoencoders[k]
                ae.w -= feedback_lr * delta.T @ hs[k] / n
                ae.b -= feedback_lr * delta.mean(0)
        self.top.w -= top_lr * err.T @ hb / n

    def score(self, x: np.ndarray, y: np.ndarray) -> float:
        return float((self.top._probs(self._top_input(self.codes(x)[-1])).argmax(1) == np.asarray(y)).mean())
