"""Noise schedules and samplers for the variance-exploding / EDM formulation x = y + σ n.

The probability-flow ODE is dx/dσ = (x - D(x; σ)) / σ, with D the denoiser (Karras et al. 2022,
"Elucidating the Design Space of Diffusion-Based Generative Models", NVlabs/edm). Sampling starts at
x = noise · σ_0 and integrates down to σ_N (normally 0).

Methods
  euler      first-order ODE step; NFE = N.
  heun       EDM Algorithm 1: Heun (trapezoid) correction except on the last step to σ = 0 (Euler).
             NFE = 2N - 1.
  churn      EDM Algorithm 2: Heun + "churn" — before each step add noise to raise σ to
             σ̂ = σ(1 + γ), γ = min(S_churn / N, √2 - 1). (`churn` > 0 also works with euler/heun.)
  ddim       DDIM with stochasticity eta (0 = deterministic). In σ-space DDIM(η=0) is exactly Euler;
             η = 1 is ancestral sampling.
  ancestral  DDPM-style: draw x_{i+1} from the Gaussian posterior q(x_{i+1} | x_i, y = D(x_i)).
  sde        Euler–Maruyama on the reverse SDE family dx = -(1 + η²) σ ∇log p dσ + η √(2σ) dW̄
             (same marginals for every η; η = 1, the default, is the classic reverse SDE, η = 0 the
             ODE), with a final denoising step D(x; σ_{N-1}) to σ = 0.
  dpmpp_2m   DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): in λ = -ln σ, step h = λ_{i+1} - λ_i,
             x_{i+1} = (σ_{i+1}/σ_i) x_i + (1 - e^{-h}) D̂_i with the multistep data estimate
             D̂_i = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}, r = h_{i-1}/h_i (D̂_0 = D_0; last step to 0: D_i).
             Second order with one network evaluation per step; NFE = N.
  dpmpp_2m_sde  its SDE variant (k-diffusion "midpoint"): x_{i+1} = (σ_{i+1}/σ_i) e^{-ηh} x_i
             + (1 - e^{-(1+η)h}) D_i + ½ (1 - e^{-(1+η)h}) (D_i - D_{i-1}) / r + σ_{i+1} √(1 - e^{-2ηh}) ξ,
             last step x = D_i. η = 0 is DPM-Solver++(2M) with a midpoint correction.
  unipc      UniPC-bh2 (Zhao et al. 2023), order 2, data prediction: the predictor is DPM-Solver++(2M);
             once D_{i+1} = D(x_{i+1}) is evaluated for the next step, the corrector UniC reuses it to
             correct x_{i+1} (no extra NFE): x_{i+1} ← (σ_{i+1}/σ_i) x_i + (1 - e^{-h}) D_i
             - B(h) [ρ_1 (D_{i-1} - D_i)/r + ρ_2 (D_{i+1} - D_i)], B(h) = e^{-h} - 1, with ρ the solution of
             the 2 × 2 order conditions (ρ = ½ on D_{i+1} - D_i after the first step, an order-1 update);
             first step order 1, no corrector after the last step; last step to 0: x = D_i. NFE = N.

Every sampler accepts a score scale γ ("guidance"): the denoiser is replaced by
D_γ(x; σ) = x + γ (D(x; σ) - x), i.e. the score (D - x)/σ² is multiplied by γ. γ = 1 is the plain
model, bit for bit; γ > 1 sharpens (less spread), γ < 1 blurs (more spread).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from toolkit.validation import check_bool, check_choice, check_float, check_instance, check_int

__all__ = ["karras_sigmas", "sample", "sample_trajectory", "SampleResult", "METHODS", "nfe_for"]

METHODS = ("euler", "heun", "churn", "ddim", "ancestral", "sde", "dpmpp_2m", "dpmpp_2m_sde", "unipc")
# default stochasticity η of each method (ddim: deterministic; SDE samplers: the classic SDE)
DEFAULT_ETA = {"ddim": 0.0, "sde": 1.0, "dpmpp_2m_sde": 1.0}
MAX_SIGMA = 1e6  # larger noise levels overflow float32 (and squared, float64) arithmetic
MIN_RHO = 0.05  # karras_sigmas: smaller ρ collapses every σ_i towards σ_max in float64

Denoiser = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def karras_sigmas(
    steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> torch.Tensor:
    """EDM schedule σ_i = (σ_max^(1/ρ) + i/(N-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ, i < N, then σ_N = 0.

    Computed in the equivalent overflow-free form σ_i = σ_max (1 - i/(N-1) (1 - q))^ρ with
    q = (σ_min/σ_max)^(1/ρ) = exp(ln(σ_min/σ_max)/ρ) in (0, 1] (σ_max^(1/ρ) overflows for small ρ);
    the end points are set to σ_max and σ_min exactly. Requires ρ in [0.05, 1000] and
    σ_max ≥ σ_min (1 + 1e-6) when steps > 1, so that the N levels are strictly decreasing and
    positive in float64. Returns a float64 tensor of steps + 1 levels ending with 0. Large ρ spends
    more steps at small σ, where the fine details are decided.
    """
    steps = check_int("steps", steps, low=1, high=10000)
    sigma_min = check_float("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = check_float("sigma_max", sigma_max, low=0.0, low_open=True)
    if sigma_max < sigma_min:
        raise ValueError(f"sigma_max must be >= sigma_min, got sigma_max={sigma_max}, sigma_min={sigma_min}")
    if steps > 1 and sigma_max < sigma_min * (1 + 1e-6):
        raise ValueError(
            f"sigma_max must be >= sigma_min · (1 + 1e-6) for steps > 1 (distinct levels), "
            f"got sigma_max={sigma_max}, sigma_min={sigma_min}"
        )
    rho = check_float("rho", rho, low=MIN_RHO, high=1000.0)
    if steps == 1:
        return torch.tensor([sigma_max, 0.0], dtype=torch.float64)
    ramp = torch.arange(steps, dtype=torch.float64) / (steps - 1)
    q = math.exp((math.log(sigma_min) - math.log(sigma_max)) / rho)
    sig = sigma_max * torch.exp(rho * torch.log1p(-ramp * (1.0 - q)))
    sig[0], sig[-1] = sigma_max, sigma_min
    return torch.cat([sig, torch.zeros(1, dtype=torch.float64)])


@dataclass
class SampleResult:
    """Output of sample_trajectory: final x, number of denoiser calls, states x_i and estimates D_i."""

    x: torch.Tensor
    nfe: int
    sigmas: torch.Tensor
    trajectory: list = field(default_factory=list)  # x at each σ_i (i = 0..N), if kept
    denoised: list = field(default_factory=list)  # the step's first estimate D(x; σ̂_i), if kept
    denoised_sigmas: list = field(default_factory=list)  # σ̂_i at which each D was evaluated (σ_i, or
    # the raised level with churn)
    nfe_so_far: list = field(default_factory=list)  # network evaluations after each step

    def __post_init__(self):
        check_instance("x", self.x, torch.Tensor)
        check_int("nfe", self.nfe, low=0)
        check_instance("sigmas", self.sigmas, torch.Tensor)
        for name in ("trajectory", "denoised", "denoised_sigmas", "nfe_so_far"):
            check_instance(name, getattr(self, name), list)


def nfe_for(method: str, steps: int, final_zero: bool = True) -> int:
    """Number of network evaluations of `method` with `steps` steps (heun/churn save the last one)."""
    check_choice("method", method, METHODS)
    steps = check_int("steps", steps, low=1)
    if method in ("heun", "churn"):
        return 2 * steps - (1 if final_zero else 0)
    return steps


def _check_sigmas(sigmas) -> torch.Tensor:
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if sigmas.numel() < 2:
        raise ValueError(f"sigmas must hold at least 2 noise levels, got {sigmas.numel()}")
    if not torch.all(torch.isfinite(sigmas)) or torch.any(sigmas < 0) or torch.any(sigmas > MAX_SIGMA):
        raise ValueError(
            f"sigmas must be finite noise levels in [0, {MAX_SIGMA:g}], got {sigmas.tolist()[:4]}..."
        )
    if torch.any(sigmas[1:] > sigmas[:-1]):
        raise ValueError("sigmas must be non-increasing (from sigma_max down to 0)")
    if sigmas[0] <= 0:
        raise ValueError("sigmas[0] must be > 0")
    return sigmas


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _step_euler_heun(D, x, s_cur, s_next, state, *, heun, churn_gamma, s_noise, generator):
    """EDM Algorithms 1/2: optional churn to σ̂ = σ(1 + γ_i), an Euler step, a Heun correction."""
    s_hat = s_cur
    if churn_gamma > 0:
        s_hat = s_cur * (1 + churn_gamma)
        x = x + math.sqrt(s_hat**2 - s_cur**2) * s_noise * _randn_like(x, generator)
    d_i = D(x, s_hat)
    slope = (x - d_i) / s_hat
    x_next = x + (s_next - s_hat) * slope
    if heun and s_next > 0:
        d2 = D(x_next, s_next)
        slope2 = (x_next - d2) / s_next
        x_next = x + (s_next - s_hat) * 0.5 * (slope + slope2)
    return x_next, d_i, s_hat


def _step_ddim(D, x, s_cur, s_next, state, *, eta, generator):
    """DDIM / ancestral: x_next = D + √(σ_next² - c²) ε̂ + c ξ, c = η σ_next √(1 - σ_next²/σ²)."""
    d_i = D(x, s_cur)
    eps = (x - d_i) / s_cur
    # posterior q(x_next | x, y) of the VE process has std σ_next √(1 - σ_next²/σ²)
    c = eta * s_next * math.sqrt(max(1.0 - (s_next / s_cur) ** 2, 0.0))
    x = d_i + math.sqrt(max(s_next**2 - c**2, 0.0)) * eps
    if c > 0:
        x = x + c * _randn_like(x, generator)
    return x, d_i, s_cur


def _step_sde(D, x, s_cur, s_next, state, *, eta, generator):
    """Euler–Maruyama for dx = -(1 + η²) σ ∇log p dσ + η √(2σ) dW̄ with the exact variance increment."""
    d_i = D(x, s_cur)
    if s_next == 0.0:
        return d_i, d_i, s_cur  # final denoising step (Tweedie)
    x = x + (1 + eta * eta) * (s_next - s_cur) * (x - d_i) / s_cur
    if eta > 0:
        x = x + eta * math.sqrt(s_cur**2 - s_next**2) * _randn_like(x, generator)
    return x, d_i, s_cur


def _step_dpmpp_2m(D, x, s_cur, s_next, state, **_):
    """DPM-Solver++(2M): exponential integrator in λ = -ln σ with a linear multistep data estimate."""
    d_i = D(x, s_cur)
    old, h_last = state.get("old"), state.get("h_last")
    if s_next == 0.0:
        x_next = d_i  # e^{-h} = 0: the step lands on the data estimate
    else:
        h = math.log(s_cur) - math.log(s_next)
        d_hat = d_i
        if old is not None:
            r = h_last / h
            d_hat = (1 + 1 / (2 * r)) * d_i - (1 / (2 * r)) * old
        x_next = (s_next / s_cur) * x - math.expm1(-h) * d_hat
        state["h_last"] = h
    state["old"] = d_i
    return x_next, d_i, s_cur


def _step_dpmpp_2m_sde(D, x, s_cur, s_next, state, *, eta, generator):
    """DPM-Solver++(2M) SDE (midpoint form): the data-prediction SDE solved exactly in its linear part."""
    d_i = D(x, s_cur)
    old, h_last = state.get("old"), state.get("h_last")
    if s_next == 0.0:
        x_next = d_i
    else:
        h = math.log(s_cur) - math.log(s_next)
        eh = eta * h
        w = -math.expm1(-h - eh)  # 1 - e^{-(1+η)h}
        x_next = (s_next / s_cur) * math.exp(-eh) * x + w * d_i
        if old is not None:
            x_next = x_next + 0.5 * w * (h / h_last) * (d_i - old)
        if eta > 0:
            x_next = x_next + s_next * math.sqrt(-math.expm1(-2 * eh)) * _randn_like(x, generator)
        state["h_last"] = h
    state["old"] = d_i
    return x_next, d_i, s_cur


def _unipc_rhos(h: float, r: float | None) -> list[float]:
    """UniC-bh2 weights for the λ-step h: [½] at order 1; at order 2 (r = (λ_{i-1} - λ_i)/h < 0) the
    solution ρ of Σ_k ρ_k r_k^(j-1) = b_j (j = 1, 2; r_1 = r, r_2 = 1), with hh = -h, B(h) = e^{hh} - 1,
    g_1 = B(h)/hh - 1, g_2 = g_1/hh - 1/2 and b_j = j! g_j / B(h) (Zhao et al. 2023, the B(h) variant)."""
    if r is None:
        return [0.5]
    hh = -h
    bh = math.expm1(hh)
    g1 = bh / hh - 1.0
    g2 = g1 / hh - 0.5
    b1, b2 = g1 / bh, 2.0 * g2 / bh
    # [[1, 1], [r, 1]] ρ = [b1, b2]
    rho1 = (b1 - b2) / (1.0 - r)
    return [rho1, b1 - rho1]


def _step_unipc(D, x, s_cur, s_next, state, *, last, **_):
    """UniPC-bh2, order 2: correct x_i with D_i (UniC), then predict x_{i+1} (UniP = DPM-Solver++(2M))."""
    d_i = D(x, s_cur)
    if "x_prev" in state:  # UniC for the update that produced x: reuses D_i, no extra evaluation
        h, d_prev = state["h"], state["d_prev"]
        base = (s_cur / state["s_prev"]) * state["x_prev"] - math.expm1(-h) * d_prev
        rho = _unipc_rhos(h, state.get("r"))
        corr = rho[-1] * (d_i - d_prev)
        if len(rho) == 2:
            corr = corr + rho[0] * (state["d_prev2"] - d_prev) / state["r"]
        x = base - math.expm1(-h) * corr
    if s_next == 0.0:
        return d_i, d_i, s_cur  # e^{-h} = 0: the step lands on the data estimate
    h = math.log(s_cur) - math.log(s_next)
    x_next = (s_next / s_cur) * x - math.expm1(-h) * d_i
    order2 = "d_prev" in state and not last  # the first and the last step are order 1
    r = -state["h"] / h if order2 else None  # (λ_{i-1} - λ_i)/h
    if order2:  # predictor residual with ρ_p = ½ (the paper's order-2 choice)
        x_next = x_next - math.expm1(-h) * 0.5 * (state["d_prev"] - d_i) / r
    state.update(x_prev=x, s_prev=s_cur, h=h, r=r, d_prev2=state.get("d_prev"), d_prev=d_i)
    return x_next, d_i, s_cur


@torch.no_grad()
def sample_trajectory(
    denoiser: Denoiser,
    noise: torch.Tensor,
    sigmas,
    method: str = "heun",
    cond=None,
    churn: float = 0.0,
    generator: torch.Generator | None = None,
    *,
    eta: float | None = None,
    gamma: float = 1.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
    keep: bool = True,
) -> SampleResult:
    """Like `sample` but returns a SampleResult with NFE and (if keep) every x_i and D(x_i; σ̂_i).

    `eta` is the stochasticity of ddim (default 0), sde and dpmpp_2m_sde (default 1); `gamma` the
    score scale (D_γ = x + γ (D - x), 1 = the plain model); s_tmin/s_tmax/s_noise are EDM's churn
    window and noise inflation. The denoiser is called as denoiser(x, sigma, cond) with sigma a 1-D
    tensor of length x.shape[0] (same dtype as x).
    """
    if not callable(denoiser):
        raise TypeError(
            f"denoiser must be callable as denoiser(x, sigma, cond), got {type(denoiser).__name__}"
        )
    if not isinstance(noise, torch.Tensor) or noise.ndim < 1 or not noise.is_floating_point():
        raise TypeError("noise must be a floating-point torch.Tensor with a batch dimension")
    method = check_choice("method", method, METHODS)
    churn = check_float("churn", churn, low=0.0, high=1e4)
    if eta is None:
        eta = DEFAULT_ETA.get(method, 0.0)
    eta = check_float("eta", eta, low=0.0, high=1.0)
    if eta > 0 and method not in DEFAULT_ETA:
        raise ValueError(
            f"eta must be 0 for method={method!r} (it applies to {sorted(DEFAULT_ETA)}), got {eta}"
        )
    gamma = check_float("gamma", gamma, low=0.0, high=10.0)
    s_noise = check_float("s_noise", s_noise, low=0.0, high=10.0)
    s_tmin = check_float("s_tmin", s_tmin, low=0.0)
    s_tmax = float(s_tmax)
    keep = check_bool("keep", keep)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    sig = _check_sigmas(sigmas)
    steps = len(sig) - 1
    batch = noise.shape[0]
    nfe = 0

    def D(x, s):
        nonlocal nfe
        nfe += 1
        out = denoiser(x, torch.full((batch,), float(s), dtype=x.dtype, device=x.device), cond)
        if out.shape != x.shape:
            raise ValueError(f"denoiser returned shape {tuple(out.shape)}, expected {tuple(x.shape)}")
        # D_γ = x + γ (D - x), written so that γ = 1 returns D itself (bit-identical samples)
        return out if gamma == 1.0 else out + (gamma - 1.0) * (out - x)

    use_churn = method in ("euler", "heun", "churn") and churn > 0
    gamma_max = min(churn / steps, math.sqrt(2) - 1) if use_churn else 0.0
    if method in ("euler", "heun", "churn"):
        step, opts = _step_euler_heun, {"heun": method != "euler", "s_noise": s_noise}
    elif method in ("ddim", "ancestral"):
        step, opts = _step_ddim, {"eta": eta if method == "ddim" else 1.0}
    elif method == "unipc":
        step, opts = _step_unipc, {}
    else:
        step, opts = (
            {"sde": _step_sde, "dpmpp_2m": _step_dpmpp_2m, "dpmpp_2m_sde": _step_dpmpp_2m_sde}[method],
            {"eta": eta},
        )
    x = noise * float(sig[0])
    traj, dens, dsig, nfes = ([x.clone()] if keep else []), [], [], []
    state: dict = {}
    for i in range(steps):
        s_cur, s_next = float(sig[i]), float(sig[i + 1])
        if s_cur == 0.0:  # already clean: nothing left to do
            if keep:
                traj.append(x.clone())
            continue
        if step is _step_euler_heun:
            opts["churn_gamma"] = gamma_max if s_tmin <= s_cur <= s_tmax else 0.0
        if step is _step_unipc:
            opts["last"] = i == steps - 1
        x, d_i, s_hat = step(D, x, s_cur, s_next, state, generator=generator, **opts)
        if keep:
            traj.append(x.clone())
            dens.append(d_i)
            dsig.append(s_hat)
            nfes.append(nfe)
    return SampleResult(
        x=x, nfe=nfe, sigmas=sig, trajectory=traj, denoised=dens, denoised_sigmas=dsig, nfe_so_far=nfes
    )


def sample(
    denoiser: Denoiser,
    noise: torch.Tensor,
    sigmas,
    method: str = "heun",
    cond=None,
    churn: float = 0.0,
    generator: torch.Generator | None = None,
    **options,
) -> torch.Tensor:
    """Draw samples by integrating from x = noise · sigmas[0] down the noise levels `sigmas`.

    denoiser(x, sigma, cond) -> D(x; σ); method in METHODS; churn = EDM S_churn (euler/heun/churn);
    generator seeds the stochastic samplers. Extra keyword options (eta, gamma, s_tmin, s_tmax,
    s_noise) as in sample_trajectory, which also returns NFE and the intermediate states.
    """
    return sample_trajectory(denoiser, noise, sigmas, method, cond, churn, generator, keep=False, **options).x
