"""Notebook panels: they render, react to their controls and report sensible numbers."""

import numpy as np
import pytest
import torch

from toolkit.diffusion import exercises as ex
from toolkit.diffusion import load_pretrained, make_weather_sequence
from toolkit.diffusion import widgets as W

pytestmark = pytest.mark.usefixtures("one_thread", "no_foreign_event_loop")


def test_score_panel_redraws_on_sigma():
    p = W.score_panel()
    assert p.last_error is None
    rows_small = p.chart.data
    p.controls["sigma"].value = 5.0
    assert p.last_error is None and p.chart.data != rows_small
    assert "1</b> mode" in p.readout.value  # σ = 5 merges the three bumps
    p.controls["sigma"].value = 0.05
    assert "3</b> mode" in p.readout.value
    noised = [r["value"] for r in p.chart.data if r["curve"].startswith("noised")]
    assert abs(np.trapezoid(noised, np.linspace(-8, 8, 241)) - 1) < 1e-3


def test_toy_sampler_panel_methods():
    p = W.toy_sampler_panel(n=200)
    for m in ("euler", "ancestral", "sde", "churn"):
        p.controls["method"].value = m
        assert p.last_error is None and "NFE" in p.readout.value
    p.controls["method"].value = "heun"
    p.controls["steps"].value = 20
    pct = float(p.readout.value.split("; ")[1].split("%")[0])
    assert pct > 95


def test_score_panel_text_gives_the_right_large_sigma_slope():
    p = W.score_panel()
    p.controls["sigma"].value = 3.0
    # the slope at σ = 3 is -1/(σ² + Var p₀) ≈ -0.065 in the Gaussian limit, not -1/σ² = -0.111
    assert "−1/(σ² + Var p₀) = -0.065" in p.readout.value and "-0.111" in p.readout.value
    spec = W.density_score_chart(3.0)[0].to_dict()
    assert "clamp" not in str(spec)  # no fake flat stretches


def test_weather_panel_and_day_chart():
    p = W.weather_panel()
    assert p.last_error is None and len(p.chart.data) == 3 * (1024 + 64)
    corr = []
    for lead in (1, 24):
        p.controls["lead"].value = lead
        corr.append(float(p.readout.value.split("= <b>")[-1].split("<")[0]))
    assert corr[0] > 0.9 > 0.7 > corr[1]
    seq = make_weather_sequence(range(24), random_state=0)
    assert W.day_chart(seq).to_dict()["mark"]["type"] == "line"


def test_coherent_noise_is_white_and_moves_with_the_wind():
    xi = W.coherent_noise(200, np.arange(6.0), (0.0, 2.0), size=16, memory=1.0, seed=0)
    assert xi.shape == (6, 200, 16, 16) and abs(float(xi.std()) - 1) < 0.02
    assert torch.equal(xi[1], torch.roll(xi[0], 2, dims=-1))  # memory 1: pure advection
    xi = W.coherent_noise(400, np.arange(3.0), (0.0, 0.0), size=16, memory=0.8, seed=1)
    c = float((xi[0] * xi[1]).mean())
    assert abs(c - 0.8) < 0.02 and abs(float(xi[2].std()) - 1) < 0.02


def test_interpret_spread_skill():
    assert "over-dispersed" in W.interpret_spread_skill(1.2)
    assert "under-dispersed" in W.interpret_spread_skill(0.8)
    assert "within ±15 %" in W.interpret_spread_skill(1.0)


