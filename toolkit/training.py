"""A Lightning ``Trainer`` factory with notebook-friendly defaults.

Defaults: CPU, seeded and deterministic, no logger, no checkpoints and no ``lightning_logs/``
clutter in the working folder (unless ``save_dir`` is given), a progress bar that renders in
JupyterLab and in a terminal. Every other keyword goes straight to ``pytorch_lightning.Trainer``,
so the same call scales to GPUs, several processes or a cluster through Lightning's own
strategies, e.g. ``make_trainer(accelerator="gpu", devices=4, strategy="ddp", num_nodes=2)``.
"""

from __future__ import annotations

import logging
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

__all__ = ["seed_everything", "make_trainer", "quiet_lightning", "LivePlotCallback"]


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
