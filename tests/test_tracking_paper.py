"""Paper mode (Kortus et al.'s metric and assignment), λ scale and the training protocol — hand-made cases."""

import warnings

import numpy as np
import pytest
import torch

from toolkit.tracking import (
    PAPER,
    DetectorConfig,
    GeometricBaseline,
    TrainConfig,
    edges_to_dense,
    evaluate,
    exact_match_purity_efficiency,
    fit,
    lambda_paper,
    lambda_scale,
    make_dataset,
    paper_purity_efficiency,
    score_decisions,
    solve_assignment,
    solve_layer_pairs,
    track_purity_efficiency,
    tune_threshold,
)
from toolkit.tracking.metrics import m_minmax
from toolkit.tracking.studies import bootstrap_excess


def test_paper_metric_hand_made_event():
    # particles 1 (6 hits), 2 (6 hits), 3 (2 hits); 2 noise hits (pid 0)
    pid = np.array([1] * 6 + [2] * 6 + [3] * 2 + [0, 0])
    lab = np.array(
        [
            10,
            10,
            10,
            10,
            10,
            10,  # track 10 = all of particle 1: kept, pure -> correct
            20,
            20,
            20,
            20,
            20,
            21,  # track 20 = 5 hits of particle 2: kept (>= 5), pure though incomplete -> correct
            30,
            30,  # particle 3: 2 hits, dropped (< 5 hits)
            40,
            21,  # a noise hit alone (dropped), a noise hit in track 21 (1 hit, dropped)
        ]
    )
    # kept tracks: 10, 20 -> both pure: purity 2/2; efficiency = 2 correct / 3 particles
    assert paper_purity_efficiency(lab, pid) == pytest.approx((1.0, 2 / 3))
    # a mixed track of >= 5 hits lowers purity; a track with a noise hit is left out of purity
    lab2 = np.array([10, 10, 10, 20, 20, 20, 20, 20, 20, 10, 10, 11, 30, 30, 40, 40])
    # track 10 = {1,1,1,2,2} (5 hits, two particles) -> kept, not pure; track 20 = {1,1,1,2,2,2} -> not pure
    # track 40 = 2 noise hits (dropped by size); purity 0/2, efficiency 0/3
    assert paper_purity_efficiency(lab2, pid) == pytest.approx((0.0, 0.0))
    lab3 = np.array(
        [10] * 6 + [20] * 6 + [30, 30] + [20, 50]
    )  # track 20 has a noise hit: excluded from purity
    assert paper_purity_efficiency(lab3, pid) == pytest.approx((1.0, 1 / 3))
    # min_hits: with 2 the pure 2-hit track of particle 3 counts as well
    assert paper_purity_efficiency(lab3, pid, min_hits=2) == pytest.approx((1.0, 2 / 3))


def test_paper_metric_fragments_and_empty():
    # one particle of 10 hits split into two pure 5-hit pieces: both count (the paper's efficiency can
    # exceed 1)
    pid = np.ones(10, dtype=int)
    assert paper_purity_efficiency(np.repeat([0, 1], 5), pid) == pytest.approx((1.0, 2.0))
    # no kept track: purity 0 as in the authors' code; only noise: efficiency 0
    assert paper_purity_efficiency(np.arange(10), pid) == (0.0, 0.0)
    assert paper_purity_efficiency(np.zeros(6, int), np.zeros(6, int)) == (0.0, 0.0)
    assert paper_purity_efficiency([], []) == (0.0, 0.0)
    with pytest.raises(ValueError, match="min_hits"):
        paper_purity_efficiency([0], [1], min_hits=0)
    with pytest.raises(ValueError, match="same length"):
        paper_purity_efficiency([0, 0], [1])


def test_paper_metric_energy_cut():
    pid = np.array([1] * 5 + [2] * 5)
    lab = np.array([0] * 5 + [1] * 5)
    layer = np.tile(np.arange(5), 2)
    edep = np.array([1, 1, 1, 1, 0.5, 1, 1, 1, 1, 0.01])  # track 1 ends with a tiny deposit
    assert paper_purity_efficiency(lab, pid, edep=edep, layer=layer, min_last_edep=0.1) == pytest.approx(
        (1.0, 0.5)
    )
    with pytest.raises(ValueError, match="edep and layer"):
        paper_purity_efficiency(lab, pid, min_last_edep=0.1)


def test_exact_match_keeps_old_name():
    assert track_purity_efficiency is exact_match_purity_efficiency


