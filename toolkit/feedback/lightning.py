"""Lightning wrappers: a LightningModule with manual optimisation around FeedbackMLP, and a
DataModule for the digits / procedural / user-supplied MNIST data."""

from __future__ import annotations

import os

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..validation import check_choice, check_float, check_int
from .angles import gradient_angles
from .data import DATASETS, Split, load_dataset
from .engine import FeedbackMLP, default_decay
from .train import apply_weight_decay, make_optimizer

__all__ = ["FeedbackClassifier", "FeedbackDataModule"]


class FeedbackDataModule(pl.LightningDataModule):
    """``digits`` (bundled), ``mnist1d`` (procedural) or ``mnist`` (IDX files in ``path``)."""

    def __init__(
        self,
        dataset: str = "digits",
        *,
        batch_size: int = 32,
        path: str | os.PathLike | None = None,
        seed: int = 0,
        limit: int | None = None,
    ) -> None:
        super().__init__()
        self.dataset = check_choice("dataset", dataset, DATASETS)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.path, self.seed, self.limit = path, check_int("seed", seed, low=0), limit
        self.split: Split | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.split is None:
            self.split = load_dataset(self.dataset, path=self.path, random_state=self.seed, limit=self.limit)

    @property
    def n_features(self) -> int:
        self.setup()
        return self.split.n_features

    @property
    def n_classes(self) -> int:
        self.setup()
        return self.split.n_classes

    def train_dataloader(self) -> DataLoader:
        self.setup()
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            TensorDataset(self.split.x_train, self.split.y_train),
            batch_size=self.batch_size,
            shuffle=True,
            generator=g,
        )

    def val_dataloader(self) -> DataLoader:
        self.setup()
        return DataLoader(TensorDataset(self.split.x_test, self.split.y_test), batch_size=1024)

    test_dataloader = val_dataloader


class FeedbackClassifier(pl.LightningModule):
    """Trains a :class:`FeedbackMLP` by its rule: ``net.compute_gradients`` fills ``.grad``, the
    optimizer steps (manual optimisation — Lightning never calls ``backward``).

    Logs ``train_loss``, ``train_acc``, ``val_acc`` and, every ``angle_every`` steps,
    ``angle_<layer>`` (rule update vs true gradient, degrees) for the hidden layers.
    """

    def __init__(
        self,
        net: FeedbackMLP,
        *,
        lr: float = 1e-3,
        optimizer: str = "adam",
        angle_every: int = 20,
        weight_decay: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(net, FeedbackMLP):
            raise TypeError(f"net must be a FeedbackMLP, got {type(net).__name__}")
        self.net = net
        self.lr = float(lr)
        # per-step decay of W and B (Kolen–Pollack); None = the rule's own default
        self.weight_decay = (
            default_decay(net.rule)
            if weight_decay is None
            else check_float("weight_decay", weight_decay, low=0.0, high=1.0, high_open=True)
        )
        self.optimizer_name = check_choice("optimizer", optimizer, ("adam", "sgd"))
        self.angle_every = check_int("angle_every", angle_every, low=1)
        self.automatic_optimization = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def configure_optimizers(self):
        return make_optimizer(self.net, self.optimizer_name, self.lr)

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt = self.optimizers()
        opt.zero_grad()
        loss = self.net.compute_gradients(x, y)
        self._average_gradients_across_processes()
        opt.step()
        apply_weight_decay(self.net, self.weight_decay)
        with torch.no_grad():
            acc = (self.net(x).argmax(1) == y).float().mean()
        self.log("train_loss", loss, prog_bar=True)
        self.log("train_acc", acc)
        if self.global_step % self.angle_every == 0:
            for layer, a in enumerate(gradient_angles(self.net, x, y)[:-1]):
                if a == a:  # skip NaN (top-only rule)
                    self.log(f"angle_{layer + 1}", a)
        return loss

    def _average_gradients_across_processes(self) -> None:
        # The rule writes .grad directly (no manual_backward), so DDP's hooks never average it:
        # do what DDP would do, or every process would drift to different weights.
        world = self.trainer.world_size if self._trainer is not None else 1
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            for p in self.net.parameters():
                if p.grad is not None:
                    torch.distributed.all_reduce(p.grad)
                    p.grad /= world

    def validation_step(self, batch, batch_idx):
        x, y = batch
        with torch.no_grad():
            logits = self.net(x)
        self.log("val_acc", (logits.argmax(1) == y).float().mean(), prog_bar=True)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
