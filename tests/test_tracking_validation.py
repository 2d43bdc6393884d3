"""Bad input to the tracking API: a clear ValueError/TypeError naming the parameter (issue 15).

Each case is a concrete call the fuzz module (tests/test_fuzz_public_api.py) found mishandled before
the fix: an AttributeError/IndexError/RuntimeError leaking out, an error naming nothing, or a bad
value accepted. The valid-input behaviour is covered by the other test_tracking_* modules.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from toolkit.tracking import (
    DetectorConfig,
    EdgeClassifier,
    Event,
    InteractionNetwork,
    ModelConfig,
    Phantom,
    TrainConfig,
    barrier_height,
    bce_loss,
    build_graphs,
    count_parameters,
    energy_of_range,
    exact_match_purity_efficiency,
    fit,
    hamming_loss,
    highland_theta0,
    image_rmse,
    interpolate_models,
    linear_path,
    loss_slice,
    make_dataset,
    phantom,
    phantom_image,
    radiograph,
    range_of_energy,
    read_trackml,
    save_model,
    simulate_events,
    stability_sweep,
    track_purity_efficiency,
    track_wepl,
    tracking_loss,
    trackml_score,
    write_trackml,
)


@pytest.fixture(scope="module")
def graphs():
    return make_dataset(3, seed=0)


@pytest.fixture(scope="module")
def event():
    return simulate_events(1, DetectorConfig(), random_state=0)[0]


class Opaque:
    pass


def _raises(exc, param, call):
    """``call()`` raises ``exc`` and its message names ``param`` as a word."""
    with pytest.raises(exc, match=rf"(?<![A-Za-z0-9_]){param}(?![A-Za-z0-9_])"):
        call()


# --- configs: validated when built ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, field, value, exc",
    [
        (DetectorConfig, "n_layers", "not-a-value", TypeError),
        (DetectorConfig, "energy_spread", None, TypeError),
        (DetectorConfig, "layer_x0", Opaque(), TypeError),
        (DetectorConfig, "poisson_multiplicity", 1, TypeError),
        (DetectorConfig, "efficiency", math.nan, ValueError),
        (ModelConfig, "node_features", False, TypeError),
        (ModelConfig, "n_iter", -842430.38, TypeError),
        (ModelConfig, "hidden", True, TypeError),
        (ModelConfig, "hidden", 1, ValueError),
        (TrainConfig, "mode", None, ValueError),
        (TrainConfig, "estimator", Opaque(), ValueError),
        (TrainConfig, "lam", "not-a-value", TypeError),
        (TrainConfig, "seed", True, TypeError),
        (TrainConfig, "lr_milestones", 0.5, TypeError),
    ],
)
def test_configs_refuse_bad_fields_when_built(cls, field, value, exc):
    _raises(exc, field, lambda: cls(**{field: value}))


def test_valid_configs_are_unchanged():
    assert dataclasses.asdict(DetectorConfig()) == DetectorConfig().to_dict()
    assert TrainConfig(lr_milestones=[0.5]).lr_milestones == (0.5,)
    assert TrainConfig(no_match=None).no_match is None  # the paper's assignment, documented as allowed
    assert ModelConfig().hidden == 32


# --- data containers -------------------------------------------------------------------------------------
def test_event_checks_its_arrays(event):
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(Event)}
    _raises(TypeError, "z", lambda: Event(**{**fields, "z": None}))
    _raises(TypeError, "layer", lambda: Event(**{**fields, "layer": Opaque()}))
    _raises(TypeError, "edep", lambda: Event(**{**fields, "edep": "1e999"}))
    _raises(TypeError, "particles", lambda: Event(**{**fields, "particles": None}))
    _raises(ValueError, "layer", lambda: Event(**{**fields, "layer": -np.ones_like(event.layer)}))
    _raises(ValueError, "particle_id", lambda: Event(**{**fields, "particle_id": event.particle_id[:-1]}))
    _raises(TypeError, "event_id", lambda: Event(**{**fields, "event_id": 1.5}))
    nan_x = Event(**{**fields, "x": np.full(event.n_hits, np.nan)})  # allowed here; build_graph refuses it
    assert np.isnan(nan_x.x).all()


def test_phantom_checks_its_objects():
    _raises(TypeError, "objects", lambda: Phantom(Opaque()))
    _raises(TypeError, "objects", lambda: Phantom(None))
    _raises(ValueError, "objects", lambda: Phantom([dict(cx=0.0)]))
    _raises(ValueError, "objects", lambda: Phantom([{**phantom().objects[0], "rx": 0.0}]))
    _raises(ValueError, "objects", lambda: Phantom([{**phantom().objects[0], "wet": math.nan}]))
    _raises(ValueError, "kind", lambda: phantom(np.full(4, np.nan)))
    _raises(ValueError, "kind", lambda: phantom("bone"))


# --- physics ---------------------------------------------------------------------------------------------
def test_range_energy_functions():
    _raises(TypeError, "energy", lambda: range_of_energy(Opaque()))
    _raises(TypeError, "energy", lambda: range_of_energy(10**400))
    _raises(TypeError, "energy", lambda: range_of_energy(None))
    _raises(TypeError, "energy", lambda: range_of_energy(""))
    _raises(TypeError, "rng_mm", lambda: energy_of_range(Opaque()))
    _raises(TypeError, "rng_mm", lambda: energy_of_range(None))
    _raises(ValueError, "energy", lambda: range_of_energy(6.99e307))  # would overflow to inf
    _raises(ValueError, "rng_mm", lambda: energy_of_range(6.99e307))
    assert math.isnan(range_of_energy(math.nan))  # NaN propagates, is not clamped
    np.testing.assert_allclose(energy_of_range(range_of_energy(np.array([50.0, 90.0]))), [50.0, 90.0])


def test_highland_theta0():
    _raises(ValueError, "energy", lambda: highland_theta0(torch.ones((0, 4)), np.ones((4, 4))))
    _raises(ValueError, "x_over_x0", lambda: highland_theta0(np.ones((4, 4)), np.ones((5, 0))))
    _raises(TypeError, "energy", lambda: highland_theta0("", 0.04))
    _raises(TypeError, "energy", lambda: highland_theta0(Opaque(), 0.04))
    _raises(ValueError, "x_over_x0", lambda: highland_theta0(100.0, math.nan))
    _raises(ValueError, "energy", lambda: highland_theta0(8.4e307, 0.04))  # was NaN by overflow
    bf16 = highland_theta0(torch.full((4,), 100.0, dtype=torch.bfloat16), 0.04)  # converted, not refused
    np.testing.assert_allclose(bf16, highland_theta0(np.full(4, 100.0), 0.04))


# --- graphs and images -----------------------------------------------------------------------------------
def test_build_graphs(event):
    _raises(TypeError, "events", lambda: build_graphs(torch.randn(5, 1, 6)))
    _raises(TypeError, "events", lambda: build_graphs(Opaque()))
    _raises(TypeError, "events", lambda: build_graphs(None))
    _raises(TypeError, "events", lambda: build_graphs(0))
    _raises(ValueError, "window", lambda: build_graphs([], window=math.inf))
    _raises(TypeError, "window", lambda: build_graphs([], window=torch.full((4,), math.nan)))
    _raises(TypeError, "config", lambda: build_graphs([event], "1e999"))
    assert build_graphs([]) == []


def test_imaging(graphs):
    g = graphs[0]
    labels = np.arange(g.num_nodes)
    _raises(TypeError, "data", lambda: track_wepl(torch.ones((0, 4)), labels))
    _raises(TypeError, "data", lambda: track_wepl(None, labels))
    _raises(TypeError, "labels", lambda: track_wepl(g, Opaque()))
    _raises(ValueError, "labels", lambda: track_wepl(g, labels[:-1]))
    _raises(TypeError, "config", lambda: track_wepl(g, labels, np.random.randn(3, 3, 1)))
    _raises(TypeError, "graphs", lambda: radiograph(Opaque(), [labels]))
    _raises(TypeError, "graphs", lambda: radiograph(None, [labels]))
    _raises(TypeError, "labels", lambda: radiograph([g], True))
    _raises(TypeError, "config", lambda: radiograph([g], [labels], torch.ones(0)))
    _raises(ValueError, "extent", lambda: radiograph([g], [labels], extent=math.inf))
    _raises(TypeError, "phantom", lambda: phantom_image(-217358.09))
    _raises(TypeError, "config", lambda: phantom_image(phantom(), torch.ones(4, dtype=torch.complex64)))
    _raises(ValueError, "extent", lambda: phantom_image(phantom(), extent=2.69e307))
    _raises(TypeError, "image", lambda: image_rmse("not-a-value", np.zeros((4, 4))))
    _raises(TypeError, "image", lambda: image_rmse(Opaque(), np.zeros((4, 4))))
    _raises(ValueError, "reference", lambda: image_rmse(np.zeros((4, 4)), np.zeros((4, 5))))
    img = np.array([[1.0, np.nan], [3.0, 4.0]])  # NaN = no track in that pixel: skipped, as documented
    assert image_rmse(img, np.zeros((2, 2))) == pytest.approx(np.sqrt((1 + 9 + 16) / 3))


# --- losses ----------------------------------------------------------------------------------------------
def test_bce_and_hamming_loss():
    logits, target = torch.zeros(4), torch.tensor([0.0, 1.0, 1.0, 0.0])
    _raises(TypeError, "logits", lambda: bce_loss(None, target))
    _raises(TypeError, "logits", lambda: bce_loss("1e999", target))
    _raises(TypeError, "target", lambda: bce_loss(logits, Opaque()))
    _raises(TypeError, "target", lambda: bce_loss(logits, None))
    _raises(ValueError, "target", lambda: bce_loss(logits, torch.randn(6, 3, 0, 4)))
    _raises(ValueError, "target", lambda: bce_loss(logits, torch.full((4,), 2.0)))
    assert bce_loss(logits, target.bool()) == pytest.approx(math.log(2))  # bool labels still accepted
    _raises(TypeError, "y", lambda: hamming_loss(None, target))
    _raises(TypeError, "y", lambda: hamming_loss(Opaque(), target))
    _raises(ValueError, "y", lambda: hamming_loss(torch.full((4,), 6.2e307, dtype=torch.float64), target))
    _raises(TypeError, "target", lambda: hamming_loss(target, "1e999"))
    _raises(ValueError, "target", lambda: hamming_loss(target, torch.full((8, 2), math.nan)))
    assert float(hamming_loss(target, 1 - target)) == 1.0


def test_tracking_loss(graphs):
    g = graphs[0]
    logits = torch.zeros(g.num_edges)
    _raises(TypeError, "data", lambda: tracking_loss(logits, None, 10))
    _raises(ValueError, "logits", lambda: tracking_loss(True, g, 10))
    _raises(ValueError, "data", lambda: tracking_loss(torch.zeros(3), g, 10))
    _raises(TypeError, "n_layers", lambda: tracking_loss(logits, g, Opaque()))
    _raises(ValueError, "estimator", lambda: tracking_loss(logits, g, 10, estimator=-math.inf))
    _raises(ValueError, "lam", lambda: tracking_loss(logits, g, 10, lam=-547268.5))
    _raises(TypeError, "lam", lambda: tracking_loss(logits, g, 10, lam=None))
    _raises(TypeError, "no_match", lambda: tracking_loss(logits, g, 10, no_match="not-a-value"))


# --- landscape -------------------------------------------------------------------------------------------
def test_landscape(graphs):
    m = EdgeClassifier()
    _raises(TypeError, "model_a", lambda: interpolate_models(True, m, 0.5))
    _raises(TypeError, "model_b", lambda: interpolate_models(m, None, 0.5))
    _raises(TypeError, "alpha", lambda: interpolate_models(m, m, None))
    _raises(TypeError, "model_a", lambda: linear_path("not-a-value", m, graphs, 10))
    _raises(TypeError, "graphs", lambda: linear_path(m, m, -590, 10))
    _raises(ValueError, "graphs", lambda: linear_path(m, m, [], 10))
    _raises(TypeError, "graphs", lambda: linear_path(m, m, torch.ones(4, dtype=torch.bool), 10))
    _raises(TypeError, "n_layers", lambda: linear_path(m, m, graphs, -0.0))
    _raises(TypeError, "no_match", lambda: linear_path(m, m, graphs, 10, no_match=Opaque()))
    _raises(TypeError, "values", lambda: barrier_height(Opaque()))
    _raises(ValueError, "values", lambda: barrier_height([1.0]))
    _raises(TypeError, "alphas", lambda: barrier_height([0.0, 1.0], "not-a-value"))
    _raises(ValueError, "alphas", lambda: barrier_height([0.0, 1.0], 0))
    assert barrier_height([0.0, 1.0, 0.0]) == 1.0


def test_loss_slice():
    cost, target = np.array([[0.2, 0.9], [0.8, 0.1]]), np.eye(2)
    _raises(TypeError, "cost", lambda: loss_slice(Opaque(), target, 0.1, entry=(0, 0)))
    _raises(ValueError, "cost", lambda: loss_slice(np.full((2, 2), np.nan), target, 0.1, entry=(0, 0)))
    _raises(TypeError, "target", lambda: loss_slice(cost, "not-a-value", 0.1, entry=(0, 0)))
    _raises(ValueError, "target", lambda: loss_slice(cost, np.full((2, 2), 0.5), 0.1, entry=(0, 0)))
    _raises(TypeError, "entry", lambda: loss_slice(cost, target, 0.1, entry=-0.0))
    _raises(TypeError, "entry", lambda: loss_slice(cost, target, 0.1, entry=Opaque()))
    _raises(ValueError, "entry", lambda: loss_slice(cost, target, 0.1, entry=(2, 0)))
    _raises(ValueError, "t", lambda: loss_slice(cost, target, 0.1, entry=(0, 0), t=[0.0, math.nan]))
    _raises(ValueError, "direction", lambda: loss_slice(cost, target, 0.1, direction=np.ones(3)))
    assert len(loss_slice(cost, target, 0.1, entry=(0, 0), t=np.linspace(-1, 1, 5))) == 5


def test_stability_sweep_checks_before_training():
    _raises(ValueError, "lams", lambda: stability_sweep(5.9e307, [0, 1]))
    _raises(TypeError, "lams", lambda: stability_sweep(None, [0, 1]))
    _raises(ValueError, "lams", lambda: stability_sweep([0.0], [0, 1]))
    _raises(ValueError, "seeds", lambda: stability_sweep([0.1], False))
    _raises(ValueError, "seeds", lambda: stability_sweep([0.1], [0]))
    _raises(TypeError, "seeds", lambda: stability_sweep([0.1], [0.5, 1.5]))
    _raises(TypeError, "detector", lambda: stability_sweep([0.1], [0, 1], np.ones((0, 4))))
    _raises(ValueError, "mode", lambda: stability_sweep([0.1], [0, 1], mode="nope"))
    _raises(TypeError, "callback", lambda: stability_sweep([0.1], [0, 1], callback=3))


# --- metrics ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [exact_match_purity_efficiency, track_purity_efficiency, trackml_score])
def test_track_metrics(fn):
    pid = np.array([1, 1, 2, 2, 0])
    _raises(TypeError, "track_label", lambda: fn(Opaque(), pid))
    _raises(TypeError, "track_label", lambda: fn(10**400, pid))
    _raises(TypeError, "track_label", lambda: fn(None, pid))
    _raises(ValueError, "track_label", lambda: fn(math.nan, pid))
    _raises(ValueError, "track_label", lambda: fn(np.full(5, np.inf), pid))
    _raises(ValueError, "track_label", lambda: fn(np.full(5, 6.2e307), pid))
    _raises(ValueError, "track_label", lambda: fn(np.array([0.5, 0, 0, 0, 0]), pid))
    _raises(ValueError, "particle_id", lambda: fn(pid, -pid))
    _raises(ValueError, "particle_id", lambda: fn(pid, pid[:-1]))
    assert fn(pid.astype(float), pid) == fn(pid, pid)  # whole-number floats are ids too


def test_trackml_score_weight():
    pid = np.array([1, 1, 2, 2])
    _raises(ValueError, "weight", lambda: trackml_score(pid, pid, -np.ones(4)))
    _raises(ValueError, "weight", lambda: trackml_score(pid, pid, [1.0, math.nan, 1.0, 1.0]))
    assert trackml_score(pid, pid, np.ones(4)) == 1.0


# --- model -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, exc",
    [
        (0.0, TypeError),
        (12842233323, ValueError),
        (None, TypeError),
        ("1e999", TypeError),
        (-133, ValueError),
        (True, TypeError),
        (torch.ones(2, 4, 4, dtype=torch.bfloat16), TypeError),
    ],
)
def test_interaction_network_hidden(value, exc):
    _raises(exc, "hidden", lambda: InteractionNetwork(value))


@pytest.mark.parametrize(
    "value", [torch.ones((0, 4)), "nan", -50434.6, True, np.random.randn(5, 1, 1, 1), {}]
)
def test_edge_classifier_config(value):
    _raises(TypeError, "config", lambda: EdgeClassifier(value))


@pytest.mark.parametrize("value", [True, np.zeros(3), None, "x", 0, [], torch.ones(4)])
def test_count_parameters_model(value):
    _raises(TypeError, "model", lambda: count_parameters(value))


# --- training and files ----------------------------------------------------------------------------------
def test_make_dataset():
    _raises(TypeError, "seed", lambda: make_dataset(2, seed=Opaque()))
    _raises(TypeError, "seed", lambda: make_dataset(2, seed=None))
    _raises(TypeError, "config", lambda: make_dataset(2, torch.full((4,), math.nan)))
    _raises(ValueError, "window", lambda: make_dataset(2, window=0.0))
    _raises(ValueError, "n_events", lambda: make_dataset(-1))


def test_fit_checks_before_training(graphs):
    _raises(TypeError, "train_graphs", lambda: fit(-217358.09))
    _raises(TypeError, "train_graphs", lambda: fit(np.full((8, 2), np.nan)))
    _raises(ValueError, "train_graphs", lambda: fit([]))
    _raises(TypeError, "config", lambda: fit(graphs, {}))
    _raises(ValueError, "n_layers", lambda: fit(graphs, n_layers=1))
    _raises(TypeError, "model", lambda: fit(graphs, model="x"))
    _raises(TypeError, "callback", lambda: fit(graphs, callback=3))
    _raises(TypeError, "val_graphs", lambda: fit(graphs, val_graphs=[3]))
    _raises(ValueError, "eval_every", lambda: fit(graphs, eval_every=0))


def test_save_model(tmp_path):
    m = EdgeClassifier()
    path = tmp_path / "m.pt"
    _raises(TypeError, "model", lambda: save_model(path, None, TrainConfig()))
    _raises(TypeError, "model", lambda: save_model(path, torch.full((4,), math.nan), TrainConfig()))
    _raises(TypeError, "train_config", lambda: save_model(path, m, Opaque()))
    _raises(TypeError, "train_config", lambda: save_model(path, m, None))
    _raises(TypeError, "detector", lambda: save_model(path, m, TrainConfig(), "1e999"))
    _raises(TypeError, "path", lambda: save_model(0.0, m, TrainConfig()))
    _raises(TypeError, "extra", lambda: save_model(path, m, TrainConfig(), extra=-math.inf))
    assert not path.exists()


def test_read_trackml(tmp_path, event):
    write_trackml(event, tmp_path, prefix="ev")
    _raises(TypeError, "directory", lambda: read_trackml(5.9e307, "ev"))
    _raises(TypeError, "directory", lambda: read_trackml(torch.ones((4, 4), dtype=torch.bool), "ev"))
    _raises(TypeError, "prefix", lambda: read_trackml(tmp_path, False))
    _raises(ValueError, "prefix", lambda: read_trackml(tmp_path, ""))
    _raises(ValueError, "prefix", lambda: read_trackml(tmp_path, "../ev"))
    _raises(TypeError, "event_id", lambda: read_trackml(tmp_path, "ev", event_id=None))
    _raises(ValueError, "event_id", lambda: read_trackml(tmp_path, "ev", event_id=-1))
    with pytest.raises(FileNotFoundError, match="directory"):  # still a FileNotFoundError, and a ValueError
        read_trackml(tmp_path / "nowhere", "ev")
    _raises(ValueError, "directory", lambda: read_trackml(tmp_path / "nowhere", "ev"))
    assert read_trackml(tmp_path, "ev", event_id=3).event_id == 3


def test_landscape_helpers_of_the_lambda_explorer():
    from toolkit.tracking.landscape import descend, flip_margin, random_direction

    cost, target = np.array([[0.2, 0.9], [0.8, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    _raises(ValueError, "cost", lambda: descend(np.full((2, 2), np.nan), target, 0.1))
    _raises(ValueError, "target", lambda: descend(cost, np.eye(3), 0.1))
    _raises(TypeError, "no_match", lambda: descend(cost, target, 0.1, no_match="x"))
    _raises(TypeError, "cost", lambda: flip_margin(None, target))
    _raises(ValueError, "high", lambda: flip_margin(cost, target, high=-1.0))
    _raises(ValueError, "tol", lambda: flip_margin(cost, target, tol=0.0))
    _raises(ValueError, "cost", lambda: random_direction(np.ones(3)))
    _raises(ValueError, "seed", lambda: random_direction(cost, seed=-1))
    assert np.linalg.norm(random_direction(cost)) == pytest.approx(1.0)
    assert 0 < flip_margin(cost, target) < np.inf  # the solver picks the diagonal; a finite push flips it
    assert descend(cost, target, 0.5, steps=30)[-1]["hamming"] == 0.0
