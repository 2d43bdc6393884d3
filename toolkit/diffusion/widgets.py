"""Panel builders and charts for the diffusion notebook (one idea per panel).

Charts with thousands of rows pass them as inline values (``_inline(rows)`` or a Vega-Lite dict
filled after validation) rather than DataFrames: Altair's 5000-row guard and per-row schema
validation would make every redraw slow (``alt.Data(values=...)`` alone validates every row: ~80 ms
for 700 rows). Specs are still validated in tests (LiveChart validates under GRADIENT_LAB_STRICT=1).
Map panels use a LiveChart with a larger row cap.
"""
from __future__ import annotations

import time

import altair as alt
from altair.utils.schemapi import debug_mode
import numpy as np
import torch

from ..livechart import LiveChart
from ..panels import Panel, dropdown, log_slider, slider
from ..validation import check_int
from .evaluation import score_ensemble, fixed_test_set
from .metrics import crps_ensemble, radial_power_spectrum, rank_histogram
from .model import Downscaler
from .samplers import METHODS, karras_sigmas, sample_trajectory
from .toy import GaussianMixture, gaussian_mixture_1d, gaussian_mixture_2d
from .weather import WeatherConfig, make_weather_pairs

__all__ = ["density_score_chart", "score_panel", "toy_sampler_panel", "maps_chart", "weather_panel",
           "day_chart", "sampling_panel", "verification_panel", "fan_chart", "forecast_day", "finetune_panel"]

_MAP = dict(width=120, height=120)



def _inline(rows: list[dict]) -> alt.Data:
    """Inline chart data without Altair's per-row validation at construction (see module doc)."""
    with debug_mode(False):
        return alt.Data(values=rows)

def _map_rows(field, name: str, **extra) -> list[dict]:
    f = np.asarray(field, dtype=float)
    h, w = f.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return [{"x": int(a), "y": int(b), "value": float(v), "map": name, **extra}
            for a, b, v in zip(xx.ravel(), yy.ravel(), f.ravel())]


def maps_chart(fields: dict, *, columns: int = 4, domain=(0.1, 1.1), scheme: str = "greys",
               title: str = "") -> dict:
    """Small multiples of 2-D fields (name -> (H, W) array) with one shared colour scale.

    Returns a Vega-Lite dict: the spec is validated by Altair without data and the (thousands of)
    rows are added afterwards, which is much faster than validating every row.
    """
    rows = []
    order = list(fields)
    for name, f in fields.items():
        rows += _map_rows(f, name)
    spec = alt.Chart().mark_rect().encode(
        x=alt.X("x:O", axis=None), y=alt.Y("y:O", axis=None, sort="descending"),
        color=alt.Color("value:Q", scale=alt.Scale(domain=list(domain), scheme=scheme, clamp=True),
                        title="kc"),
        facet=alt.Facet("map:N", columns=columns, sort=order, title=None),
    ).properties(**_MAP, title=title).to_dict()
    spec["data"] = {"values": rows}
    return spec


def hconcat_specs(*specs: dict) -> dict:
    """Side-by-side Vega-Lite dicts, each keeping its own inline data."""
    parts = [{k: v for k, v in s.items() if k not in ("$schema", "config")} for s in specs]
    return {"$schema": specs[0].get("$schema"), "hconcat": parts, "resolve": {"scale": {"color": "independent"}}}


