"""Diffusion: sampler × NFE budget with the shipped downscaler on the fixed test set.

Each trial draws an ensemble with one sampler at one network-evaluation budget and scores it:
fair CRPS, ensemble-mean RMSE, spread–skill ratio (≈ 1 when the ensemble is calibrated), the
high-wavenumber power ratio (≈ 1 when members are as sharp as the truth) and the sampling wall
time (``sample_seconds``). NFE is
the real count (Heun costs 2N − 1 evaluations for N steps), at most the budget.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution, IntDistribution

# the samplers of toolkit.diffusion.samplers.METHODS, written out so that reading this declaration
# (sweep --list) does not import torch; tests/test_sweeps_studies.py checks the two agree
METHODS = ("euler", "heun", "churn", "ddim", "ancestral", "sde", "dpmpp_2m", "dpmpp_2m_sde", "unipc")


@functools.lru_cache(maxsize=2)
def _model(checkpoint: str):
    from toolkit.diffusion import load_downscaler, load_pretrained

    return load_pretrained() if not checkpoint else load_downscaler(checkpoint)


@functools.lru_cache(maxsize=2)
def _test_set(n_cases: int):
    from toolkit.diffusion.evaluation import fixed_test_set

    return fixed_test_set(n_cases)


def objective(params: dict[str, Any], trial: optuna.Trial | None) -> dict[str, float]:
    import torch

    from toolkit.diffusion import nfe_for
    from toolkit.diffusion.evaluation import score_ensemble, steps_for_nfe

    model = _model(params["checkpoint"])
    coarse, fine, lead = _test_set(int(params["n_cases"]))
    method = params["method"]
    steps = steps_for_nfe(method, int(params["nfe"]))
    g = torch.Generator().manual_seed(int(params["seed"]))
    start = time.perf_counter()
    with torch.no_grad():
        ens = model.ensemble(
            coarse,
            int(params["members"]),
            lead=lead,
            steps=steps,
            method=method,
            churn=float(params["churn"]) if method == "churn" else 0.0,
            generator=g,
        )
    seconds = time.perf_counter() - start
    row = score_ensemble(fine, ens)
    return {
        "crps": row["crps"],
        "rmse": row["rmse"],
        "spread_skill": row["spread_skill"],
        "hf_power": row["hf_power"],
        "sample_seconds": seconds,
        "nfe_used": float(nfe_for(method, steps)),
    }


def experiment() -> dict[str, Any]:
    """The study's declaration: ``toolkit.sweeps`` builds its ``Experiment`` from these fields."""
    return dict(
        name="diffusion-nfe",
        topic="diffusion",
        objective=objective,
        metric="crps",
        direction="minimize",
        space={
            "method": CategoricalDistribution(METHODS),
            "nfe": IntDistribution(1, 200, log=True),
            "seed": IntDistribution(0, 10_000),
        },
        grid={"method": ["euler", "heun", "dpmpp_2m", "sde"], "nfe": [4, 8, 16, 32], "seed": [0]},
        defaults={"members": 4, "n_cases": 8, "churn": 10.0, "checkpoint": ""},
        description="sampler × NFE with the shipped downscaler: CRPS, spread–skill, power ratio, time",
        plot={"x": "nfe", "y": "crps", "color": "method", "log_x": True},
    )
