"""Lightning wrappers: a DataModule of seeded simulated events and a LightningModule around
:class:`~toolkit.tracking.model.EdgeClassifier` and :func:`~toolkit.tracking.losses.tracking_loss`."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

import pytorch_lightning as pl
import torch
from torch_geometric.loader import DataLoader

from ..validation import check_int
from .detector import DetectorConfig, Phantom, as_config
from .graph import check_skip_layers
from .model import EdgeClassifier
from .pipeline import evaluate, lambda_scale
from .train import TrainConfig, check_lambda, make_dataset

__all__ = ["TrackingDataModule", "TrackingModule"]


class TrackingDataModule(pl.LightningDataModule):
    """Train / validation / test graphs from :func:`simulate_events` with disjoint seeds."""

    def __init__(
        self,
        detector: DetectorConfig | None = None,
        *,
        n_train: int = 400,
        n_val: int = 100,
        n_test: int = 200,
        batch_size: int = 16,
        seed: int = 0,
        phantom: Phantom | None = None,
        skip_layers: int = 0,
    ) -> None:
        super().__init__()
        self.detector = as_config(detector, "detector")
        self.skip_layers = check_skip_layers(skip_layers, self.detector)
        self.n_train = check_int("n_train", n_train, low=1)
        self.n_val = check_int("n_val", n_val, low=1)
        self.n_test = check_int("n_test", n_test, low=1)
        self.batch_size = check_int("batch_size", batch_size, low=1)
        self.seed = check_int("seed", seed, low=0, high=2**31)
        self.phantom = phantom
        self.train_graphs = self.val_graphs = self.test_graphs = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_graphs is None:
            # the test seed does not depend on `seed`: every model is scored on the same events
            data = partial(
                make_dataset, config=self.detector, phantom=self.phantom, skip_layers=self.skip_layers
            )
            self.train_graphs = data(self.n_train, seed=3 * self.seed + 1)
            self.val_graphs = data(self.n_val, seed=3 * self.seed + 2)
            self.test_graphs = data(self.n_test, seed=10**6)

    def train_dataloader(self) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_graphs, batch_size=self.batch_size, shuffle=True, generator=gen)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_graphs, batch_size=self.n_val)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_graphs, batch_size=self.n_test)


class TrackingModule(pl.LightningModule):
    """Edge classifier trained two-step, end-to-end or mixed (``TrainConfig.mode``)."""

    def __init__(self, config: TrainConfig | None = None, n_layers: int = DetectorConfig().n_layers) -> None:
        super().__init__()
        self.config = (config or TrainConfig()).validate()
        self.n_layers = check_int("n_layers", n_layers, low=2)
        self.save_hyperparameters({"config": asdict(self.config), "n_layers": n_layers})
        torch.manual_seed(self.config.seed)
        self.model = EdgeClassifier(self.config.model)

    def on_fit_start(self) -> None:
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny graphs: see train.one_thread

    def on_fit_end(self) -> None:
        torch.set_num_threads(getattr(self, "_threads", torch.get_num_threads()))

    def forward(self, batch) -> torch.Tensor:
        return self.model(batch.x, batch.edge_index, batch.edge_attr)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        c = self.config
        logits = self(batch)
        loss, parts = c.loss(logits, batch, self.n_layers)
        n = batch.num_graphs
        self.log("train_loss", loss.detach(), batch_size=n, prog_bar=True)
        for k, v in parts.items():
            self.log(f"train_{k}", v, batch_size=n)
        if c.mode != "two_step":
            self.log(
                "lam_over_margin",
                lambda_scale(logits, c.solver_lam, c.no_match)["lam_over_margin"],
                batch_size=n,
            )
        if self.global_step == 0 and batch_idx == 0:  # degenerate λ from the start: warned and logged
            share = check_lambda(c, logits, batch, self.n_layers)
            if share is not None:
                self.log("lam_frac_target", share, batch_size=n)
        return loss

    def _eval(self, batch, prefix: str) -> None:
        r = evaluate(self.model, batch.to_data_list(), self.n_layers, no_match=self.config.no_match)
        for k in ("purity", "efficiency", "trackml", "edge_precision", "edge_recall"):
            self.log(f"{prefix}_{k}", r[k], batch_size=batch.num_graphs, prog_bar=k == "purity")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._eval(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._eval(batch, "test")

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.config.lr)
