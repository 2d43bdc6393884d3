"""Downstream task: a proton radiograph of the phantom from reconstructed tracks.

A proton's water-equivalent path length (WEPL) through the phantom is its initial range minus the
range it used in the detector: ``WEPL = R(E0) − last · layer_wet − r``, with ``r`` the residual
range at its last hit (it stops in the absorber behind it, so 0 < r ≤ layer_wet). Two estimates of r:

* ``"stopping_layer"``: r = layer_wet / 2, the middle of the absorber (quantised to 7 mm of water);
* ``"bragg_kleeman"``: r fitted to the track's energy deposits, which rise towards the Bragg peak as
  ``dE/dx ∝ E^(1−p)`` with ``E = ((r + d · layer_wet) / α)^(1/p)`` for the hit d layers before the
  last (least squares on log deposits, the detector's own calibration: α, p, sensor thickness).

Binning WEPL by the track's entry position gives a projection image of the phantom: the mean per
pixel, or as in proton CT the median after cutting tracks more than ``cut_sigma`` robust standard
deviations (1.4826 · MAD) from the pixel's median. Wrong links change where a track ends — and so
the image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch_geometric.data import Data

from ..validation import check_array, check_choice, check_float, check_instance, check_int
from .detector import DetectorConfig, Phantom, _deposit, as_config, energy_of_range, range_of_energy
from .graph import check_graphs, check_items

MAX_EXTENT = 1e5  # mm: far beyond any sensor; keeps the pixel grid finite
WEPL_METHODS = ("stopping_layer", "bragg_kleeman")
STATISTICS = ("mean", "median")
_FIT_HITS = 5  # the last hits of a track used in the Bragg–Kleeman fit (where the deposit rises)
_FIT_GRID = 200  # residual ranges tried per track

__all__ = ["track_wepl", "radiograph", "phantom_image", "image_rmse", "WEPL_METHODS", "STATISTICS"]


def track_wepl(
    data: Data, labels: np.ndarray, config: DetectorConfig | None = None, *, method: str = "stopping_layer"
) -> np.ndarray:
    """Rows (x_entry, y_entry, wepl) for tracks of ≥ 2 hits that start in layer 0.

    The entry point is the first hit extrapolated back to the phantom plane along the first segment;
    ``method`` estimates the residual range at the last hit (module docstring).
    """
    method = check_choice("method", method, WEPL_METHODS)
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
    r = np.full(n.size, 0.5 * cfg.layer_wet)
    if method == "bragg_kleeman" and ok.any():
        log_e = data.x[:, 3].numpy().astype(float)  # NODE_FEATURES' log edep (keV)
        r[ok] = _fit_residual_range(tr, layer, log_e, last_l, np.flatnonzero(ok), cfg)
    wepl = range_of_energy(cfg.energy) - last_l * cfg.layer_wet - r
    return np.column_stack([entry[ok], wepl[ok]])


def _fit_residual_range(tr, layer, log_e, last_l, tracks, cfg: DetectorConfig) -> np.ndarray:
    """Least-squares residual range r at the last hit of each of ``tracks`` from its last deposits.

    The deposit d layers before the last is the detector's mean deposit (``detector._deposit``,
    ∝ E^(1−p)) at ``E = ((r + d·W)/α)^(1/p)`` (W = layer_wet), in log with the log-normal's mean
    offset. r is searched on a grid over (0, W]: the proton stopped in the absorber behind its last hit.
    """
    W = cfg.layer_wet
    slot = np.full(last_l.size, -1)
    slot[tracks] = np.arange(tracks.size)
    back = last_l[tr] - layer  # how many layers before its track's last hit
    hit = (slot[tr] >= 0) & (back < _FIT_HITS)
    obs = np.full((tracks.size, _FIT_HITS), np.nan)  # obs[i, d]: log deposit d layers before the last
    obs[slot[tr[hit]], back[hit]] = log_e[hit]
    grid = np.broadcast_to(W * (np.arange(_FIT_GRID) + 0.5) / _FIT_GRID, (tracks.size, _FIT_GRID))
    depth = grid[:, :, None] + W * np.arange(_FIT_HITS)  # residual range at each of the last hits
    # the simulator's own mean deposit at those residual ranges; log of a mean-one log-normal: −σ²/2
    model = np.log(_deposit(energy_of_range(depth), cfg)) - cfg.edep_fluctuation**2 / 2  # (T, G, K)
    err = np.nansum((obs[:, None, :] - model) ** 2, axis=2)  # NaN: no hit that many layers back
    return grid[np.arange(tracks.size), np.argmin(err, axis=1)]


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
    wepl: str = "stopping_layer",
    statistic: str = "mean",
    cut_sigma: float | None = None,
) -> np.ndarray:
    """WEPL per entry-position pixel (bins × bins, NaN where no track), image[iy, ix].

    ``wepl``: how each track's WEPL is estimated (:func:`track_wepl`'s ``method``); ``statistic``:
    "mean" or "median" of the pixel's tracks; ``cut_sigma``: first drop the tracks further than this
    many robust standard deviations (1.4826 · MAD) from their pixel's median (proton CT's 3σ cuts).
    """
    graphs = check_graphs("graphs", graphs, min_size=0)
    labels = check_items("labels", labels, object, "label array")
    cfg = as_config(config)
    bins = check_int("bins", bins, low=1, high=1024)
    wepl = check_choice("wepl", wepl, WEPL_METHODS)
    statistic = check_choice("statistic", statistic, STATISTICS)
    if cut_sigma is not None:
        cut_sigma = check_float("cut_sigma", cut_sigma, low=0.0, low_open=True, high=100.0)
    if len(graphs) != len(labels):
        raise ValueError(f"graphs and labels must have the same length, got {len(graphs)} and {len(labels)}")
    extent = _extent(extent, cfg)
    rows = [track_wepl(g, lab, cfg, method=wepl) for g, lab in zip(graphs, labels)]
    rows = np.concatenate(rows) if rows else np.zeros((0, 3))
    e = _edges(extent, bins)
    ix, iy = (np.where(v == e[-1], bins - 1, np.digitize(v, e) - 1) for v in (rows[:, 0], rows[:, 1]))
    inside = (ix >= 0) & (ix < bins) & (iy >= 0) & (iy < bins)
    pixel = (iy * bins + ix)[inside]
    return _pixel_image(pixel, rows[inside, 2], bins * bins, statistic, cut_sigma).reshape(bins, bins)


def _pixel_image(pixel: np.ndarray, w: np.ndarray, n: int, statistic: str, cut_sigma: float | None):
    """Per-pixel mean or median of ``w`` (NaN where empty), after the optional robust σ cut."""
    if cut_sigma is not None:
        centre = _group_median(pixel, w, n)[pixel]
        spread = 1.4826 * _group_median(pixel, np.abs(w - centre), n)[pixel]
        keep = np.abs(w - centre) <= cut_sigma * spread
        pixel, w = pixel[keep], w[keep]
    if statistic == "median":
        return _group_median(pixel, w, n)
    total, count = np.bincount(pixel, weights=w, minlength=n), np.bincount(pixel, minlength=n)
    with np.errstate(invalid="ignore"):
        return total / np.where(count > 0, count, np.nan)


def _group_median(group: np.ndarray, value: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``value`` within each group 0 … n_groups−1 (NaN for an empty group), by one sort."""
    order = np.lexsort((value, group))
    group, value = group[order], value[order]
    count = np.bincount(group, minlength=n_groups)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    out = np.full(n_groups, np.nan)
    has = count > 0
    lo, hi = start[has] + (count[has] - 1) // 2, start[has] + count[has] // 2
    out[has] = (value[lo] + value[hi]) / 2
    return out


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
