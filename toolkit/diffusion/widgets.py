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
import numpy as np
import torch
from altair.utils.schemapi import debug_mode

from ..chart_template import ChartTemplate, ReadySpec
from ..charts import series_lines
from ..livechart import LiveChart
from ..panels import Panel, SliderPreview, dropdown, log_slider, slider
from .evaluation import fixed_test_set
from .metrics import crps_ensemble, radial_power_spectrum, rank_histogram
from .model import Downscaler
from .samplers import METHODS, karras_sigmas, sample_trajectory
from .scenarios import (
    autoregressive_day,
    coherent_noise,
    forecast_day,
    lag1_autocorrelation,
    scenario_scores,
)
from .toy import GaussianMixture, gaussian_mixture_1d, gaussian_mixture_2d
from .weather import REGIMES, WeatherConfig, make_weather_pairs, nwp_error_scales

__all__ = [
    "density_score_chart",
    "score_panel",
    "toy_sampler_panel",
    "maps_chart",
    "weather_panel",
    "nwp_correlation",
    "day_chart",
    "sampling_panel",
    "verification_panel",
    "verification_scores",
    "interpret_spread_skill",
    "coherent_noise",
    "forecast_day",
    "autoregressive_day",
    "scenario_scores",
    "lag1_autocorrelation",
    "fan_chart",
    "finetune_panel",
    "SOLVERS",
    "conditional_panel",
    "CONDITIONAL_VIEWS",
    "fan_panel",
]

_MAP = dict(width=120, height=120)


def _inline(rows: list[dict]) -> alt.Data:
    """Inline chart data without Altair's per-row validation at construction (see module doc)."""
    with debug_mode(False):
        return alt.Data(values=rows)


def _map_rows(field, name: str, **extra) -> list[dict]:
    f = np.asarray(field, dtype=float)
    h, w = f.shape
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return [
        {"x": int(a), "y": int(b), "value": float(v), "map": name, **extra}
        for a, b, v in zip(xx.ravel(), yy.ravel(), f.ravel())
    ]


def maps_chart(
    fields: dict, *, columns: int = 4, domain=(0.1, 1.1), scheme: str = "greys", title: str = ""
) -> dict:
    """Small multiples of 2-D fields (name -> (H, W) array) with one shared colour scale.

    Returns a Vega-Lite dict: the spec is validated by Altair without data and the (thousands of)
    rows are added afterwards, which is much faster than validating every row.
    """
    rows = []
    order = list(fields)
    for name, f in fields.items():
        rows += _map_rows(f, name)
    spec = (
        alt.Chart()
        .mark_rect()
        .encode(
            x=alt.X("x:O", axis=None),
            y=alt.Y("y:O", axis=None, sort="descending"),
            color=alt.Color(
                "value:Q", scale=alt.Scale(domain=list(domain), scheme=scheme, clamp=True), title="kc"
            ),
            facet=alt.Facet("map:N", columns=columns, sort=order, title=None),
        )
        .properties(**_MAP, title=title)
        .to_dict()
    )
    spec["data"] = {"values": rows}
    return spec


def hconcat_specs(*specs: dict) -> dict:
    """Side-by-side Vega-Lite dicts, each keeping its own inline data."""
    parts = [{k: v for k, v in s.items() if k not in ("$schema", "config")} for s in specs]
    return {
        "$schema": specs[0].get("$schema"),
        "hconcat": parts,
        "resolve": {"scale": {"color": "independent"}},
    }


def _shared_data(*specs: dict) -> ReadySpec:
    """hconcat of Vega-Lite dicts with all their rows in ONE top-level dataset (a "part" column and a
    filter per view): the spec then stays small, and a redraw sends only the rows (LiveChart)."""
    rows, parts = [], []
    for i, s in enumerate(specs):
        rows += [{**r, "part": i} for r in s["data"]["values"]]
        part = {k: v for k, v in s.items() if k not in ("$schema", "config", "data")}
        part["transform"] = [{"filter": f"datum.part == {i}"}, *part.get("transform", [])]
        parts.append(part)
    return ReadySpec(
        {
            "$schema": specs[0].get("$schema"),
            "data": {"values": rows},
            "hconcat": parts,
            "resolve": {"scale": {"color": "independent"}},
        }
    )


