"""Read and write events as TrackML-style CSV files, so real data of that format can be used.

Files per event (``<prefix>-hits.csv`` etc., as in the TrackML challenge):

* hits:      hit_id, x, y, z, volume_id, layer_id, module_id
* cells:     hit_id, ch0, ch1, value            (value = energy deposit, keV)
* particles: particle_id, vx, vy, vz, px, py, pz, q, nhits   (+ optional wet, last_layer)
* truth:     hit_id, particle_id, tx, ty, tz, tpx, tpy, tpz, weight

On reading, layers are numbered 0..L−1 by sorted (volume_id, layer_id); cells and particles are
optional (edep defaults to 1, particle truth is rebuilt from the hits). Missing required columns
raise a ValueError naming the file and the columns.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_write
from ..validation import check_int
from .detector import PROTON_MASS, DetectorConfig, Event, as_config

__all__ = ["write_trackml", "read_trackml", "HIT_COLUMNS", "TRUTH_COLUMNS", "PARTICLE_COLUMNS"]

HIT_COLUMNS = ("hit_id", "x", "y", "z", "volume_id", "layer_id", "module_id")
TRUTH_COLUMNS = ("hit_id", "particle_id", "tx", "ty", "tz", "tpx", "tpy", "tpz", "weight")
PARTICLE_COLUMNS = ("particle_id", "vx", "vy", "vz", "px", "py", "pz", "q", "nhits")
CELL_COLUMNS = ("hit_id", "ch0", "ch1", "value")


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False)


def write_trackml(
    event: Event,
    directory: str | os.PathLike,
    prefix: str | None = None,
    config: DetectorConfig | None = None,
) -> list[Path]:
    """Write one event as four CSV files; returns their paths."""
    if not isinstance(event, Event):
        raise TypeError(f"event must be an Event, got {type(event).__name__}")
    cfg = as_config(config)
    d = Path(directory)
    prefix = prefix or f"event{event.event_id:09d}"
    hid = event.hit_id
    pitch = cfg.pixel_pitch if cfg.pixel_pitch > 0 else 1.0
    hits = pd.DataFrame(
        dict(hit_id=hid, x=event.x, y=event.y, z=event.z, volume_id=1, layer_id=event.layer, module_id=1)
    )
    cells = pd.DataFrame(
        dict(
            hit_id=hid,
            ch0=np.floor(event.x / pitch).astype(int),
            ch1=np.floor(event.y / pitch).astype(int),
            value=event.edep,
        )
    )
    p = event.particles
    mom = np.sqrt(p["energy"] * (p["energy"] + 2 * PROTON_MASS))
    norm = np.sqrt(1 + p["tx"] ** 2 + p["ty"] ** 2)
    particles = pd.DataFrame(
        dict(
            particle_id=p["particle_id"],
            vx=p["x0"],
            vy=p["y0"],
            vz=-cfg.phantom_distance,
            px=mom * p["tx"] / norm,
            py=mom * p["ty"] / norm,
            pz=mom / norm,
            q=1,
            nhits=p["n_hits"],
            wet=p["wet"],
            last_layer=p["last_layer"],
        )
    )
    truth = pd.DataFrame(
        dict(
            hit_id=hid,
            particle_id=event.particle_id,
            tx=event.x,
            ty=event.y,
            tz=event.z,
            tpx=0.0,
            tpy=0.0,
            tpz=0.0,
            weight=np.where(event.particle_id > 0, 1.0, 0.0),
        )
    )
    paths = []
    for name, df in (("hits", hits), ("cells", cells), ("particles", particles), ("truth", truth)):
        path = d / f"{prefix}-{name}.csv"
        _write_csv(df, path)
        paths.append(path)
    return paths


class TrackMLFileNotFound(FileNotFoundError, ValueError):
    """A required TrackML file is missing: an OS error, and a bad ``directory``/``prefix`` value."""


def _read(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise TrackMLFileNotFound(
            f"directory {str(path.parent)!r} has no TrackML file {path.name!r} (check directory and prefix)"
        )
    df = pd.read_csv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path.name} is missing required column(s) {missing}; it has {list(df.columns)}")
    return df


def read_trackml(directory: str | os.PathLike, prefix: str, *, event_id: int = 0) -> Event:
    """Read ``<prefix>-hits.csv`` and ``-truth.csv`` (and optional cells/particles) as an :class:`Event`."""
    if isinstance(directory, bool) or not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path (str or os.PathLike), got {type(directory).__name__}")
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a file-name prefix (str), got {type(prefix).__name__}")
    if not prefix or os.sep in prefix:
        raise ValueError(f"prefix must be a non-empty file-name prefix without {os.sep!r}, got {prefix!r}")
    event_id = check_int("event_id", event_id, low=0)
    d = Path(directory)
    hits = _read(d / f"{prefix}-hits.csv", HIT_COLUMNS)
    truth = _read(d / f"{prefix}-truth.csv", ("hit_id", "particle_id"))
    df = hits.merge(truth[["hit_id", "particle_id"]], on="hit_id", how="left", validate="one_to_one")
    if df["particle_id"].isna().any():
        raise ValueError(f"{prefix}-truth.csv has no entry for some hit_id of {prefix}-hits.csv")
    cells_path = d / f"{prefix}-cells.csv"
    if cells_path.is_file():
        cells = _read(cells_path, ("hit_id", "value")).groupby("hit_id", as_index=False)["value"].sum()
        df = df.merge(cells, on="hit_id", how="left")
        df["value"] = df["value"].fillna(0.0)
    else:
        df["value"] = 1.0
    keys = sorted(set(zip(df["volume_id"], df["layer_id"])))
    rank = {k: i for i, k in enumerate(keys)}
    df["layer"] = [rank[k] for k in zip(df["volume_id"], df["layer_id"])]
    df = df.sort_values(["layer", "hit_id"], kind="stable").reset_index(drop=True)
    # particle ids may be huge 64-bit numbers in real data: renumber 1..P, keeping 0 = noise
    raw_pid = df["particle_id"].to_numpy(np.int64)
    uniq = np.unique(raw_pid[raw_pid != 0])
    local = np.where(raw_pid != 0, np.searchsorted(uniq, raw_pid) + 1, 0)
    layer = df["layer"].to_numpy(np.int64)
    n_hits = np.bincount(local, minlength=uniq.size + 1)[1:]
    last = np.full(uniq.size + 1, -1)
    np.maximum.at(last, local, layer)
    particles = dict(
        particle_id=np.arange(1, uniq.size + 1),
        x0=np.full(uniq.size, np.nan),
        y0=np.full(uniq.size, np.nan),
        tx=np.full(uniq.size, np.nan),
        ty=np.full(uniq.size, np.nan),
        energy=np.full(uniq.size, np.nan),
        wet=np.full(uniq.size, np.nan),
        n_hits=n_hits,
        last_layer=last[1:],
    )
    ppath = d / f"{prefix}-particles.csv"
    if ppath.is_file() and uniq.size:
        pdf = _read(ppath, PARTICLE_COLUMNS).set_index("particle_id")
        pdf = pdf.reindex(uniq)
        particles["x0"], particles["y0"] = pdf["vx"].to_numpy(float), pdf["vy"].to_numpy(float)
        pz = pdf["pz"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            particles["tx"], particles["ty"] = pdf["px"].to_numpy(float) / pz, pdf["py"].to_numpy(float) / pz
        mom = np.sqrt(pdf["px"] ** 2 + pdf["py"] ** 2 + pdf["pz"] ** 2).to_numpy(float)
        particles["energy"] = np.sqrt(mom**2 + PROTON_MASS**2) - PROTON_MASS
        if "wet" in pdf:
            particles["wet"] = pdf["wet"].to_numpy(float)
    return Event(
        event_id=event_id,
        x=df["x"].to_numpy(float),
        y=df["y"].to_numpy(float),
        z=df["z"].to_numpy(float),
        layer=layer,
        edep=df["value"].to_numpy(float),
        particle_id=local,
        particles=particles,
    )
