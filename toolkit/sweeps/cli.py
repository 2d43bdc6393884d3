"""``python -m toolkit sweep TOPIC [options]`` (and ``python -m toolkit.sweeps EXPERIMENT``).

Runs (or resumes) the topic's ready-made study, prints a summary table and optionally writes
results, summary and chart to ``--out``; ``--dashboard`` serves Optuna's dashboard on the study,
``--show`` prints the stored results without running anything, ``--list`` lists experiments.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..cliopts import config_option, format_table
from ..topics import discover_topics
from .options import SweepOptions
from .registry import TOPIC_EXPERIMENTS, experiment_names, get_experiment, lookup, parse_value
from .storage import DEFAULT_STORAGE

__all__ = ["ACTIONS", "action", "add_arguments", "run", "main"]

HELP = "run or resume a hyperparameter study (Optuna) of the topic's ready-made experiment"

#: the command-line options taken from SweepOptions (``--trials`` is its ``n_trials``)
_OPTIONS = {
    "search": {
        "choices": ["grid", "adaptive"],
        "help": "every grid point once, or TPE sampling of the space",
    },
    "n_trials": {
        "flag": "--trials",
        "type": int,
        "metavar": "N",
        "help": "number of trials for --search adaptive",
    },
    "workers": {"help": "worker processes on this machine"},
    "prune": {"help": "stop hopeless trials early (median pruner)"},
    "timeout": {"type": float, "help": "stop starting trials after S seconds"},
    "heartbeat": {"help": "seconds between heartbeats; a silent trial is dead after 3 of them"},
    "threads": {"type": int, "help": "torch threads per worker (None: cores / workers)"},
    "seed": {"help": "seed of the adaptive sampler"},
}


def add_arguments(parser: argparse.ArgumentParser, topic: str | None = None) -> None:
    """Options of the sweep action; without ``topic`` the experiment is a positional argument."""
    if topic is None:
        parser.add_argument("experiment", help="experiment or topic name (see --list)")
    parser.set_defaults(sweep_topic=topic)
    parser.add_argument(
        "--experiment",
        dest="experiment_name",
        default=None,
        help="experiment to run (default: the topic's ready-made study)",
    )
    parser.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        help="SQLite file or database URL, e.g. postgresql://user:pw@host/db",
    )
    parser.add_argument("--study", default=None, help="study name (default: the experiment name)")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="replace one grid axis (repeatable); integers also as A:B (A..B-1)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pin a parameter to one value (repeatable)",
    )
    for name, kwargs in _OPTIONS.items():  # how the study runs: SweepOptions' fields and defaults
        config_option(parser, SweepOptions, name, **kwargs)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for <study>.csv/.json (all trials), <study>-summary.csv, <study>.png",
    )
    parser.add_argument(
        "--chart",
        choices=["png", "svg", "html", "json", "none"],
        default="png",
        help="format of the chart written to --out",
    )
    parser.add_argument("--show", action="store_true", help="print the stored results; run nothing")
    parser.add_argument("--dashboard", action="store_true", help="serve optuna-dashboard on the study")
    parser.add_argument("--port", type=int, default=0, help="dashboard port on 127.0.0.1 (0 = a free one)")
    parser.add_argument("--list", action="store_true", help="list experiments, their grids and parameters")
    parser.add_argument("--quiet", action="store_true", help="no line per trial")


def _parse_assignments(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"{option} must look like NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        out[name.strip()] = value
    return out


def _parse_grid(text: str, dist: Any) -> list[Any]:
    if ":" in text and "," not in text:
        a, b = text.split(":", 1)
        return list(range(int(a), int(b)))
    return [parse_value(v, dist) for v in text.split(",") if v.strip()]


def _experiment(args: argparse.Namespace):
    name = args.experiment_name or getattr(args, "experiment", None) or args.sweep_topic
    exp = lookup(name)
    if args.sweep_topic and exp.topic not in (args.sweep_topic, "") and args.experiment_name:
        raise ValueError(f"experiment {exp.name!r} belongs to topic {exp.topic!r}, not {args.sweep_topic!r}")
    grid = {k: _parse_grid(v, exp.space.get(k)) for k, v in _parse_assignments(args.grid, "--grid").items()}
    fixed = {}
    for k, v in _parse_assignments(args.set, "--set").items():
        known = exp.space.get(k)
        default = exp.defaults.get(k)
        value = parse_value(v, known)
        if known is None and isinstance(default, str):
            value = v  # keep text parameters as text
        elif known is None and isinstance(default, float) and isinstance(value, int):
            value = float(value)
        fixed[k] = value
    return exp.with_options(grid=grid, fixed=fixed) if grid or fixed else exp


def _print_list() -> None:
    for name in experiment_names():
        try:
            exp = get_experiment(name)
        except Exception as exc:  # a topic not installed/ready yet must not hide the others
            print(f"{name}: unavailable ({type(exc).__name__}: {exc})")
            continue
        n = 1
        for values in exp.grid.values():
            n *= len(values)
        print(f"{name}  [{exp.topic}]  {exp.description}")
        print(f"  optimises {exp.metric} ({exp.direction}); default grid: {n} trials")
        for k, values in exp.grid.items():
            print(f"    --grid {k}={','.join(map(str, values))}")
        others = {k: v for k, v in exp.defaults.items() if k not in exp.grid}
        if others:
            pairs = ", ".join(f"{k}={v}" for k, v in others.items())
            print(f"  other parameters (--set NAME=VALUE): {pairs}")


def _summary(exp, df):
    from .results import summarize

    if exp.summarize is not None:
        return exp.summarize(df)
    return summarize(df, by=[c for c in exp.grid if c != "seed"] or None)


def _cell(value: Any) -> Any:
    """A summary value as printed: floats to 4 significant digits, a missing mean as NaN."""
    if not isinstance(value, float):
        return value
    return "NaN" if math.isnan(value) else f"{value:.4g}"


def _table(df) -> str:
    """The summary as the toolkit's one table printer prints it (4 significant digits)."""
    if df.empty:
        return f"(no results; columns: {', '.join(map(str, df.columns))})"
    return format_table([{k: _cell(v) for k, v in r.items()} for r in df.to_dict("records")])