# ------------------------------------------------------------------ toy: density and score
def density_score_chart(sigma: float, mixture: GaussianMixture | None = None, *, lim: float = 8.0):
    """p_0, p_σ and the score ∇ log p_σ of a 1-D mixture; returns (chart, readout)."""
    gm = mixture or gaussian_mixture_1d()
    x = torch.linspace(-lim, lim, 241, dtype=torch.float64)
    p0, ps = gm.log_prob(x, 0.0).exp(), gm.log_prob(x, sigma).exp()
    score = gm.score(x, sigma)[:, 0]
    xs = x.tolist()  # plain floats: iterating over tensor elements costs ~µs each
    rows = (
        [{"x": a, "value": b, "curve": "clean p₀(x)", "panel": "density"} for a, b in zip(xs, p0.tolist())]
        + [
            {"x": a, "value": b, "curve": "noised p_σ(x)", "panel": "density"}
            for a, b in zip(xs, ps.tolist())
        ]
        + [
            {"x": a, "value": b, "curve": "score ∇log p_σ", "panel": "score"}
            for a, b in zip(xs, score.tolist())
        ]
    )
    base = alt.Chart().encode(x=alt.X("x:Q", title="x"), color=alt.Color("curve:N", title=None))
    dens = (
        base.transform_filter("datum.panel == 'density'")
        .mark_line()
        .encode(y=alt.Y("value:Q", title="density"), strokeDash=alt.StrokeDash("curve:N", legend=None))
        .properties(width=420, height=150, title=f"σ = {sigma:.3g}")
    )
    # no clipped axis: a clamped scale would draw flat stretches that are not in the score
    sc = (
        base.transform_filter("datum.panel == 'score'")
        .mark_line()
        .encode(y=alt.Y("value:Q", title="score"))
        .properties(width=420, height=120)
    )
    modes = int(((ps[1:-1] > ps[:-2]) & (ps[1:-1] > ps[2:])).sum())
    # far from the data the score tends to the line -(x - μ)/(σ² + Var p₀): measured slope vs that value
    var0 = float(gm.variance)
    mid = slice(100, 141)
    slope = float(np.polyfit(xs[mid], score[mid].tolist(), 1)[0])
    text = (
        f"σ = {sigma:.3g}: the noised density has <b>{modes}</b> mode(s). The score points uphill towards "
        f"the modes; D(x; σ) = x + σ² · score is the ideal denoiser. Slope of the score near the centre "
        f"<b>{slope:.3f}</b>; the Gaussian limit −1/(σ² + Var p₀) = {-1 / (sigma**2 + var0):.3f} "
        f"(Var p₀ = {var0:.2f}) — not −1/σ² = {-1 / sigma**2:.3f}."
    )
    return alt.vconcat(dens, sc, data=_inline(rows)), text


def score_panel(mixture: GaussianMixture | None = None) -> Panel:
    """MAIN panel: a σ slider redraws the noised density and its score."""
    gm = mixture or gaussian_mixture_1d()

    def render(sigma):
        return density_score_chart(sigma, gm)

    return Panel(
        {"sigma": log_slider("noise level σ", 0.3, 0.01, 10.0)},
        render,
        title="Noising a known density: p_σ = p₀ ∗ N(0, σ²) and its score",
        key="diffusion-score",
    )


# ------------------------------------------------------------------ toy: samplers in 2-D
TOY_PREVIEW_SAMPLES = 100  # toy_sampler_panel draws this many samples while a slider moves


def toy_sampler_panel(n: int = 400, seed: int = 0) -> Panel:
    """Sample a 2-D ring mixture with the exact denoiser: method, steps and churn.

    While a slider is dragged the panel previews with TOY_PREVIEW_SAMPLES samples (the same method,
    steps and churn), and draws all n when it rests (SliderPreview)."""
    gm = gaussian_mixture_2d()
    preview = SliderPreview()

    def render(method, steps, churn):
        m = min(n, TOY_PREVIEW_SAMPLES) if preview.active else n
        preview.last = {"samples": m, "method": method, "steps": steps}
        g = torch.Generator().manual_seed(seed)
        noise = torch.randn(n, 2, dtype=torch.float64, generator=g)[:m]  # a preview: the first m of the n
        res = sample_trajectory(
            gm, noise, karras_sigmas(steps, sigma_max=20.0), method, churn=churn, generator=g
        )
        x = res.x.numpy()
        # a few trajectories, shown from σ = 3 down (earlier states are far outside the plot)
        sig = res.sigmas.numpy()
        start = int(np.argmax(sig <= 3.0))
        paths = [
            {"x": float(t[j, 0]), "y": float(t[j, 1]), "step": i, "id": j, "kind": "path"}
            for i, t in enumerate(res.trajectory[start:])
            for j in range(6)
        ]
        pts = [{"x": float(a), "y": float(b), "step": 0, "id": -1, "kind": "sample"} for a, b in x]
        on_mode = float((torch.cdist(res.x, gm.means).min(1).values < 3 * gm.stds[0]).double().mean())
        sc = alt.Scale(domain=[-5, 5], clamp=True)
        data = _inline(pts + paths)
        dots = (
            alt.Chart(data)
            .transform_filter("datum.kind == 'sample'")
            .mark_circle(size=12, opacity=0.5)
            .encode(x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc))
        )
        lines = (
            alt.Chart(data)
            .transform_filter("datum.kind == 'path'")
            .mark_line(color="#D55E00")
            .encode(x=alt.X("x:Q", scale=sc), y=alt.Y("y:Q", scale=sc), detail="id:N", order="step:Q")
        )
        chart = (dots + lines).properties(
            width=300, height=300, title=f"{method}, {steps} steps, NFE {res.nfe}"
        )
        return chart, (
            f"NFE = <b>{res.nfe}</b>; {100 * on_mode:.1f}% of the samples lie within 3 s of a mode."
            + preview.note(f"{m} of {n} samples")
        )

    controls = preview.watch(
        {
            "method": dropdown("sampler", list(METHODS), "heun"),
            "steps": slider("steps", 8, 1, 60),
            "churn": slider("churn (S_churn)", 0.0, 0.0, 40.0, 1.0),
        }
    )
    return preview.attach(
        Panel(
            controls, render, title="Samplers on a 2-D mixture (exact denoiser)", key="diffusion-toy-sampler"
        )
    )


