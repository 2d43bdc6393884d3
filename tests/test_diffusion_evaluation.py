"""Verification against baselines: skill scores, bootstrap intervals, conditional verification."""

import numpy as np
import pytest
import torch

from toolkit.diffusion import crps_gaussian
from toolkit.diffusion.evaluation import (
    binned_spread_skill,
    case_crps,
    crpss,
    load_cases,
    rank_chi2,
    reliability,
    select_sampler,
    verify,
)


def test_crpss_identity_and_interval():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(200, generator=g, dtype=torch.float64) + 0.5
    s, lo, hi = crpss(ref, ref)
    assert s == 0.0 and lo == 0.0 and hi == 0.0
    s, lo, hi = crpss(0.8 * ref, ref)  # 20 % better on every case: no sampling spread
    assert abs(s - 0.2) < 1e-12 and abs(lo - 0.2) < 1e-12 and abs(hi - 0.2) < 1e-12
    noisy = ref * (0.8 + 0.1 * torch.randn(200, generator=g, dtype=torch.float64))
    s, lo, hi = crpss(noisy, ref)
    assert lo < s < hi and 0.1 < s < 0.3 and hi - lo < 0.1
    with pytest.raises(ValueError, match="crps_model"):
        crpss(ref[:5], ref[:4])


def test_case_crps_of_gaussian_is_closed_form_per_case():
    fine = torch.rand(3, 4, 4, dtype=torch.float64)
    mu, sigma = torch.full_like(fine, 0.5), torch.full_like(fine, 0.2)
    assert torch.allclose(case_crps(fine, (mu, sigma)), crps_gaussian(fine, mu, sigma).mean(dim=(-2, -1)))
    assert torch.allclose(case_crps(fine, mu), (fine - mu).abs().mean(dim=(-2, -1)))  # deterministic: MAE


def test_calibrated_ensemble_is_reliable_and_spread_skill_flat():
    """Truth and members drawn from the same N(μ, σ²) per pixel, σ varying: every diagnostic is calibrated."""
    g = torch.Generator().manual_seed(1)
    mu = torch.rand(64, 16, 16, generator=g, dtype=torch.float64)
    sd = 0.05 + 0.3 * torch.rand(64, 16, 16, generator=g, dtype=torch.float64)
    fine = mu + sd * torch.randn(mu.shape, generator=g, dtype=torch.float64)
    ens = mu + sd * torch.randn((16,) + tuple(mu.shape), generator=g, dtype=torch.float64)
    for r in reliability(fine, ens, lambda x: x < 0.5):
        if r["count"] > 500:
            assert abs(r["forecast"] - r["observed"]) < 0.05
    rows = binned_spread_skill(fine, ens)
    assert rows[-1]["spread"] > 3 * rows[0]["spread"]
    assert all(abs(r["spread"] / r["rmse"] - 1) < 0.12 for r in rows[1:])
    assert rank_chi2(torch.full((17,), 100)) == 0.0


def test_verify_and_sampler_choice_use_disjoint_seeds():
    from toolkit.diffusion import load_pretrained
    from toolkit.diffusion.evaluation import TEST_SEED, VALIDATION_SEED

    assert TEST_SEED not in (0, 1, 2, VALIDATION_SEED) and VALIDATION_SEED not in (0, 1, 2)
    model = load_pretrained()
    rows, best = select_sampler(model, methods=("euler", "dpmpp_2m"), nfes=(3,), n_cases=4, members=2)
    assert best in rows and len(rows) == 2
    v = verify(model, method="dpmpp_2m", nfe=3, n_cases=8, members=4, n_boot=200)
    assert v["best_baseline"] in v["rows"] and v["rows"][v["diffusion"]]["out_of_range"] == 0.0
    s, lo, hi = v["crpss"]
    assert lo <= s <= hi
    assert sum(r["n"] for r in v["by_lead"]) <= 8 and all(
        r["n"] >= 2 for r in v["by_lead"]
    )  # bins need 2 cases
    assert np.isclose(
        v["rows"]["MSE U-Net + Gaussian"]["crps"],
        float(v["rows"]["MSE U-Net + Gaussian"]["case_crps"].mean()),
    )
    assert len(load_cases(5, seed=TEST_SEED)) == 5
