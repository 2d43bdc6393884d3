"""Model, losses, training, Lightning, CLI, panels, landscape and imaging (small and fast)."""

import json

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from toolkit.tracking import (
    DEFAULT_NO_MATCH,
    DetectorConfig,
    EdgeClassifier,
    ModelConfig,
    TrainConfig,
    assign_edges,
    build_graphs,
    count_parameters,
    edges_to_dense,
    evaluate,
    f_lambda,
    fit,
    hamming_loss,
    image_rmse,
    interpolate_models,
    lambda_scale,
    linear_path,
    load_model,
    loss_slice,
    make_dataset,
    one_thread,
    phantom,
    phantom_image,
    radiograph,
    save_model,
    simulate_events,
    solve_assignment,
    tracking_loss,
)

L = DetectorConfig().n_layers


@pytest.fixture(scope="module")
def graphs():
    return make_dataset(40, seed=11), make_dataset(30, seed=12)


@pytest.fixture(scope="module")
def trained(graphs):
    train, _ = graphs
    m, hist = fit(train, TrainConfig(mode="two_step", epochs=4, seed=0))
    return m, hist


def test_model_size_and_shapes(graphs):
    m = EdgeClassifier()
    assert 3_000 <= count_parameters(m) <= 50_000
    b = Batch.from_data_list(graphs[0][:3])
    assert m(b.x, b.edge_index, b.edge_attr).shape == (b.num_edges,)
    with pytest.raises(ValueError, match="x must have shape"):
        m(b.x[:, :2], b.edge_index, b.edge_attr)


def test_edges_to_dense_round_trip(graphs):
    b = Batch.from_data_list(graphs[0][:4])
    vals = torch.rand(b.num_edges)
    dense, idx = edges_to_dense(vals, b, L)
    assert dense.shape[0] == 4 * (L - 1)
    torch.testing.assert_close(dense[idx], vals)
    assert torch.isinf(dense).sum() == dense.numel() - b.num_edges  # every other slot is forbidden


def test_assignment_of_true_labels_recovers_truth(graphs):
    """Solving with the truth as scores links exactly the true edges (they form chains)."""
    b = Batch.from_data_list(graphs[0][:5])
    logits = (b.y * 2 - 1) * 10
    y = assign_edges(logits, b, L)
    np.testing.assert_array_equal(y.numpy(), b.y.numpy())


@pytest.mark.parametrize("estimator", ["blackbox", "straight_through", "sinkhorn"])
def test_e2e_loss_has_gradients(graphs, estimator):
    b = Batch.from_data_list(graphs[0][:4])
    m = EdgeClassifier()
    with one_thread():  # tiny tensors: threads only add overhead
        logits = m(b.x, b.edge_index, b.edge_attr)
        loss, parts = tracking_loss(logits, b, L, mode="e2e", estimator=estimator, lam=0.5)
        loss.backward()
    assert "hamming" in parts and 0 <= parts["hamming"] <= 1
    assert sum(float(p.grad.abs().sum()) for p in m.parameters() if p.grad is not None) > 0


