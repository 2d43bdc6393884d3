"""Autoregressive scenarios: the sequence training pairs, the previous-hour input and autoregressive_day."""

import numpy as np
import pytest
import torch

from toolkit.diffusion import Downscaler, crps_ensemble, make_weather_pairs, make_weather_sequence
from toolkit.diffusion.lightning import DiffusionModule, WeatherDataModule
from toolkit.diffusion.model import downscaler_config
from toolkit.diffusion.scenarios import autoregressive_day, forecast_day, lag1_autocorrelation
from toolkit.diffusion.weather import WeatherConfig, WeatherPairs, make_sequence_pairs

pytestmark = pytest.mark.usefixtures("one_thread")


def _tiny(previous: bool) -> Downscaler:
    torch.manual_seed(0)
    return Downscaler(downscaler_config(channels=(8, 16), emb_dim=8, previous=previous)).eval()


def test_sequence_pairs_without_wind_or_evolution_repeat_the_hour():
    # w = 0 and a = 1: g_t = g_{t-1} exactly, so both hours have the same clear-sky index
    p = make_sequence_pairs(16, random_state=3, wind_max=0.0, evolution=0.0)
    np.testing.assert_array_equal(p.previous, p.fine)


def test_sequence_pairs_have_the_single_hour_distribution_and_a_linked_previous_hour():
    p = make_sequence_pairs(3000, random_state=0)
    q = make_weather_pairs(3000, random_state=1)
    assert p.previous.shape == p.fine.shape == (3000, 32, 32) and p.coarse.shape == (3000, 8, 8)
    for a, b in ((p.fine, q.fine), (p.previous, q.fine)):
        assert abs(a.mean() - b.mean()) < 0.01 and abs(a.std() - b.std()) < 0.01
    assert set(np.unique(p.lead)) <= set(range(1, 25)) and len(np.unique(p.lead)) == 24

    def pattern_corr(q):  # correlation of the cloud patterns (each case's mean, i.e. its regime, removed)
        a, b = (x - x.mean(axis=(1, 2), keepdims=True) for x in (q.fine, q.previous))
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    assert 0.4 < pattern_corr(p) < 0.95  # the next hour follows on, but has moved and evolved
    assert abs(pattern_corr(make_sequence_pairs(500, random_state=0, evolution=1.0))) < 0.05  # fresh field


def test_sequence_pairs_record_the_wind_that_moved_the_clouds():
    # without evolution the hour-t field is exactly the hour-(t-1) field carried by the recorded wind
    p = make_sequence_pairs(200, random_state=2, evolution=0.0, wind_max=2.0)
    assert p.wind.shape == (200, 2) and np.all(np.hypot(*p.wind.T) <= 2.0)
    assert np.hypot(*p.wind.T).max() > 1.8 and np.hypot(*p.wind.T).min() < 0.3  # the disc is filled
    from toolkit.diffusion.scenarios import moved_pattern_correlation

    strong = np.flatnonzero(np.hypot(*p.wind.T) > 1.0)[:5]
    for k in strong:  # kc of the moved field ≈ the moved kc (the cloud threshold is not linear)
        pair = np.stack([p.previous[k], p.fine[k]])
        assert moved_pattern_correlation(pair, p.wind[k]) > 0.95
        assert moved_pattern_correlation(pair, -p.wind[k]) < moved_pattern_correlation(pair, p.wind[k]) - 0.1
    with pytest.raises(ValueError, match="together"):
        WeatherPairs(p.coarse, p.fine, p.cloud_fraction, WeatherConfig(), previous=p.previous)
    with pytest.raises(ValueError, match="wind"):
        WeatherPairs(
            p.coarse, p.fine, p.cloud_fraction, WeatherConfig(), previous=p.previous, wind=p.wind[:3]
        )


