"""Synthetic detector: physics statistics, configs, graphs, TrackML I/O."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from toolkit.tracking import (
    DetectorConfig,
    build_graph,
    energy_of_range,
    highland_theta0,
    phantom,
    range_of_energy,
    read_trackml,
    simulate_events,
    write_trackml,
)


def test_highland_reference_value():
    # PDG formula by hand for a 100 MeV proton through x/X0 = 0.04
    p = np.sqrt(100 * (100 + 2 * 938.272))
    beta = p / (100 + 938.272)
    expected = 13.6 / (beta * p) * np.sqrt(0.04) * (1 + 0.038 * np.log(0.04 / beta**2))
    assert highland_theta0(100.0, 0.04) == pytest.approx(expected, rel=1e-12)
    assert highland_theta0(100.0, 0.0) == 0.0


def test_range_energy_inverse():
    e = np.array([10.0, 50.0, 230.0])
    np.testing.assert_allclose(energy_of_range(range_of_energy(e)), e)
    assert range_of_energy(90.0) == pytest.approx(0.022 * 90**1.77)


def test_scattering_width_follows_highland():
    """Kink angles at layer 1 (from exact hit positions) have the Highland width of the layer-1 energy."""
    cfg = DetectorConfig(
        particles_per_frame=2000,
        poisson_multiplicity=False,
        pixel_pitch=0.0,
        efficiency=1.0,
        noise_per_layer=0.0,
        energy_spread=0.0,
        angular_spread=0.0,
        beam_sigma=1.0,
        scan_half_width=0.0,
        layer_x0=0.05,
    )
    ev = simulate_events(5, cfg, random_state=0)
    kinks = []
    for e in ev:
        for pid in np.unique(e.particle_id):
            sel = e.particle_id == pid
            if sel.sum() >= 3:
                x = e.x[sel][:3]
                kinks.append((x[2] - x[1]) / cfg.layer_spacing - (x[1] - x[0]) / cfg.layer_spacing)
    e1 = energy_of_range(range_of_energy(cfg.energy) - cfg.layer_wet)  # energy entering absorber 1
    theta = highland_theta0(e1, cfg.layer_x0)
    assert np.std(kinks) == pytest.approx(float(theta), rel=0.05)  # 10^4 samples: ~0.7 % statistical error


def test_range_out_depth_matches_range_energy():
    cfg = DetectorConfig(
        particles_per_frame=300,
        poisson_multiplicity=False,
        energy_spread=0.0,
        efficiency=1.0,
        noise_per_layer=0.0,
        n_layers=20,
    )
    ev = simulate_events(3, cfg, random_state=1)[0]
    # the proton stops in the absorber where its residual range runs out
    expected_last = int(np.floor(range_of_energy(cfg.energy) / cfg.layer_wet))
    assert np.all(ev.particles["last_layer"] == expected_last)


def test_phantom_shortens_tracks():
    cfg = DetectorConfig(energy_spread=0.0, noise_per_layer=0.0)
    free = simulate_events(50, cfg, random_state=2)
    with_ph = simulate_events(50, cfg, phantom=phantom(), random_state=2)
    last_free = np.concatenate([e.particles["last_layer"] for e in free]).mean()
    last_ph = np.concatenate([e.particles["last_layer"] for e in with_ph]).mean()
    assert last_ph < last_free
    wet = np.concatenate([e.particles["wet"] for e in with_ph])
    assert wet.max() == pytest.approx(22.0) and wet.min() == 0.0


def test_seeded_and_structured():
    a = simulate_events(4, random_state=7)
    b = simulate_events(4, random_state=7)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea.x, eb.x)
        assert np.all(np.diff(ea.layer) >= 0)
        assert ea.particle_id.min() >= 0
        # each particle has at most one hit per layer, on consecutive layers from 0
        for pid in np.unique(ea.particle_id[ea.particle_id > 0]):
            lay = ea.layer[ea.particle_id == pid]
            assert len(set(lay)) == len(lay)
    cfg = DetectorConfig(pixel_pitch=0.05)
    e = simulate_events(1, cfg, random_state=0)[0]
    v = e.x / 0.05 - 0.5
    np.testing.assert_allclose(v, np.round(v), atol=1e-6)  # pixel centres


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_layers", 1),
        ("efficiency", 1.5),
        ("pixel_pitch", -1.0),
        ("particles_per_frame", 0),
        ("energy", 0.0),
    ],
)
def test_impossible_configs_raise(field, value):
    with pytest.raises(ValueError, match=field):  # refused when built ...
        dataclasses.replace(DetectorConfig(), **{field: value})
    cfg = DetectorConfig()
    setattr(cfg, field, value)  # ... and when changed afterwards, on use
    with pytest.raises(ValueError, match=field):
        simulate_events(1, cfg)


def test_input_type_errors():
    with pytest.raises(TypeError, match="n_events"):
        simulate_events(1.5)
    with pytest.raises(TypeError, match="config"):
        simulate_events(1, config={"n_layers": 3})
    with pytest.raises(ValueError, match="density"):
        DetectorConfig().scaled(0)


def test_graph_edges_and_labels():
    cfg = DetectorConfig()
    e = simulate_events(1, cfg, random_state=3)[0]
    g = build_graph(e, cfg, window=0.2)
    src, dst = g.edge_index.numpy()
    assert np.all(e.layer[dst] - e.layer[src] == 1)
    assert np.all(np.abs(e.x[dst] - e.x[src]) <= 0.2 * cfg.layer_spacing + 1e-9)
    np.testing.assert_array_equal(
        g.y.numpy() > 0, (e.particle_id[src] == e.particle_id[dst]) & (e.particle_id[src] > 0)
    )
    # (row, col) address the right hits inside their layers
    starts = np.searchsorted(e.layer, np.arange(cfg.n_layers))
    np.testing.assert_array_equal(starts[e.layer[src]] + g.edge_row.numpy(), src)
    np.testing.assert_array_equal(starts[e.layer[dst]] + g.edge_col.numpy(), dst)
    # brute force: every pair inside the window is an edge
    pairs = {
        (i, j)
        for i in range(e.n_hits)
        for j in range(e.n_hits)
        if e.layer[j] == e.layer[i] + 1 and abs(e.x[j] - e.x[i]) <= 1.0 and abs(e.y[j] - e.y[i]) <= 1.0
    }
    assert pairs == set(zip(src.tolist(), dst.tolist()))


def test_trackml_round_trip(tmp_path):
    cfg = DetectorConfig()
    e = simulate_events(1, cfg, phantom=phantom(), random_state=4)[0]
    paths = write_trackml(e, tmp_path, "event000000001", cfg)
    assert [p.name for p in paths] == [
        f"event000000001-{n}.csv" for n in ("hits", "cells", "particles", "truth")
    ]
    hits = pd.read_csv(paths[0])
    assert list(hits.columns) == ["hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id"]
    r = read_trackml(tmp_path, "event000000001")
    np.testing.assert_allclose(r.x, e.x)
    np.testing.assert_allclose(r.edep, e.edep)
    np.testing.assert_array_equal(r.layer, e.layer)
    # particle ids are renumbered densely: same partition of hits
    pairs = set(zip(r.particle_id.tolist(), e.particle_id.tolist()))
    assert len(pairs) == len(set(e.particle_id.tolist()))
    has_hits = e.particles["n_hits"] > 0
    np.testing.assert_allclose(r.particles["energy"], e.particles["energy"][has_hits], rtol=1e-9)


def test_trackml_missing_columns(tmp_path):
    e = simulate_events(1, random_state=5)[0]
    paths = write_trackml(e, tmp_path, "ev")
    pd.read_csv(paths[0]).drop(columns=["layer_id"]).to_csv(paths[0], index=False)
    with pytest.raises(ValueError, match="layer_id"):
        read_trackml(tmp_path, "ev")
    with pytest.raises(FileNotFoundError, match="nope-hits.csv"):
        read_trackml(tmp_path, "nope")


# -- realism options (issue 11 item 6) ----------------------------------------------------------------
def _slope_kicks(cfg, n_events=400):
    """Change of the x slope between the first two gaps (hits 0-1 and 1-2) of every proton."""
    events = simulate_events(n_events, cfg, random_state=0)
    kicks = []
    for e in events:
        for pid in np.unique(e.particle_id[e.particle_id > 0]):
            m = e.particle_id == pid
            x, layer = e.x[m], e.layer[m]
            if {0, 1, 2} <= set(layer.tolist()):
                s01 = (x[layer == 1][0] - x[layer == 0][0]) / cfg.layer_spacing
                s12 = (x[layer == 2][0] - x[layer == 1][0]) / cfg.layer_spacing
                kicks.append(s12 - s01)
    return np.array(kicks)


def test_highland_substeps_add_up_to_sqrt_k_thin_kicks_at_high_energy():
    """Far from the Bragg peak the energy hardly changes inside an absorber, so its k slices of x/k give
    one Gaussian kick of width sqrt(k)·θ0(E, x/k) (Highland's log term makes it differ from θ0(E, x),
    the k = 1 width): the measured slope changes match it to the sampling error (no pixels, no noise)."""
    base = dict(energy=400.0, energy_spread=0.0, pixel_pitch=0.0, noise_per_layer=0.0, efficiency=1.0)
    widths = {}
    for k in (1, 4):
        cfg = DetectorConfig(**base, scatter_substeps=k, layer_wet=0.01, layer_x0=0.2)
        widths[k] = _slope_kicks(cfg).std()
        expected = np.sqrt(k) * float(highland_theta0(400.0, 0.2 / k))
        assert widths[k] == pytest.approx(expected, rel=0.05), (k, widths[k], expected)
    assert widths[4] < widths[1]  # at high energy: the log term of four thin slices sums to less


def test_substeps_scatter_more_near_the_bragg_peak():
    """Where the energy falls fast inside an absorber, slicing it raises the scattering (the entry energy
    underestimates it): the last hits of stopping protons spread more with 4 slices than with 1."""
    spread = {}
    for k in (1, 4):
        events = simulate_events(300, DetectorConfig(scatter_substeps=k, noise_per_layer=0.0), random_state=1)
        deviations = []
        for e in events:
            for pid in np.unique(e.particle_id[e.particle_id > 0]):
                m = e.particle_id == pid
                if m.sum() >= 4:  # straight-line extrapolation of the two hits before the last
                    x = e.x[m][-3:]
                    deviations.append(x[2] - (2 * x[1] - x[0]))
        spread[k] = np.std(deviations)
    assert spread[4] > 1.05 * spread[1], spread


def test_proton_like_noise_deposits_overlap_the_signal():
    def overlap(mode):
        events = simulate_events(100, DetectorConfig(noise_edep=mode, noise_per_layer=3.0), random_state=2)
        edep = np.concatenate([e.edep for e in events])
        pid = np.concatenate([e.particle_id for e in events])
        lo, hi = np.percentile(edep[pid > 0], [1, 99])
        noise = edep[pid == 0]
        return np.mean((noise >= lo) & (noise <= hi))

    assert overlap("electronic") < 0.01 and overlap("proton-like") > 0.5


def test_realism_options_are_checked():
    with pytest.raises(ValueError, match="scatter_substeps"):
        DetectorConfig(scatter_substeps=0)
    with pytest.raises(TypeError, match="scatter_substeps"):
        DetectorConfig(scatter_substeps=2.5)
    with pytest.raises(ValueError, match="noise_edep"):
        DetectorConfig(noise_edep="thermal")
    assert DetectorConfig.from_dict(DetectorConfig(scatter_substeps=3).to_dict()).scatter_substeps == 3