@pytest.mark.parametrize("estimator", ["blackbox", "straight_through"])
@pytest.mark.parametrize("no_match", [DEFAULT_NO_MATCH, None])
@pytest.mark.parametrize("skip", [0, 1])
def test_edge_level_estimators_equal_the_dense_ones(estimator, no_match, skip):
    """assign_edges solves from the edge list (no dense tensor in autograd): same y and same gradient as
    the dense estimator on edges_to_dense's tensor, on random and on tied logits, for a random loss."""
    from toolkit.tracking import blackbox_assignment, straight_through_assignment

    det = DetectorConfig(efficiency=0.95) if skip else DetectorConfig()
    b = Batch.from_data_list(make_dataset(6, det, seed=5, skip_layers=skip))
    gen = torch.Generator().manual_seed(skip + 2 * (no_match is None))
    for logits in (
        torch.randn(b.num_edges, generator=gen),
        torch.randint(-1, 2, (b.num_edges,), generator=gen) * 1.0,
    ):
        weight = torch.randn(b.num_edges, generator=gen)
        runs = []
        for path in ("edges", "dense"):
            x = logits.clone().requires_grad_(True)
            if path == "edges":
                y = assign_edges(x, b, det.n_layers, estimator=estimator, lam=0.3, no_match=no_match)
            else:
                dense, idx = edges_to_dense(1 - torch.sigmoid(x), b, det.n_layers)
                if estimator == "blackbox":
                    y = blackbox_assignment(dense, 0.3 * b.num_edges, no_match)[idx]
                else:
                    y = straight_through_assignment(dense, no_match)[idx]
            (y * weight).sum().backward()
            runs.append((y.detach(), x.grad))
        assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
        assert runs[0][1].abs().sum() > 0


def test_default_lambda_is_in_the_papers_regime(graphs):
    """TrainConfig's λ at its own batch size: λ_paper in the paper's 25–75 (within rounding of the batch's
    edge count) and not degenerate for a fresh model (it was 0.1: λ_paper ≈ 570, y_λ = target everywhere)."""
    cfg = TrainConfig(mode="e2e")
    b = Batch.from_data_list(graphs[0][: cfg.batch_size])
    torch.manual_seed(0)
    with torch.no_grad():
        logits = EdgeClassifier()(b.x, b.edge_index, b.edge_attr)
    r = lambda_scale(logits, cfg.lam, data=b, n_layers=L, warn=False)
    assert 20 <= r["lam_paper"] <= 75 and r["frac_target"] < 0.95, r


def test_training_warns_and_logs_a_degenerate_lambda(graphs, caplog):
    """fit checks λ on its first batch (issue 11 item 3: 'warn, readout and log'): λ = 0.1 (λ_paper ≈ 620 at
    16 events) is degenerate for a fresh model; the default λ is not; mixed mode checks λ(1 − α)."""
    import logging
    import warnings

    from toolkit.tracking import fit

    train = graphs[0][:16]
    with pytest.warns(UserWarning, match="degenerate regime"), caplog.at_level(logging.WARNING):
        _, hist = fit(train, TrainConfig(mode="e2e", lam=0.1, steps=1), n_layers=L)
    assert hist[0]["lam_frac_target"] > 0.95 and "degenerate regime" in caplog.text
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at the default λ
        _, hist = fit(train, TrainConfig(mode="e2e", steps=1), n_layers=L)
        assert hist[0]["lam_frac_target"] < 0.95
        # mixed with α = 0.96: the solver is perturbed by 0.1 · 0.04 = 0.004, the default's regime
        _, hist = fit(train, TrainConfig(mode="mixed", lam=0.1, alpha=0.96, steps=1), n_layers=L)
        assert hist[0]["lam_frac_target"] < 0.95
        _, hist = fit(train, TrainConfig(mode="two_step", steps=1), n_layers=L)
        assert "lam_frac_target" not in hist[0]
        # a λ sweep asks for no warning, and still records the share
        _, hist = fit(train, TrainConfig(mode="e2e", lam=0.1, steps=1), n_layers=L, warn_lambda=False)
        assert hist[0]["lam_frac_target"] > 0.95
    assert TrainConfig(mode="mixed", lam=0.1, alpha=0.25).solver_lam == pytest.approx(0.075)
    assert TrainConfig(mode="e2e", lam=0.1, alpha=0.25).solver_lam == 0.1


