"""A Lightning ``Trainer`` factory with notebook-friendly defaults.

Defaults: CPU, seeded and deterministic, no logger, no checkpoints and no ``lightning_logs/``
clutter in the working folder (unless ``save_dir`` is given), a progress bar that renders in
JupyterLab and in a terminal. Every other keyword goes straight to ``pytorch_lightning.Trainer``,
so the same call scales to GPUs, several processes or a cluster through Lightning's own
strategies, e.g. ``make_trainer(accelerator="gpu", devices=4, strategy="ddp", num_nodes=2)``.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from .livechart import LiveChart
from .validation import check_bool, check_int

__all__ = ["seed_everything", "make_trainer", "quiet_lightning", "LivePlotCallback", "PruningCallback"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so runs repeat exactly."""
    check_int("seed", seed, low=0, high=2**32 - 1)
    pl.seed_everything(seed, workers=True, verbose=False)


def quiet_lightning() -> None:
    """Silence Lightning's start-up chatter (GPU/TPU availability, tips) in notebooks."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # Lightning suggests more DataLoader workers; on a 2-core teaching machine 0 is right.
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*The number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*GPU available but not used.*")
    # Lightning 2.6 calls a torch pytree API that torch 2.13 deprecates; nothing for a user to act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")


def make_trainer(
    *,
    max_epochs: int | None = None,
    max_steps: int = -1,
    seed: int = 0,
    live: Any = None,
    callbacks: Iterable[pl.Callback] = (),
    progress_bar: bool = True,
    save_dir: str | os.PathLike | None = None,
    **trainer_kwargs: Any,
) -> pl.Trainer:
    """Build a seeded, deterministic ``pl.Trainer``.

    Parameters
    ----------
    max_epochs, max_steps : training length, as in Lightning (``max_steps=-1`` means no limit).
    seed : seeds every RNG before the trainer is built.
    live : a :class:`toolkit.livechart.LiveChart`; logged metrics stream into it while training.
    callbacks : further Lightning callbacks.
    progress_bar : show a tqdm bar (``tqdm.auto``: a widget in JupyterLab, text in a terminal).
    save_dir : if given, checkpoints and CSV logs go there; otherwise nothing is written.
    **trainer_kwargs : passed through to ``pl.Trainer`` (accelerator, devices, strategy,
        num_nodes, precision, gradient_clip_val, ...), overriding the defaults here.
    """
    seed_everything(seed)
    if max_epochs is not None:
        check_int("max_epochs", max_epochs, low=1)
    check_int("max_steps", max_steps, low=-1)
    check_bool("progress_bar", progress_bar)
    if live is not None and not isinstance(live, LiveChart):
        raise TypeError(f"live must be a LiveChart or None, got {type(live).__name__}")
    if isinstance(callbacks, (str, bytes)) or not isinstance(callbacks, Iterable):
        raise TypeError(
            f"callbacks must be an iterable of Lightning callbacks, got {type(callbacks).__name__}"
        )
    callbacks = list(callbacks)
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, pl.Callback):
            raise TypeError(f"callbacks[{i}] must be a Lightning Callback, got {type(cb).__name__}")
    if save_dir is not None and (isinstance(save_dir, bool) or not isinstance(save_dir, (str, os.PathLike))):
        raise TypeError(f"save_dir must be a folder path or None, got {type(save_dir).__name__}")
    if max_epochs is None and max_steps == -1:
        max_epochs = 1
    quiet_lightning()

    callbacks = list(callbacks)
    if live is not None:
        callbacks.append(LivePlotCallback(live))
    if save_dir is not None:
        save_dir = Path(save_dir)
        save_dir.mkdir(parents=True, exist_ok=True)
        logger: Any = pl.loggers.CSVLogger(save_dir, name="logs")
        checkpointing = True
        root = save_dir
    else:
        logger = False
        checkpointing = False
        # Lightning still wants a root folder; keep it out of the user's working directory.
        root = Path(tempfile.gettempdir()) / "gradient-lab-trainer"

    options: dict[str, Any] = dict(
        accelerator="cpu",
        devices=1,
        deterministic=True,
        max_epochs=max_epochs,
        max_steps=max_steps,
        logger=logger,
        enable_checkpointing=checkpointing,
        enable_progress_bar=progress_bar,
        enable_model_summary=False,
        default_root_dir=str(root),
        callbacks=callbacks,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
    )
    options.update(trainer_kwargs)
    if "spawn" in str(options.get("strategy", "")):
        # spawned processes receive the model and loaders by pickling; the default file
        # descriptor sharing fails for generators/tensors held by loaders ("unable to resize file")
        torch.multiprocessing.set_sharing_strategy("file_system")
    if options.get("deterministic") is True:
        # warn_only: a few CPU kernels (scatter in torch-geometric) have no deterministic flag,
        # but they are deterministic on CPU anyway.
        torch.use_deterministic_algorithms(True, warn_only=True)
        options["deterministic"] = "warn"
    return pl.Trainer(**options)


class LivePlotCallback(pl.Callback):
    """Stream logged metrics into a :class:`LiveChart` as rows {step, metric, value, run}.

    Training metrics are sent after every ``every_n_steps`` optimizer steps, validation metrics
    (names starting with ``val``) after each validation epoch. Only rank 0 sends, so it is safe
    under multi-process strategies.
    """

    def __init__(
        self,
        live: LiveChart,
        *,
        metrics: Iterable[str] | None = None,
        run: str = "run",
        every_n_steps: int = 1,
    ) -> None:
        super().__init__()
        if not isinstance(live, LiveChart):
            raise TypeError(f"live must be a LiveChart, got {type(live).__name__}")
        self.live = live
        self.metrics = None if metrics is None else set(metrics)
        self.run = str(run)
        self.every_n_steps = check_int("every_n_steps", every_n_steps, low=1)

    def _rows(self, trainer: Any, validation: bool) -> list[dict]:
        rows = []
        for name, value in trainer.callback_metrics.items():
            if name.startswith("val") != validation:
                continue
            if self.metrics is not None and name not in self.metrics:
                continue
            if getattr(value, "numel", lambda: 1)() != 1:
                continue
            rows.append({"step": trainer.global_step, "metric": name, "value": float(value), "run": self.run})
        return rows

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: D102
        if trainer.is_global_zero and trainer.global_step % self.every_n_steps == 0:
            self.live.push(self._rows(trainer, validation=False))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.is_global_zero and not trainer.sanity_checking:
            self.live.push(self._rows(trainer, validation=True))

    def on_fit_end(self, trainer, pl_module) -> None:  # noqa: D102
        if trainer.is_global_zero:
            self.live.flush()


# -- pruning hopeless trials of a study from inside Lightning training -----------------------------
# After every validation (or training) epoch the monitored metric is reported to the Optuna trial
# (``trial.report(value, step=epoch)``); when the study's pruner says the trial is behind the others at
# that step, training stops at the end of the epoch and ``check_pruned`` raises ``optuna.TrialPruned``,
# so the study records the trial as PRUNED. Stopping through ``trainer.should_stop`` (rather than
# raising inside the loop) also works under multi-process strategies, where every rank must stop together.


class PruningCallback(pl.Callback):
    """Report ``monitor`` to ``trial`` each epoch and stop training when the pruner says so.

    ``trial`` may be ``None`` (the objective called outside a study): then it does nothing.
    ``on`` is ``"validation"`` (after each validation epoch) or ``"train"`` (after each
    training epoch, for modules without a validation loop).
    """

    def __init__(self, trial: Any, monitor: str, *, on: str = "validation") -> None:
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
            import optuna  # (only a pruned study trial gets here: Optuna is loaded already)

            raise optuna.TrialPruned(f"pruned at epoch {self.pruned_at}")

    def state_dict(self) -> dict[str, Any]:
        return {"pruned_at": self.pruned_at}
