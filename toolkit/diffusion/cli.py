"""`python -m toolkit train diffusion` / `python -m toolkit evaluate diffusion`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from toolkit.cliopts import config_option, torch_threads
from toolkit.io import atomic_write

__all__ = ["ACTIONS"]


def _add_train(p: argparse.ArgumentParser) -> None:
    from .lightning import WeatherDataModule, train_downscaler
    from .model import downscaler_config

    # the CLI's step counts are its own (a shorter run than train_downscaler's defaults of 600/1500);
    # every other default is read from the function or class it is passed to
    p.add_argument("--regression-steps", type=int, default=400, help="MSE U-Net optimisation steps")
    p.add_argument("--diffusion-steps", type=int, default=1300, help="EDM denoiser optimisation steps")
    config_option(p, WeatherDataModule, "batch_size")
    config_option(p, WeatherDataModule, "n_train", help="synthetic training pairs")
    config_option(p, train_downscaler, "lr")
    config_option(p, downscaler_config, "residual", choices=["none", "bicubic", "regression"])
    config_option(
        p,
        downscaler_config,
        "transform",
        choices=["linear", "logit"],
        help="diffusion space: logit of kc between its physical limits (bounded samples) or linear",
    )
    p.add_argument("--no-lead-time", action="store_true", help="do not give the lead time to the networks")
    p.add_argument(
        "--sequence",
        action="store_true",
        help="the autoregressive model: the denoiser also sees the previous hour (make_sequence_pairs)",
    )
    config_option(p, train_downscaler, "seed")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (0 = torch default; 1 is fastest on a shared 2-core machine)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/diffusion"),
        help="output folder: downscaler.pt and metrics.json",
    )
    p.add_argument("--eval-cases", type=int, default=16, help="test cases of the quick check after training")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_train(args: argparse.Namespace) -> int:
    with torch_threads(args.threads):
        return _train(args)


def _train(args: argparse.Namespace) -> int:
    from toolkit.training import seed_everything

    from .evaluation import evaluate_downscaler, format_table
    from .lightning import WeatherDataModule, train_downscaler
    from .model import Downscaler, downscaler_config, save_downscaler

    # seed before anything is built: the networks' initial weights come from the global RNG
    seed_everything(args.seed)
    config = downscaler_config(
        args.residual, args.transform, lead_time=not args.no_lead_time, previous=args.sequence
    )
    model = Downscaler(config)
    data = WeatherDataModule(
        n_train=args.n_train, batch_size=args.batch_size, seed=args.seed, sequence=args.sequence
    )
    info = train_downscaler(
        model,
        data,
        regression_steps=args.regression_steps,
        diffusion_steps=args.diffusion_steps,
        lr=args.lr,
        seed=args.seed,
        progress_bar=not args.no_progress,
    )
    recipe = (
        "regression_steps",
        "diffusion_steps",
        "batch_size",
        "n_train",
        "lr",
        "residual",
        "transform",
        "seed",
    )
    command = (
        "python -m toolkit train diffusion "
        + " ".join(f"--{k.replace('_', '-')} {getattr(args, k)}" for k in recipe)
        + (" --no-lead-time" if args.no_lead_time else "")
        + (" --sequence" if args.sequence else "")
    )
    # every parameter counts (count_parameters skips the frozen regression net)
    extra = {
        "command": command,
        "seconds": info,
        "parameters": {
            "denoiser": sum(p.numel() for p in model.denoiser.parameters()),
            "regression": sum(p.numel() for p in model.regression.parameters()),
        },
    }
    path = save_downscaler(model, args.out / "downscaler.pt", extra=extra)
    rows = evaluate_downscaler(model, n_cases=args.eval_cases, members=8, nfes=(9,), methods=("dpmpp_2m",))
    print(format_table(rows))
    with atomic_write(args.out / "metrics.json") as fh:
        json.dump({"train": info, "quick_eval": rows}, fh, indent=2)
    print(f"saved {path} (training {info['total_seconds']:.0f} s)")
    return 0


def _add_evaluate(p: argparse.ArgumentParser) -> None:
    from .evaluation import evaluate_downscaler

    p.add_argument(
        "--checkpoint", type=Path, default=None, help="default: the shipped datasets/diffusion model"
    )
    config_option(p, evaluate_downscaler, "n_cases", flag="--cases", dest="cases", help="fixed test cases")
    config_option(p, evaluate_downscaler, "members")
    config_option(p, evaluate_downscaler, "nfes", flag="--nfe", dest="nfe", help="network-evaluation budgets")
    config_option(
        p,
        evaluate_downscaler,
        "methods",
        help="samplers (ddim with eta=0 is identical to euler, so it is not in the default list)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    config_option(p, evaluate_downscaler, "churn", help="S_churn of the 'churn' method")
    config_option(p, evaluate_downscaler, "seed")
    p.add_argument("--out", type=Path, default=None, help="folder for metrics.json")


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate_downscaler, format_table
    from .model import load_pretrained

    with torch_threads(args.threads):
        model = load_pretrained(args.checkpoint)
        rows = evaluate_downscaler(
            model,
            n_cases=args.cases,
            members=args.members,
            nfes=tuple(args.nfe),
            methods=tuple(args.methods),
            churn=args.churn,
            seed=args.seed,
        )
    print(format_table(rows))
    if args.out is not None:
        with atomic_write(Path(args.out) / "metrics.json") as fh:
            json.dump(rows, fh, indent=2)
    return 0


ACTIONS = {
    "train": (
        "Train the diffusion downscaler (MSE U-Net, then EDM residual diffusion) on synthetic weather.",
        _add_train,
        _run_train,
    ),
    "evaluate": (
        "Verify the downscaler vs bicubic, MSE U-Net and bicubic+noise on the fixed test set.",
        _add_evaluate,
        _run_evaluate,
    ),
}