def test_model_panels_and_fan_chart():
    model = load_pretrained()
    s = W.sampling_panel(model, n_cases=2)
    assert s.last_error is None and "NFE 9" in s.readout.value and "NFE so far 9" in s.readout.value
    assert sum(r["part"] == 0 for r in s.chart.data) == 8 * 1024  # 8 maps of 32×32
    assert "values" not in str(s.chart.spec)  # the rows travel as rows, not in the spec
    s.controls["progress"].value = 0
    assert "step <b>1</b> of 9" in s.readout.value and "NFE so far 1" in s.readout.value
    s.controls["method"].value = "churn"
    s.controls["churn"].value = 20.0
    s.controls["steps"].value = 4
    # with churn D is evaluated at the raised σ̂ > σ, and the label says so
    txt = s.readout.value
    sig, sig_hat = (float(txt.split(k)[1].split(",")[0]) for k in ("σ_i = ", "σ̂_i = "))
    assert sig_hat > sig and "NFE so far 2" in txt  # Heun: 2 evaluations per step
    s.controls["members"].value = 3
    s.controls["steps"].value = 2
    s.controls["method"].value = "sde"
    s.controls["progress"].value = 100
    assert s.last_error is None and "NFE 2" in s.readout.value
    v = W.verification_panel(model, n_cases=3)
    assert v.result is None  # button panel: nothing until clicked
    v.controls["members"].value = 4
    v.button.click()
    assert v.last_error is None and "CRPSS" in v.readout.value and "best baseline" in v.readout.value
    seq = make_weather_sequence(range(8, 12), random_state=1)
    fc = W.forecast_day(model, seq, members=3, steps=2)
    assert fc["members"].shape == (4, 3) and W.fan_chart(fc).to_dict()
    layers = W.fan_chart(fc).to_dict()["layer"]
    assert layers[-1]["mark"]["color"] == "black"  # the truth is drawn last, on top
    fp = W.fan_panel(model, seq, members=3, steps=2)
    assert (
        fp.last_error is None
        and "truth <b>" in fp.readout.value
        and fp.state["fc"]["members"].shape == (4, 3)
    )
    fp.controls["memory"].value = 0.0
    assert fp.last_error is None and "φ = 0.00" in fp.readout.value


def test_conditional_panel_reads_its_figures():
    from toolkit.diffusion.evaluation import verify

    v = verify(load_pretrained(), n_cases=6, members=4, nfe=3)
    p = W.conditional_panel(v)
    for view in W.CONDITIONAL_VIEWS:
        p.controls["view"].value = view
        assert p.last_error is None and len(p.readout.value) > 40


def test_exercise_references_agree_with_toolkit():
    from toolkit.diffusion import crps_ensemble, gaussian_denoiser, karras_sigmas

    assert ex.ex_karras.check(karras_sigmas(6).numpy())
    assert ex.ex_gaussian_denoiser.check(
        lambda x, s, m, sd: gaussian_denoiser(m, sd)(
            torch.as_tensor(np.asarray(x, dtype=float)), torch.tensor(s, dtype=torch.float64)
        ).numpy()
    )
    obs, mem = 0.3, np.array([0.1, 0.5, 0.9, -0.2])
    assert ex.ex_crps.check(
        float(crps_ensemble(torch.tensor(obs, dtype=torch.float64), torch.tensor(mem))), obs, mem
    )
    wrong = ex.ex_euler_step._judge(lambda x, d, s, sn: x)
    assert not wrong


def test_finetune_panel_streams_loss_and_changes_weights():
    model = load_pretrained()
    before = [p.clone() for p in model.denoiser.parameters()]
    p = W.finetune_panel(model, n_train=32)
    p.controls["steps"].value = 5  # the slider's minimum
    p.button.click()
    assert p.last_error is None and "fine-tuned 5 steps" in p.readout.value
    assert [r["metric"] for r in p.chart.data] == ["edm_loss"] * 5
    assert any(not torch.equal(a, b) for a, b in zip(before, model.denoiser.parameters()))


# ------------------------------------------------------------------ preview while a slider moves (issue 18)
def test_sampling_panel_previews_with_reduced_settings_then_renders_in_full():
    model = load_pretrained()
    s = W.sampling_panel(model, n_cases=2)
    assert s.preview.last == {
        "method": "dpmpp_2m",
        "steps": 9,
        "members": 8,
        "churn": 0.0,
    }  # first render: full
    assert all(s.controls[k].continuous_update for k in ("steps", "members", "rho", "case", "progress"))
    s.controls["method"].value = "heun"  # a dropdown is no drag: full at once
    assert s.preview.last["method"] == "heun" and "Preview" not in s.readout.value
    s.preview.begin()  # what a drag does before the panel renders
    s.controls["steps"].value = 12
    assert s.preview.last == {
        "method": W.SOLVERS[0],
        "steps": W.PREVIEW_STEPS,
        "members": W.PREVIEW_MEMBERS,
        "churn": 0.0,
    }
    assert "Preview while the slider moves: 2 members, 4 steps of dpmpp_2m, maps at half" in s.readout.value
    assert sum(r["part"] == 0 for r in s.chart.data) == 8 * 16 * 16  # 8 maps of 16×16
    assert "you asked for heun, 12 steps, 8 members" in s.readout.value
    s.preview.release()  # the slider rests
    assert s.preview.last == {"method": "heun", "steps": 12, "members": 8, "churn": 0.0}
    assert "Preview" not in s.readout.value and "NFE 23" in s.readout.value and s.preview.n_full == 1
    assert sum(r["part"] == 0 for r in s.chart.data) == 8 * 1024
    s.preview.begin()  # the scrubber re-reads the full run
    s.controls["progress"].value = 50
    assert s.preview.last["members"] == 8 and "Preview" not in s.readout.value