# ------------------------------------------------------------------ toy: density and score
def density_score_chart(sigma: float, mixture: GaussianMixture | None = None, *, lim: float = 8.0):
    """p_0, p_σ and the score ∇ log p_σ of a 1-D mixture; returns (chart, readout)."""
    gm = mixture or gaussian_mixture_1d()
    x = torch.linspace(-lim, lim, 241, dtype=torch.float64)
    p0, ps = gm.log_prob(x, 0.0).exp(), gm.log_prob(x, sigma).exp()
    score = gm.score(x, sigma)[:, 0]
    xs = x.tolist()  # plain floats: iterating over tensor elements costs ~µs each
    rows = ([{"x": a, "value": b, "curve": "clean p₀(x)", "panel": "density"} for a, b in zip(xs, p0.tolist())]
            + [{"x": a, "value": b, "curve": "noised p_σ(x)", "panel": "density"} for a, b in zip(xs, ps.tolist())]
            + [{"x": a, "value": b, "curve": "score ∇log p_σ", "panel": "score"} for a, b in zip(xs, score.tolist())])
    base = alt.Chart().encode(x=alt.X("x:Q", title="x"), color=alt.Color("curve:N", title=None))
    dens = base.transform_filter("datum.panel == 'density'").mark_line().encode(
        y=alt.Y("value:Q", title="density"), strokeDash=alt.StrokeDash("curve:N", legend=None)
    ).properties(width=420, height=150, title=f"σ = {sigma:.3g}")
    sc = base.transform_filter("datum.panel == 'score'").mark_line().encode(
        y=alt.Y("value:Q", title="score", scale=alt.Scale(domain=[-8, 8], clamp=True))
    ).properties(width=420, height=120)
    modes = int(((ps[1:-1] > ps[:-2]) & (ps[1:-1] > ps[2:])).sum())
    text = (f"σ = {sigma:.3g}: the noised density has <b>{modes}</b> mode(s). The score points uphill towards "
            f"the modes; D(x; σ) = x + σ² · score is the ideal denoiser.")
    return alt.vconcat(dens, sc, data=_inline(rows)), text


def score_panel(mixture: GaussianMixture | None = None) -> Panel:
    """MAIN panel: a σ slider redraws the noised density and its score."""
    gm = mixture or gaussian_mixture_1d()

    def render(sigma):
        return density_score_chart(sigma, gm)

    return Panel({"sigma": log_slider("noise level σ", 0.3, 0.01, 10.0)}, render,
                 title="Noising a known density: p_σ = p₀ ∗ N(0, σ²) and its score", key="diffusion-score")


# ------------------------------------------------------------------ toy: samplers in 2-D
def toy_sampler_panel(n: int = 400, seed: int = 0) -> Panel:
    """Sample a 2-D ring mixture with the exact denoiser: method, steps and churn."""
    gm = gaussian_mixture_2d()

    def render(method, steps, churn):
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, 2, dtype=torch.float64, generator=g)
        res = sample_trajectory(gm, noise, karras_sigmas(steps, sigma_max=20.0), method, churn=churn, generator=g)
        x = res.x.numpy()
        # a few trajectories, shown from σ = 3 down (earlier states are far outside the plot)
        sig = res.sigmas.numpy()
        start = int(np.argmax(sig <= 3.0))
        paths = [{"x": float(t[j, 0]), "y": float(t[j, 1]), "step": i, "id": j, "kind": "path"}
                 for i, t in enumerate(res.trajectory[start:]) for j in range(6)]
        pts = [{"x": float(a), "y": float(b), "step": 0, "id": -1, "kind": "sample"} for a, b in x]
        on_mode = float((torch.cdist(res.x, gm.means).min(1).values < 3 * gm.stds[0]).double().mean())
        sc = alt.Scale(domain=[-5, 5], clamp=True)
        data = _inline(pts + paths)
        dots = alt.Chart(data).transform_filter("datum.kind == 'sample'").mark_circle(size=12, opacity=0.5).encode(
            x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc))
        lines = alt.Chart(data).transform_filter("datum.kind == 'path'").mark_line(color="#d62728").encode(
            x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc), detail="id:N", order="step:Q")
        chart = (dots + lines).properties(width=300, height=300, title=f"{method}, {steps} steps, NFE {res.nfe}")
        return chart, f"NFE = <b>{res.nfe}</b>; {100 * on_mode:.1f}% of the samples lie within 3 s of a mode."

    return Panel({"method": dropdown("sampler", list(METHODS), "heun"), "steps": slider("steps", 8, 1, 60),
                  "churn": slider("churn (S_churn)", 0.0, 0.0, 40.0, 1.0)}, render,
                 title="Samplers on a 2-D mixture (exact denoiser)", key="diffusion-toy-sampler")