def test_lambda_is_in_cost_units(graphs):
    """The blackbox backward pass moves each cost by exactly ±lam: compare with a hand computation."""
    b = Batch.from_data_list(graphs[0][:2])
    logits = torch.randn(b.num_edges, requires_grad=True)
    y = assign_edges(logits, b, L, lam=0.2)
    hamming_loss(y, b.y).backward()
    cost = (1 - torch.sigmoid(logits)).detach()
    dense, idx = edges_to_dense(cost, b, L)
    t_dense, _ = edges_to_dense(b.y.double(), b, L, fill=0.0)
    y0 = solve_assignment(dense.double(), DEFAULT_NO_MATCH)[idx]
    y1 = solve_assignment(dense.double() + 0.2 * (1 - 2 * t_dense), DEFAULT_NO_MATCH)[idx]
    dcost = -(y0 - y1) / (0.2 * b.num_edges)  # ∂L/∂c for the mean loss
    sig = torch.sigmoid(logits.detach())
    torch.testing.assert_close(logits.grad.double(), (dcost * -sig * (1 - sig)).double())
    assert lambda_scale(logits, 0.2)["lam_over_margin"] > 0


def test_training_learns(graphs, trained):
    _, test = graphs
    m, hist = trained
    assert hist[-1]["loss"] < hist[0]["loss"]
    r = evaluate(m, test, L, per_event=True)
    untrained = evaluate(EdgeClassifier(), test, L)
    assert r["purity"] > 0.3 and r["purity"] > untrained["purity"] + 0.1
    assert r["edge_precision"] > 0.9 and len(r["events"]) == len(test)


def test_fit_is_seeded(graphs):
    train = graphs[0][:10]
    a, _ = fit(train, TrainConfig(mode="e2e", epochs=1, seed=3))
    b, _ = fit(train, TrainConfig(mode="e2e", epochs=1, seed=3))
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb)


def test_config_validation():
    with pytest.raises(ValueError, match="mode"):
        TrainConfig(mode="both").validate()
    with pytest.raises(ValueError, match="lam"):
        TrainConfig(lam=0).validate()
    with pytest.raises(ValueError, match="hidden"):
        ModelConfig(hidden=0).validate()


def test_checkpoint_round_trip(tmp_path, trained, graphs):
    m, _ = trained
    path = save_model(tmp_path / "m.pt", m, TrainConfig(), DetectorConfig())
    m2, tcfg, det, _ = load_model(path)
    b = Batch.from_data_list(graphs[1][:2])
    torch.testing.assert_close(m(b.x, b.edge_index, b.edge_attr), m2(b.x, b.edge_index, b.edge_attr))
    (tmp_path / "bad.pt").write_bytes(path.read_bytes()[:200])  # truncated file
    with pytest.raises(ValueError, match="bad.pt"):
        load_model(tmp_path / "bad.pt")


def test_linear_path_endpoints_and_identity(trained, graphs):
    m, _ = trained
    test = graphs[1][:10]
    rows = linear_path(m, m, test, L, n_points=3)
    assert all(r["bce"] == pytest.approx(rows[0]["bce"]) for r in rows)
    other = EdgeClassifier()
    mid = interpolate_models(m, other, 0.0)
    for pa, pb in zip(mid.parameters(), m.parameters()):
        torch.testing.assert_close(pa, pb)
    full = linear_path(m, other, test, L, n_points=3)
    r_end = evaluate(other, test, L)
    assert full[-1]["purity"] == pytest.approx(r_end["purity"])


def test_loss_slice_agrees_with_f_lambda():
    rng = np.random.default_rng(0)
    cost = rng.random((4, 5))
    cost[0, 0] = np.inf
    target = np.zeros((4, 5))
    target[[0, 1, 2], [1, 2, 3]] = 1
    t = np.linspace(-0.5, 0.5, 11)
    rows = loss_slice(cost, target, 0.3, entry=(1, 2), t=t)
    tt = torch.tensor(target)
    for r in rows:
        c = cost.copy()
        c[1, 2] += r["t"]
        assert r["f_lambda"] == pytest.approx(
            f_lambda(c, lambda y: (y * (1 - 2 * tt) + tt).sum(), 0.3, DEFAULT_NO_MATCH)
        )
        assert r["f_lambda"] <= r["true_loss"] + 1e-12
    # the slope reported equals the finite-difference slope of f_lambda between grid points (piecewise linear)
    f = np.array([r["f_lambda"] for r in rows])
    g = np.array([r["grad"] for r in rows])
    ok = g[:-1] == g[1:]
    np.testing.assert_allclose(np.diff(f)[ok] / np.diff(t)[ok], g[:-1][ok], atol=1e-9)


