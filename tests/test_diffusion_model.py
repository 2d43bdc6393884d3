"""EDM preconditioning, U-Net, baselines, checkpoints, the shipped model and the CLI."""

import json
import math

import pytest
import torch

from toolkit.diffusion import (
    DEFAULT_CHECKPOINT,
    EMA,
    Downscaler,
    EDMDenoiser,
    SpectralNoise,
    UNet,
    UNetConfig,
    WeatherConfig,
    bicubic_upsample,
    count_parameters,
    crps_ensemble,
    edm_coefficients,
    edm_loss,
    gaussian_denoiser,
    load_downscaler,
    load_pretrained,
    make_weather_pairs,
    save_downscaler,
)
from toolkit.diffusion.model import downscaler_config
from toolkit.io import CheckpointError

pytestmark = pytest.mark.usefixtures("one_thread")


def test_edm_coefficients_give_unit_variance_target_and_weight():
    sd = 0.37
    sigma = torch.logspace(-3, 2, 50, dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, sd)
    # network input c_in (y + σ n) has unit variance
    assert torch.allclose(c_in**2 * (sd**2 + sigma**2), torch.ones_like(sigma))
    # effective target (y - c_skip (y + σ n)) / c_out has unit variance
    var = ((1 - c_skip) ** 2 * sd**2 + c_skip**2 * sigma**2) / c_out**2
    assert torch.allclose(var, torch.ones_like(sigma))
    # EDM loss weight λ = 1 / c_out²
    lam = (sigma**2 + sd**2) / (sigma * sd) ** 2
    assert torch.allclose(lam * c_out**2, torch.ones_like(sigma))
    assert torch.allclose(c_noise, torch.log(sigma) / 4)


def test_untrained_edm_denoiser_is_the_exact_gaussian_denoiser():
    """The output layer starts at zero, so D = c_skip x: optimal for N(0, σ_data²) data."""
    sd = 0.6
    den = EDMDenoiser(UNet(UNetConfig(in_channels=1)), sigma_data=sd).double()
    x = torch.randn(4, 1, 32, 32, dtype=torch.float64)
    sigma = torch.tensor([0.01, 0.5, 2.0, 40.0], dtype=torch.float64)
    assert torch.allclose(den(x, sigma), gaussian_denoiser(0.0, sd)(x, sigma), atol=1e-12)


def test_unet_shapes_sizes_and_validation():
    net = UNet(UNetConfig(in_channels=3))
    assert 100_000 <= count_parameters(net) <= 300_000
    assert net(torch.zeros(2, 3, 32, 32), torch.zeros(2)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="shape"):
        net(torch.zeros(2, 2, 32, 32), torch.zeros(2))
    with pytest.raises(ValueError, match="divisible"):
        net(torch.zeros(2, 3, 30, 30), torch.zeros(2))
    with pytest.raises(ValueError, match="multiples of 8"):
        UNetConfig(channels=(12, 24))


