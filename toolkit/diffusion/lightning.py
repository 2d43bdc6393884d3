"""Lightning wrappers: a DataModule of synthetic (coarse, fine) pairs and two LightningModules,
one for the MSE regression U-Net and one for the EDM denoiser (with EMA weights).

train_downscaler() runs the CorrDiff-style recipe: regression first, then diffusion on the
residual, then the spectral-noise baseline is fitted; it is what `python -m toolkit train
diffusion` and the notebook's fine-tune call.
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from toolkit.training import make_trainer
from toolkit.validation import check_bool, check_float, check_int

from .edm import EMA, edm_loss
from .model import Downscaler
from .weather import WeatherConfig, make_sequence_pairs, make_weather_pairs

__all__ = ["WeatherDataModule", "RegressionModule", "DiffusionModule", "train_downscaler"]


def _tensors(p) -> tuple[torch.Tensor, ...]:
    """(coarse, fine, lead[, previous, wind]) of WeatherPairs as tensors."""
    out = (torch.from_numpy(p.coarse), torch.from_numpy(p.fine), torch.from_numpy(p.lead.astype("float32")))
    if p.previous is None:
        return out
    return (*out, torch.from_numpy(p.previous), torch.from_numpy(p.wind.astype("float32")))


def _unpack(batch):
    """(coarse, fine, lead or None) from a batch of 2, 3 or 5 tensors (the previous hour's are dropped)."""
    return (batch[0], batch[1], batch[2] if len(batch) > 2 else None)


class WeatherDataModule(pl.LightningDataModule):
    """Seeded synthetic pairs in kc units: train set from `seed`, a held-out set (val_set) from `seed + 1`.
    Each item is (coarse, fine, lead hours), and with sequence=True also the truth one hour earlier
    and the wind that moved it (make_sequence_pairs: training data of the autoregressive model)."""

    def __init__(
        self,
        n_train: int = 16000,
        n_val: int = 256,
        batch_size: int = 32,
        seed: int = 0,
        weather: WeatherConfig | None = None,
        sequence: bool = False,
    ):
        super().__init__()
        self.n_train = check_int("n_train", n_train, low=1, high=10**7)
        self.n_val = check_int("n_val", n_val, low=1, high=10**7)
        self.batch_size = check_int("batch_size", batch_size, low=1, high=4096)
        self.seed = check_int("seed", seed, low=0)
        self.weather = weather or WeatherConfig()
        self.sequence = check_bool("sequence", sequence)
        self.train_set = self.val_set = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            make = make_sequence_pairs if self.sequence else make_weather_pairs
            tr = make(self.n_train, config=self.weather, random_state=self.seed)
            va = make(self.n_val, config=self.weather, random_state=self.seed + 1)
            self.train_set = TensorDataset(*_tensors(tr))
            self.val_set = TensorDataset(*_tensors(va))

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=True, generator=g
        )


class RegressionModule(pl.LightningModule):
    """MSE training of model.regression (normalised units)."""

    def __init__(self, model: Downscaler, lr: float = 2e-3):
        super().__init__()
        self.model = model
        self.lr = check_float("lr", lr, low=0.0, low_open=True, high=1.0)

    def setup(self, stage: str) -> None:
        # only the regression net trains here; freezing the denoiser also keeps DDP from
        # waiting for gradients of parameters this step never uses
        self.model.denoiser.requires_grad_(False)
        self.model.regression.requires_grad_(True)

    def training_step(self, batch, batch_idx):
        coarse, fine, lead = _unpack(batch)
        pred = self.model.regress(self.model.normalize(coarse), lead)
        loss = torch.mean((pred - self.model.normalize(fine)) ** 2)
        self.log("regression_mse", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.regression.parameters(), lr=self.lr)