def test_radiograph_from_truth_tracks_matches_phantom():
    cfg = DetectorConfig()
    ph = phantom()
    evs = simulate_events(400, cfg, phantom=ph, random_state=0)
    gs = build_graphs(evs, cfg)
    labels = [
        np.where(g.particle_id.numpy() > 0, g.particle_id.numpy(), -1 - np.arange(g.num_nodes)) for g in gs
    ]
    img = radiograph(gs, labels, cfg, bins=8)
    ref = phantom_image(ph, cfg, bins=8)
    assert image_rmse(img, ref) < 2.5  # mm WEPL; the layer_wet = 7 mm range binning dominates
    broken = [np.arange(g.num_nodes) // 2 for g in gs]  # nonsense tracks: pairs of hits
    assert image_rmse(radiograph(gs, broken, cfg, bins=8), ref) > image_rmse(img, ref)


def test_lightning_and_cli(tmp_path, capsys):
    from toolkit.cli import main

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "tracking",
                "--mode",
                "e2e",
                "--epochs",
                "1",
                "--n-train",
                "16",
                "--n-test",
                "8",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["test"]["purity"] <= 1
    assert (
        main(
            [
                "evaluate",
                "tracking",
                "--checkpoint",
                str(out / "model.pt"),
                "--n-test",
                "8",
                "--per-multiplicity",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "purity" in text and "multiplicity" in text
    assert main(["train", "tracking", "--lam", "-1", "--n-train", "4", "--out", str(out)]) == 2


def test_lambda_panel_redraws():
    from toolkit.tracking.widgets import lambda_panel

    p = lambda_panel()
    assert p.last_error is None
    before = str(p.chart.chart)
    p.controls["lam"].value = 1.5
    assert p.last_error is None
    after = str(p.chart.chart)
    assert before != after and "λ = 1.5</b>" in p.readout.value


def test_event_and_training_panels(graphs):
    from toolkit.tracking.widgets import event_panel, training_panel

    evs = simulate_events(3, random_state=0)
    p = event_panel(evs)
    p.controls["edges"].value = True
    assert p.last_error is None and "candidate edges" in p.readout.value
    tp = training_panel(graphs[0][:8], graphs[1][:5], L, epochs=1)
    tp.button.click()
    assert tp.last_error is None and "purity" in tp.readout.value
    tp.controls["mode"].value = "e2e"
    tp.controls["lam"].value = 1.0  # far above every margin: the readout names the degenerate regime
    with pytest.warns(UserWarning, match="degenerate"):
        tp.button.click()
    assert tp.last_error is None and "degenerate regime" in tp.readout.value and "λ_paper" in tp.readout.value


def test_edge_cases_no_edges_and_wrong_layer_count():
    cfg = DetectorConfig(
        n_layers=3, particles_per_frame=1, poisson_multiplicity=False, noise_per_layer=0.0, energy=5.0
    )  # protons stop in the first absorber: hits but no edges
    gs = build_graphs(simulate_events(3, cfg, random_state=0), cfg)
    assert all(g.num_edges == 0 for g in gs)
    _, hist = fit(gs, TrainConfig(mode="e2e", epochs=1), n_layers=3)
    assert hist[-1]["loss"] == 0.0
    assert evaluate(EdgeClassifier(), gs, 3)["n_tracks"] == 0
    big = make_dataset(2, DetectorConfig(n_layers=12, energy=150.0), seed=0)
    with pytest.raises(ValueError, match="n_layers"):
        evaluate(EdgeClassifier(), big, 10)
