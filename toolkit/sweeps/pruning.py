"""Pruning hopeless trials from inside Lightning training.

After every validation (or training) epoch the monitored metric is reported to the Optuna trial
(``trial.report(value, step=epoch)``); when the study's pruner says the trial is worse than the
others at the same step (median rule: below the median of earlier trials), training stops at the
end of the epoch and :meth:`PruningCallback.check_pruned` raises ``optuna.TrialPruned`` so the
study records the trial as PRUNED. Stopping through ``trainer.should_stop`` (rather than raising
inside the loop) also works under multi-process strategies, where every rank must stop together.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
import pytorch_lightning as pl

__all__ = ["PruningCallback"]


class PruningCallback(pl.Callback):
    """Report ``monitor`` to ``trial`` each epoch and stop training when the pruner says so.

    ``trial`` may be ``None`` (the objective called outside a study): then it does nothing.
    ``on`` is ``"validation"`` (after each validation epoch) or ``"train"`` (after each
    training epoch, for modules without a validation loop).
    """

    def __init__(self, trial: optuna.Trial | None, monitor: str, *, on: str = "validation") -> None:
        super().__init__()
        if trial is not None and not (
            callable(getattr(trial, "report", None)) and callable(getattr(trial, "should_prune", None))
        ):
            raise TypeError(
                f"trial must be None or an optuna Trial (with report and should_prune), "
                f"got {type(trial).__name__}"
            )
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a metric name, got {monitor!r}")
        if on not in ("validation", "train"):
            raise ValueError(f"on must be one of 'validation', 'train'; got {on!r}")
        self.trial, self.monitor, self.on = trial, monitor, on
        self.pruned_at: int | None = None
        self.reported: list[tuple[int, float]] = []

    def _check(self, trainer: pl.Trainer) -> None:
        if self.trial is None or trainer.sanity_checking:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            available = sorted(trainer.callback_metrics)
            raise KeyError(f"PruningCallback: metric {self.monitor!r} was not logged; logged: {available}")
        value, epoch = float(value), trainer.current_epoch
        should_prune = False
        if trainer.is_global_zero:
            if math.isfinite(value):
                self.trial.report(value, step=epoch)
                self.reported.append((epoch, value))
                should_prune = self.trial.should_prune()
            else:  # a diverged run is hopeless whatever the pruner says
                should_prune = True
        # every process must take the same decision, or DDP ranks would wait on each other forever
        should_prune = trainer.strategy.broadcast(should_prune, src=0)
        if should_prune:
            self.pruned_at = epoch
            trainer.should_stop = True

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.on == "validation":
            self._check(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.on == "train":
            self._check(trainer)

    def check_pruned(self) -> None:
        """Raise ``optuna.TrialPruned`` if training was stopped by the pruner (call after fit)."""
        if self.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned at epoch {self.pruned_at}")

    def state_dict(self) -> dict[str, Any]:
        return {"pruned_at": self.pruned_at}