# ------------------------------------------------------------------ weather
def nwp_correlation(lead: float, *, n: int = 64, seed: int = 0, config: WeatherConfig | None = None) -> float:
    """corr(NWP, block-mean truth) over the pixels of n cases at one lead time (hours)."""
    cfg = config or WeatherConfig()
    p = make_weather_pairs(n, config=cfg, random_state=seed, lead=(float(lead), float(lead)))
    bm = p.fine.reshape(n, cfg.size // cfg.factor, cfg.factor, cfg.size // cfg.factor, cfg.factor).mean(
        axis=(2, 4)
    )
    return float(np.corrcoef(p.coarse.ravel(), bm.ravel())[0, 1])


def weather_panel(n_show: int = 3) -> Panel:
    """Synthetic truth vs coarse NWP for a few cases at one lead time; sliders for the NWP error growth."""

    def render(seed, lead, displacement_growth, bias_spread):
        cfg = WeatherConfig(displacement_growth=displacement_growth, bias_spread=bias_spread)
        p = make_weather_pairs(n_show, config=cfg, random_state=seed, lead=(float(lead), float(lead)))
        fields = {}
        for i in range(n_show):
            fields[f"{i}: truth 32×32 ({REGIMES[p.regime[i]]}, cloud {p.cloud_fraction[i]:.0%})"] = p.fine[i]
            fields[f"{i}: NWP 8×8 at +{lead:.0f} h"] = p.coarse[i]
        sc = nwp_error_scales(lead, cfg)
        corr = nwp_correlation(lead, config=cfg)
        text = (
            f"lead {lead:.0f} h: position error std <b>{float(sc['displacement']):.2f} px</b>, smoothing "
            f"{float(sc['smoothing']):.2f} px, bias {float(sc['bias']):+.3f} ± "
            f"{float(sc['bias_spread']):.3f}; "
            f"corr(NWP, block-mean truth) over 64 cases = <b>{corr:.2f}</b>"
        )
        return maps_chart(fields, columns=2, domain=(0.1, 1.15)), text

    return Panel(
        {
            "seed": slider("case seed", 0, 0, 50),
            "lead": slider("lead time (h)", 12, 1, 24, 1),
            "displacement_growth": slider("position error growth (px/h)", 0.3, 0.0, 0.6, 0.05),
            "bias_spread": slider("random bias at 24 h", 0.15, 0.0, 0.3, 0.01),
        },
        render,
        title="Synthetic weather: fine clear-sky index vs a coarse NWP that worsens with lead time",
        key="diffusion-weather",
        chart=LiveChart(max_rows=20000),
    )


def day_chart(seq) -> alt.Chart:
    """Clear-sky GHI and the area-mean GHI of a WeatherSequence."""
    rows = [
        {"hour": float(h), "GHI": float(c), "series": "clear sky"} for h, c in zip(seq.hours, seq.ghi_clear)
    ]
    rows += [
        {"hour": float(h), "GHI": float(g), "series": "area mean (truth)"}
        for h, g in zip(seq.hours, seq.ghi.mean(axis=(1, 2)))
    ]
    rows += [
        {"hour": float(h), "GHI": float(g), "series": "site (centre pixel)"}
        for h, g in zip(seq.hours, seq.ghi[:, 16, 16])
    ]
    return (
        alt.Chart(_inline(rows))
        .mark_line(point=True)
        .encode(x=alt.X("hour:Q", title="hour (UTC)"), y=alt.Y("GHI:Q", title="GHI (W/m²)"), color="series:N")
        .properties(width=420, height=200)
    )


# ------------------------------------------------------------------ sampling with the trained model
SOLVERS = (
    "dpmpp_2m",
    "unipc",
    "heun",
    "dpmpp_2m_sde",
    "euler",
    "churn",
    "ddim",
    "ancestral",
    "sde",
)  # best first


