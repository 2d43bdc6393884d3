"""Hit graphs: one PyG ``Data`` per event, candidate edges between adjacent layers (by default).

An edge (i → j) joins a hit of layer l to a hit of layer l+1 whose direction lies inside an
angular window around the beam axis, ``|Δx|/Δz ≤ window`` and ``|Δy|/Δz ≤ window``. The label
is 1 when both hits come from the same particle. Each edge also stores its layer pair
``edge_lp`` and the rank of its two hits inside their layers (``edge_row``, ``edge_col``): the
(row, column) of the edge in that layer pair's assignment cost matrix. Within a graph the edges
are ordered by (source hit, target hit), i.e. by (layer pair, row, column).

``skip_layers=k`` also joins layer l to l+2, …, l+1+k (window over the pair's whole depth), so a
track survives k missed hits in a row. Such an edge is true only when the particle's hits between
were lost (the label is "consecutive hits of one particle"), and ``edge_lp`` is its source layer.
The assignment is then one problem per event (every hit at most one successor and one
predecessor, :func:`toolkit.tracking.edges_to_dense`), not one per layer pair.

All events of a call are built at once over their concatenated hits (:func:`build_graph_batch`
returns them as one PyG ``Batch`` for training); :func:`build_graphs` only cuts that batch into
one ``Data`` per event at the end. :func:`simulate_graph_batch` simulates and builds fresh events in
chunks on several threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from ..validation import as_rng, check_float, check_int
from .detector import DetectorConfig, Event, Phantom, _simulate_hits, _split_events, as_config

__all__ = [
    "build_graph",
    "build_graphs",
    "build_graph_batch",
    "simulate_graph_batch",
    "NODE_FEATURES",
    "EDGE_FEATURES",
    "DEFAULT_WINDOW",
]

NODE_FEATURES = ("x_rel", "y_rel", "layer_frac", "log_edep")
EDGE_FEATURES = ("slope_x", "slope_y", "slope_r", "log_edep_ratio", "layer_frac")
DEFAULT_WINDOW = 0.2  # rad; keeps > 99 % of true segments at the default size
_POS_SCALE = 5.0  # mm, order of the beam-spot size
_NODE_KEYS = ("x", "layer", "particle_id", "pos")  # node-level tensors (the others are per edge)
_CHUNK_HITS = 250_000  # hits per batched pass: bounds the candidate-pair arrays (~60 MB at the defaults)
_KEYS = (
    "x",
    "edge_index",
    "edge_attr",
    "y",
    "pos",
    "edge_lp",
    "edge_row",
    "edge_col",
    "layer",
    "particle_id",
)  # Data's field order


def build_graph(
    event: Event,
    config: DetectorConfig | None = None,
    *,
    window: float = DEFAULT_WINDOW,
    skip_layers: int = 0,
) -> Data:
    """Candidate-edge graph of one event (see module docstring)."""
    if not isinstance(event, Event):
        raise TypeError(f"event must be an Event, got {type(event).__name__}")
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    skip_layers = check_skip_layers(skip_layers, cfg)
    return _split(_graph_tensors([event], cfg, window, skip_layers))[0]


def check_skip_layers(skip_layers, cfg: DetectorConfig) -> int:
    """``skip_layers`` checked against the detector: an integer in [0, n_layers − 2]."""
    return check_int("skip_layers", skip_layers, low=0, high=max(cfg.n_layers - 2, 0))


def build_graphs(
    events: Sequence[Event],
    config: DetectorConfig | None = None,
    *,
    window: float = DEFAULT_WINDOW,
    skip_layers: int = 0,
) -> list[Data]:
    """:func:`build_graph` for each event (computed for all events at once, then cut per event)."""
    events = check_items("events", events, Event, "Event")
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    skip_layers = check_skip_layers(skip_layers, cfg)
    return [g for chunk in _chunks(events) for g in _split(_graph_tensors(chunk, cfg, window, skip_layers))]


def build_graph_batch(
    events: Sequence[Event],
    config: DetectorConfig | None = None,
    *,
    window: float = DEFAULT_WINDOW,
    skip_layers: int = 0,
) -> Batch:
    """The graphs of :func:`build_graphs` as one PyG ``Batch``, with no per-event ``Data`` objects.

    Equal to ``Batch.from_data_list(build_graphs(events, config, window=window))`` (same tensors, and
    ``to_data_list()`` / indexing give the same graphs back) at a fraction of the cost.
    """
    events = check_items("events", events, Event, "Event", min_size=1)
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    skip_layers = check_skip_layers(skip_layers, cfg)
    return _as_batch(_concat([_graph_tensors(c, cfg, window, skip_layers) for c in _chunks(events)]))


def simulate_graph_batch(
    n_events: int,
    config: DetectorConfig | None = None,
    *,
    phantom: Phantom | None = None,
    random_state: int | np.random.Generator | None = None,
    window: float = DEFAULT_WINDOW,
    workers: int = 1,
    chunk_events: int = 256,
    skip_layers: int = 0,
) -> Batch:
    """``n_events`` fresh events as one graph ``Batch``, simulated and built in chunks on ``workers`` threads.

    The events come in chunks of ``chunk_events``; chunk i is the graphs of
    ``simulate_events(k, config, random_state=s_i)`` with its own seed s_i drawn from ``random_state``,
    so the result depends on ``random_state`` and ``chunk_events`` but never on ``workers``. Each chunk
    goes from the simulator's flat hit table to the graph tensors with no per-event object. NumPy
    releases the GIL inside its large array operations, so at the default density a second thread on
    a second core adds events per second (≈ 1.2–1.5×); at 5× the density the passes are memory-bound and
    two threads were slower than one (``benchmarks/bench_tracking.py`` prints both side by side).
    """
    n_events = check_int("n_events", n_events, low=1, high=10_000_000)
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    workers = check_int("workers", workers, low=1, high=64)
    chunk_events = check_int("chunk_events", chunk_events, low=1, high=1_000_000)
    skip_layers = check_skip_layers(skip_layers, cfg)
    sizes = [min(chunk_events, n_events - a) for a in range(0, n_events, chunk_events)]
    seeds = as_rng(random_state).integers(0, 2**63, size=len(sizes)).tolist()

    def chunk(size: int, seed: int) -> dict[str, Any]:
        # the simulator's flat table goes straight into the graph pass: no Event objects in between
        table = _simulate_hits(size, cfg, phantom=phantom, random_state=seed)
        if table["x"].size > _CHUNK_HITS:  # a dense detector: passes of bounded memory, as build_graph_batch
            parts = _chunks(_split_events(table))
            return _concat([_graph_tensors(part, cfg, window, skip_layers) for part in parts])
        return _hit_tensors(_table_hits(table), size, cfg, window, skip_layers)

    if workers == 1:
        parts = [chunk(k, s) for k, s in zip(sizes, seeds, strict=True)]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(chunk, sizes, seeds))
    return _as_batch(_concat(parts))


def _stack_hits(events: Sequence[Event], n_layers: int) -> dict[str, np.ndarray]:
    """The events' hits concatenated (``event`` = each hit's event index), checked once for all."""
    cols = {k: np.concatenate([getattr(e, k) for e in events], dtype=float) for k in ("x", "y", "z", "edep")}
    if not all(np.isfinite(v).all() for v in cols.values()):
        raise ValueError(
            "event must hold finite hit positions and energies (x, y, z, edep); found NaN or inf"
        )
    for k in ("layer", "particle_id"):  # integers by Event's checks
        cols[k] = np.concatenate([getattr(e, k) for e in events], dtype=np.int64, casting="unsafe")
    n_nodes = np.fromiter((e.x.shape[0] for e in events), np.int64, len(events))
    event = np.repeat(np.arange(len(events)), n_nodes)
    layer = cols["layer"]
    if layer.size and (layer.min() < 0 or layer.max() >= n_layers):
        raise ValueError(f"event has hits on layers outside [0, {n_layers - 1}] (n_layers of the config)")
    if np.any((np.diff(layer) < 0) & (np.diff(event) == 0)):  # within an event only
        raise ValueError("event hits must be sorted by layer (as simulate_events/read_trackml return them)")
    return dict(cols, event=event, n_nodes=n_nodes)


def _layer_gaps(cfg: DetectorConfig) -> np.ndarray:
    """|Δz| between adjacent layers, shape (n_layers − 1,) (layer_spacing where two layers coincide)."""
    dz = np.diff(np.asarray(cfg.z, dtype=float))
    return np.where(dz != 0, np.abs(dz), cfg.layer_spacing)


def _layer_depths(gaps: np.ndarray) -> np.ndarray:
    """Depth of each layer below the first, shape (n_layers,): ``d[l + s] − d[l]`` spans s gaps."""
    return np.concatenate([[0.0], np.cumsum(gaps)])


def _edges_up_to(h: dict[str, np.ndarray], cfg: DetectorConfig, window: float, skip_layers: int):
    """Candidate (src, dst) pairs from layer l to l+1, …, l+1+skip_layers, by (src, dst).

    A pair that jumps s layers gets the window over its whole depth, ``window · (z_{l+s} − z_l)``, so a
    straight line through a missed layer passes exactly when it would pass layer by layer.
    """
    L, gaps = cfg.n_layers, _layer_gaps(cfg)
    pairs = [_candidate_edges(h, L, window * gaps)]  # adjacent layers: exactly the default graph's edges
    if skip_layers == 0:
        return pairs[0]
    depth = _layer_depths(gaps)
    pairs += [
        _candidate_edges(h, L, window * (depth[s:] - depth[:-s]), step=s) for s in range(2, skip_layers + 2)
    ]
    src, dst = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
    order = np.argsort(src * max(h["x"].size, 1) + dst, kind="stable")
    return src.take(order), dst.take(order)


def _edge_truth(h: dict[str, np.ndarray], src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """1 when both hits are one particle's *consecutive* hits: same id > 0, no hit of it on a layer between.

    For adjacent layers this is "same particle"; a pair that jumps a layer is true only where the
    particle's hit on the layers between was lost (else its two shorter links are the truth).
    """
    pid, layer, event = h["particle_id"], h["layer"], h["event"]
    same = (pid[src] == pid[dst]) & (pid[src] > 0)
    jump = layer[dst] - layer[src]
    if not np.any(jump > 1):
        return same
    L = int(layer.max()) + 1
    n_pid = int(pid.max()) + 1
    hit_key = np.unique((event * n_pid + pid) * L + layer)  # (event, particle, layer) of every hit
    for gap in range(2, int(jump.max()) + 1):
        e = np.flatnonzero(same & (jump >= gap))  # layer src + gap − 1 lies between src and dst
        key = (event[src[e]] * n_pid + pid[src[e]]) * L + layer[src[e]] + gap - 1
        pos = np.minimum(np.searchsorted(hit_key, key), hit_key.size - 1)
        same[e[hit_key[pos] == key]] = False
    return same


def _candidate_edges(
    h: dict[str, np.ndarray], n_layers: int, tol: np.ndarray, step: int = 1
) -> tuple[np.ndarray, ...]:
    """All (src, dst) hit pairs of one event on layers (l, l+step) with |Δx|, |Δy| ≤ tol[l], by (src, dst).

    Hits sort by x inside each (event, layer) bucket, so the partners of a hit are one contiguous run
    of the next bucket: a merged search finds it, with no K × K comparison per layer pair. The run is
    found on a float key (bucket · span + x) with a little slack, then its ends are trimmed with the
    exact window test on the original coordinates, so rounding cannot change the result.
    """
    x, y, layer = h["x"], h["y"], h["layer"]
    x_rel = x - x.min()
    # span > any x range + both windows: a run never reaches into another bucket (no bucket test needed)
    span = float(x_rel.max()) + 2.0 * float(tol.max()) + 1.0
    bucket = h["event"] * n_layers + layer
    key = bucket * span + x_rel
    order = np.argsort(key, kind="stable")
    xs, ys, sorted_key = x.take(order), y.take(order), key.take(order)  # take: cheaper than x[order]
    first = order[layer[order] < n_layers - step]  # sources in key order: sorted needles merge fast
    target, t = key[first] + step * span, tol[layer[first]]  # the same x `step` buckets (= layers) further
    slack = 64 * np.spacing(abs(float(sorted_key[-1])) + span)  # >> the rounding of key and target
    lo_first, hi_first = _sorted_search(sorted_key, target - t - slack, target + t + slack)
    # keys that round together may leave x out of order inside a bucket; then the run's ends are not
    # the only places the exact x test can fail, and every candidate gets it (exact_x False)
    exact_x = bool(np.all((np.diff(xs) >= 0) | (np.diff(bucket[order]) != 0)))
    if exact_x:
        lo_first, hi_first = _trim_runs(xs, x[first], t, lo_first, hi_first)
    lo, hi = np.zeros(x.size, np.int64), np.zeros(x.size, np.int64)
    lo[first], hi[first] = lo_first, hi_first
    src = np.flatnonzero(layer < n_layers - step)  # then sources in index order, for the output order
    lo, count = lo[src], hi[src] - lo[src]
    pos = np.arange(count.sum()) + np.repeat(lo - np.cumsum(count) + count, count)  # runs, expanded
    src = np.repeat(src, count)
    uniform = bool(np.all(tol == tol[0]))  # equally spaced layers (the usual case): one scalar window
    t = tol[0] if uniform else tol[layer[src]]
    near = np.abs(ys.take(pos) - y.take(src)) <= t
    if not exact_x:
        near &= np.abs(xs.take(pos) - x.take(src)) <= t
    near = np.flatnonzero(near)
    src, dst = src.take(near), order.take(pos.take(near))
    # src is sorted; each of its short runs has dst in x order: a stable sort (timsort merges runs) gives
    # the reference order (source hit, target hit) cheaply
    by_pair = np.argsort(src * x.size + dst, kind="stable")
    return src.take(by_pair), dst.take(by_pair)


def _sorted_search(keys: np.ndarray, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``searchsorted(keys, left, "left")`` and ``searchsorted(keys, right, "right")`` in one merge.

    A stable sort of (left, keys, right) puts a left needle before the keys equal to it and a right
    needle after them; the keys placed before a needle are its search result. With sorted needles the
    sort merges three runs (timsort), cheaper than one binary search per needle.
    """
    n_left, n_keys = left.size, keys.size
    merged = np.argsort(np.concatenate([left, keys, right]), kind="stable")
    is_key = (merged >= n_left) & (merged < n_left + n_keys)
    keys_before = np.empty(merged.size, np.int64)
    keys_before[merged] = np.cumsum(is_key)  # a needle is no key: its own count is the keys before it
    return keys_before[:n_left], keys_before[n_left + n_keys :]