def test_paper_assignment_is_maximum_cardinality_deep_to_shallow():
    inf = np.inf
    # our τ = 0.5 leaves the 0.7 pair unmatched; the paper links every hit it can
    c = torch.tensor([[[0.2, 0.7], [inf, 0.9]]])
    assert solve_layer_pairs(c, 0.5).sum() == 1
    y = solve_layer_pairs(c, PAPER)
    assert y.sum() == 2 and y[0, 0, 0] == 1 and y[0, 1, 1] == 1
    rng = np.random.default_rng(0)
    for _ in range(50):  # transposing never changes the optimal objective or the cardinality
        cost = rng.random((1, 4, 5))
        cost[rng.random(cost.shape) < 0.3] = inf
        a = solve_layer_pairs(torch.tensor(cost), PAPER).numpy()
        b = solve_assignment(cost, None)
        assert a.sum() == b.sum()
        assert np.sum(np.where(a > 0, cost, 0)) == pytest.approx(np.sum(np.where(b > 0, cost, 0)))


@pytest.fixture(scope="module")
def small():
    cfg = DetectorConfig()
    return cfg, make_dataset(12, cfg, seed=7)


def test_evaluate_reports_both_families_and_ceiling(small):
    cfg, graphs = small
    r = evaluate(GeometricBaseline(), graphs, cfg.n_layers)
    for k in (
        "paper_purity",
        "paper_efficiency",
        "exact_purity",
        "exact_efficiency",
        "edge_fp",
        "edge_fn",
        "ceiling_purity",
        "ceiling_efficiency",
        "trackml",
    ):
        assert k in r
    assert r["purity"] == r["paper_purity"]
    # the decisions equal to the truth reach the ceiling and have no edge errors
    truth = score_decisions(graphs, r["target"])
    assert truth["edge_fp"] == truth["edge_fn"] == 0
    assert truth["paper_purity"] == truth["ceiling_purity"] == 1.0
    assert truth["paper_efficiency"] == pytest.approx(r["ceiling_efficiency"])
    assert r["edge_fp"] == int(np.sum(r["decisions"] & ~r["target"]))
    paper = evaluate(GeometricBaseline(), graphs, cfg.n_layers, no_match=PAPER)
    assert paper["decisions"].sum() >= r["decisions"].sum()  # no threshold: at least as many links


def test_tune_threshold_picks_the_best_on_its_curve(small):
    cfg, graphs = small
    t = tune_threshold(GeometricBaseline(), graphs, cfg.n_layers, taus=[0.2, 0.4, 0.6])
    assert t["tau"] in (0.2, 0.4, 0.6)
    assert t["score"] == max(row["paper_efficiency"] for row in t["curve"])
    with pytest.raises(ValueError, match="taus"):
        tune_threshold(GeometricBaseline(), graphs, cfg.n_layers, taus=[1.5])