def test_edm_loss_trains_and_ema_tracks():
    torch.manual_seed(0)
    den = EDMDenoiser(UNet(UNetConfig(in_channels=1, channels=(8, 16), emb_dim=8)), sigma_data=0.5)
    ema = EMA(den, decay=0.9)
    opt = torch.optim.Adam(den.parameters(), lr=3e-3)
    # data: a fixed pattern times a random amplitude -> learnable structure
    pattern = torch.sin(torch.linspace(0, 6.28, 8))[None, None, :, None] * torch.ones(1, 1, 8, 8)
    g = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(40):
        y = 0.5 * pattern * torch.randn(16, 1, 1, 1, generator=g)
        loss = edm_loss(den, y, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update(den)
        losses.append(float(loss.detach()))
    assert sum(losses[-10:]) < 0.8 * sum(losses[:10])
    p, pe = next(den.parameters()), next(ema.module.parameters())
    assert not pe.requires_grad and not torch.equal(p, pe) and float((p - pe).abs().max()) < 0.1


def test_bicubic_upsample_constant_and_smooth_fields():
    c = torch.full((2, 8, 8), 0.7)
    assert torch.allclose(bicubic_upsample(c, 4), torch.full((2, 32, 32), 0.7), atol=1e-6)
    # a low-frequency periodic wave is interpolated accurately (periodic padding: no edge errors)
    xf = (torch.arange(32) + 0.5) / 32
    xc = (torch.arange(8) + 0.5) / 8
    fine = torch.cos(2 * math.pi * xf)[None, :].expand(32, 32)
    coarse = torch.cos(2 * math.pi * xc)[None, :].expand(8, 8)
    assert float((bicubic_upsample(coarse, 4) - fine).abs().max()) < 0.05


def test_spectral_noise_matches_variance():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(500, 32, 32, generator=g).cumsum(-1) * 0.1  # red, anisotropic
    target = target - target.mean(dim=(-2, -1), keepdim=True)
    sn = SpectralNoise(32).fit(target)
    s = sn.sample((500, 32, 32), generator=g)
    assert abs(float(s.var()) / float(target.var()) - 1) < 0.05


def _tiny_model():
    return Downscaler(channels=(8, 16), emb_dim=8)


def test_checkpoint_roundtrip_and_errors(tmp_path):
    m = _tiny_model().eval()
    path = save_downscaler(m, tmp_path / "m.pt", extra={"note": "test"})
    m2 = load_downscaler(path)
    coarse = torch.rand(2, 8, 8)
    assert torch.equal(m.predict_mean(coarse), m2.predict_mean(coarse)) and m2.extra["note"] == "test"
    a = m.ensemble(coarse, 2, steps=3, generator=torch.Generator().manual_seed(0))
    b = m2.ensemble(coarse, 2, steps=3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == (2, 2, 32, 32)
    torch.load(path, weights_only=True)  # plain tensors and values only
    (tmp_path / "bad.pt").write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_downscaler(tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_downscaler(tmp_path / "none.pt")
    ck = torch.load(path, weights_only=True)
    ck["config"]["channels"] = [8, 24]
    torch.save(ck, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_downscaler(tmp_path / "mismatch.pt")
    ck["kind"] = "feedback-mlp"
    torch.save(ck, tmp_path / "kind.pt")
    with pytest.raises(CheckpointError, match="expected"):
        load_downscaler(tmp_path / "kind.pt")
    with pytest.raises(ValueError, match="coarse must have shape"):
        m.ensemble(torch.rand(2, 16, 16), 2)


def test_shipped_checkpoint_is_small_bounded_and_beats_mse_in_crps():
    assert DEFAULT_CHECKPOINT.is_file() and DEFAULT_CHECKPOINT.stat().st_size < 4_000_000
    model = load_pretrained()
    assert 100_000 <= count_parameters(model.denoiser) <= 300_000
    assert "python -m toolkit train diffusion" in model.extra["command"]
    cfg = model.config
    assert (
        cfg.transform == "logit" and cfg.lead_time and (cfg.kc_low, cfg.kc_high) == WeatherConfig().kc_range
    )
    p = make_weather_pairs(6, random_state=99)
    coarse, fine, lead = torch.from_numpy(p.coarse), torch.from_numpy(p.fine), torch.from_numpy(p.lead)
    ens = model.ensemble(
        coarse, 8, lead=lead, steps=9, method="dpmpp_2m", generator=torch.Generator().manual_seed(0)
    )
    crps_diff = float(crps_ensemble(fine, ens).mean())
    crps_mse = float((model.predict_mean(coarse, lead) - fine).abs().mean())
    assert crps_diff < 0.9 * crps_mse
    lo, hi = WeatherConfig().kc_range  # bounded by construction
    assert ens.min() >= lo and ens.max() <= hi
    with pytest.raises(ValueError, match="lead"):
        model.ensemble(coarse, 2, steps=2)


def test_logit_transform_roundtrip_and_bounds():
    m = Downscaler(downscaler_config(channels=(8, 16), emb_dim=8))
    kc = torch.linspace(0.0, 1.5, 301)
    back = m.denormalize(m.normalize(kc))
    lo, hi = m.config.kc_low, m.config.kc_high
    inside = (kc >= lo + 0.01 * (hi - lo)) & (kc <= hi - 0.01 * (hi - lo))
    assert torch.allclose(back[inside], kc[inside], atol=1e-5)
    # compared in float32 as the verification does (a float32 1.12 is above the float64 1.12)
    assert back.min() >= lo and back.max() <= hi
    z = torch.linspace(-50, 50, 101)
    assert m.denormalize(z).min() >= lo and m.denormalize(z).max() <= hi


def test_baseline_error_models():
    from toolkit.diffusion.baselines import BinnedGaussian

    g = torch.Generator().manual_seed(0)
    pred = torch.rand(20000, generator=g, dtype=torch.float64)
    truth = pred + (0.05 + 0.3 * pred) * torch.randn(20000, generator=g, dtype=torch.float64)
    bg = BinnedGaussian(8).fit(pred, truth)
    s = bg.sigma(torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64))
    assert torch.allclose(s, 0.05 + 0.3 * torch.tensor([0.05, 0.5, 0.95], dtype=torch.float64), rtol=0.15)
    assert torch.all(bg.sigmas[1:] > bg.sigmas[:-1])  # σ grows with the predicted value here
    with pytest.raises(ValueError, match="pred"):
        bg.fit(pred[:3], truth[:4])


def test_cli_train_and_evaluate_tiny(tmp_path, capsys):
    from toolkit.cli import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "diffusion",
                "--regression-steps",
                "2",
                "--diffusion-steps",
                "2",
                "--n-train",
                "64",
                "--batch-size",
                "8",
                "--eval-cases",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    assert (out / "downscaler.pt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert {r["method"] for r in metrics["quick_eval"]} >= {
        "MSE U-Net",
        "MSE U-Net + Gaussian",
        "diffusion-dpmpp_2m",
    }
    assert (
        main(
            [
                "evaluate",
                "diffusion",
                "--checkpoint",
                str(out / "downscaler.pt"),
                "--cases",
                "2",
                "--members",
                "2",
                "--nfe",
                "3",
                "--methods",
                "euler",
                "sde",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "diffusion-sde" in text and "MSE U-Net + noise" in text
    assert main(["evaluate", "diffusion", "--checkpoint", str(tmp_path / "nope.pt")]) == 2


def test_training_is_reproducible_with_the_same_seed(tmp_path):
    """Issue 15: the networks are built after seeding, so two runs with --seed 3 give equal tensors."""
    from toolkit.cli import main

    args = [
        "train",
        "diffusion",
        "--regression-steps",
        "2",
        "--diffusion-steps",
        "2",
        "--n-train",
        "64",
        "--batch-size",
        "8",
        "--eval-cases",
        "2",
        "--seed",
        "3",
        "--no-progress",
    ]
    for run in ("a", "b"):
        assert main(args + ["--out", str(tmp_path / run)]) == 0
    sa = torch.load(tmp_path / "a" / "downscaler.pt", weights_only=True)["state_dict"]
    sb = torch.load(tmp_path / "b" / "downscaler.pt", weights_only=True)["state_dict"]
    assert sa.keys() == sb.keys() and len(sa) > 50
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
