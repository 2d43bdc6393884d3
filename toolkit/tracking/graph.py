"""Hit graphs: one PyG ``Data`` per event, candidate edges between adjacent layers only.

An edge (i → j) joins a hit of layer l to a hit of layer l+1 whose direction lies inside an
angular window around the beam axis, ``|Δx|/Δz ≤ window`` and ``|Δy|/Δz ≤ window``. The label
is 1 when both hits come from the same particle. Each edge also stores its layer pair
``edge_lp`` and the rank of its two hits inside their layers (``edge_row``, ``edge_col``): the
(row, column) of the edge in that layer pair's assignment cost matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from ..validation import check_float
from .detector import DetectorConfig, Event, as_config

__all__ = ["build_graph", "build_graphs", "NODE_FEATURES", "EDGE_FEATURES", "DEFAULT_WINDOW"]

NODE_FEATURES = ("x_rel", "y_rel", "layer_frac", "log_edep")
EDGE_FEATURES = ("slope_x", "slope_y", "slope_r", "log_edep_ratio", "layer_frac")
DEFAULT_WINDOW = 0.2  # rad; keeps > 99 % of true segments at the default size
_POS_SCALE = 5.0  # mm, order of the beam-spot size


def build_graph(event: Event, config: DetectorConfig | None = None, *, window: float = DEFAULT_WINDOW) -> Data:
    """Candidate-edge graph of one event (see module docstring)."""
    if not isinstance(event, Event):
        raise TypeError(f"event must be an Event, got {type(event).__name__}")
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    return _graph(event, cfg, window)


def _graph(event: Event, cfg: DetectorConfig, window: float) -> Data:
    """build_graph after its argument checks (build_graphs checks config and window once for all events)."""
    if not all(np.isfinite(np.asarray(v, dtype=float)).all() for v in (event.x, event.y, event.z, event.edep)):
        raise ValueError("event must hold finite hit positions and energies (x, y, z, edep); found NaN or inf")
    L = cfg.n_layers
    layer = np.asarray(event.layer, dtype=np.int64)
    if layer.size and (layer.min() < 0 or layer.max() >= L):
        raise ValueError(f"event has hits on layers outside [0, {L - 1}] (n_layers of the config)")
    if layer.size > 1 and np.any(np.diff(layer) < 0):
        raise ValueError("event hits must be sorted by layer (as simulate_events/read_trackml return them)")
    x, y, z = event.x, event.y, event.z
    log_e = np.log(np.maximum(event.edep, 1e-6))
    starts = np.searchsorted(layer, np.arange(L + 1))
    rank = np.arange(layer.size) - starts[layer]
    K = int(np.diff(starts).max()) if layer.size else 0
    # all layer pairs at once: pad each layer's hits to K slots (NaN never passes the window)
    px = np.full((L, K), np.nan); py = np.full((L, K), np.nan); idx = np.full((L, K), -1)
    px[layer, rank], py[layer, rank], idx[layer, rank] = x, y, np.arange(layer.size)
    zl = np.asarray(cfg.z, dtype=float)
    gap = np.where(np.diff(zl) != 0, np.abs(np.diff(zl)), cfg.layer_spacing)[:, None, None]
    with np.errstate(invalid="ignore"):
        ok = (np.abs(px[1:, None, :] - px[:-1, :, None]) <= window * gap) & \
             (np.abs(py[1:, None, :] - py[:-1, :, None]) <= window * gap)
    lp, a, b = np.nonzero(ok)
    src, dst = idx[lp, a], idx[lp + 1, b]
    dz = gap[lp, 0, 0]
    sx, sy = (x[dst] - x[src]) / dz, (y[dst] - y[src]) / dz
    edge_attr = np.stack([sx / window, sy / window, np.hypot(sx, sy) / window, log_e[dst] - log_e[src],
                          layer[src] / (L - 1)], 1)
    cx, cy = (x.mean(), y.mean()) if x.size else (0.0, 0.0)
    node_x = np.stack([(x - cx) / _POS_SCALE, (y - cy) / _POS_SCALE, layer / (L - 1), log_e], 1)
    pid = np.asarray(event.particle_id, dtype=np.int64)
    label = (pid[src] == pid[dst]) & (pid[src] > 0)
    return Data(
        x=torch.as_tensor(node_x, dtype=torch.float32),
        edge_index=torch.as_tensor(np.stack([src, dst]), dtype=torch.long),
        edge_attr=torch.as_tensor(edge_attr, dtype=torch.float32),
        y=torch.as_tensor(label, dtype=torch.float32),
        edge_lp=torch.as_tensor(layer[src], dtype=torch.long),
        edge_row=torch.as_tensor(a, dtype=torch.long),
        edge_col=torch.as_tensor(b, dtype=torch.long),
        layer=torch.as_tensor(layer, dtype=torch.long),
        particle_id=torch.as_tensor(pid, dtype=torch.long),
        pos=torch.as_tensor(np.stack([x, y, zl[layer]], 1), dtype=torch.float32),
        num_nodes=int(x.size),
    )


def build_graphs(events: Sequence[Event], config: DetectorConfig | None = None, *,
                 window: float = DEFAULT_WINDOW) -> list[Data]:
    """:func:`build_graph` for each event."""
    events = check_items("events", events, Event, "Event")
    cfg = as_config(config)
    window = check_float("window", window, low=0.0, low_open=True, high=10.0)
    return [_graph(e, cfg, window) for e in events]


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
