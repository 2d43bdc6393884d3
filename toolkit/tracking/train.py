"""Plain-PyTorch training of the edge classifier (no Lightning needed; Lightning wraps the same step).

``make_dataset`` simulates seeded events and builds their graphs; ``fit`` runs Adam on a
:func:`~toolkit.tracking.losses.tracking_loss` and returns the trained model with its history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ..validation import check_bool, check_choice, check_float, check_instance, check_int
from .assignment import DEFAULT_NO_MATCH
from .detector import DetectorConfig, Phantom, as_config, simulate_events
from .graph import DEFAULT_WINDOW, build_graphs, check_graphs
from .losses import MODES, solver_lambda, tracking_loss
from .model import EdgeClassifier, ModelConfig
from .pipeline import ESTIMATORS, lambda_scale, one_thread

__all__ = ["TrainConfig", "make_dataset", "fit", "one_thread", "save_model", "load_model", "CHECKPOINT_KIND"]

#: The step schedule of the shipped studies (comparison, stability, connectivity): the learning rate ×0.3
#: at 50 % and again at 75 % of the run. ``TrainConfig(**STUDY_SCHEDULE, ...)``.
STUDY_SCHEDULE = {"lr_milestones": (0.5, 0.75), "lr_gamma": 0.3}


@dataclass
class TrainConfig:
    """Training hyper-parameters (defaults: reach useful purity in well under a minute on CPU)."""

    mode: str = "two_step"
    estimator: str = "blackbox"
    # cost units (see pipeline.assign_edges): at the default batch of 16 events (≈ 6,200 edges) λ_paper ≈ 25,
    # inside the paper's 25–75 and the shipped e2e model's value; 0.1 (≈ 620) is degenerate from the start
    lam: float = 0.004
    alpha: float = 0.5
    no_match: float | None = DEFAULT_NO_MATCH  # None = the paper's maximum-cardinality assignment
    lr: float = 3e-3
    epochs: int = 5
    batch_size: int = 16
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 0  # > 0: train exactly this many optimiser steps (cycling over epochs), ignoring ``epochs``
    lr_milestones: tuple = ()  # fractions of the run at which the learning rate is multiplied by lr_gamma
    lr_gamma: float = 0.1

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> TrainConfig:
        check_choice("mode", self.mode, MODES)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_float("lam", self.lam, low=0.0, low_open=True, high=1e6)
        check_float("alpha", self.alpha, low=0.0, high=1.0)
        if self.no_match is not None:  # None = the paper's assignment: maximum cardinality, no threshold
            check_float("no_match", self.no_match, low=0.0, low_open=True, high=1.0)
        check_float("lr", self.lr, low=0.0, low_open=True, high=1.0)
        check_int("epochs", self.epochs, low=1, high=10000)
        check_int("batch_size", self.batch_size, low=1, high=100000)
        check_int("seed", self.seed, low=0)
        check_int("steps", self.steps, low=0, high=10**7)
        if isinstance(self.lr_milestones, (str, bytes)) or not isinstance(self.lr_milestones, (tuple, list)):
            raise TypeError(f"lr_milestones must be a tuple of fractions in (0, 1), got {self.lr_milestones}")
        self.lr_milestones = tuple(
            check_float("lr_milestones", v, low=0.0, low_open=True, high=1.0, high_open=True)
            for v in self.lr_milestones
        )
        check_float("lr_gamma", self.lr_gamma, low=0.0, low_open=True, high=1.0)
        if not isinstance(self.model, ModelConfig):
            raise TypeError(f"model must be a ModelConfig, got {type(self.model).__name__}")
        self.model.validate()
        return self

    @property
    def solver_lam(self) -> float:
        """The λ the blackbox solver is perturbed with, in cost units: ``mixed`` scales the Hamming loss by
        (1 − α) before the solver's backward pass, so its perturbation is λ(1 − α)."""
        return solver_lambda(self.lam, self.mode, self.alpha)

    def loss(self, logits: torch.Tensor, data: Data, n_layers: int) -> tuple[torch.Tensor, dict[str, float]]:
        """This configuration's training loss of ``logits`` on ``data`` (:func:`tracking_loss` with its
        mode, estimator, λ, α and τ) and the loss's parts."""
        return tracking_loss(
            logits,
            data,
            n_layers,
            mode=self.mode,
            estimator=self.estimator,
            lam=self.lam,
            alpha=self.alpha,
            no_match=self.no_match,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        d["model"] = ModelConfig(**d.get("model", {}))
        d["lr_milestones"] = tuple(d.get("lr_milestones", ()))
        return cls(**d).validate()


def make_dataset(
    n_events: int,
    config: DetectorConfig | None = None,
    *,
    seed: int = 0,
    phantom: Phantom | None = None,
    window: float = DEFAULT_WINDOW,
    skip_layers: int = 0,
) -> list[Data]:
    """Simulate ``n_events`` seeded events and return their graphs (``skip_layers``: see build_graphs)."""
    cfg = as_config(config)
    seed = check_int("seed", seed, low=0)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    events = simulate_events(n_events, cfg, phantom=phantom, random_state=seed)
    return build_graphs(events, cfg, window=window, skip_layers=skip_layers)


def fit(
    train_graphs: Sequence[Data],
    config: TrainConfig | None = None,
    *,
    n_layers: int | None = None,
    model: EdgeClassifier | None = None,
    callback: Callable[[dict], None] | None = None,
    val_graphs: Sequence[Data] | None = None,
    eval_every: int = 50,
    warn_lambda: bool = True,
) -> tuple[EdgeClassifier, list[dict]]:
    """Train (or fine-tune ``model``) with Adam; ``callback(row)`` gets ``{step, epoch, loss, ...}``.

    The learning rate follows a step schedule: ``lr · lr_gamma^k`` after the k-th of
    ``lr_milestones`` (fractions of the run). With ``val_graphs`` the model is scored every
    ``eval_every`` steps (and at the end) by the mean Hamming error of its assignment decisions,
    and the best checkpoint on validation is returned (rows with ``val_hamming`` join the history).
    A blackbox run checks λ on its first batch (:func:`check_lambda`: the first row gets ``lam_frac_target``)
    and, with ``warn_lambda``, warns and logs when it is degenerate (studies that sweep λ pass False).
    """
    train_graphs = check_graphs("train_graphs", train_graphs)
    if config is not None:
        check_instance("config", config, TrainConfig, "a TrainConfig or None")
    cfg = (config or TrainConfig()).validate()
    L = DetectorConfig().n_layers if n_layers is None else check_int("n_layers", n_layers, low=2, high=200)
    if model is not None:
        check_instance("model", model, torch.nn.Module, "a torch Module (EdgeClassifier) or None")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    val_graphs = None if val_graphs is None else check_graphs("val_graphs", val_graphs, min_size=0)
    eval_every = check_int("eval_every", eval_every, low=1)
    warn_lambda = check_bool("warn_lambda", warn_lambda)
    torch.manual_seed(cfg.seed)
    if model is None:
        model = EdgeClassifier(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(train_graphs, batch_size=cfg.batch_size, shuffle=True, generator=gen)
    total = cfg.steps or cfg.epochs * len(loader)
    milestones = sorted({max(1, round(f * total)) for f in cfg.lr_milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma=cfg.lr_gamma)
    history: list[dict] = []
    validator = _Validator(val_graphs, cfg.no_match, L) if val_graphs else None
    model.train()
    with one_thread():
        _loop(model, opt, sched, loader, cfg, L, total, history, callback, validator, eval_every, warn_lambda)
    if validator is not None:
        validator.check(model, total, history)
        model.load_state_dict(validator.best_state)
    model.eval()
    return model, history


class _Validator:
    """Keeps the weights with the lowest validation Hamming error of the assignment decisions."""

    def __init__(self, graphs: Sequence[Data], no_match, n_layers: int) -> None:
        from torch_geometric.data import Batch

        self.batch, self.no_match, self.n_layers = Batch.from_data_list(list(graphs)), no_match, n_layers
        self.target = self.batch.y.numpy().astype(bool)
        self.best, self.best_state = float("inf"), None

    def check(self, model, step: int, history: list[dict]) -> None:
        import copy

        from .pipeline import edge_decisions

        _, linked = edge_decisions(model, self.batch, self.n_layers, self.no_match)
        err = float((linked != self.target).mean())
        history.append(dict(step=step, val_hamming=err))
        if err < self.best:  # strict: ties keep the earlier checkpoint
            self.best, self.best_state = err, copy.deepcopy(model.state_dict())


def _loop(
    model, opt, sched, loader, cfg, L, total, history, callback, validator, eval_every, warn_lambda
) -> None:
    step, epoch = 0, 0
    while step < total:
        for batch in loader:
            logits = model(batch.x, batch.edge_index, batch.edge_attr)
            loss, parts = cfg.loss(logits, batch, L)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            row = dict(step=step, epoch=epoch, loss=float(loss.detach()), **parts)
            if step == 1:  # is λ degenerate for this model from the start? (warns and logs if so)
                share = check_lambda(cfg, logits, batch, L, warn=warn_lambda)
                if share is not None:
                    row["lam_frac_target"] = share
            history.append(row)
            if callback is not None:
                callback(row)
            if validator is not None and step % eval_every == 0 and step < total:
                validator.check(model, step, history)
            if step >= total:
                return
        epoch += 1


def check_lambda(
    cfg: TrainConfig, logits: torch.Tensor, batch: Data, n_layers: int, *, warn: bool = True
) -> float | None:
    """For a blackbox run: the share of this batch's problems whose perturbed solution y_λ already equals the
    target (:func:`~toolkit.tracking.pipeline.lambda_scale`; with ``warn`` it warns and logs in the degenerate
    regime, > 95 %), at the solver's λ (``TrainConfig.solver_lam``: λ(1 − α) for ``mixed``). None when no λ is
    involved (two-step, the straight-through and Sinkhorn estimators, mixed with α = 1)."""
    if cfg.mode == "two_step" or cfg.estimator != "blackbox" or cfg.solver_lam <= 0:
        return None
    s = lambda_scale(logits.detach(), cfg.solver_lam, cfg.no_match, data=batch, n_layers=n_layers, warn=warn)
    return s["frac_target"]


CHECKPOINT_KIND = "tracking-edge-classifier"


def save_model(
    path,
    model: EdgeClassifier,
    train_config: TrainConfig,
    detector: DetectorConfig | None = None,
    extra: dict | None = None,
):
    """Save weights + the configs that rebuild them (atomic, ``torch.load(weights_only=True)``-safe)."""
    from ..io import save_checkpoint

    check_instance("model", model, torch.nn.Module, "a torch Module (EdgeClassifier)")
    check_instance("train_config", train_config, TrainConfig, "a TrainConfig")
    det = as_config(detector, "detector")
    return save_checkpoint(
        path,
        model.state_dict(),
        kind=CHECKPOINT_KIND,
        config=dict(train=train_config.to_dict(), detector=det.to_dict()),
        extra=extra,
    )


def load_model(path) -> tuple[EdgeClassifier, TrainConfig, DetectorConfig, dict]:
    """Inverse of :func:`save_model`: (model in eval mode, train config, detector config, extra)."""
    from ..io import load_checkpoint

    ck = load_checkpoint(path, kind=CHECKPOINT_KIND)
    tcfg = TrainConfig.from_dict(ck["config"]["train"])
    det = DetectorConfig.from_dict(ck["config"]["detector"])
    model = EdgeClassifier(tcfg.model)
    model.load_state_dict(ck["state_dict"])
    return model.eval(), tcfg, det, ck["extra"]