def test_sequence_pairs_keep_each_case_s_regime_and_cloud_cover_from_hour_to_hour():
    cfg = WeatherConfig()
    p = make_sequence_pairs(64, config=cfg, random_state=7)
    cloudy = [(kc < 1.0).mean(axis=(1, 2)) for kc in (p.previous, p.fine)]
    # both hours are thresholded at the same per-case cloud fraction (the regime does not change in an hour)
    np.testing.assert_allclose(cloudy[0], cloudy[1], atol=2 / 32**2)
    np.testing.assert_allclose(cloudy[1], p.cloud_fraction, atol=2 / 32**2)
    for kc in (p.fine, p.previous):
        assert kc.min() >= cfg.kc_range[0] - 1e-6 and kc.max() <= cfg.kc_range[1] + 1e-6


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"wind_max": -1.0}, "wind_max"),
        ({"evolution": 1.5}, "evolution"),
        ({"n": 0}, "n"),
    ],
)
def test_sequence_pairs_reject_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sequence_pairs(**{"n": 4, **kwargs})


def test_previous_planes_move_the_previous_hour_with_the_wind():
    from toolkit.diffusion.weather import advect

    m = _tiny(previous=True)
    p = make_sequence_pairs(3, random_state=0)
    prev, wind = torch.from_numpy(p.previous), torch.from_numpy(p.wind)
    none = m.previous_planes(None, None, 2, 3)
    assert none.shape == (6, 2, 32, 32) and none.abs().sum() == 0
    shared = m.previous_planes(prev, wind, 2, 3)
    assert torch.equal(shared[:3], shared[3:]) and torch.all(shared[:, 1] == 1)
    moved = torch.from_numpy(advect(p.previous.astype(np.float64), p.wind)).float()
    torch.testing.assert_close(shared[:3, 0], m.normalize(moved))
    # a whole-pixel wind is np.roll exactly
    rolled = m.previous_planes(prev, torch.tensor([0.0, 3.0]), 1, 3)
    torch.testing.assert_close(rolled[:, 0], m.normalize(torch.roll(prev, 3, dims=-1)), atol=1e-5, rtol=0)
    per_member = m.previous_planes(prev.expand(2, 3, 32, 32), wind, 2, 3)
    assert torch.equal(per_member, shared)
    hidden = prev.clone()
    hidden[1] = float("nan")  # NaN = not given (how training hides the previous hour)
    planes = m.previous_planes(hidden, wind, 1, 3)
    assert planes[1].abs().sum() == 0 and torch.all(planes[[0, 2], 1] == 1)
    torch.testing.assert_close(planes[[0, 2]], shared[[0, 2]])
    with pytest.raises(ValueError, match="previous must be kc fields"):
        m.previous_planes(prev[:2], wind, 2, 3)
    with pytest.raises(ValueError, match="wind must be finite"):
        m.previous_planes(prev, wind[:2], 2, 3)
    with pytest.raises(ValueError, match="wind must be finite"):
        m.previous_planes(prev, torch.tensor([float("nan"), 0.0]), 2, 3)
    with pytest.raises(ValueError, match="together"):
        m.previous_planes(prev, None, 2, 3)
    with pytest.raises(ValueError, match="previous must be None"):
        _tiny(previous=False).previous_planes(prev, wind, 1, 3)