def test_toy_and_fan_panels_preview_with_fewer_samples():
    p = W.toy_sampler_panel(n=200)
    p.preview.begin()
    p.controls["steps"].value = 12
    assert p.preview.last["samples"] == W.TOY_PREVIEW_SAMPLES and "100 of 200 samples" in p.readout.value
    assert sum(r["kind"] == "sample" for r in p.chart.data) == W.TOY_PREVIEW_SAMPLES
    p.preview.release()
    assert p.preview.last["samples"] == 200 and sum(r["kind"] == "sample" for r in p.chart.data) == 200
    model = load_pretrained()
    seq = make_weather_sequence(range(8, 16), random_state=1)
    f = W.fan_panel(model, seq, members=4, steps=3)
    f.preview.begin()
    f.controls["memory"].value = 0.5
    assert (
        f.preview.last == {"members": 2, "steps": 2, "every": W.FAN_PREVIEW[2]}
        and "Preview" in f.readout.value
    )
    assert f.state["fc"]["members"].shape[1] == 4  # the kept forecast is the last full one
    f.preview.release()
    assert f.preview.last == {"members": 4, "steps": 3, "every": 1} and "Preview" not in f.readout.value


def test_a_drag_renders_a_preview_and_the_full_result_once_the_slider_rests():
    """The real path: the browser's value updates arrive on the kernel's event loop; the release is
    scheduled there and fires debounce_s after the last move."""
    import asyncio

    p = W.toy_sampler_panel(n=200)
    p.preview.debounce_s = 0.5  # long against the moves' spacing, so a loaded machine cannot release mid-drag

    async def drag():
        for steps in (9, 10, 11):  # three positions while dragging
            p.controls["steps"].value = steps
            assert p.preview.last["samples"] == W.TOY_PREVIEW_SAMPLES and p.preview.n_full == 0
            await asyncio.sleep(0.01)
        for _ in range(200):  # the slider rests: the release comes debounce_s later (wait up to 20 s)
            if p.preview.n_full:
                break
            await asyncio.sleep(0.1)
        assert p.preview.last == {"samples": 200, "method": "heun", "steps": 11} and p.preview.n_full == 1

    asyncio.run(drag())
    p.controls["steps"].value = 12  # no event loop (a script): full at once
    assert p.preview.last["samples"] == 200 and p.preview.n_full == 1


def test_the_fan_panel_draws_the_same_figure_as_fan_chart():
    vlc = pytest.importorskip("vl_convert")
    model = load_pretrained()
    seq = make_weather_sequence(range(8, 12), random_state=1)
    for members in (3, 5):  # the template is built once, then refilled: a second day draws right too
        fc = W.forecast_day(model, seq, members=members, steps=2)
        spec = W._fan_spec(fc).to_dict()
        assert vlc.vegalite_to_svg(spec) == vlc.vegalite_to_svg(W.fan_chart(fc).to_dict())


def test_sampling_panel_keeps_one_spec_from_preview_to_full_run_and_across_steps():
    """A slider step sends rows only: the preview (fewer members, half resolution) and the full run draw
    the same Vega-Lite spec, whatever step the scrubber shows (σ values live in the readout)."""
    s = W.sampling_panel(load_pretrained(), n_cases=3)
    spec = s.chart.spec
    s.preview.begin()
    s._silent = True
    s.controls["case"].value = 1
    s._silent = False
    s.update()
    assert s.preview.last["members"] == W.PREVIEW_MEMBERS and s.chart.spec == spec
    s.preview.cancel()
    s.update()
    assert s.preview.last["members"] == 8 and s.chart.spec == spec
    s.controls["progress"].value = 30
    assert s.chart.spec == spec and "σ_i = " in s.readout.value