def _half(field) -> np.ndarray:
    """2 × 2 block means of an (H, W) field (H, W even)."""
    f = np.asarray(field, dtype=float)
    return f.reshape(f.shape[0] // 2, 2, f.shape[1] // 2, 2).mean(axis=(1, 3))


PREVIEW_MEMBERS = 2  # sampling_panel's preview while a slider moves: 2 members ...
PREVIEW_STEPS = 4  # ... of at most 4 steps of the best solver (SOLVERS[0], one NFE per step)


def sampling_panel(model: Downscaler, *, n_cases: int = 8, seed: int = 0) -> Panel:
    """Method, steps, ρ, churn, ensemble size -> members, mean, spread and per-case scores, plus a
    step-through scrubber: x_i beside the denoised estimate D(x_i; σ̂_i) of member 1, with NFE so far.

    While a slider is dragged the panel previews with PREVIEW_MEMBERS members of at most PREVIEW_STEPS
    steps of the best solver, maps at half resolution (the readout says so) and samples the full
    ensemble when it rests (SliderPreview); the scrubber re-reads the last full run without sampling again."""
    coarse, fine, lead = fixed_test_set(n_cases)
    cache: dict = {}
    means: dict = {}
    preview = SliderPreview()

    def run(case, method, steps, rho, churn, members):
        key = (case, method, steps, rho, churn, members)
        if key not in cache:
            if len(cache) > 1:
                cache.clear()  # keep the full run and a preview: the scrubber re-reads
            g = torch.Generator().manual_seed(seed)
            t = time.perf_counter()
            ens, res = model.ensemble(
                coarse[case : case + 1],
                members,
                lead=lead[case : case + 1],
                steps=steps,
                method=method,
                rho=rho,
                churn=churn,
                generator=g,
                return_result=True,
            )
            cache[key] = (ens[:, 0], res, time.perf_counter() - t)
        return cache[key]

    @torch.no_grad()
    def per_case(case):
        """(MSE U-Net mean, bicubic NWP, the residual's mean in normalised units) of a case: they depend
        on the case only, so a slider step does not run the regression U-Net again."""
        if case not in means:
            c1, l1 = coarse[case : case + 1], lead[case : case + 1]
            means[case] = (
                model.predict_mean(c1, l1)[0],
                model.bicubic(c1)[0],
                model.condition(model.normalize(c1), l1)[1][0],
            )
        return means[case]

    def render(case, method, steps, rho, churn, members, progress):
        full = (case, method, steps, rho, churn, members)
        note = ""
        if preview.active and full not in cache:  # a moving slider: a small, fast ensemble first
            asked = f"{method}, {steps} steps, {members} members"
            method, steps, churn = SOLVERS[0], min(steps, PREVIEW_STEPS), 0.0
            members = min(members, PREVIEW_MEMBERS)
            note = preview.note(
                f"{members} members, {steps} steps of {method}, maps at half resolution "
                f"(you asked for {asked})"
            )
        preview.last = {"method": method, "steps": steps, "members": members, "churn": churn}
        ens, res, seconds = run(case, method, steps, rho, churn, members)
        mean, up, cmean = per_case(case)
        fields = {
            "NWP (bicubic)": up,
            "truth": fine[case],
            "MSE U-Net": mean,
            "ensemble mean": ens.mean(0),
            "member 1": ens[0],
            "member 2": ens[1 % members],
        }
        # scrubber: step i of N; x_i is the state entering the step, D is evaluated at σ̂_i (σ_i, or
        # the churn-raised level) — the label says which
        i = min(int(round(progress / 100 * (len(res.denoised) - 1))), len(res.denoised) - 1)
        s_i, s_hat = float(res.sigmas[i]), float(res.denoised_sigmas[i])
        # fixed titles (σ_i and σ̂_i are in the readout): the spec then stays the same from step to step and
        # from preview to full run, so a slider step sends only rows and Vega never re-parses the figure
        fields["scrubber: x_i"] = model.denormalize(res.trajectory[i][0, 0] + cmean)
        fields["scrubber: D(x_i; σ̂_i)"] = model.denormalize(res.denoised[i][0, 0] + cmean)
        spread = ens.std(0) if members > 1 else torch.zeros_like(ens[0])
        if note:  # a preview: 2×2 block means, a quarter of the rows to send and draw
            fields = {k: _half(v) for k, v in fields.items()}
            spread = _half(spread)
        maps = maps_chart(fields, columns=4, domain=(0.1, 1.15))
        sp = maps_chart({"ensemble spread": spread}, columns=1, domain=(0.0, 0.3), scheme="oranges")
        crps_d = float(crps_ensemble(fine[case], ens, fair=members > 1).mean())
        crps_m = float((mean - fine[case]).abs().mean())
        text = (
            f"lead {float(lead[case]):.0f} h. NFE {res.nfe}, {seconds:.2f} s for {members} members. "
            f"CRPS: diffusion <b>{crps_d:.4f}</b>, MSE U-Net {crps_m:.4f} (lower is better). "
            f"Scrubber: step <b>{i + 1}</b> of {len(res.denoised)}, x_i at σ_i = {s_i:.3g}, D evaluated at "
            f"σ̂_i = {s_hat:.3g}, "
            f"<b>NFE so far {res.nfe_so_far[i]}</b>." + note
        )
        return _shared_data(maps, sp), text

    controls = preview.watch(
        {
            "case": slider("test case", 0, 0, n_cases - 1),
            "method": dropdown("sampler", list(SOLVERS), "dpmpp_2m"),
            "steps": slider("steps", 9, 1, 40),
            "rho": slider("ρ", 7.0, 1.0, 12.0, 0.5),
            "churn": slider("churn", 0.0, 0.0, 40.0, 1.0),
            "members": slider("members", 8, 2, 32),
            "progress": slider("scrub through the steps (%)", 100, 0, 100, 5),
        }
    )
    return preview.attach(
        Panel(
            controls,
            render,
            title="Sampling the pretrained downscaler, step by step",
            # canvas: ~9,000 map pixels draw faster than as SVG elements
            key="diffusion-sampling",
            chart=LiveChart(max_rows=30000, renderer="canvas"),
        )
    )


def interpret_spread_skill(ratio: float) -> str:
    """Words for a spread/skill ratio: calibrated within ±15 %, else over- or under-dispersed."""
    if not np.isfinite(ratio):
        return "no spread (deterministic)"
    if ratio > 1.15:
        return "over-dispersed: the members spread more than the ensemble-mean error (too uncertain)"
    if ratio < 0.85:
        return "under-dispersed: the members spread less than the ensemble-mean error (over-confident)"
    return "spread matches the ensemble-mean error within ±15 %"


def verification_scores(
    model: Downscaler,
    cases,
    *,
    method: str = "dpmpp_2m",
    steps: int = 9,
    members: int = 8,
    gamma: float = 1.0,
    eta: float | None = None,
    seed: int = 0,
) -> dict:
    """Baselines + diffusion on `cases` (evaluation.Cases): scores, best baseline, CRPSS with interval."""
    from .evaluation import baseline_forecasts, crpss, score_forecasts

    g = torch.Generator().manual_seed(seed)
    forecasts = baseline_forecasts(model, cases, members, seed=seed)
    forecasts["diffusion"] = model.ensemble(
        cases.coarse, members, lead=cases.lead, steps=steps, method=method, generator=g, gamma=gamma, eta=eta
    )
    rows = score_forecasts(cases.fine, forecasts, kc_range=cases.config.kc_range, seed=seed)
    best = min((k for k in rows if k != "diffusion"), key=lambda k: rows[k]["crps"])
    return {
        "rows": rows,
        "forecasts": forecasts,
        "best": best,
        "crpss": crpss(rows["diffusion"]["case_crps"], rows[best]["case_crps"], seed=seed),
    }


def verification_panel(model: Downscaler, *, n_cases: int = 24, seed: int = 0) -> Panel:
    """CRPS vs every baseline, CRPSS vs the best one, spread–skill, rank histogram and power spectra;
    sliders for the score scale γ and the stochasticity η (ddim / sde / dpmpp_2m_sde)."""
    from .evaluation import load_cases

    cases = load_cases(n_cases)

    def render(method, steps, members, gamma, eta):
        use_eta = eta if method in ("ddim", "sde", "dpmpp_2m_sde") else None
        v = verification_scores(
            model, cases, method=method, steps=steps, members=members, gamma=gamma, eta=use_eta, seed=seed
        )
        rows, fc = v["rows"], v["forecasts"]
        bars = [
            {"method": k, "CRPS": r["crps"], "kind": "diffusion" if k == "diffusion" else "baseline"}
            for k, r in rows.items()
        ]
        hist = rank_histogram(cases.fine, fc["diffusion"], generator=torch.Generator().manual_seed(0))
        hrows = [{"rank": i, "count": int(c)} for i, c in enumerate(hist)]
        k, pt = radial_power_spectrum(cases.fine)
        spec = [{"k": float(a), "power": float(b), "field": "truth"} for a, b in zip(k, pt)]
        for name in ("MSE U-Net", "MSE U-Net + noise", "diffusion"):
            _, pp = radial_power_spectrum(fc[name])
            spec += [{"k": float(a), "power": float(b), "field": name} for a, b in zip(k, pp)]
        c1 = (
            alt.Chart(_inline(bars))
            .mark_bar()
            .encode(
                x=alt.X("CRPS:Q"),
                y=alt.Y("method:N", sort=None, title=None),
                color=alt.Color("kind:N", legend=None),
            )
            .properties(width=200, height=150, title="CRPS (lower is better)")
        )
        c2 = (
            alt.Chart(_inline(hrows))
            .mark_bar()
            .encode(x="rank:O", y="count:Q")
            .properties(width=200, height=120, title="rank histogram (diffusion)")
        )
        # truth black and on top, the others dashed; 1-2-5 log ticks that never overlap (toolkit.charts)
        c3 = series_lines(
            spec,
            x="k",
            y="power",
            series="field",
            reference="truth",
            log_x=True,
            log_y=True,
            x_title="wavenumber",
            series_title="field",
            width=240,
            height=160,
            title="radially averaged power",
        )
        d, b = rows["diffusion"], rows[v["best"]]
        s, lo, hi = v["crpss"]
        m = len(hist) - 1
        chi2 = float(((hist.double() - hist.sum() / (m + 1)) ** 2 / (hist.sum() / (m + 1))).sum())
        shape = (
            "U-shaped (truth often outside the members)"
            if hist[0] + hist[-1] > 2 * hist.sum() / (m + 1) * 1.3
            else "dome-shaped (truth too often in the middle)"
            if hist[0] + hist[-1] < 2 * hist.sum() / (m + 1) * 0.7
            else "roughly flat at the ends"
        )
        text = (
            f"CRPS diffusion {d['crps']:.4f}; best baseline <b>{v['best']}</b> {b['crps']:.4f}: CRPSS "
            f"<b>{100 * s:.1f} %</b> (95 % interval {100 * lo:.1f} to {100 * hi:.1f} %, {n_cases} cases). "
            f"Spread/skill <b>{d['spread_skill']:.2f}</b>: {interpret_spread_skill(d['spread_skill'])}. "
            f"Rank histogram {shape}, χ² = {chi2:.0f} on {m} dof. Small-scale power ratio "
            f"{d['hf_power']:.2f} (1 = as detailed as the truth). Members outside the physical kc range: "
            f"{100 * d['out_of_range']:.2f} %. γ = {gamma:.2f}, η = "
            f"{'n/a' if use_eta is None else f'{use_eta:.2f}'}."
        )
        return alt.hconcat(alt.vconcat(c1, c2), c3).resolve_scale(
            color="independent", strokeDash="independent"
        ), text

    return Panel(
        {
            "method": dropdown("sampler", list(SOLVERS), "dpmpp_2m"),
            "steps": slider("steps", 9, 1, 40),
            "members": slider("members", 8, 2, 32),
            "gamma": slider("score scale γ", 1.0, 0.5, 1.5, 0.05),
            "eta": slider("stochasticity η (ddim, sde)", 1.0, 0.0, 1.0, 0.05),
        },
        render,
        title="Verification on fresh test cases against the best baseline",
        key="diffusion-verification",
        button="Verify",
    )


CONDITIONAL_VIEWS = (
    "reliability: kc < 0.5",
    "reliability: clear sky",
    "spread–skill by spread",
    "rank histograms by regime",
    "small-scale power by lead",
)


def _reliability_text(rows, event) -> str:
    gap = sum(r["count"] * (r["forecast"] - r["observed"]) for r in rows) / max(
        sum(r["count"] for r in rows), 1
    )
    worst = max(rows, key=lambda r: abs(r["forecast"] - r["observed"]))
    word = (
        "over-forecast (members predict the event more often than it happens)"
        if gap > 0.02
        else "under-forecast (the event happens more often than the members say)"
        if gap < -0.02
        else "forecast about as often as it happens"
    )
    return (
        f"{event}: on average the event is <b>{word}</b> (mean forecast − observed = {gap:+.3f}); the "
        "largest "
        f"gap is {worst['forecast'] - worst['observed']:+.2f} at forecast probability ≈ "
        f"{worst['forecast']:.2f}."
    )


def conditional_panel(v: dict) -> Panel:
    """Conditional verification of a verify() result (no resampling: a dropdown picks the view and
    the text reads the figure from its numbers)."""
    from .evaluation import conditional_verification

    cv = conditional_verification(v)

    def render(view):
        if view.startswith("reliability"):
            key = [k for k in cv["reliability"] if ("0.5" in k) == ("0.5" in view)][0]
            rows = cv["reliability"][key]
            diag = [{"forecast": 0.0, "observed": 0.0}, {"forecast": 1.0, "observed": 1.0}]
            chart = (
                alt.Chart(_inline(diag))
                .mark_line(color="#aaaaaa", strokeDash=[4, 4])
                .encode(x="forecast:Q", y="observed:Q")
                + alt.Chart(_inline(rows))
                .mark_line(point=True)
                .encode(
                    x=alt.X("forecast:Q", title="forecast probability", scale=alt.Scale(domain=[0, 1])),
                    y=alt.Y("observed:Q", title="observed frequency", scale=alt.Scale(domain=[0, 1])),
                    tooltip=["count:Q"],
                )
            ).properties(width=260, height=220, title=f"reliability: {key}")
            return chart, _reliability_text(rows, key)
        if view.startswith("spread"):
            rows = cv["spread_skill"]
            lim = max(max(r["spread"], r["rmse"]) for r in rows) * 1.05
            diag = [{"spread": 0.0, "rmse": 0.0}, {"spread": lim, "rmse": lim}]
            chart = (
                alt.Chart(_inline(diag))
                .mark_line(color="#aaaaaa", strokeDash=[4, 4])
                .encode(x="spread:Q", y="rmse:Q")
                + alt.Chart(_inline(rows))
                .mark_line(point=True)
                .encode(
                    x=alt.X("spread:Q", title="ensemble spread (bin mean)"),
                    y=alt.Y("rmse:Q", title="RMSE of the ensemble mean"),
                )
            ).properties(width=260, height=220, title="spread–skill binned by spread")
            ratios = [r["spread"] / max(r["rmse"], 1e-12) for r in rows]
            text = (
                f"spread/skill per spread bin, low to high: {', '.join(f'{x:.2f}' for x in ratios)}. "
                + (
                    "Where the members disagree most, the error is largest too: the spread is informative. "
                    if rows[-1]["rmse"] > 1.5 * rows[0]["rmse"]
                    else "The error hardly grows with the spread. "
                )
                + ("The smallest spreads are over-confident (ratio < 0.85)." if ratios[0] < 0.85 else "")
                + (" The largest spreads are too wide (ratio > 1.15)." if ratios[-1] > 1.15 else "")
            )
            return chart, text
        if view.startswith("rank"):
            rows = [
                {"rank": i, "count": c / sum(d["hist"]) * len(d["hist"]), "regime": name}
                for name, d in cv["rank"].items()
                for i, c in enumerate(d["hist"])
            ]
            chart = (
                alt.Chart(_inline(rows))
                .mark_bar()
                .encode(
                    x="rank:O", y=alt.Y("count:Q", title="relative frequency (1 = flat)"), column="regime:N"
                )
                .properties(width=140, height=140)
            )
            parts = []
            for name, d in cv["rank"].items():
                h = d["hist"]
                ends = (h[0] + h[-1]) / (2 * sum(h) / len(h))
                shape = (
                    "U-shaped (over-confident)"
                    if ends > 1.3
                    else "dome-shaped (too wide)"
                    if ends < 0.7
                    else "ends ≈ flat"
                )
                skew = (
                    "truth mostly above the members"
                    if h[-1] > 1.5 * h[0]
                    else "truth mostly below the members"
                    if h[0] > 1.5 * h[-1]
                    else "no strong bias"
                )
                parts.append(
                    f"{name} ({d['cases']} cases): χ² = {d['chi2']:.0f} on {len(h) - 1} dof, {shape}, {skew}"
                )
            return chart, "; ".join(parts) + "."
        rows = [{"lead": f"{r['lead'][0]}–{r['lead'][1]} h", "ratio": r["hf_power"]} for r in cv["power"]]
        chart = (
            alt.Chart(_inline(rows))
            .mark_bar()
            .encode(
                x=alt.X("lead:N", title="lead time"),
                y=alt.Y("ratio:Q", title="small-scale power: members / truth"),
            )
            .properties(width=260, height=200, title="small-scale power ratio by lead")
        )
        text = (
            "small-scale power ratio (1 = as detailed as the truth) by lead: "
            + ", ".join(f"{r['lead']} {r['ratio']:.2f}" for r in rows)
            + "."
        )
        return chart, text

    return Panel(
        {"view": dropdown("view", list(CONDITIONAL_VIEWS), CONDITIONAL_VIEWS[0])},
        render,
        title="Conditional verification: when and where is the ensemble reliable?",
        key="diffusion-conditional",
    )


# ------------------------------------------------------------------ day-ahead forecast
def fan_chart(fc: dict, *, traces: int = 4) -> alt.Chart:
    """Ensemble fan (10–90 % band), a few coherent member traces, the MSE forecast, clear sky and — on
    top of everything — the truth."""
    return _fan_layers(*_fan_data(fc, traces))


def _fan_data(fc: dict, traces: int) -> tuple[list, list, list]:
    """The fan chart's rows: quantile band, member traces, reference lines (clear sky, MSE, truth)."""
    q = np.quantile(fc["members"], [0.1, 0.5, 0.9], axis=1)
    rows = [
        {"hour": float(h), "q10": float(a), "q50": float(c), "q90": float(e)}
        for h, a, c, e in zip(fc["hours"], *q)
    ]
    mem = [
        {"hour": float(h), "GHI": float(v), "member": f"member {m + 1}"}
        for m in range(min(traces, fc["members"].shape[1]))
        for h, v in zip(fc["hours"], fc["members"][:, m])
    ]
    lines = [
        {"hour": float(h), "GHI": float(v), "series": s}
        for s, key in (("clear sky", "clear"), ("MSE U-Net", "mse"), ("truth", "truth"))
        for h, v in zip(fc["hours"], fc[key])
    ]
    return rows, mem, lines


def _fan_rows(fc: dict, traces: int) -> list[list]:
    """The datasets of _fan_layers, depth-first: band and median (one dataset, which Altair lifts to the
    top), member traces, references, truth."""
    rows, mem, lines = _fan_data(fc, traces)
    return [rows, mem, lines, [r for r in lines if r["series"] == "truth"]]


def _fan_layers(rows, mem, lines) -> alt.LayerChart:
    """band, median, member traces, references, truth (drawing order; _fan_rows follows it)."""
    band = alt.Chart(_inline(rows))
    outer = band.mark_area(opacity=0.2, color="#0072B2").encode(
        x=alt.X("hour:Q", title="hour (UTC)"), y=alt.Y("q10:Q", title="GHI at the site (W/m²)"), y2="q90:Q"
    )
    med = band.mark_line(color="#0072B2", strokeDash=[2, 2]).encode(x="hour:Q", y="q50:Q")
    tr = (
        alt.Chart(_inline(mem))
        .mark_line(opacity=0.7, strokeWidth=1)
        .encode(x="hour:Q", y="GHI:Q", detail="member:N", color=alt.value("#0072B2"))
    )
    ref = (
        alt.Chart(_inline(lines))
        .mark_line(point=True)
        .encode(
            x="hour:Q",
            y="GHI:Q",
            color=alt.Color(
                "series:N",
                scale=alt.Scale(
                    domain=["clear sky", "MSE U-Net", "truth"], range=["#aaaaaa", "#D55E00", "black"]
                ),
            ),
            strokeWidth=alt.condition("datum.series == 'truth'", alt.value(3), alt.value(1.5)),
            order=alt.Order("series:N"),
        )
    )
    truth = (
        alt.Chart(_inline([r for r in lines if r["series"] == "truth"]))
        .mark_line(point=True, color="black", strokeWidth=3)
        .encode(x="hour:Q", y="GHI:Q")
    )
    # layer order = drawing order: band, member traces, references, and the truth last (on top)
    return (outer + med + tr + ref + truth).properties(
        width=460, height=240, title="Day-ahead GHI: 10–90 % band, coherent member traces, truth on top"
    )


def _fan_figure(band, mem, lines, _truth) -> alt.LayerChart:
    """_fan_layers from _fan_rows' four datasets (the truth layer's rows come from ``lines``)."""
    return _fan_layers(band, mem, lines)


# the fan redraws on every slider step with the same look: built once, then only its rows (≈ 250 ms saved)
_FAN = ChartTemplate(_fan_figure)


def _fan_spec(fc: dict, *, traces: int = 4) -> ReadySpec:
    """fan_chart as a ReadySpec: the same figure, its rows refilled into a template built once."""
    return _FAN("fan", *_fan_rows(fc, traces))


FAN_PREVIEW = (2, 2, 4)  # fan_panel's preview: at most 2 members, 2 steps, every 4th daylight hour


def fan_panel(model: Downscaler, seq, *, members: int = 8, steps: int = 9, seed: int = 0) -> Panel:
    """The day-ahead fan chart with a slider for the scenario memory φ (0 = every hour sampled
    independently, → 1 = the same noise all day); the readout measures the lag-1 autocorrelation of
    the site GHI of the truth and of the members. The last forecast is kept in panel.state["fc"].

    While the slider is dragged the panel previews with FAN_PREVIEW = (members, steps, every k-th hour)
    at most (the readout says so) and forecasts the full day when it rests (SliderPreview)."""
    state: dict = {}
    preview = SliderPreview()

    def render(memory):
        m, s, every = members, steps, 1
        if preview.active:
            m, s, every = min(members, FAN_PREVIEW[0]), min(steps, FAN_PREVIEW[1]), FAN_PREVIEW[2]
        preview.last = {"members": m, "steps": s, "every": every}
        fc = forecast_day(model, seq, members=m, steps=s, seed=seed, memory=memory, every=every)
        if not preview.active:
            state["fc"] = fc
        ac_t = float(lag1_autocorrelation(fc["truth"])[0])
        ac_m = float(lag1_autocorrelation(fc["members"]).mean())
        text = (
            f"φ = {memory:.2f}: lag-1 autocorrelation of the site GHI — truth <b>{ac_t:.2f}</b>, members "
            f"<b>{ac_m:.2f}</b> (mean over {m} members; one day is a noisy statistic)."
            + preview.note(
                f"{m} members, {s} steps, every {every}th daylight hour (full: {members} members, "
                f"{steps} steps, every hour)"
            )
        )
        return _fan_spec(fc), text

    controls = preview.watch({"memory": slider("scenario memory φ (per hour)", 0.85, 0.0, 0.95, 0.05)})
    panel = preview.attach(Panel(controls, render, title="Day-ahead GHI scenarios", key="diffusion-fan"))
    panel.state = state
    return panel


# ------------------------------------------------------------------ live fine-tune
def finetune_panel(model: Downscaler, *, n_train: int = 512) -> Panel:
    """Button: a short EDM fine-tune of the denoiser with the loss streamed live."""
    from ..charts import metric_lines
    from .lightning import WeatherDataModule, train_downscaler

    def render(steps, lr, live):
        live.chart = metric_lines("fine-tune", facet=None)
        data = WeatherDataModule(n_train=n_train, n_val=8, batch_size=16, seed=123)
        info = train_downscaler(
            model,
            data,
            regression_steps=0,
            diffusion_steps=steps,
            lr=lr,
            seed=1,
            live=live,
            progress_bar=False,
            refit_sigma_data=False,
        )
        live.flush()
        return f"fine-tuned {steps} steps in {info['total_seconds']:.1f} s"

    return Panel(
        {"steps": slider("steps", 20, 5, 500), "lr": log_slider("learning rate", 3e-4, 1e-5, 3e-3)},
        render,
        title="Fine-tune the denoiser (EDM loss)",
        key="diffusion-finetune",
        button="Train",
    )