def test_ensemble_depends_on_the_previous_hour_and_shared_equals_per_member():
    m = _tiny(previous=True)
    with torch.no_grad():  # the U-Net's output layer starts at zero: give every weight a value
        for w in m.denoiser.parameters():
            w.normal_(0, 0.1)
    p = make_sequence_pairs(2, random_state=1)
    c, lead, prev = torch.from_numpy(p.coarse), torch.from_numpy(p.lead), torch.from_numpy(p.previous)
    wind = torch.from_numpy(p.wind)

    def run(previous, wind):
        g = torch.Generator().manual_seed(0)
        return m.ensemble(c, 3, lead=lead, steps=3, method="euler", generator=g, previous=previous, wind=wind)

    without, shared = run(None, None), run(prev, wind)
    assert without.shape == shared.shape == (3, 2, 32, 32)
    assert not torch.allclose(without, shared)
    assert not torch.allclose(run(prev, wind + 1.0), shared)  # the wind is an input too
    torch.testing.assert_close(run(prev.expand(3, 2, 32, 32), wind), shared, rtol=0, atol=0)
    # x; bicubic NWP + MSE mean; lead; previous field moved by the wind, mask
    assert m.denoiser.net.config.in_channels == 1 + 2 + 1 + 2


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")  # a step outside a Trainer
def test_previous_model_trains_on_sequence_batches_only():
    m = _tiny(previous=True)
    module = DiffusionModule(m, drop_previous=0.5)
    seq = WeatherDataModule(n_train=8, n_val=2, batch_size=4, sequence=True)
    seq.setup()
    batch = seq.train_set.tensors
    assert len(batch) == 5
    torch.manual_seed(0)
    assert torch.isfinite(module.training_step(batch, 0))
    single = WeatherDataModule(n_train=8, n_val=2, batch_size=4)
    single.setup()
    with pytest.raises(ValueError, match="sequence=True"):
        module.training_step(single.train_set.tensors, 0)
    with pytest.raises(ValueError, match="drop_previous"):
        DiffusionModule(m, drop_previous=1.5)
    with pytest.raises(TypeError, match="sequence"):
        WeatherDataModule(sequence="yes")


def test_autoregressive_day_chains_members_through_the_day():
    m = _tiny(previous=True)
    seq = make_weather_sequence(range(24), random_state=0)
    day = np.flatnonzero(seq.ghi_clear > 0)
    fc = autoregressive_day(m, seq, members=3, steps=2)
    assert fc["members"].shape == (len(day), 3) and fc["truth"].shape == (len(day),)
    assert np.all(fc["members_kc"] >= 0.15 - 1e-6) and np.all(fc["members_kc"] <= 1.12 + 1e-6)
    np.testing.assert_allclose(fc["members"], fc["members_kc"] * fc["clear"][:, None])
    assert fc["fields"].shape == (len(day), 3, 32, 32)
    np.testing.assert_array_equal(fc["fields"][:, :, 16, 16].numpy(), fc["members_kc"])
    again = autoregressive_day(m, seq, members=3, steps=2)
    np.testing.assert_array_equal(again["members"], fc["members"])  # seeded
    # a single-hour model cannot chain hours; a gap in the hours is not what it was trained on
    with pytest.raises(ValueError, match="previous=True"):
        autoregressive_day(_tiny(previous=False), seq, members=2, steps=2)
    gappy = make_weather_sequence([8, 9, 11, 12], random_state=0)
    with pytest.raises(ValueError, match="consecutive"):
        autoregressive_day(m, gappy, members=2, steps=2)
    with pytest.raises(ValueError, match="method"):
        autoregressive_day(m, seq, members=2, steps=2, method="magic")


def test_forecast_day_and_lag1_autocorrelation_known_cases():
    t = np.arange(50.0)
    assert lag1_autocorrelation(np.ones(5))[0] == 0.0  # a constant has no variance: 0, not NaN
    alternating = np.where(t % 2 == 0, 1.0, -1.0)
    assert lag1_autocorrelation(alternating)[0] == pytest.approx(-49 / 50)
    smooth = np.sin(2 * np.pi * t / 50)
    assert lag1_autocorrelation(np.stack([smooth, alternating], 1))[0] > 0.9
    m = _tiny(previous=False)
    seq = make_weather_sequence(range(8, 12), random_state=1)
    fc = forecast_day(m, seq, members=2, steps=2)
    assert fc["members"].shape == (4, 2)