def _trim_runs(xs: np.ndarray, xf: np.ndarray, t: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Runs [lo, hi) of x-sorted ``xs`` shrunk from both ends until both ends pass |xs − xf| ≤ t.

    The runs hold every exact partner (the search had slack); inside one bucket x is sorted, so the exact
    partners are one run and trimming its ends is the whole exact test.
    """
    xs = np.append(xs, 0.0)  # an empty run may start at len(xs)
    while True:
        drop_lo = (lo < hi) & (np.abs(xs[lo] - xf) > t)
        lo = lo + drop_lo
        drop_hi = (lo < hi) & (np.abs(xs[hi - 1] - xf) > t)
        hi = hi - drop_hi
        if not (drop_lo.any() or drop_hi.any()):
            return lo, hi


def _event_means(v: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Mean of ``v`` over each event's slice, bit-identical to ``v[a:b].mean()`` (0 for empty events)."""
    # np.add.reduceat sums in another order (last-bit differences), so one pairwise sum per event
    ptr = ptr.tolist()  # Python ints slice faster than numpy ones
    return np.array([v[a:b].sum() / (b - a) if b > a else 0.0 for a, b in zip(ptr[:-1], ptr[1:])])


def _float32_columns(*columns: np.ndarray) -> np.ndarray:
    """float64 columns as one (n, k) float32 array (each value rounded once, as a float32 cast does)."""
    out = np.empty((columns[0].size, len(columns)), np.float32)
    for j, col in enumerate(columns):
        out[:, j] = col
    return out


def _edge_features(
    h: dict[str, np.ndarray], src: np.ndarray, dst: np.ndarray, cfg: DetectorConfig, window: float
) -> np.ndarray:
    """(E, 5) float32 EDGE_FEATURES: slopes Δx/Δz, Δy/Δz, their norm (all / window), Δ log edep, l/(L−1)."""
    lp, gaps = h["layer"][src], _layer_gaps(cfg)
    dz = gaps[0] if np.all(gaps == gaps[0]) else gaps[lp]  # equal gaps: a scalar divides alike, faster
    jump = h["layer"][dst] - lp
    if np.any(jump > 1):  # skip-layer edges: slopes over the pair's whole depth
        depth = _layer_depths(gaps)
        dz = np.where(jump == 1, gaps[lp], depth[lp + jump] - depth[lp])
    x, y = h["x"], h["y"]
    sx, sy = (x.take(dst) - x.take(src)) / dz, (y.take(dst) - y.take(src)) / dz
    log_e = h["log_e"]
    layer_frac = (np.arange(cfg.n_layers) / (cfg.n_layers - 1))[lp]  # the same quotients, looked up
    return _float32_columns(
        sx / window, sy / window, np.hypot(sx, sy) / window, log_e.take(dst) - log_e.take(src), layer_frac
    )


def _node_features(h: dict[str, np.ndarray], node_ptr: np.ndarray, n_layers: int) -> np.ndarray:
    """(N, 4) float32 NODE_FEATURES: x, y from the event's mean hit (/ _POS_SCALE), l/(L−1), log edep."""
    cx, cy = _event_means(h["x"], node_ptr)[h["event"]], _event_means(h["y"], node_ptr)[h["event"]]
    x_rel, y_rel = (h["x"] - cx) / _POS_SCALE, (h["y"] - cy) / _POS_SCALE
    return _float32_columns(x_rel, y_rel, h["layer"] / (n_layers - 1), h["log_e"])


def _graph_tensors(
    events: Sequence[Event], cfg: DetectorConfig, window: float, skip_layers: int = 0
) -> dict[str, Any]:
    """Node and edge tensors of all events concatenated (edge_index global), plus node/edge pointers."""
    return _hit_tensors(_stack_hits(events, cfg.n_layers), len(events), cfg, window, skip_layers)


def _table_hits(table: dict[str, Any]) -> dict[str, np.ndarray]:
    """The simulator's flat hit table (detector._simulate_hits) as _stack_hits' columns, no Event between."""
    h = {k: table[k] for k in ("x", "y", "edep", "layer", "particle_id", "event")}
    h["n_nodes"] = np.bincount(table["event"], minlength=table["n_events"])
    return h


def _hit_tensors(
    h: dict[str, np.ndarray], n_events: int, cfg: DetectorConfig, window: float, skip_layers: int = 0
) -> dict:
    """_graph_tensors from the stacked hits of ``n_events`` events (sorted by event, then layer)."""
    L = cfg.n_layers
    h["log_e"] = np.log(np.maximum(h["edep"], 1e-6))
    layer, pid, n = h["layer"], h["particle_id"], h["x"].size
    node_ptr = np.concatenate([[0], np.cumsum(h["n_nodes"])])
    src, dst = _edges_up_to(h, cfg, window, skip_layers) if n else (np.zeros(0, np.int64),) * 2
    bucket = h["event"] * L + layer
    rank = np.arange(n) - np.searchsorted(bucket, np.arange(n_events * L + 1))[bucket]  # matrix row/col
    zl = np.asarray(cfg.z, dtype=float)
    as_long = partial(torch.as_tensor, dtype=torch.long)
    return dict(
        x=torch.as_tensor(_node_features(h, node_ptr, L)),
        edge_index=as_long(np.stack([src, dst])),
        edge_attr=torch.as_tensor(_edge_features(h, src, dst, cfg, window)),
        y=torch.as_tensor(_edge_truth(h, src, dst), dtype=torch.float32),
        edge_lp=as_long(layer[src]),
        edge_row=as_long(rank[src]),
        edge_col=as_long(rank[dst]),
        layer=as_long(layer),
        particle_id=as_long(pid),
        pos=torch.as_tensor(_float32_columns(h["x"], h["y"], zl[layer])),
        node_ptr=node_ptr,
        edge_ptr=np.searchsorted(h["event"][src], np.arange(n_events + 1)),
    )


def _chunks(events: list[Event]) -> list[list[Event]]:
    """Consecutive runs of events with about _CHUNK_HITS hits each (memory stays bounded for any count)."""
    hits = np.cumsum(np.fromiter((e.x.shape[0] for e in events), np.int64, len(events)))
    n_chunks = int(hits[-1] // _CHUNK_HITS) + 1 if len(events) else 0
    cuts = np.unique(np.r_[0, np.searchsorted(hits, np.arange(1, n_chunks) * _CHUNK_HITS), len(events)])
    return [events[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _concat(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The tensors of consecutive chunks as one: node numbers and pointers shifted by the nodes before."""
    if len(parts) == 1:
        return parts[0]
    nodes = np.cumsum([0] + [int(p["node_ptr"][-1]) for p in parts])
    edges = np.cumsum([0] + [int(p["edge_ptr"][-1]) for p in parts])
    out = {k: torch.cat([p[k] for p in parts]) for k in _KEYS if k != "edge_index"}
    out["edge_index"] = torch.cat([p["edge_index"] + int(n) for p, n in zip(parts, nodes, strict=False)], 1)
    for ptr, offset in (("node_ptr", nodes), ("edge_ptr", edges)):
        out[ptr] = np.concatenate([[0]] + [p[ptr][1:] + o for p, o in zip(parts, offset, strict=False)])
    return out


def _split(t: dict[str, Any]) -> list[Data]:
    """One ``Data`` per event from the concatenated tensors (each field its own copy, not a view)."""
    node_ptr, edge_ptr = t["node_ptr"], t["edge_ptr"]
    graphs = []
    for i in range(len(node_ptr) - 1):
        (a, b), (ea, eb) = node_ptr[i : i + 2], edge_ptr[i : i + 2]
        # clones: a view would keep (and torch.save would write) the storage of the whole call
        fields = {k: t[k][a:b].clone() if k in _NODE_KEYS else t[k][ea:eb].clone() for k in _KEYS}
        fields["edge_index"] = t["edge_index"][:, ea:eb] - int(a)  # local node numbers
        graphs.append(Data(**fields, num_nodes=int(b - a)))
    return graphs


def _as_batch(t: dict[str, Any]) -> Batch:
    """The concatenated tensors as the ``Batch`` that ``Batch.from_data_list`` would make of the graphs."""
    node_ptr, edge_ptr = torch.as_tensor(t["node_ptr"]), torch.as_tensor(t["edge_ptr"])
    n_nodes = node_ptr.diff()
    fields = {k: t[k] for k in _KEYS}
    batch = Batch(_base_cls=Data, **fields)
    batch.num_nodes = int(node_ptr[-1])
    batch._store._num_nodes = n_nodes.tolist()
    batch.batch = torch.repeat_interleave(torch.arange(n_nodes.numel()), n_nodes)
    batch.ptr = node_ptr
    # what to_data_list()/indexing need to cut the batch back into graphs (as collate records them)
    zeros = torch.zeros(n_nodes.numel(), dtype=torch.long)
    batch._slice_dict = {k: node_ptr if k in _NODE_KEYS else edge_ptr for k in fields}
    batch._inc_dict = {k: node_ptr[:-1] if k == "edge_index" else zeros for k in fields}
    batch._num_graphs = n_nodes.numel()
    return batch


def check_items(name: str, items: Any, kind: type, label: str, *, min_size: int = 0) -> list:
    """``items`` (a list, tuple or other iterable, not text or a dict) as a list of ``kind`` entries."""
    if isinstance(items, (str, bytes, dict)) or not isinstance(items, Iterable):
        raise TypeError(f"{name} must be a list of {label} objects, got {type(items).__name__}")
    items = list(items)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise TypeError(f"{name}[{i}] must be a {label}, got {type(item).__name__}")
    if len(items) < min_size:
        raise ValueError(f"{name} must hold at least {min_size} item(s), got {len(items)}")
    return items


def check_graphs(name: str, graphs: Any, *, min_size: int = 1) -> list[Data]:
    """``graphs`` as a list of hit graphs (PyG ``Data`` from :func:`build_graph`), at least ``min_size``."""
    return check_items(name, graphs, Data, "graph (torch_geometric Data)", min_size=min_size)
