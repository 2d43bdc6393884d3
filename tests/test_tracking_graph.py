"""Batched hit graphs (issue 18 item 3): identical to the per-event reference, as graphs and as a Batch.

``_build_graph_reference`` is the per-event implementation the batched one replaced (padded K × K
comparison per layer pair), kept here as the oracle: every field and the edge order must match bit
for bit. The simulator's random stream is pinned by numbers measured before it was vectorised.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch, Data

from toolkit.tracking import DetectorConfig, Event, build_graph, build_graphs, phantom, simulate_events
from toolkit.tracking.graph import _POS_SCALE, build_graph_batch, simulate_graph_batch


def _build_graph_reference(event: Event, cfg: DetectorConfig, window: float) -> Data:
    """The former per-event build_graph: all layer pairs padded to K slots, K × K window test."""
    L = cfg.n_layers
    layer = np.asarray(event.layer, dtype=np.int64)
    x, y = event.x, event.y
    log_e = np.log(np.maximum(event.edep, 1e-6))
    starts = np.searchsorted(layer, np.arange(L + 1))
    rank = np.arange(layer.size) - starts[layer]
    K = int(np.diff(starts).max()) if layer.size else 0
    px = np.full((L, K), np.nan)
    py = np.full((L, K), np.nan)
    idx = np.full((L, K), -1)
    px[layer, rank], py[layer, rank], idx[layer, rank] = x, y, np.arange(layer.size)
    zl = np.asarray(cfg.z, dtype=float)
    gap = np.where(np.diff(zl) != 0, np.abs(np.diff(zl)), cfg.layer_spacing)[:, None, None]
    with np.errstate(invalid="ignore"):
        ok = (np.abs(px[1:, None, :] - px[:-1, :, None]) <= window * gap) & (
            np.abs(py[1:, None, :] - py[:-1, :, None]) <= window * gap
        )
    lp, a, b = np.nonzero(ok)
    src, dst = idx[lp, a], idx[lp + 1, b]
    dz = gap[lp, 0, 0]
    sx, sy = (x[dst] - x[src]) / dz, (y[dst] - y[src]) / dz
    edge_attr = np.stack(
        [sx / window, sy / window, np.hypot(sx, sy) / window, log_e[dst] - log_e[src], layer[src] / (L - 1)],
        1,
    )
    cx, cy = (x.mean(), y.mean()) if x.size else (0.0, 0.0)
    node_x = np.stack([(x - cx) / _POS_SCALE, (y - cy) / _POS_SCALE, layer / (L - 1), log_e], 1)
    pid = np.asarray(event.particle_id, dtype=np.int64)
    label = (pid[src] == pid[dst]) & (pid[src] > 0)
    f32, i64 = torch.float32, torch.long
    return Data(
        x=torch.as_tensor(node_x, dtype=f32),
        edge_index=torch.as_tensor(np.stack([src, dst]), dtype=i64),
        edge_attr=torch.as_tensor(edge_attr, dtype=f32),
        y=torch.as_tensor(label, dtype=f32),
        edge_lp=torch.as_tensor(layer[src], dtype=i64),
        edge_row=torch.as_tensor(a, dtype=i64),
        edge_col=torch.as_tensor(b, dtype=i64),
        layer=torch.as_tensor(layer, dtype=i64),
        particle_id=torch.as_tensor(pid, dtype=i64),
        pos=torch.as_tensor(np.stack([x, y, zl[layer]], 1), dtype=f32),
        num_nodes=int(x.size),
    )


def assert_same_graph(g: Data, ref: Data) -> None:
    """Same fields in the same order, same dtypes, same values bit for bit (edge order included)."""
    assert list(g.keys()) == list(ref.keys())
    for key in ref.keys():
        if torch.is_tensor(ref[key]):
            assert g[key].dtype == ref[key].dtype, key
            assert torch.equal(g[key], ref[key]), key
        else:
            assert g[key] == ref[key], key


CASES = [
    (DetectorConfig(), None, 0, 40),
    (DetectorConfig().scaled(5), phantom(), 3, 6),
    (DetectorConfig(n_layers=20, pixel_pitch=0.0, efficiency=1.0, noise_per_layer=0.0), None, 1, 5),
    (DetectorConfig(n_layers=3, particles_per_frame=1, noise_per_layer=0.0), None, 2, 30),  # empty events too
    (DetectorConfig(layer_spacing=0.7, angular_spread=0.3), None, 5, 8),  # gaps differ in the last bits
]


@pytest.mark.parametrize("window", [0.2, 0.05, 1.0])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_build_graphs_match_the_per_event_reference(case, window):
    cfg, ph, seed, n = CASES[case]
    events = simulate_events(n, cfg, phantom=ph, random_state=seed)
    graphs = build_graphs(events, cfg, window=window)
    assert len(graphs) == n
    for event, g in zip(events, graphs, strict=True):
        assert_same_graph(g, _build_graph_reference(event, cfg, window))
    last = events[-1]
    assert_same_graph(build_graph(last, cfg, window=window), _build_graph_reference(last, cfg, window))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_window_edges_and_event_boundaries_property(grid_event, seed, sizes):
    """Exact ties on the window edge are kept, no edge crosses events, empty events stay empty."""
    rng = np.random.default_rng(seed)
    events = [grid_event(rng, n, 4) for n in sizes]
    for spacing in (5.0, 1.1):  # equal gaps / gaps that differ in the last bits
        cfg = DetectorConfig(n_layers=4, layer_spacing=spacing)
        for event, g in zip(events, build_graphs(events, cfg), strict=True):
            assert_same_graph(g, _build_graph_reference(event, cfg, 0.2))


def test_build_graph_batch_is_the_collated_batch():
    cfg = DetectorConfig()
    events = simulate_events(12, cfg, random_state=4)
    empty = Event(
        event_id=99,
        x=np.zeros(0),
        y=np.zeros(0),
        z=np.zeros(0),
        layer=np.zeros(0, int),
        edep=np.zeros(0),
        particle_id=np.zeros(0, int),
        particles={"particle_id": np.zeros(0)},
    )
    events.insert(5, empty)
    graphs = build_graphs(events, cfg)
    batch, ref = build_graph_batch(events, cfg), Batch.from_data_list(graphs)
    assert sorted(batch.keys()) == sorted(ref.keys()) and batch.num_graphs == ref.num_graphs == 13
    for key in ref.keys():
        value = batch[key]
        assert torch.equal(value, ref[key]) if torch.is_tensor(value) else value == ref[key], key
    for key in ref._slice_dict:  # what indexing / to_data_list use to cut the batch
        assert torch.equal(batch._slice_dict[key], ref._slice_dict[key]), key
        assert torch.equal(torch.as_tensor(batch._inc_dict[key]), torch.as_tensor(ref._inc_dict[key])), key
    for g, back in zip(graphs, batch.to_data_list(), strict=True):
        assert_same_graph(back, g)
    assert_same_graph(batch[7], graphs[7])


def test_graphs_do_not_share_storage():
    """Each graph owns its tensors: editing or saving one never touches (or writes) the others."""
    graphs = build_graphs(simulate_events(3, random_state=0))
    graphs[0].x.zero_()
    assert graphs[1].x.abs().sum() > 0
    assert graphs[1].edge_attr.untyped_storage().nbytes() == graphs[1].edge_attr.numel() * 4


def test_build_graph_batch_validates_like_build_graphs():
    event = simulate_events(1, random_state=0)[0]
    with pytest.raises(ValueError, match="events must hold at least 1"):
        build_graph_batch([])
    with pytest.raises(TypeError, match="events"):
        build_graph_batch("events")
    with pytest.raises(TypeError, match=r"events\[1\]"):
        build_graph_batch([event, 3])
    with pytest.raises(ValueError, match="window"):
        build_graph_batch([event], window=0.0)
    bad = Event(
        event_id=0,
        x=np.array([0.0, np.nan]),
        y=np.zeros(2),
        z=np.zeros(2),
        layer=np.array([0, 1]),
        edep=np.ones(2),
        particle_id=np.array([1, 1]),
        particles={"particle_id": np.array([1])},
    )
    with pytest.raises(ValueError, match="finite"):
        build_graph_batch([event, bad])
    unsorted = Event(
        event_id=0,
        x=np.zeros(2),
        y=np.zeros(2),
        z=np.zeros(2),
        layer=np.array([1, 0]),
        edep=np.ones(2),
        particle_id=np.array([1, 1]),
        particles={"particle_id": np.array([1])},
    )
    with pytest.raises(ValueError, match="sorted by layer"):
        build_graph_batch([event, unsorted])
    assert build_graphs([]) == []


def test_random_stream_is_unchanged():
    """Numbers measured with the per-event simulator before vectorisation (same seed, same draws)."""
    events = simulate_events(4, random_state=7)
    assert [e.n_hits for e in events] == [279, 211, 290, 212]
    assert [int(e.particle_id.sum()) for e in events] == [4160, 2387, 4345, 2344]
    assert sum(e.x.sum() for e in events) == pytest.approx(2594.46, rel=1e-12)
    assert sum(e.edep.sum() for e in events) == pytest.approx(142361.2662150262, rel=1e-12)
    events = simulate_events(3, DetectorConfig().scaled(3), phantom=phantom(), random_state=11)
    assert [e.n_hits for e in events] == [606, 669, 490]
    assert [int(e.particles["last_layer"].sum()) for e in events] == [532, 575, 421]
    assert sum(e.y.sum() for e in events) == pytest.approx(-599.415, rel=1e-12)
    assert sum(e.particles["energy"].sum() for e in events) == pytest.approx(18095.790823756975, rel=1e-12)
    assert simulate_events(0) == []


def test_chunked_passes_give_the_same_graphs(monkeypatch):
    """Many events go through in chunks of about _CHUNK_HITS hits: same graphs, same batch."""
    import toolkit.tracking.graph as graph_module

    cfg = DetectorConfig()
    events = simulate_events(9, cfg, random_state=6)
    graphs, batch = build_graphs(events, cfg), build_graph_batch(events, cfg)
    monkeypatch.setattr(graph_module, "_CHUNK_HITS", 500)  # ~2 events per chunk
    assert len(graph_module._chunks(events)) > 3
    for g, ref in zip(build_graphs(events, cfg), graphs, strict=True):
        assert_same_graph(g, ref)
    chunked = build_graph_batch(events, cfg)
    for key in batch.keys():
        value = chunked[key]
        assert torch.equal(value, batch[key]) if torch.is_tensor(value) else value == batch[key], key
    for key in batch._slice_dict:
        assert torch.equal(chunked._slice_dict[key], batch._slice_dict[key]), key


def _same_batch(a: Batch, b: Batch) -> None:
    assert sorted(a.keys()) == sorted(b.keys()) and a.num_graphs == b.num_graphs
    for key in b.keys():
        value = a[key]
        assert torch.equal(value, b[key]) if torch.is_tensor(value) else value == b[key], key


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("n_events, chunk_events", [(1, 256), (23, 5), (40, 40), (41, 7)])
def test_simulate_graph_batch_is_its_chunks_built_one_after_another(
    n_events, chunk_events, dense, monkeypatch
):
    """The oracle: chunk i is simulate_events(k, random_state=s_i) built by build_graph_batch, s_i drawn
    in order from the seed; the threaded result equals it (and does not depend on the worker count).
    ``dense``: chunks over _CHUNK_HITS hits take the bounded-memory path, with the same result."""
    import toolkit.tracking.graph as graph_module

    if dense:
        monkeypatch.setattr(graph_module, "_CHUNK_HITS", 100)
    cfg = DetectorConfig(n_layers=6, particles_per_frame=8)
    sizes = [min(chunk_events, n_events - a) for a in range(0, n_events, chunk_events)]
    seeds = np.random.default_rng(3).integers(0, 2**63, size=len(sizes)).tolist()
    events = [e for k, s in zip(sizes, seeds, strict=True) for e in simulate_events(k, cfg, random_state=s)]
    ref = build_graph_batch(events, cfg)
    for workers in (1, 2, 3):
        got = simulate_graph_batch(n_events, cfg, random_state=3, workers=workers, chunk_events=chunk_events)
        _same_batch(got, ref)
    assert got.num_graphs == n_events


def test_simulate_graph_batch_passes_phantom_and_window_and_refuses_bad_input():
    cfg = DetectorConfig()
    wide = simulate_graph_batch(6, cfg, random_state=1, window=0.4, phantom=phantom())
    events = simulate_events(
        6, cfg, random_state=np.random.default_rng(1).integers(0, 2**63), phantom=phantom()
    )
    _same_batch(wide, build_graph_batch(events, cfg, window=0.4))
    for kwargs, name in (
        (dict(n_events=0), "n_events"),
        (dict(n_events=2, workers=0), "workers"),
        (dict(n_events=2, workers=1.5), "workers"),
        (dict(n_events=2, chunk_events=0), "chunk_events"),
        (dict(n_events=2, window=-1.0), "window"),
        (dict(n_events=2, random_state=-1), "random_state"),
    ):
        with pytest.raises((ValueError, TypeError), match=name):
            simulate_graph_batch(**kwargs)
    with pytest.raises(TypeError, match="phantom"):
        simulate_graph_batch(2, phantom="water")
