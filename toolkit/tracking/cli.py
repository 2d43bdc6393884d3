"""``python -m toolkit train|evaluate|sweep tracking``.

train    : Lightning training of the edge classifier (two-step, end-to-end or mixed); writes
           ``model.pt`` and ``metrics.json`` (test-set metrics on the fixed test events) to ``--out``.
evaluate : purity / efficiency / TrackML score of a checkpoint on the fixed test set.
sweep    : the project's Optuna study of this topic, dispatched by toolkit.cli to toolkit.sweeps
           (experiment "tracking-lambda"); ``python -m toolkit.tracking.cli stability`` is the
           quick λ × seeds table without a study database.
``python -m toolkit.tracking.cli stability --lams 0.01 0.1 1 --seeds 0 1 2`` prints the λ × seeds
stability table (m_minmax between seeds and the loss barrier per λ) without Optuna.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

from ..cliopts import config_option, format_table, torch_threads
from ..io import atomic_write

__all__ = ["ACTIONS"]

TEST_SEED = 10**6  # the fixed test set: same events for every model


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--density", type=float, default=1.0, help="particles per frame relative to the default")
    p.add_argument(
        "--efficiency", type=float, default=None, help="hit efficiency per layer (default: the detector's)"
    )
    p.add_argument(
        "--skip-layers",
        type=int,
        default=None,
        help="candidate edges may jump this many layers (build_graphs; default 0, or the checkpoint's)",
    )
    p.add_argument("--n-test", type=int, default=200, help="fixed test events (seed 10^6)")


def _detector(args: argparse.Namespace, det=None):
    """The detector of the options: ``det`` (default: DetectorConfig()) scaled and with its efficiency."""
    from dataclasses import replace

    from .detector import DetectorConfig

    det = det if det is not None else DetectorConfig()
    if args.density != 1.0:
        det = det.scaled(args.density)
    return replace(det, efficiency=args.efficiency) if args.efficiency is not None else det


def _add_train(p: argparse.ArgumentParser) -> None:
    from .model import ModelConfig
    from .train import TrainConfig

    # defaults (and types) come from TrainConfig / ModelConfig: the CLI cannot drift from the library
    config_option(p, TrainConfig, "mode", choices=["two_step", "e2e", "mixed"])
    config_option(p, TrainConfig, "estimator", choices=["blackbox", "straight_through", "sinkhorn"])
    config_option(p, TrainConfig, "lam", help="blackbox λ in cost units")
    config_option(p, TrainConfig, "alpha", help="BCE weight of the mixed loss")
    config_option(p, TrainConfig, "epochs")
    p.add_argument("--n-train", type=int, default=400)
    config_option(p, TrainConfig, "batch_size")
    config_option(p, TrainConfig, "lr")
    config_option(p, ModelConfig, "hidden")
    config_option(p, TrainConfig, "seed")
    p.add_argument("--out", type=Path, default=Path("runs/tracking"), help="output folder")
    p.add_argument("--no-progress", action="store_true")
    _common(p)


def _test_graphs(det, n_test: int, skip_layers: int = 0):
    from .train import make_dataset

    return make_dataset(n_test, det, seed=TEST_SEED, skip_layers=skip_layers)


def _metrics_row(name: str, r: dict) -> dict:
    return dict(
        model=name,
        purity=r["purity"],
        efficiency=r["efficiency"],
        trackml=r["trackml"],
        edge_precision=r["edge_precision"],
        edge_recall=r["edge_recall"],
    )


def _run_train(args: argparse.Namespace) -> int:
    from ..training import make_trainer
    from .lightning import TrackingDataModule, TrackingModule
    from .model import ModelConfig
    from .pipeline import evaluate
    from .train import TrainConfig, save_model

    det, skip = _detector(args), args.skip_layers or 0
    tcfg = TrainConfig(
        mode=args.mode,
        estimator=args.estimator,
        lam=args.lam,
        alpha=args.alpha,
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        model=ModelConfig(hidden=args.hidden),
    ).validate()
    t0 = time.perf_counter()
    dm = TrackingDataModule(
        det,
        n_train=args.n_train,
        n_val=50,
        n_test=args.n_test,
        batch_size=args.batch_size,
        seed=args.seed,
        skip_layers=skip,
    )
    module = TrackingModule(tcfg, n_layers=det.n_layers)
    trainer = make_trainer(max_epochs=args.epochs, seed=args.seed, progress_bar=not args.no_progress)
    trainer.fit(module, dm)
    seconds = time.perf_counter() - t0
    with torch_threads(1):
        r = evaluate(module.model, _test_graphs(det, args.n_test, skip), det.n_layers, no_match=tcfg.no_match)
    row = _metrics_row(args.mode, r)
    print(format_table([row], list(row)))
    command = "python -m toolkit train tracking " + " ".join(
        f"--{k.replace('_', '-')} {v}"
        for k, v in vars(args).items()
        if k not in ("no_progress", "state") and v is not None
    )
    path = save_model(
        args.out / "model.pt",
        module.model,
        tcfg,
        det,
        extra=dict(command=command, seconds=seconds, skip_layers=skip),
    )
    with atomic_write(args.out / "metrics.json") as fh:
        json.dump(dict(test=row, train_seconds=seconds, command=command), fh, indent=2)
    print(f"saved {path} (training {seconds:.1f} s)")
    return 0


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        type=Path,
        nargs="+",
        default=None,
        help="one or more model.pt files (default: the shipped datasets/tracking models)",
    )
    p.add_argument(
        "--per-multiplicity", action="store_true", help="also print a breakdown by event multiplicity"
    )
    p.add_argument("--out", type=Path, default=None, help="write metrics.json here")
    _common(p)


def _shipped() -> list[Path]:
    root = Path(__file__).resolve().parents[2] / "datasets" / "tracking"
    return sorted(root.glob("*/model.pt"))


def _run_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .pipeline import evaluate
    from .train import load_model

    paths = args.checkpoint or _shipped()
    if not paths:
        raise ValueError("no --checkpoint given and no shipped model in datasets/tracking")
    rows, breakdown = [], []
    for path in paths:
        model, tcfg, det, extra = load_model(path)
        det = _detector(args, det)
        # graphs as the model was trained on them, unless --skip-layers says otherwise
        skip = args.skip_layers if args.skip_layers is not None else int(extra.get("skip_layers", 0))
        with torch_threads(1):
            r = evaluate(
                model,
                _test_graphs(det, args.n_test, skip),
                det.n_layers,
                no_match=tcfg.no_match,
                per_event=True,
            )
        rows.append(_metrics_row(f"{Path(path).parent.name}/{Path(path).name}", r))
        if args.per_multiplicity:
            mult = np.array([e["multiplicity"] for e in r["events"]])
            edges = np.quantile(mult, [0, 1 / 3, 2 / 3, 1])
            for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
                last = k == len(edges) - 2
                sel = [e for e in r["events"] if lo <= e["multiplicity"] and (e["multiplicity"] < hi or last)]
                if not sel:
                    continue
                breakdown.append(
                    dict(
                        model=rows[-1]["model"],
                        multiplicity=f"[{int(lo)}, {int(hi)}{']' if last else ')'}",
                        events=len(sel),
                        purity=float(np.mean([e["purity"] for e in sel])),
                        efficiency=float(np.mean([e["efficiency"] for e in sel])),
                        trackml=float(np.mean([e["trackml"] for e in sel])),
                    )
                )
    print(format_table(rows, list(rows[0])))
    if breakdown:
        print()
        print(format_table(breakdown, list(breakdown[0])))
    if args.out is not None:
        with atomic_write(args.out / "metrics.json") as fh:
            json.dump(dict(test=rows, by_multiplicity=breakdown), fh, indent=2)
    return 0


def _add_stability(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=["e2e", "mixed", "two_step"], default="e2e")
    p.add_argument("--lams", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 0.1, 0.5])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--n-train", type=int, default=200)
    p.add_argument("--points", type=int, default=11, help="points on the linear path for the barrier")
    p.add_argument("--out", type=Path, default=None, help="write sweep.json here")
    _common(p)


def _run_stability(args: argparse.Namespace) -> int:
    from .landscape import stability_sweep

    rows = stability_sweep(
        args.lams,
        args.seeds,
        _detector(args),
        skip_layers=args.skip_layers or 0,
        mode=args.mode,
        epochs=args.epochs,
        n_train=args.n_train,
        n_test=args.n_test,
        n_points=args.points,
    )
    print(
        format_table(
            rows,
            [
                "lam",
                "purity_mean",
                "purity_std",
                "m_minmax_mean",
                "m_minmax_std",
                "barrier_bce",
                "barrier_hamming",
                "lam_over_margin",
            ],
        )
    )
    if args.out is not None:
        with atomic_write(args.out / "sweep.json") as fh:
            json.dump(rows, fh, indent=2)
    return 0


ACTIONS = {
    "train": ("train the edge classifier (two-step / end-to-end / mixed)", _add_train, _run_train),
    "evaluate": ("purity, efficiency and TrackML score on the fixed test set", _add_evaluate, _run_evaluate),
}


def _study_parser() -> argparse.ArgumentParser:
    from .studies import REALISM_VARIANTS

    p = argparse.ArgumentParser(
        prog="python -m toolkit.tracking.cli study", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("which", choices=["stability", "compare", "realism", "connectivity", "merge"])
    p.add_argument(
        "--variants", nargs="+", default=list(REALISM_VARIANTS), help="realism: detector variants to run"
    )
    p.add_argument(
        "--inputs", type=Path, nargs="+", default=[], help="merge: study JSON files run in parallel"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a result)")
    p.add_argument(
        "--lams",
        type=float,
        nargs="+",
        default=None,
        help="stability: 1e-4 … 0.5; connectivity: 0.01 0.1 0.5",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument(
        "--curve-steps", type=int, default=400, help="connectivity: Adam steps of the control point"
    )
    p.add_argument("--no-two-step", action="store_true", help="stability: skip the two-step reference row")
    return p


def _merge_parts(inputs: list[Path], out: Path, command: str) -> int:
    """Parts of one study run as parallel processes: concatenate rows, keep each command."""
    parts = [json.loads(Path(f).read_text()) for f in inputs]
    rows, seen = [], set()
    for part in parts:
        for row in part["rows"]:
            key = json.dumps(row, sort_keys=True) if row.get("tracker") == "geometric" else id(row)
            if key not in seen:  # the untrained geometric baseline appears once per part: keep one
                seen.add(key)
                rows.append(row)
    commands = [p["meta"]["command"] for p in parts]  # a part may itself be a merge: keep its commands
    meta = dict(
        command=[c for cs in commands for c in (cs if isinstance(cs, list) else [cs])],
        merged_by=command,
        cpu_seconds=sum(p["meta"]["cpu_seconds"] for p in parts),
        wall_seconds=max(p["meta"]["wall_seconds"] for p in parts),
    )
    with atomic_write(out) as fh:
        json.dump(dict(meta=meta, rows=rows), fh, indent=2)
    print(f"wrote {out}: {len(rows)} rows from {len(parts)} parts ({meta['cpu_seconds']:.0f} s CPU in total)")
    return 0


def _study_rows(args: argparse.Namespace, show) -> list[dict]:
    """Run the study ``args.which`` (sizes shrunk by ``--quick``) and return its rows."""
    from .connectivity import connectivity_study
    from .studies import compare_trackers, realism_study, stability_study

    steps = {"steps": args.steps} if args.steps else {}
    if args.which == "stability":
        kw = dict(steps=20, n_train=24, n_val=8, n_test=8, n_boot=50, n_points=3) if args.quick else {}
        return stability_study(
            args.lams or [1e-4, 1e-3, 1e-2, 0.1, 0.5],
            args.seeds or ([0, 1] if args.quick else [0, 1, 2, 3, 4]),
            include_two_step=not args.no_two_step,
            callback=show,
            **{**kw, **steps},
        )
    if args.which == "connectivity":
        kw = dict(train_steps=10, n_train=8, n_val=4, n_eval=4, n_test=4, n_points=3) if args.quick else {}
        return connectivity_study(
            lams=args.lams or ([0.1] if args.quick else [0.01, 0.1, 0.5]),
            seeds=args.seeds or ([0, 1] if args.quick else [0, 1, 2]),
            curve_steps=3 if args.quick else args.curve_steps,
            callback=lambda r: show({k: r[k] for k in ("pair", "curve_loss", "linear_train_summary")}),
            **({**kw, "train_steps": args.steps} if args.steps else kw),
        )
    kw = dict(steps=20, n_train=24, n_val=8, n_test=8) if args.quick else {}
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    if args.which == "realism":
        return realism_study(args.variants, seeds, callback=show, **{**kw, **steps})
    return compare_trackers(seeds, callback=show, **{**kw, **steps})


def _run_study(argv: list[str]) -> int:
    """``study stability|compare|realism|connectivity --out FILE [--quick]`` (the studies behind notebook 01,
    as JSON) and ``study merge --inputs A B --out FILE`` (parts of one study run in parallel)."""
    args = _study_parser().parse_args(argv)
    command = "python -m toolkit.tracking.cli study " + shlex.join(argv)  # quoted: variant names have spaces
    if args.which == "merge":
        return _merge_parts(args.inputs, args.out, command)
    t0, c0 = time.perf_counter(), time.process_time()

    def show(row: dict) -> None:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)

    with torch_threads(1):
        rows = _study_rows(args, show)
    meta = dict(command=command, wall_seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0)
    with atomic_write(args.out) as fh:
        json.dump(dict(meta=meta, rows=rows), fh, indent=2)
    print(f"wrote {args.out} ({meta['wall_seconds']:.0f} s wall, {meta['cpu_seconds']:.0f} s CPU)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m toolkit.tracking.cli stability [options]``: the λ × seeds stability table;
    ``python -m toolkit.tracking.cli study stability|compare|realism|connectivity --out FILE``: the shipped
    studies."""
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "study":
        return _run_study(argv[1:])
    if not argv or argv[0] != "stability":
        print(
            "usage: python -m toolkit.tracking.cli stability [--lams ...] [--seeds ...] [...]",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.tracking.cli stability",
        description="λ × seeds stability study (m_minmax, barrier height)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_stability(parser)
    return _run_stability(parser.parse_args(argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