# ------------------------------------------------------------------ weather
def weather_panel(n_show: int = 3) -> Panel:
    """Synthetic truth vs coarse NWP for a few cases; sliders for the NWP error model."""
    def render(seed, bias, displacement, smoothing, noise):
        cfg = WeatherConfig(bias=bias, displacement=displacement, smoothing=smoothing, noise=noise)
        p = make_weather_pairs(n_show, config=cfg, random_state=seed)
        fields = {}
        for i in range(n_show):
            fields[f"{i}: truth 32×32 (cloud {p.cloud_fraction[i]:.0%})"] = p.fine[i]
            fields[f"{i}: NWP 8×8"] = p.coarse[i]
        err = float(np.abs(p.coarse - p.fine.reshape(n_show, 8, 4, 8, 4).mean(axis=(2, 4))).mean())
        return maps_chart(fields, columns=2), f"mean |NWP − block-mean truth| = {err:.3f} (clear-sky index)"

    return Panel({"seed": slider("case seed", 0, 0, 50), "bias": slider("NWP bias", 0.05, -0.2, 0.2, 0.01),
                  "displacement": slider("position error (px)", 1.0, 0.0, 4.0, 0.25),
                  "smoothing": slider("smoothing (px)", 1.0, 0.0, 4.0, 0.25),
                  "noise": slider("noise", 0.03, 0.0, 0.2, 0.01)}, render,
                 title="Synthetic weather: fine clear-sky index vs coarse NWP", key="diffusion-weather",
                 chart=LiveChart(max_rows=20000))


def day_chart(seq) -> alt.Chart:
    """Clear-sky GHI and the area-mean GHI of a WeatherSequence."""
    rows = [{"hour": float(h), "GHI": float(c), "series": "clear sky"} for h, c in zip(seq.hours, seq.ghi_clear)]
    rows += [{"hour": float(h), "GHI": float(g), "series": "area mean (truth)"}
             for h, g in zip(seq.hours, seq.ghi.mean(axis=(1, 2)))]
    rows += [{"hour": float(h), "GHI": float(g), "series": "site (centre pixel)"}
             for h, g in zip(seq.hours, seq.ghi[:, 16, 16])]
    return alt.Chart(_inline(rows)).mark_line(point=True).encode(
        x=alt.X("hour:Q", title="hour (UTC)"), y=alt.Y("GHI:Q", title="GHI (W/m²)"), color="series:N"
    ).properties(width=420, height=200)


# ------------------------------------------------------------------ sampling with the trained model
def sampling_panel(model: Downscaler, *, n_cases: int = 8, seed: int = 0) -> Panel:
    """Method, steps, ρ, churn, ensemble size -> members, mean, spread, trajectory and per-case scores."""
    coarse, fine = fixed_test_set(n_cases)

    def render(case, method, steps, rho, churn, members):
        g = torch.Generator().manual_seed(seed)
        t = time.perf_counter()
        ens, res = model.ensemble(coarse[case:case + 1], members, steps=steps, method=method, rho=rho, churn=churn,
                                  generator=g, return_result=True)
        seconds = time.perf_counter() - t
        ens = ens[:, 0]
        mean = model.predict_mean(coarse[case:case + 1])[0]
        fields = {"NWP (bicubic)": model.bicubic(coarse[case:case + 1])[0], "truth": fine[case],
                  "MSE U-Net": mean, "ensemble mean": ens.mean(0), "member 1": ens[0], "member 2": ens[1 % members]}
        # the denoised estimate D(x_i; σ_i) of member 1 at four points of the trajectory
        den = res.denoised
        with torch.no_grad():
            cmean = model.condition(model.normalize(coarse[case:case + 1]))[1][0]
        for i in np.unique(np.linspace(0, len(den) - 1, 4).astype(int)):
            sig = float(res.sigmas[min(i, len(res.sigmas) - 1)])
            fields[f"D(x; σ={sig:.2g})"] = model.denormalize(den[i][0, 0] + cmean)
        spread = ens.std(0) if members > 1 else torch.zeros_like(ens[0])
        maps = maps_chart(fields, columns=5)
        sp = maps_chart({"ensemble spread": spread}, columns=1, domain=(0.0, 0.3), scheme="oranges")
        crps_d = float(crps_ensemble(fine[case], ens, fair=members > 1).mean())
        crps_m = float((mean - fine[case]).abs().mean())
        text = (f"NFE {res.nfe}, {seconds:.2f} s for {members} members. CRPS: diffusion <b>{crps_d:.4f}</b>, "
                f"MSE U-Net {crps_m:.4f} (lower is better).")
        return hconcat_specs(maps, sp), text

    return Panel({"case": slider("test case", 0, 0, n_cases - 1), "method": dropdown("sampler", list(METHODS), "heun"),
                  "steps": slider("steps", 8, 1, 40), "rho": slider("ρ", 7.0, 1.0, 12.0, 0.5),
                  "churn": slider("churn", 0.0, 0.0, 40.0, 1.0), "members": slider("members", 8, 2, 32)},
                 render, title="Sampling the pretrained downscaler", key="diffusion-sampling",
                 chart=LiveChart(max_rows=30000))


