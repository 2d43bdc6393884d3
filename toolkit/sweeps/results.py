"""Study results as tables and Altair charts.

``load_results`` turns a study into one row per trial: ``number, state, <params>, <metrics>,
value, seconds, error``. ``summarize`` aggregates over seeds (mean, std, count per group);
``results_chart`` draws mean ± standard deviation of a metric against a parameter, one line per
group, with the individual seeds as dots, so a learner sees the spread, not just the mean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..validation import check_instance

__all__ = [
    "load_results",
    "summarize",
    "results_chart",
    "save_results",
    "read_results",
    "DATASET_DIR",
    "load_shipped",
    "metric_columns",
    "param_columns",
]

DATASET_DIR = Path(__file__).resolve().parents[2] / "datasets" / "sweeps"
_BASE = ["number", "state"]
_TAIL = ["value", "seconds", "error", "worker"]


def load_results(storage: Any, study: str) -> pd.DataFrame:
    """One row per trial of ``study`` in ``storage`` (URL, SQLite path or Optuna storage).

    Columns: ``number, state`` (COMPLETE / PRUNED / FAIL / RUNNING / WAITING, or REDONE: Optuna's
    FAIL for a trial whose worker stopped and which was run again as a later trial), one column per
    parameter, one per metric, then ``value`` (the optimised metric), ``seconds``, ``error``
    (why a FAIL trial failed; "interrupted" if its worker stopped) and ``worker``.
    Parameter columns are listed in ``df.attrs["params"]``, metrics in ``df.attrs["metrics"]``.
    """
    import optuna

    from .recovery import redone_numbers
    from .storage import open_storage

    if not isinstance(study, str) or not study:
        raise ValueError(f"study must be a study name, got {study!r}")
    if isinstance(storage, (str, os.PathLike)) and "://" not in os.fspath(storage):
        if not Path(storage).is_file():
            raise ValueError(f"storage: no such SQLite file {os.fspath(storage)!r}")
    store = open_storage(storage)
    try:
        st = optuna.load_study(study_name=study, storage=store)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(store)]
        raise ValueError(f"study must be one of {names}; got {study!r}") from None
    rows, params, metrics = [], [], []
    trials = st.get_trials(deepcopy=False)
    redone = redone_numbers(trials)
    for t in trials:
        if t.user_attrs.get("gl_duplicate"):  # stepped aside for an earlier trial of the same point
            continue
        row: dict[str, Any] = {"number": t.number, "state": "REDONE" if t.number in redone else t.state.name}
        for k, v in t.params.items():
            row[k] = v
            if k not in params:
                params.append(k)
        for k, v in t.user_attrs.items():
            if not k.startswith("gl_"):
                row[k] = v
                if k not in metrics:
                    metrics.append(k)
        row["value"] = t.value if t.values is not None else np.nan
        row["seconds"] = t.user_attrs.get("gl_seconds", np.nan)
        error = t.user_attrs.get("gl_error", "")
        if t.state.name == "FAIL" and not error:
            error = "interrupted (worker stopped)" + ("; run again" if t.number in redone else "")
        row["error"] = error
        row["worker"] = t.user_attrs.get("gl_worker", "")
        rows.append(row)
    main = st.user_attrs.get("gl_metric")
    metrics = sorted(metrics, key=lambda m: (m != main, m))  # the optimised metric first
    columns = _BASE + params + metrics + _TAIL
    df = pd.DataFrame(rows, columns=columns)
    df.attrs.update(
        params=params,
        metrics=metrics,
        study=study,
        **{k[3:]: v for k, v in st.user_attrs.items() if k.startswith("gl_") and not k.startswith("gl_pid:")},
    )
    return df


def param_columns(df: pd.DataFrame) -> list[str]:
    """Parameter columns of a results table (from ``df.attrs``, else the non-metric columns)."""
    if "params" in df.attrs:
        return [c for c in df.attrs["params"] if c in df.columns]
    return [c for c in df.columns if c not in _BASE + _TAIL and not pd.api.types.is_float_dtype(df[c])]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Metric columns of a results table."""
    if "metrics" in df.attrs:
        return [c for c in df.attrs["metrics"] if c in df.columns]
    skip = set(_BASE + _TAIL) | set(param_columns(df))
    return [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])]