def _serve(args: argparse.Namespace, study: str) -> int:
    from .dashboard import serve_dashboard

    server = serve_dashboard(args.storage, study, port=args.port, background=False)
    print(f"optuna-dashboard for study {study!r}: {server.url}  (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _results(args: argparse.Namespace, exp, study: str):
    """The stored results (``--show``), or those of running / resuming the study."""
    from .parallel import run_study
    from .results import load_results

    if args.show:
        return load_results(args.storage, study)
    try:
        options = {name: getattr(args, name) for name in _OPTIONS}
        return run_study(exp, storage=args.storage, study=study, verbose=not args.quiet, **options)
    except KeyboardInterrupt:
        print(
            "\ninterrupted: finished trials are saved; run the same command again to resume", file=sys.stderr
        )
        sys.stderr.flush()
        sys.stdout.flush()
        # the interrupted trial is already failed and queued again; exit now even if Ctrl-C landed
        # while Optuna was starting or stopping a trial's (non-daemon) heartbeat thread
        os._exit(130)


def _meta(args: argparse.Namespace, df, seconds: float) -> dict[str, Any]:
    """How the results were made, written beside them (``<study>.json``)."""
    from .storage import storage_url

    argv = getattr(args, "argv", None) or sys.argv[1:]
    program = "python -m toolkit " if args.sweep_topic else "python -m toolkit.sweeps "
    local = "://" not in args.storage or args.storage.startswith("sqlite")
    return {
        "command": program + " ".join(shlex.quote(a) for a in argv),
        "wall_seconds": round(seconds, 1),
        "trial_seconds_total": round(float(df["seconds"].sum()), 1),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "storage": "<local SQLite>" if local else storage_url(args.storage).split("://")[0],
        "states": df["state"].value_counts().to_dict(),
    }


def run(args: argparse.Namespace) -> int:
    """Run the sweep action; prints the summary table, returns 0 (2 for bad input)."""
    from .results import write_outputs

    if args.list:
        _print_list()
        return 0
    exp = _experiment(args)
    study = args.study or exp.name
    if args.dashboard:
        return _serve(args, study)
    start = time.time()
    df = _results(args, exp, study)
    seconds = time.time() - start
    summary = _summary(exp, df)
    print(_table(summary))
    print(f"{len(df)} trials {df['state'].value_counts().to_dict()}; wall time {seconds:.0f} s")
    if args.out is not None:
        for p in write_outputs(exp, df, summary, args.out, study, _meta(args, df, seconds), args.chart):
            print(f"wrote {p}")
    return 0


def action(
    topic: str,
) -> tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]:
    """``(help, add_arguments, run)`` of the sweep action for ``topic`` (toolkit.cli's convention)."""
    if topic not in TOPIC_EXPERIMENTS:
        raise ValueError(f"topic must be one of {sorted(TOPIC_EXPERIMENTS)}; got {topic!r}")
    return HELP, lambda parser: add_arguments(parser, topic), run


#: ``ACTIONS[topic] = (help, add_arguments, run)`` for every topic with a ready-made study
ACTIONS = {name: action(name) for name, topic in discover_topics().items() if topic.study}


def main(argv: list[str] | None = None) -> int:
    """``python -m toolkit.sweeps EXPERIMENT [options]`` (any registered experiment)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.sweeps",
        description=HELP,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    if argv and argv[0] == "--list":
        argv = ["toy", "--list"]
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return int(run(args) or 0)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