def test_lambda_scale_degenerate_regime(small):
    cfg, graphs = small
    from torch_geometric.data import Batch

    b = Batch.from_data_list(graphs)
    logits = torch.randn(b.num_edges) * 0.1  # an untrained-like model: costs near 0.5
    with pytest.warns(UserWarning, match="degenerate"):
        big = lambda_scale(logits, 5.0, data=b, n_layers=cfg.n_layers)
    assert big["frac_target"] == 1.0 and big["degenerate"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = lambda_scale(logits, 1e-6, data=b, n_layers=cfg.n_layers)
    assert tiny["frac_target"] < 0.95 and not tiny["degenerate"]
    assert big["lam_paper"] == pytest.approx(5.0 * b.num_edges) == lambda_paper(5.0, b.num_edges)
    # by hand on the dense problems: y_λ for a huge λ is exactly the target everywhere
    dense, _ = edges_to_dense(1 - torch.sigmoid(logits), b, cfg.n_layers)
    target, _ = edges_to_dense(b.y, b, cfg.n_layers, fill=0.0)
    assert torch.equal(solve_layer_pairs(dense + 5.0 * (1 - 2 * target), 0.5), target)
    with pytest.raises(ValueError, match="n_layers"):
        lambda_scale(logits, 0.1, data=b)


def test_fit_schedule_and_best_on_validation(small):
    cfg, graphs = small
    tc = TrainConfig(mode="e2e", lam=0.01, steps=7, batch_size=4, lr=1e-2, lr_milestones=(0.5,), lr_gamma=0.1)
    model, hist = fit(graphs[:8], tc, n_layers=cfg.n_layers, val_graphs=graphs[8:], eval_every=3)
    steps = [r["step"] for r in hist if "loss" in r]
    assert steps == list(range(1, 8))  # exactly `steps` steps, cycling over the 2 batches per epoch
    vals = [r for r in hist if "val_hamming" in r]
    assert [r["step"] for r in vals] == [3, 6, 7]
    best = min(r["val_hamming"] for r in vals)
    r = evaluate(model, graphs[8:], cfg.n_layers)
    assert np.mean(r["decisions"] != r["target"]) == pytest.approx(best)
    with pytest.raises(ValueError, match="lr_milestones"):
        TrainConfig(lr_milestones=(1.5,)).validate()
    assert TrainConfig(no_match=None).validate().no_match is None  # paper mode trains without τ


def test_bootstrap_excess_identities():
    rng = np.random.default_rng(0)
    target = rng.random(300) < 0.3
    ev = np.repeat(np.arange(30), 10)
    a = target ^ (rng.random(300) < 0.1)
    b = target ^ (rng.random(300) < 0.1)
    r = bootstrap_excess([a, b], (a, a.copy()), target, ev, n_boot=200)
    assert r["floor"] == 0.0 and r["m_minmax"] == pytest.approx(m_minmax(a, b, target))
    assert r["excess_lo"] <= r["excess"] <= r["excess_hi"]
    same = bootstrap_excess([a, a.copy()], (a, a.copy()), target, ev, n_boot=50)
    assert same["excess"] == same["excess_lo"] == same["excess_hi"] == 0.0


def test_studies_smoke_and_merge(tmp_path):
    import json

    from toolkit.tracking.cli import main
    from toolkit.tracking.studies import compare_trackers, stability_study

    rows = stability_study(
        [0.01],
        [0, 1],
        steps=6,
        n_train=8,
        n_val=4,
        n_test=4,
        n_boot=20,
        n_points=3,
        eval_every=3,
        include_two_step=False,
    )
    (row,) = rows
    assert row["seeds"] == 2 and row["excess_lo"] <= row["excess"] <= row["excess_hi"]
    assert row["lam_paper"] > row["lam"] and 0 <= row["floor"] <= 1
    cmp = compare_trackers([0], steps=4, n_train=8, n_val=4, n_test=4)
    trackers = {r["tracker"] for r in cmp}
    assert trackers == {"geometric", "two_step", "e2e", "e2e_paper"} and len(cmp) == 16
    for i, part in enumerate((cmp[:8], cmp[8:] + cmp[:4])):  # the geometric rows repeat in every part
        (tmp_path / f"p{i}.json").write_text(
            json.dumps(dict(meta=dict(command="c", cpu_seconds=1.0, wall_seconds=2.0), rows=part))
        )
    out = tmp_path / "merged.json"
    assert (
        main(
            [
                "study",
                "merge",
                "--inputs",
                str(tmp_path / "p0.json"),
                str(tmp_path / "p1.json"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    merged = json.loads(out.read_text())
    assert len(merged["rows"]) == 16 and merged["meta"]["cpu_seconds"] == 2.0


def test_realism_study_runs_each_detector_with_the_same_seeds(tmp_path):
    import json

    from toolkit.tracking.cli import main
    from toolkit.tracking.studies import REALISM_VARIANTS, compare_trackers, realism_study

    kw = dict(steps=3, n_train=6, n_val=3, n_test=3)
    seen = []
    rows = realism_study(["baseline", "both"], [0], callback=seen.append, **kw)
    assert {r["variant"] for r in rows} == {"baseline", "both"} and seen == rows
    # the baseline variant is compare_trackers on the default detector, row for row
    base = [{k: v for k, v in r.items() if k not in ("variant", "train_seconds")} for r in rows[:16]]
    ref = [{k: v for k, v in r.items() if k != "train_seconds"} for r in compare_trackers([0], **kw)]
    assert base == ref
    assert set(REALISM_VARIANTS) == {
        "baseline",
        "Highland sub-steps",
        "proton-like noise",
        "both",
        "95 % hit efficiency",
        "95 % + skip-layer edges",
    }
    # skip_layers is a graph option, not a detector field: it reaches the graphs of every split
    skip = realism_study(["95 % + skip-layer edges"], [0], **kw)
    lossy = compare_trackers([0], detector=DetectorConfig(efficiency=0.95), skip_layers=1, **kw)
    drop = ("variant", "train_seconds")
    assert [{k: v for k, v in r.items() if k not in drop} for r in skip] == [
        {k: v for k, v in r.items() if k not in drop} for r in lossy
    ]
    plain = compare_trackers([0], detector=DetectorConfig(efficiency=0.95), **kw)
    assert skip[0]["ceiling_efficiency"] != plain[0]["ceiling_efficiency"]
    for bad, error in (("baseline", TypeError), (["thermal noise"], ValueError), ([], ValueError)):
        with pytest.raises(error, match="variants"):
            realism_study(bad, [0], **kw)
    out = tmp_path / "r.json"
    assert main(["study", "realism", "--quick", "--variants", "proton-like noise", "--out", str(out)]) == 0
    assert {r["variant"] for r in json.loads(out.read_text())["rows"]} == {"proton-like noise"}