class DiffusionModule(pl.LightningModule):
    """EDM training of model.denoiser on the residual; EMA weights replace the raw ones at the end.

    A previous=True model is trained on batches with the previous hour's truth, hiding it in a
    fraction drop_previous of the cases so that the same network also makes the first hour."""

    def __init__(
        self,
        model: Downscaler,
        lr: float = 1e-3,
        ema_decay: float = 0.995,
        p_mean: float = -1.2,
        p_std: float = 1.2,
        drop_previous: float = 0.25,
    ):
        super().__init__()
        self.model = model
        self.lr = check_float("lr", lr, low=0.0, low_open=True, high=1.0)
        self.ema_decay = check_float("ema_decay", ema_decay, low=0.0, high=1.0)
        self.p_mean = check_float("p_mean", p_mean, low=-10.0, high=10.0)
        self.p_std = check_float("p_std", p_std, low=0.0, low_open=True, high=10.0)
        self.drop_previous = check_float("drop_previous", drop_previous, low=0.0, high=1.0)
        self.ema = None

    def setup(self, stage: str) -> None:
        self.model.regression.requires_grad_(False)
        self.model.denoiser.requires_grad_(True)

    def on_fit_start(self):
        # the regression net stays frozen: residual_target runs it under no_grad and only the
        # denoiser's parameters are optimised (GroupNorm only, so train/eval mode is irrelevant)
        self.ema = EMA(self.model.denoiser, self.ema_decay)

    def training_step(self, batch, batch_idx):
        coarse, fine, lead = _unpack(batch)
        previous = wind = None
        if self.model.config.previous:
            if len(batch) < 5:
                raise ValueError("a previous=True model trains on WeatherDataModule(sequence=True) batches")
            hide = torch.rand(len(coarse)) < self.drop_previous
            previous = torch.where(hide[:, None, None], float("nan"), batch[3])  # NaN = not given
            wind = batch[4]
        r, cond = self.model.residual_target(
            self.model.normalize(coarse), self.model.normalize(fine), lead, previous, wind
        )
        loss = edm_loss(self.model.denoiser, r, cond, p_mean=self.p_mean, p_std=self.p_std)
        self.log("edm_loss", loss, prog_bar=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.ema.update(self.model.denoiser)

    def on_fit_end(self):
        self.model.denoiser.load_state_dict(self.ema.state_dict())

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.denoiser.parameters(), lr=self.lr)


CALIBRATION_OFFSET = 2  # baselines' error models are fitted on pairs from seed + 2 (never trained on)


@torch.no_grad()
def fit_sigma_data_and_noise(model: Downscaler, data: WeatherDataModule, n: int = 2048) -> float:
    """Set σ_data to the std of the diffusion target (training pairs) and fit the baselines' error
    models — bicubic + noise, MSE U-Net + noise, MSE U-Net + heteroscedastic Gaussian — on n
    calibration pairs from seed + 2 that no network was trained on."""
    data.setup()
    coarse, fine, lead = _unpack(data.train_set.tensors)
    r, _ = model.residual_target(
        model.normalize(coarse[:n]), model.normalize(fine[:n]), None if lead is None else lead[:n]
    )
    sd = float(r.std())
    model.config.sigma_data = sd
    model.denoiser.sigma_data = sd
    cal = make_weather_pairs(
        min(n, max(len(coarse), 256)), config=data.weather, random_state=data.seed + CALIBRATION_OFFSET
    )
    coarse, fine, lead = _tensors(cal)
    f = model.normalize(fine)
    model.noise_baseline.fit(f - model.normalize(model.bicubic(coarse)))
    mean_z = model.regress(model.normalize(coarse), lead)
    model.mse_noise.fit(f - mean_z)
    model.hetero_latent.fit(mean_z, f)
    model.hetero.fit(model.predict_mean(coarse, lead), fine)
    return sd


def train_downscaler(
    model: Downscaler,
    data: WeatherDataModule,
    *,
    regression_steps: int = 600,
    diffusion_steps: int = 1500,
    lr: float = 1e-3,
    seed: int = 0,
    live=None,
    progress_bar: bool = True,
    refit_sigma_data: bool = True,
) -> dict:
    """Regression stage, then σ_data / noise baseline fit, then EDM stage. Returns timing info."""
    regression_steps = check_int("regression_steps", regression_steps, low=0, high=10**7)
    diffusion_steps = check_int("diffusion_steps", diffusion_steps, low=0, high=10**7)
    info = {}
    t0 = time.perf_counter()
    if regression_steps:
        model.train()
        trainer = make_trainer(max_steps=regression_steps, seed=seed, live=live, progress_bar=progress_bar)
        trainer.fit(RegressionModule(model, lr=2 * lr), datamodule=data)
    model.regression.eval()
    info["regression_seconds"] = time.perf_counter() - t0
    if refit_sigma_data:  # a fine-tune keeps σ_data and the fitted baselines
        info["sigma_data"] = fit_sigma_data_and_noise(model, data)
    t1 = time.perf_counter()
    if diffusion_steps:
        model.train()
        trainer = make_trainer(max_steps=diffusion_steps, seed=seed + 1, live=live, progress_bar=progress_bar)
        trainer.fit(DiffusionModule(model, lr=lr), datamodule=data)
    model.eval()
    info["diffusion_seconds"] = time.perf_counter() - t1
    info["total_seconds"] = time.perf_counter() - t0
    return info