def verification_panel(model: Downscaler, *, n_cases: int = 6, seed: int = 0) -> Panel:
    """CRPS vs baselines, spread–skill, rank histogram and power spectra on fixed test cases."""
    coarse, fine = fixed_test_set(n_cases)

    def render(method, steps, members):
        g = torch.Generator().manual_seed(seed)
        ens = model.ensemble(coarse, members, steps=steps, method=method, generator=g)
        forecasts = {"bicubic": model.bicubic(coarse), "MSE U-Net": model.predict_mean(coarse),
                     "bicubic+noise": model.noise_ensemble(coarse, members, generator=g), "diffusion": ens}
        scores = {k: score_ensemble(fine, v) for k, v in forecasts.items()}
        bars = [{"method": k, "CRPS": s["crps"]} for k, s in scores.items()]
        hist = rank_histogram(fine, ens, generator=torch.Generator().manual_seed(0))
        hrows = [{"rank": i, "count": int(c)} for i, c in enumerate(hist)]
        k, pt = radial_power_spectrum(fine)
        spec = [{"k": float(a), "power": float(b), "field": "truth"} for a, b in zip(k, pt)]
        for name in ("MSE U-Net", "bicubic+noise", "diffusion"):
            _, pp = radial_power_spectrum(forecasts[name])
            spec += [{"k": float(a), "power": float(b), "field": name} for a, b in zip(k, pp)]
        c1 = alt.Chart(_inline(bars)).mark_bar().encode(x=alt.X("CRPS:Q"), y=alt.Y("method:N", sort=None)
                                                                 ).properties(width=200, height=120, title="CRPS")
        c2 = alt.Chart(_inline(hrows)).mark_bar().encode(x="rank:O", y="count:Q").properties(
            width=200, height=120, title="rank histogram (diffusion)")
        c3 = alt.Chart(_inline(spec)).mark_line(point=True).encode(
            x=alt.X("k:Q", scale=alt.Scale(type="log"), title="wavenumber"),
            y=alt.Y("power:Q", scale=alt.Scale(type="log")), color="field:N").properties(
            width=240, height=160, title="radially averaged power")
        d, m = scores["diffusion"], scores["MSE U-Net"]
        text = (f"CRPS diffusion {d['crps']:.4f} vs MSE U-Net {m['crps']:.4f} "
                f"(<b>{100 * (1 - d['crps'] / m['crps']):.0f}% better</b>); spread/skill {d['spread_skill']:.2f}; "
                f"small-scale power ratio diffusion {d['hf_power']:.2f}, MSE {m['hf_power']:.2f}.")
        return alt.hconcat(alt.vconcat(c1, c2), c3), text

    return Panel({"method": dropdown("sampler", list(METHODS), "heun"), "steps": slider("steps", 5, 1, 40),
                  "members": slider("members", 8, 2, 32)}, render, title="Verification on fixed test cases",
                 key="diffusion-verification", button="Verify")


