"""Downstream task: a proton radiograph of the phantom from reconstructed tracks.

A proton's water-equivalent path length (WEPL) through the phantom is its initial range minus the
range it still had in the detector: ``WEPL ≈ R(E0) − (last layer + ½) · layer_wet`` (it stopped
somewhere in the absorber after its last hit). Binning WEPL by the track's entry position gives a
projection image of the phantom. Wrong links change where a track ends — and so the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch_geometric.data import Data

from ..validation import check_array, check_float, check_instance, check_int
from .detector import DetectorConfig, Phantom, as_config, range_of_energy
from .graph import check_graphs, check_items

MAX_EXTENT = 1e5  # mm: far beyond any sensor; keeps the pixel grid finite

__all__ = ["track_wepl", "radiograph", "phantom_image", "image_rmse"]


def track_wepl(data: Data, labels: np.ndarray, config: DetectorConfig | None = None) -> np.ndarray:
    """Rows (x_entry, y_entry, wepl) for tracks of ≥ 2 hits that start in layer 0.

    The entry point is the first hit extrapolated back to the phantom plane along the first segment.
    """
    check_instance("data", data, Data, "a hit graph (torch_geometric Data from build_graph)")
    if getattr(data, "pos", None) is None or getattr(data, "layer", None) is None:
        raise ValueError("data must carry hit positions and layers (pos, layer), as build_graph makes them")
    labels = check_array("labels", labels, ndim=1, min_size=0, integer=True)
    cfg = as_config(config)
    pos = data.pos.numpy()
    layer = data.layer.numpy()
    if labels.shape != layer.shape:
        raise ValueError(f"labels must have one entry per hit ({layer.size}), got {labels.shape}")
    _, tr = np.unique(labels, return_inverse=True)
    n = np.bincount(tr)
    first_l = np.full(n.size, 10**9)
    np.minimum.at(first_l, tr, layer)
    last_l = np.full(n.size, -1)
    np.maximum.at(last_l, tr, layer)
    ok = (n >= 2) & (first_l == 0)
    # position of the layer-0 and layer-1 hit of each track
    p0 = np.full((n.size, 2), np.nan)
    p1 = np.full((n.size, 2), np.nan)
    m0, m1 = layer == 0, layer == 1
    p0[tr[m0]] = pos[m0, :2]
    p1[tr[m1]] = pos[m1, :2]
    ok &= np.isfinite(p1[:, 0])
    slope = (p1 - p0) / cfg.layer_spacing
    entry = p0 - slope * cfg.phantom_distance
    wepl = range_of_energy(cfg.energy) - (last_l + 0.5) * cfg.layer_wet
    return np.column_stack([entry[ok], wepl[ok]])


def _extent(extent: float | None, cfg: DetectorConfig) -> float:
    """Half width of the image (mm); None = the scanned field plus one beam sigma."""
    if extent is None:
        return cfg.scan_half_width + cfg.beam_sigma
    return check_float("extent", extent, low=0.0, low_open=True, high=MAX_EXTENT)


def _edges(extent: float, bins: int) -> np.ndarray:
    return np.linspace(-extent, extent, bins + 1)


def radiograph(
    graphs: Sequence[Data],
    labels: Sequence[np.ndarray],
    config: DetectorConfig | None = None,
    *,
    bins: int = 16,
    extent: float | None = None,
) -> np.ndarray:
    """Mean WEPL per entry-position pixel (bins × bins, NaN where no track), image[iy, ix]."""
    graphs = check_graphs("graphs", graphs, min_size=0)
    labels = check_items("labels", labels, object, "label array")
    cfg = as_config(config)
    bins = check_int("bins", bins, low=1, high=1024)
    if len(graphs) != len(labels):
        raise ValueError(f"graphs and labels must have the same length, got {len(graphs)} and {len(labels)}")
    extent = _extent(extent, cfg)
    rows = [track_wepl(g, lab, cfg) for g, lab in zip(graphs, labels)]
    rows = np.concatenate(rows) if rows else np.zeros((0, 3))
    e = _edges(extent, bins)
    s, _, _ = np.histogram2d(rows[:, 1], rows[:, 0], bins=[e, e], weights=rows[:, 2])
    c, _, _ = np.histogram2d(rows[:, 1], rows[:, 0], bins=[e, e])
    with np.errstate(invalid="ignore"):
        return s / np.where(c > 0, c, np.nan)


def phantom_image(
    phantom: Phantom,
    config: DetectorConfig | None = None,
    *,
    bins: int = 16,
    extent: float | None = None,
    oversample: int = 4,
) -> np.ndarray:
    """True mean WEPL of the phantom per pixel (same grid as :func:`radiograph`)."""
    check_instance("phantom", phantom, Phantom, "a Phantom")
    cfg = as_config(config)
    bins = check_int("bins", bins, low=1, high=1024)
    oversample = check_int("oversample", oversample, low=1, high=64)
    extent = _extent(extent, cfg)
    k = bins * oversample
    centres = (_edges(extent, k)[:-1] + _edges(extent, k)[1:]) / 2
    xx, yy = np.meshgrid(centres, centres)
    fine = phantom.wet(xx, yy)
    return fine.reshape(bins, oversample, bins, oversample).mean((1, 3))


def image_rmse(image: np.ndarray, reference: np.ndarray) -> float:
    """Root-mean-square difference over pixels where both images are defined."""
    # NaN marks an undefined pixel (radiograph: no track there), so it is allowed
    a = check_array("image", image, finite=False)
    b = check_array("reference", reference, finite=False)
    if a.shape != b.shape:
        raise ValueError(f"image and reference must have the same shape, got {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.sqrt(np.mean((a[ok] - b[ok]) ** 2))) if ok.any() else float("nan")
