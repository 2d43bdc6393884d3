"""Sweeps and scale: hyperparameter studies on Optuna, and many processes per study.

A study runs one registered :class:`Experiment` (``objective(params, trial) -> metrics``) over a
grid or an adaptive (TPE) search, stored in an Optuna database: a SQLite file by default, any
database URL (PostgreSQL, MySQL) when several machines share one study. Re-running the same call
resumes after a crash or Ctrl-C without losing or repeating a finished trial; trials that raise
or return NaN are recorded as FAIL and the study goes on; :class:`PruningCallback` stops hopeless
Lightning runs; ``workers=N`` runs N processes on this machine.

    from toolkit import sweeps
    df = sweeps.run_study("feedback-rules", storage="runs/sweeps.db", workers=2)
    sweeps.summarize(df)                     # mean ± std over seeds
    sweeps.show_results(df)                  # Altair chart (offline widget)
    sweeps.load_shipped("feedback-rules")    # the default results shipped in datasets/sweeps

Command line: ``python -m toolkit sweep TOPIC [--grid seed=0:5] [--workers 2] [--dashboard]``.
"""

from .engine import SweepOptions, prepare_study, run_worker
from .parallel import run_study
from .registry import (
    TOPIC_EXPERIMENTS,
    Experiment,
    experiment_names,
    get_experiment,
    grid_points,
    param_key,
    register,
)
from .results import load_results, load_shipped, read_results, results_chart, save_results, summarize
from .storage import DEFAULT_STORAGE, open_storage, storage_url

__all__ = [
    "Experiment",
    "register",
    "get_experiment",
    "experiment_names",
    "TOPIC_EXPERIMENTS",
    "grid_points",
    "param_key",
    "run_study",
    "run_worker",
    "prepare_study",
    "SweepOptions",
    "open_storage",
    "storage_url",
    "DEFAULT_STORAGE",
    "PruningCallback",
    "load_results",
    "summarize",
    "results_chart",
    "save_results",
    "read_results",
    "load_shipped",
    "show_results",
    "serve_dashboard",
]


def __getattr__(name):
    # PruningCallback needs pytorch_lightning (slow to import): load it only when asked for
    if name == "PruningCallback":
        from ..training import PruningCallback

        return PruningCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _pandas():
    import pandas

    return pandas


def show_results(df, x=None, y=None, color=None, **kwargs):
    """Display a results chart in a notebook through the offline widget (``toolkit.charts.show``).

    Without x/y the experiment's preferred chart (or the first grid axis vs. the study metric).
    """
    from ..charts import show
    from ..validation import check_instance

    check_instance("df", df, _pandas().DataFrame, "a results DataFrame (load_results, read_results)")
    for label, value in (("x", x), ("y", y), ("color", color)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{label} must be None or a column name, got {value!r}")
    if x is None or y is None:
        name = df.attrs.get("experiment")
        plot = dict(get_experiment(name).plot) if name else {}
        x = x or plot.get("x") or (df.attrs.get("params") or [df.columns[2]])[0]
        y = y or plot.get("y") or df.attrs.get("metric") or "value"
        color = color if color is not None else plot.get("color")
        kwargs.setdefault("log_x", plot.get("log_x", False))
    return show(results_chart(df, x, y, color, **kwargs))


def serve_dashboard(storage, study=None, *, port=0, background=True):
    """Optuna's dashboard on 127.0.0.1 (see :mod:`toolkit.sweeps.dashboard`); returns a handle with .url."""
    from ..validation import check_bool
    from .dashboard import serve_dashboard as _serve

    if study is not None and not isinstance(study, str):
        raise TypeError(f"study must be None or a study name, got {type(study).__name__}")
    check_bool("background", background)
    return _serve(storage, study, port=port, background=background)