# ------------------------------------------------------------------ day-ahead forecast
@torch.no_grad()
def forecast_day(model: Downscaler, seq, *, members: int = 8, steps: int = 8, method: str = "heun",
                 seed: int = 0, site=(16, 16), every: int = 1) -> dict:
    """Ensemble GHI at a site for every `every`-th daylight hour of a WeatherSequence:
    members (T, M), MSE and truth (T,). Fewer than ~6 Heun steps leave visible sampling artefacts."""
    every = check_int("every", every, low=1, high=24)
    day = np.flatnonzero(seq.ghi_clear > 0)[::every]
    coarse = torch.from_numpy(seq.coarse[day])
    ens = model.ensemble(coarse, members, steps=steps, method=method, generator=torch.Generator().manual_seed(seed))
    i, j = site
    clear = seq.ghi_clear[day]
    return {"hours": seq.hours[day], "clear": clear, "truth": seq.ghi[day][:, i, j],
            "members": ens[:, :, i, j].numpy().T * clear[:, None],
            "mse": model.predict_mean(coarse)[:, i, j].numpy() * clear}


def fan_chart(fc: dict) -> alt.Chart:
    """Ensemble fan (10–90% and 25–75% bands, median) with the truth, MSE forecast and clear sky."""
    q = np.quantile(fc["members"], [0.1, 0.25, 0.5, 0.75, 0.9], axis=1)
    rows = [{"hour": float(h), "q10": float(a), "q25": float(b), "q50": float(c), "q75": float(d), "q90": float(e)}
            for h, a, b, c, d, e in zip(fc["hours"], *q)]
    lines = [{"hour": float(h), "GHI": float(v), "series": s} for s, key in
             (("truth", "truth"), ("MSE U-Net", "mse"), ("clear sky", "clear")) for h, v in zip(fc["hours"], fc[key])]
    band = alt.Chart(_inline(rows))
    outer = band.mark_area(opacity=0.25, color="#1f77b4").encode(x=alt.X("hour:Q", title="hour (UTC)"),
                                                                 y=alt.Y("q10:Q", title="GHI at the site (W/m²)"),
                                                                 y2="q90:Q")
    inner = band.mark_area(opacity=0.4, color="#1f77b4").encode(x="hour:Q", y="q25:Q", y2="q75:Q")
    med = band.mark_line(color="#1f77b4").encode(x="hour:Q", y="q50:Q")
    ln = alt.Chart(_inline(lines)).mark_line(point=True).encode(
        x="hour:Q", y="GHI:Q", color=alt.Color("series:N", scale=alt.Scale(range=["black", "#d62728", "#aaaaaa"])),
        strokeDash="series:N")
    return (outer + inner + med + ln).properties(width=460, height=240, title="Day-ahead GHI ensemble forecast")


# ------------------------------------------------------------------ live fine-tune
def finetune_panel(model: Downscaler, *, n_train: int = 512) -> Panel:
    """Button: a short EDM fine-tune of the denoiser with the loss streamed live."""
    from ..charts import metric_lines
    from .lightning import WeatherDataModule, train_downscaler

    def render(steps, lr, live):
        live.chart = metric_lines("fine-tune", facet=None)
        data = WeatherDataModule(n_train=n_train, n_val=8, batch_size=16, seed=123)
        info = train_downscaler(model, data, regression_steps=0, diffusion_steps=steps, lr=lr, seed=1,
                                live=live, progress_bar=False, refit_sigma_data=False)
        live.flush()
        return f"fine-tuned {steps} steps in {info['total_seconds']:.1f} s"

    return Panel({"steps": slider("steps", 20, 5, 500), "lr": log_slider("learning rate", 3e-4, 1e-5, 3e-3)},
                 render, title="Fine-tune the denoiser (EDM loss)", key="diffusion-finetune", button="Train")
