"""Bézier-curve mode connectivity (toolkit.tracking.connectivity): exact end points, the midpoint
control point gives the straight line, training the control point lowers the curve's loss, bad input."""

import numpy as np
import pytest
import torch

from toolkit.tracking import TrainConfig, bezier_path, linear_path, load_model, make_dataset
from toolkit.tracking.connectivity import bezier_point, fit_bezier_control
from toolkit.tracking.model import EdgeClassifier, ModelConfig
from toolkit.tracking.studies import DATASET_DIR

L = 10


@pytest.fixture(scope="module")
def graphs():
    return make_dataset(12, seed=3)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    a = EdgeClassifier(ModelConfig(hidden=8))
    torch.manual_seed(1)
    b = EdgeClassifier(ModelConfig(hidden=8))
    return a.eval(), b.eval()


@pytest.fixture(scope="module")
def shipped():
    (a, _, _, _), (b, _, _, _) = (load_model(DATASET_DIR / m / "model.pt") for m in ("two_step", "e2e"))
    return a, b


def _weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_end_points_are_the_models_exactly(pair, graphs):
    a, b = pair
    control, losses = fit_bezier_control(a, b, graphs, L, steps=5, lr=0.05)
    assert len(losses) == 5
    for t, m in ((0.0, a), (1.0, b)):
        got, want = _weights(bezier_point(a, b, control, t)), _weights(m)
        assert all(torch.equal(got[k], want[k]) for k in want)


def test_curve_is_the_quadratic_bezier(pair, graphs):
    a, b = pair
    control, _ = fit_bezier_control(a, b, graphs, L, steps=5, lr=0.05)
    sa, sb, sc = _weights(a), _weights(b), _weights(control)
    assert any(not torch.allclose(sc[k], 0.5 * (sa[k] + sb[k])) for k in sc)  # the control point moved
    t = 0.3
    got = _weights(bezier_point(a, b, control, t))
    for k in sa:
        want = (1 - t) ** 2 * sa[k] + 2 * t * (1 - t) * sc[k] + t**2 * sb[k]
        torch.testing.assert_close(got[k], want, rtol=1e-5, atol=1e-6)


def test_midpoint_control_is_the_linear_path(shipped, graphs):
    a, b = shipped
    lin = linear_path(a, b, graphs, L, n_points=6)
    bez = bezier_path(a, b, graphs, L, steps=0, n_points=6)
    for r, q in zip(lin, bez, strict=True):
        assert {k: q[k] for k in r} == r  # identical numbers, not merely close


def test_training_the_control_point_lowers_the_curve_loss(shipped, graphs):
    a, b = shipped  # two-step and end-to-end: the straight line between them crosses a BCE barrier
    line = bezier_path(a, b, graphs, L, steps=0, n_points=11)
    curve = bezier_path(a, b, graphs, L, steps=40, lr=3e-3, n_points=11)
    mean_line, mean_curve = np.mean([r["loss"] for r in line]), np.mean([r["loss"] for r in curve])
    assert mean_curve <= mean_line
    assert [r["loss"] for r in curve][0] == line[0]["loss"] and curve[-1]["loss"] == line[-1]["loss"]


def test_e2e_curve_loss_runs_through_the_solver(pair, graphs):
    a, b = pair
    rows = bezier_path(a, b, graphs, L, train_config=TrainConfig(mode="e2e", lam=0.1), steps=3, n_points=3)
    assert [r["alpha"] for r in rows] == [0.0, 0.5, 1.0]
    # e2e loss = mean Hamming of the solver's decisions = the row's hamming column
    assert all(r["loss"] == pytest.approx(r["hamming"]) for r in rows)
    assert all(0.0 <= r["tpr"] <= 1.0 for r in rows)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_points=1), "n_points"),
        (dict(steps=-1), "steps"),
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(seed=-1), "seed"),
        (dict(train_config="e2e"), "train_config"),
        (dict(eval_graphs=[]), "eval_graphs"),
        (dict(no_match=float("nan")), "no_match"),
    ],
)
def test_bad_keywords_are_refused_by_name(pair, graphs, kwargs, name):
    a, b = pair
    with pytest.raises((ValueError, TypeError), match=name):
        bezier_path(a, b, graphs, L, **kwargs)


def test_bad_positionals_are_refused_by_name(pair, graphs):
    a, b = pair
    with pytest.raises(TypeError, match="model_a"):
        bezier_path("a", b, graphs, L)
    with pytest.raises(ValueError, match="graphs"):
        bezier_path(a, b, [], L)
    with pytest.raises(ValueError, match="n_layers"):
        bezier_path(a, b, graphs, 1)
    with pytest.raises(ValueError, match="same architecture"):
        bezier_path(a, EdgeClassifier(ModelConfig(hidden=4)), graphs, L)
    with pytest.raises(ValueError, match="t must"):
        bezier_point(a, b, None, 1.5)
    with pytest.raises(ValueError, match="control"):
        bezier_point(a, b, EdgeClassifier(ModelConfig(hidden=4)), 0.5)


def test_study_connectivity_subcommand_writes_the_study(tmp_path):
    """``python -m toolkit.tracking.cli study connectivity`` runs connectivity_study and writes meta + rows:
    one row per seed pair of each setting (two-step, e2e per λ) and two for the shipped pair."""
    import json

    from toolkit.tracking.cli import main

    out = tmp_path / "conn.json"
    assert (
        main(["study", "connectivity", "--quick", "--lams", "0.1", "--seeds", "0", "1", "--out", str(out)])
        == 0
    )
    study = json.loads(out.read_text())
    assert study["meta"]["command"].startswith("python -m toolkit.tracking.cli study connectivity")
    modes = [r["mode"] for r in study["rows"]]
    assert modes == ["two_step", "e2e", "inter", "inter"]
    assert [r["curve_loss"] for r in study["rows"] if r["mode"] == "inter"] == ["bce", "hamming"]
    row = study["rows"][1]
    assert row["lam"] == 0.1 and len(row["linear_train"]) == 3 and len(row["bezier_test"]) == 3