def test_moved_pattern_correlation_known_cases():
    from toolkit.diffusion.scenarios import moved_pattern_correlation, scenario_scores
    from toolkit.diffusion.weather import advect, gaussian_random_field

    g = gaussian_random_field(1, 32, random_state=0)[0]
    moving = np.stack([advect(g, (0.0, 2.0 * t)) for t in range(5)])  # clouds carried by a (0, 2) px/h wind
    assert moved_pattern_correlation(moving, (0.0, 2.0)) == pytest.approx(1.0, abs=1e-12)
    assert moved_pattern_correlation(moving, (0.0, 0.0)) < 0.9  # standing still misses the motion
    members = np.stack([moving, moving[:, ::-1]], axis=1)  # (T, M, H, W): each member moves the same way
    assert moved_pattern_correlation(members, (0.0, 2.0)) == pytest.approx(1.0, abs=1e-12)
    fresh = gaussian_random_field(40, 32, random_state=1)
    assert abs(moved_pattern_correlation(fresh, (0.0, 2.0))) < 0.05  # a new sky every hour
    with pytest.raises(ValueError, match="fields"):
        moved_pattern_correlation(moving[:1], (0.0, 2.0))
    seq = make_weather_sequence(range(24), random_state=0, evolution=0.0, wind=(0.0, 1.0))
    day = np.flatnonzero(seq.ghi_clear > 0)
    fc = forecast_day(_tiny(previous=False), seq, members=2, steps=2)
    scores = scenario_scores(fc, seq)
    assert scores["truth"]["pattern"] == pytest.approx(1.0, abs=1e-6)  # frozen clouds in a steady wind
    assert scores["truth"]["kc"] == pytest.approx(lag1_autocorrelation(seq.fine[day][:, 16, 16])[0])
    members = fc["fields"].transpose(0, 1)  # the CRPS of the day's fields against the truth's
    expected = crps_ensemble(torch.from_numpy(seq.fine[day]), members).mean()
    assert scores["members"]["crps"] == pytest.approx(float(expected))
    # a preview forecast of every 2nd hour is scored at its own hours, the clouds moved 2 h of wind
    every2 = forecast_day(_tiny(previous=False), seq, members=2, steps=2, every=2)
    assert scenario_scores(every2, seq)["truth"]["pattern"] == pytest.approx(1.0, abs=1e-6)
    uneven = dict(fc, hours=np.r_[fc["hours"][:2], fc["hours"][3:]])
    with pytest.raises(ValueError, match="evenly spaced"):
        scenario_scores(uneven, seq)
    with pytest.raises(TypeError, match="seq"):
        scenario_scores(fc, "day")


def test_cli_trains_the_sequence_model_and_records_the_flag(tmp_path):
    from toolkit.cli import main
    from toolkit.diffusion import load_downscaler

    out = tmp_path / "seq"
    argv = ["train", "diffusion", "--regression-steps", "2", "--diffusion-steps", "2", "--n-train", "32"]
    argv += ["--batch-size", "8", "--eval-cases", "2", "--sequence", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    model = load_downscaler(out / "downscaler.pt")
    assert model.config.previous and model.extra["command"].endswith("--sequence")
    seq = make_weather_sequence(range(10, 13), random_state=0)
    fc = autoregressive_day(model, seq, members=2, steps=2)
    assert fc["members"].shape == (3, 2)


def test_shipped_sequence_model_is_autoregressive_and_small():
    from toolkit.diffusion import SEQUENCE_CHECKPOINT, load_pretrained

    assert SEQUENCE_CHECKPOINT.is_file() and SEQUENCE_CHECKPOINT.stat().st_size < 4_000_000
    model = load_pretrained(sequence=True)
    assert model.config.previous and "--sequence" in model.extra["command"]
    assert not load_pretrained().config.previous  # the single-hour default is unchanged


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"seq": "day"}, TypeError, "seq"),
        ({"members": 0}, ValueError, "members"),
        ({"steps": 0}, ValueError, "steps"),
        ({"method": "magic"}, ValueError, "method"),
        ({"seed": -1}, ValueError, "seed"),
        ({"site": (40, 3)}, ValueError, "site"),
        ({"site": (1, 2, 3)}, ValueError, "site"),
        ({"memory": 1.5}, ValueError, "memory"),
        ({"model": "tiny"}, TypeError, "model"),
    ],
)
def test_forecast_day_refuses_bad_arguments_by_name(kwargs, exc, match):
    args = {"model": _tiny(previous=False), "seq": make_weather_sequence(range(8, 11), random_state=0)}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        forecast_day(args.pop("model"), args.pop("seq"), **{"members": 2, "steps": 2, **args})