def summarize(
    df: pd.DataFrame,
    by: Sequence[str] | str | None = None,
    metrics: Sequence[str] | None = None,
    *,
    over: str = "seed",
) -> pd.DataFrame:
    """Mean and standard deviation of each metric over repeats (``over``, default the seed).

    ``by`` defaults to every parameter except ``over``. Only COMPLETE trials count; the column
    ``n`` says how many were averaged and ``failed`` how many trials of the group did not finish
    (REDONE trials are not counted: their retry is).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    by = (
        [by]
        if isinstance(by, str)
        else list(by)
        if by is not None
        else [c for c in param_columns(df) if c != over]
    )
    metrics = list(metrics) if metrics is not None else metric_columns(df)
    for c in [*by, *metrics]:
        if c not in df.columns:
            raise ValueError(f"column {c!r} is not in the results; columns: {list(df.columns)}")
    if not by:
        df = df.assign(_all="all")
        by_ = ["_all"]
    else:
        by_ = by
    done = df[df["state"] == "COMPLETE"] if "state" in df.columns else df
    groups = df.groupby(by_, sort=True, dropna=False).size().index  # groups with only failures too
    agg = done.groupby(by_, sort=True, dropna=False)[metrics].agg(["mean", "std"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    agg = agg.reindex(groups)
    agg["n"] = done.groupby(by_, sort=True, dropna=False).size().reindex(groups).fillna(0).astype(int)
    if "state" in df.columns:
        failed = df[~df["state"].isin(["COMPLETE", "REDONE"])].groupby(by_, sort=True, dropna=False).size()
        agg["failed"] = failed.reindex(groups).fillna(0).astype(int)
    out = agg.reset_index()
    return out.drop(columns=["_all"]) if "_all" in out.columns else out


def results_chart(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str | None = None,
    *,
    log_x: bool = False,
    title: str = "",
    width: int = 320,
    height: int = 200,
) -> Any:
    """Metric ``y`` against parameter ``x``: mean line ± one std band, every COMPLETE trial a dot."""
    import altair as alt

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    for name, col in (("x", x), ("y", y), ("color", color)):
        if col is not None and col not in df.columns:
            raise ValueError(f"{name} must be a column of the results {list(df.columns)}; got {col!r}")
    done = df[df["state"] == "COMPLETE"] if "state" in df.columns else df
    keys = [x] + ([color] if color else [])
    stats = done.groupby(keys, dropna=False)[y].agg(["mean", "std", "count"]).reset_index()
    stats["std"] = stats["std"].fillna(0.0)
    stats["low"], stats["high"] = stats["mean"] - stats["std"], stats["mean"] + stats["std"]
    x_type = "Q" if pd.api.types.is_numeric_dtype(done[x]) else "O"
    x_enc = alt.X(
        f"{x}:{x_type}", title=x, scale=alt.Scale(type="log") if log_x and x_type == "Q" else alt.Undefined
    )
    col_enc = alt.Color(f"{color}:N", title=color) if color else alt.Undefined
    points = (
        alt.Chart(done[keys + [y]])
        .mark_circle(size=28, opacity=0.45)
        .encode(
            x=x_enc,
            y=alt.Y(f"{y}:Q", title=y, scale=alt.Scale(zero=False)),
            color=col_enc,
            tooltip=[*keys, alt.Tooltip(f"{y}:Q", format=".4g")],
        )
    )
    band = alt.Chart(stats).mark_area(opacity=0.15) if x_type == "Q" else alt.Chart(stats).mark_rule()
    band = band.encode(x=x_enc, y="low:Q", y2="high:Q", color=col_enc)
    line = (
        alt.Chart(stats)
        .mark_line(point=True)
        .encode(
            x=x_enc,
            y="mean:Q",
            color=col_enc,
            tooltip=[
                *keys,
                alt.Tooltip("mean:Q", format=".4g"),
                alt.Tooltip("std:Q", format=".3g"),
                "count:Q",
            ],
        )
    )
    chart = (band + line + points).properties(width=width, height=height)
    return chart.properties(title=title) if title else chart


def save_results(df: pd.DataFrame, path: str | os.PathLike, *, meta: dict | None = None) -> Path:
    """Write a results table as CSV (atomically) with its ``attrs`` + ``meta`` in ``<name>.json``."""
    from ..io import atomic_write  # imports torch: only when writing

    check_instance("df", df, pd.DataFrame, "a pandas DataFrame")
    path = Path(_check_path(path))
    if meta is not None:
        check_instance("meta", meta, dict, "None or a dict")
    if path.suffix != ".csv":
        raise ValueError(f"path must end with .csv, got {path.name!r}")
    with atomic_write(path) as fh:
        df.to_csv(fh, index=False, float_format="%.6g", lineterminator="\n")
    info = {**{k: v for k, v in df.attrs.items()}, **(meta or {})}
    with atomic_write(path.with_suffix(".json")) as fh:
        json.dump(info, fh, indent=2, default=str)
        fh.write("\n")
    return path


def _check_path(path: Any) -> str | os.PathLike:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {path!r}")
    return path


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`save_results` (``attrs`` restored from the JSON beside it)."""
    path = Path(_check_path(path))
    if not path.is_file():
        raise ValueError(f"path: no such results file {os.fspath(path)!r}")
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], converters={"error": str, "worker": str})
    meta = path.with_suffix(".json")
    if meta.is_file():
        df.attrs.update(json.loads(meta.read_text()))
    return df


def load_shipped(name: str) -> pd.DataFrame:
    """The shipped default results of a ready-made study (``datasets/sweeps/<name>.csv``)."""
    available = sorted(p.stem for p in DATASET_DIR.glob("*.csv"))
    if not isinstance(name, str) or name not in available:
        raise ValueError(f"name must be one of {available}; got {name!r}")
    return read_results(DATASET_DIR / f"{name}.csv")


def write_outputs(
    exp, df, summary, out: Path, study: str, meta: dict[str, Any], chart: str = "png"
) -> list[Path]:
    """``<study>.csv`` + ``.json`` (every trial, with how it was made), ``-summary.csv``, the chart."""
    from ..io import atomic_write

    paths = [save_results(df, out / f"{study}.csv", meta=meta)]
    with atomic_write(out / f"{study}-summary.csv") as fh:
        summary.to_csv(fh, index=False, float_format="%.6g", lineterminator="\n")
    paths.append(out / f"{study}-summary.csv")
    plot = dict(exp.plot) or {"x": next(iter(exp.grid)), "y": exp.metric}
    if chart != "none" and (df["state"] == "COMPLETE").any():
        spec = results_chart(df, title=f"{study}", **plot)
        if chart == "json":  # (<study>.json holds the metadata)
            with atomic_write(out / f"{study}-chart.json") as fh:
                fh.write(spec.to_json(indent=1))
            paths.append(out / f"{study}-chart.json")
        else:
            from ..charts import save_chart  # vl-convert renders it, no browser needed

            paths.append(save_chart(spec, out / f"{study}.{chart}"))
    return paths
