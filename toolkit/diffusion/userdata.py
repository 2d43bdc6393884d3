"""Load your own paired (coarse, fine) fields from NetCDF or Zarr through xarray.

Expected layout: two variables (default names "coarse" and "fine") sharing a leading sample
dimension (e.g. "time"), with fine spatial size = factor × coarse spatial size, e.g.

    coarse(time, y_c, x_c)  8 × 8,   fine(time, y, x)  32 × 32.

Values should be in clear-sky-index units (≈ 0..1.2) for the pretrained model; otherwise retrain.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from toolkit.io import atomic_directory, atomic_write, recover_directory
from toolkit.validation import check_array, check_choice

from .weather import WeatherConfig, WeatherPairs

__all__ = ["load_paired_data", "save_paired_data"]

ENGINES = ("h5netcdf", "zarr", "netcdf4", "scipy")


class DataFileNotFoundError(FileNotFoundError, ValueError):
    """No data file or store at the given path: a FileNotFoundError for callers handling OS errors and a
    ValueError for those handling bad arguments (the path is an argument, and it is wrong)."""


def _check_path(name: str, path) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    if not str(path):
        raise ValueError(f"{name} must be a non-empty path")
    return Path(path)


def _check_name(name: str, value, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        kind = "None or a non-empty string" if optional else "a non-empty string"
        raise TypeError(f"{name} must be {kind} (a variable or dimension name), got {value!r}")


def _netcdf_engine() -> str:
    """h5netcdf needs h5py; fall back to scipy (NetCDF-3) when it is missing."""
    try:
        import h5py  # noqa: F401

        return "h5netcdf"
    except ImportError:
        return "scipy"


def _engine(path: Path, engine: str | None) -> str | None:
    if engine is not None:
        return check_choice("engine", engine, ENGINES)
    if path.suffix == ".zarr" or (
        path.is_dir() and any((path / m).exists() for m in (".zgroup", "zarr.json"))
    ):
        return "zarr"
    if path.suffix in (".nc", ".nc4", ".h5", ".netcdf"):
        return None  # let xarray pick the backend that can read this file
    raise ValueError(f"cannot tell the format of {path}: use a .nc or .zarr path, or pass engine=")


def load_paired_data(
    path,
    *,
    coarse_var: str = "coarse",
    fine_var: str = "fine",
    engine: str | None = None,
    sample_dim: str | None = None,
) -> WeatherPairs:
    """Read (coarse, fine) pairs into a WeatherPairs (float32, samples first).

    Raises FileNotFoundError for a missing path and ValueError naming the problem for missing
    variables, wrong ranks, mismatched sample counts, a non-integer size ratio or non-finite values.
    """
    path = _check_path("path", path)
    _check_name("coarse_var", coarse_var)
    _check_name("fine_var", fine_var)
    if engine is not None:
        check_choice("engine", engine, ENGINES)
    _check_name("sample_dim", sample_dim, optional=True)
    recover_directory(path)  # a store whose swap was killed midway is put back (toolkit.io)
    if not path.exists():
        raise DataFileNotFoundError(2, f"path names no data file or store: {path}", str(path))
    eng = _engine(path, engine)
    kwargs = {"consolidated": False} if eng == "zarr" else {}  # works for consolidated stores too
    with xr.open_dataset(path, engine=eng, **kwargs) as ds:
        for name, var in (("coarse_var", coarse_var), ("fine_var", fine_var)):
            if var not in ds.data_vars:
                raise ValueError(f"{name}={var!r} is not a variable of {path}; it has {sorted(ds.data_vars)}")
        c, f = ds[coarse_var], ds[fine_var]
        if c.ndim != 3 or f.ndim != 3:
            raise ValueError(
                f"{coarse_var} and {fine_var} must be 3-D (sample, y, x), got {c.dims} and {f.dims}"
            )
        dim = sample_dim or f.dims[0]
        if dim not in c.dims or dim not in f.dims:
            raise ValueError(
                f"sample_dim {dim!r} must be a dimension of both variables, got {c.dims} and {f.dims}"
            )
        c = c.transpose(dim, ...).values.astype(np.float32)
        f = f.transpose(dim, ...).values.astype(np.float32)
    if len(c) != len(f):
        raise ValueError(f"coarse and fine must hold the same number of samples, got {len(c)} and {len(f)}")
    (hc, wc), (hf, wf) = c.shape[1:], f.shape[1:]
    if hf % hc or wf % wc or hf // hc != wf // wc:
        raise ValueError(f"fine size {hf}x{wf} must be the same integer multiple of coarse size {hc}x{wc}")
    if hf != wf:
        raise ValueError(f"fields must be square, got fine {hf}x{wf}")
    if not (np.isfinite(c).all() and np.isfinite(f).all()):
        raise ValueError(f"{path} contains NaN or infinite values; fill or drop them first")
    cfg = WeatherConfig(size=hf, factor=hf // hc)
    return WeatherPairs(c, f, np.full(len(f), np.nan), cfg)


def save_paired_data(path, coarse, fine, *, engine: str | None = None) -> Path:
    """Write pairs as a NetCDF file (atomically) or a Zarr store (built aside, then renamed).

    coarse (n, h, w) and fine (n, H, W) must be finite (load_paired_data refuses NaN and inf).
    """
    path = _check_path("path", path)
    coarse = check_array("coarse", coarse, ndim=3, min_size=0).astype(np.float32)
    fine = check_array("fine", fine, ndim=3, min_size=0).astype(np.float32)
    if engine is not None:
        check_choice("engine", engine, ENGINES)
    if coarse.ndim != 3 or fine.ndim != 3 or len(coarse) != len(fine):
        raise ValueError(
            f"coarse and fine must be (n, h, w) and (n, H, W) with the same n, got "
            f"{coarse.shape} and {fine.shape}"
        )
    ds = xr.Dataset({"coarse": (("time", "y_c", "x_c"), coarse), "fine": (("time", "y", "x"), fine)})
    eng = engine or ("zarr" if path.suffix == ".zarr" else _netcdf_engine())
    if eng == "zarr":
        with atomic_directory(path) as tmp:  # built aside, swapped in kill-safely (toolkit.io)
            ds.to_zarr(tmp, mode="w", consolidated=False)
    else:
        with atomic_write(path, "wb") as fh:
            fh.write(ds.to_netcdf(engine=eng))
    return path
