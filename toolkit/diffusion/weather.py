"""Synthetic solar weather: cloud fields, clear-sky irradiance and a coarse day-ahead "NWP" forecast.

High-resolution truth (after Hatanaka et al. 2023, who downscale NWP to satellite irradiance):

* a Gaussian random field (GRF) g with isotropic power spectrum P(k) ∝ k^-slope,
* a weather regime per case — clear, broken or overcast — that sets the cloud fraction,
* thresholded at the (1 - cloud_fraction) quantile t, so every case has its own cloud cover,
* clear-sky index kc = 1 - (1 - kc_min) tanh((g - t)_+ / softness) under cloud and
  kc = 1 + enhancement · s(x) in the clear, with s the smoothed cloud mask (cloud enhancement:
  light scattered by nearby cloud edges lifts kc above 1), so kc lies in the physical range
  (kc_min, 1 + enhancement),
* irradiance GHI = kc × GHI_clear(lat, lon, day, hour) (Haurwitz clear-sky model).

The coarse forecast at lead time L hours displaces the truth by N(0, d(L)²) pixels, smooths it with
std s(L), block-averages it and adds a bias b(L) and white noise, where the errors grow linearly
with lead: d(L) = displacement + displacement_growth · L, s(L) = smoothing + smoothing_growth · L,
b(L) = bias + bias_growth · L + bias_spread · (L / 24) · ε. Over a day the standardised errors
(displacement, ε) follow an AR(1) process in hours with coefficient error_memory, as NWP errors do.
All fields are periodic, so advection is an exact Fourier phase shift.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from toolkit.validation import as_rng, check_array, check_float, check_instance, check_int

from ._checks import array_shape, float_pair, int_sequence, real_array

__all__ = [
    "WeatherConfig",
    "WeatherPairs",
    "WeatherSequence",
    "gaussian_random_field",
    "clear_sky_index",
    "advect",
    "smooth",
    "block_average",
    "coarse_nwp",
    "solar_zenith_cos",
    "clear_sky_ghi",
    "make_weather_pairs",
    "make_weather_sequence",
    "make_sequence_pairs",
    "REGIMES",
    "nwp_error_scales",
]

# cloud-fraction range of each weather regime; "broken" uses WeatherConfig.cloud_fraction
REGIMES = ("clear", "broken", "overcast")
_CLEAR_CF = (0.0, 0.05)
_OVERCAST_CF = (0.9, 1.0)


def _check_pair(name, value, low, high):
    return float_pair(name, value, low, high)


def _weather_config(config) -> WeatherConfig:
    """config, or the default WeatherConfig when it is None."""
    if config is None:
        return WeatherConfig()
    return check_instance("config", config, WeatherConfig, "None or a WeatherConfig")


@dataclass
class WeatherConfig:
    """Parameters of the synthetic truth and of the coarse NWP errors (pixels are fine pixels)."""

    size: int = 32  # fine grid is size × size
    factor: int = 4  # coarse grid is (size / factor)²
    slope: float = 3.0  # GRF power spectrum P(k) ∝ k^-slope
    cloud_fraction: tuple[float, float] = (0.15, 0.8)  # cloud cover of the "broken" regime ~ U(low, high)
    regime_probs: tuple[float, float, float] = (0.2, 0.55, 0.25)  # P(clear), P(broken), P(overcast)
    kc_min: float = 0.15  # clear-sky index of thick cloud
    softness: float = 0.6  # GRF units over which a cloud thickens
    enhancement: float = 0.12  # cloud enhancement: kc reaches up to 1 + enhancement near edges
    lead: tuple[float, float] = (1.0, 24.0)  # lead time of the forecast in hours ~ U{low..high}
    bias: float = 0.02  # NWP additive bias in clear-sky index at lead 0
    bias_growth: float = 0.001  # extra bias per hour of lead
    bias_spread: float = 0.15  # std of the random (per case / AR(1) per day) bias at 24 h
    displacement: float = 0.5  # std of the NWP position error at lead 0 (fine pixels)
    displacement_growth: float = 0.3  # its growth per hour of lead
    smoothing: float = 0.7  # Gaussian smoothing std of the NWP at lead 0 (fine pixels)
    smoothing_growth: float = 0.08  # its growth per hour of lead
    noise: float = 0.03  # std of white noise on each coarse pixel
    error_memory: float = 0.8  # AR(1) coefficient of the NWP errors from one hour to the next

    def __post_init__(self):
        check_int("size", self.size, low=4, high=1024)
        check_int("factor", self.factor, low=1, high=self.size)
        if self.size % self.factor:
            raise ValueError(f"size must be a multiple of factor, got size={self.size}, factor={self.factor}")
        check_float("slope", self.slope, low=0.0, high=10.0)
        self.cloud_fraction = _check_pair("cloud_fraction", self.cloud_fraction, 0.0, 1.0)
        probs = tuple(
            check_float("regime_probs", p, low=0.0, high=1.0)
            for p in int_sequence("regime_probs", self.regime_probs)
        )
        if len(probs) != 3 or abs(sum(probs) - 1.0) > 1e-9:
            raise ValueError(
                f"regime_probs must be 3 probabilities (clear, broken, overcast) summing to 1, "
                f"got {self.regime_probs}"
            )
        self.regime_probs = probs
        check_float("kc_min", self.kc_min, low=0.0, high=1.0)
        check_float("softness", self.softness, low=0.0, low_open=True, high=100.0)
        check_float("enhancement", self.enhancement, low=0.0, high=1.0)
        self.lead = _check_pair("lead", self.lead, 0.0, 240.0)
        check_float("bias", self.bias, low=-1.0, high=1.0)
        check_float("bias_growth", self.bias_growth, low=-0.1, high=0.1)
        check_float("bias_spread", self.bias_spread, low=0.0, high=1.0)
        check_float("displacement", self.displacement, low=0.0, high=float(self.size))
        check_float("displacement_growth", self.displacement_growth, low=0.0, high=float(self.size))
        check_float("smoothing", self.smoothing, low=0.0, high=float(self.size))
        check_float("smoothing_growth", self.smoothing_growth, low=0.0, high=float(self.size))
        check_float("noise", self.noise, low=0.0, high=1.0)
        check_float("error_memory", self.error_memory, low=0.0, high=1.0)

    @property
    def kc_range(self) -> tuple[float, float]:
        """Physical limits of the truth's clear-sky index: (kc_min, 1 + enhancement)."""
        return (self.kc_min, 1.0 + self.enhancement)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("cloud_fraction", "regime_probs", "lead"):
            d[k] = list(getattr(self, k))
        return d


def nwp_error_scales(lead, config: WeatherConfig | None = None) -> dict:
    """Error scales of the coarse forecast at lead time(s) `lead` hours: displacement d(L),
    smoothing s(L), mean bias and random-bias std (arrays shaped like lead)."""
    cfg = _weather_config(config)
    lead = real_array("lead", lead)
    if not np.all(np.isfinite(lead)) or np.any(lead < 0):
        raise ValueError(f"lead must be finite hours >= 0, got {lead}")
    return {
        "displacement": cfg.displacement + cfg.displacement_growth * lead,
        "smoothing": cfg.smoothing + cfg.smoothing_growth * lead,
        "bias": cfg.bias + cfg.bias_growth * lead,
        "bias_spread": cfg.bias_spread * lead / 24.0,
    }


def _wavenumbers(size: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.fft.fftfreq(size) * size  # integer wavenumbers 0, 1, ..., -1
    return k[:, None], k[None, :]


def gaussian_random_field(n: int = 1, size: int = 32, *, slope: float = 3.0, random_state=None) -> np.ndarray:
    """Periodic GRFs with P(k) ∝ k^-slope, each normalised to zero mean and unit variance.

    White noise is coloured in Fourier space by the amplitude k^(-slope/2). Returns (n, size, size).
    """
    n = check_int("n", n, low=1, high=10**7)
    size = check_int("size", size, low=2, high=4096)
    slope = check_float("slope", slope, low=0.0, high=10.0)
    rng = as_rng(random_state)
    ky, kx = _wavenumbers(size)
    k = np.hypot(ky, kx)
    amp = np.zeros_like(k)
    amp[k > 0] = k[k > 0] ** (-slope / 2)
    white = rng.standard_normal((n, size, size))
    g = np.fft.ifft2(np.fft.fft2(white) * amp).real
    g -= g.mean(axis=(-2, -1), keepdims=True)
    g /= g.std(axis=(-2, -1), keepdims=True) + 1e-12
    return g


def clear_sky_index(
    g: np.ndarray,
    cloud_fraction,
    *,
    kc_min: float = 0.15,
    softness: float = 0.6,
    enhancement: float = 0.0,
    edge_width: float = 1.0,
) -> np.ndarray:
    """Cloud cover from a GRF: pixels above the (1 - cloud_fraction) quantile are cloudy.

    kc = 1 - (1 - kc_min) · tanh((g - t)_+ / softness) under cloud; in the clear
    kc = 1 + enhancement · s, with s = the cloud mask smoothed over edge_width pixels (in [0, 1)),
    so clear pixels next to clouds are brighter than clear sky. cloud_fraction: scalar or one per case.
    """
    g = np.asarray(g, dtype=float)
    if g.ndim < 2:
        raise ValueError(f"g must have at least 2 dimensions (..., H, W), got shape {g.shape}")
    cf = np.asarray(cloud_fraction, dtype=float)
    if np.any(~np.isfinite(cf)) or np.any(cf < 0) or np.any(cf > 1):
        raise ValueError(f"cloud_fraction must be in [0, 1], got {cloud_fraction}")
    check_float("kc_min", kc_min, low=0.0, high=1.0)
    check_float("softness", softness, low=0.0, low_open=True)
    enhancement = check_float("enhancement", enhancement, low=0.0, high=1.0)
    edge_width = check_float("edge_width", edge_width, low=0.0, low_open=True, high=100.0)
    flat = g.reshape(*g.shape[:-2], -1)
    cf = np.broadcast_to(cf, g.shape[:-2])
    # per-case quantile: sort once, pick index
    s = np.sort(flat, axis=-1)
    m = flat.shape[-1]
    idx = np.clip(np.round((1.0 - cf) * m).astype(int), 0, m)
    padded = np.concatenate([s, np.full(s.shape[:-1] + (1,), np.inf)], axis=-1)  # cf = 0 -> no cloud
    t = np.take_along_axis(padded, idx[..., None], axis=-1)[..., None]
    # cloudy where g >= t (cf = 1 -> t = min covers every pixel); optical depth grows from the edge
    thick = np.tanh(np.clip(g - t, 0.0, None) / softness)
    kc = 1.0 - (1.0 - kc_min) * thick
    if enhancement > 0:
        cloudy = g >= t
        near = np.clip(smooth(cloudy.astype(float), edge_width), 0.0, 1.0 - 1e-9)
        kc = np.where(cloudy, kc, 1.0 + enhancement * near)
    return kc


def advect(field: np.ndarray, shift) -> np.ndarray:
    """Move a periodic field by shift = (dy, dx) pixels (sub-pixel allowed) with a Fourier phase shift.

    shift may be (2,) or (..., 2) matching the leading dimensions of field. Integer shifts equal
    np.roll; sub-pixel shifts compose exactly for odd sizes (an even size has a Nyquist mode whose
    half-pixel phase cannot stay real).
    """
    field = real_array("field", field, min_ndim=2)
    shift = real_array("shift", shift, finite=True)
    if shift.shape[-1:] != (2,):
        raise ValueError(f"shift must have last dimension 2 (dy, dx), got shape {shift.shape}")
    try:
        np.broadcast_shapes(shift.shape[:-1], field.shape[:-2])
    except ValueError:
        raise ValueError(
            f"shift must be (2,) or (..., 2) matching field's leading dimensions {field.shape[:-2]}, "
            f"got shape {shift.shape}"
        ) from None
    h, w = field.shape[-2:]
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    dy = shift[..., 0][..., None, None]
    dx = shift[..., 1][..., None, None]
    phase = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    return np.fft.ifft2(np.fft.fft2(field) * phase).real


def smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Periodic Gaussian smoothing with std sigma pixels (multiplies the spectrum by exp(-2π²σ²f²))."""
    field = real_array("field", field, min_ndim=2)
    sigma = check_float("sigma", sigma, low=0.0)
    if sigma == 0:
        return field.copy()
    h, w = field.shape[-2:]
    f2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2
    return np.fft.ifft2(np.fft.fft2(field) * np.exp(-2 * np.pi**2 * sigma**2 * f2)).real


def block_average(field: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping factor × factor blocks of the last two dimensions."""
    real_array("field", field, min_ndim=2)
    field = np.asarray(field)  # its own dtype, as before (a float32 field stays float32)
    factor = check_int("factor", factor, low=1)
    h, w = field.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"factor must divide the field size {h}x{w}, got {factor}")
    return field.reshape(*field.shape[:-2], h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def coarse_nwp(
    fine: np.ndarray,
    config: WeatherConfig | None = None,
    *,
    lead=None,
    random_state=None,
    bias=None,
    errors: np.ndarray | None = None,
) -> np.ndarray:
    """Coarse forecast of fine clear-sky-index fields (..., H, W) at lead time(s) `lead` hours:
    displace by d(L)·e, smooth with s(L), block-average, add the bias b(L) and white noise.

    `lead` is a scalar or one value per field (default: the mean of config.lead); `errors`
    (..., 3) are the standardised errors (dy, dx, bias) — drawn N(0, 1) when not given (a
    sequence passes AR(1)-correlated ones); `bias` overrides the whole bias b(L).
    """
    fine = real_array("fine", fine, finite=True, min_ndim=2)
    cfg = _weather_config(config)
    rng = as_rng(random_state)
    batch = fine.shape[:-2]
    lead = _broadcast("lead", np.mean(cfg.lead) if lead is None else lead, batch)
    sc = nwp_error_scales(lead, cfg)
    if errors is None:
        errors = rng.standard_normal(batch + (3,))
    errors = real_array("errors", errors, finite=True)
    if errors.shape != batch + (3,):
        raise ValueError(f"errors must have shape {batch + (3,)}, got {errors.shape}")
    if bias is not None:
        bias = _broadcast("bias", bias, batch)
    x = advect(fine, errors[..., :2] * sc["displacement"][..., None])
    s = sc["smoothing"]
    x = (
        np.stack(
            [smooth(xi, float(si)) for xi, si in zip(x.reshape(-1, *x.shape[-2:]), s.reshape(-1))]
        ).reshape(x.shape)
        if s.size
        else x
    )
    c = block_average(x, cfg.factor)
    b = sc["bias"] + sc["bias_spread"] * errors[..., 2] if bias is None else np.broadcast_to(bias, batch)
    c = c + b[..., None, None] + cfg.noise * rng.standard_normal(c.shape)
    return np.clip(c, 0.0, 1.2 + cfg.enhancement)


def _broadcast(name: str, value, shape: tuple) -> np.ndarray:
    """A finite scalar or array broadcast to ``shape`` (one value per field)."""
    arr = real_array(name, value, finite=True)
    try:
        return np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name} must be a scalar or one value per field {shape}, got shape {arr.shape}"
        ) from None


# ---------------------------------------------------------------- solar geometry


def solar_zenith_cos(lat, lon, day_of_year, hour_utc) -> np.ndarray:
    """cos(solar zenith angle) from declination, equation of time and hour angle (Cooper/Spencer).

    cos z = sin φ sin δ + cos φ cos δ cos ω, with δ = 23.45° sin(2π(284 + d)/365) and ω = 15°(t_solar - 12).
    """
    lat = real_array("lat", lat, finite=True)  # a NaN angle would give a NaN, then 0 W/m², silently
    if np.any(np.abs(lat) > 90):
        raise ValueError(f"lat must be in [-90, 90], got {lat}")
    lon = real_array("lon", lon, finite=True)
    if np.any(np.abs(lon) > 180):
        raise ValueError(f"lon must be in [-180, 180], got {lon}")
    d = real_array("day_of_year", day_of_year, finite=True)
    if np.any(d < 1) or np.any(d > 366):
        raise ValueError(f"day_of_year must be in [1, 366], got {day_of_year}")
    hour = real_array("hour_utc", hour_utc, finite=True)
    try:
        np.broadcast_shapes(lat.shape, lon.shape, d.shape, hour.shape)
    except ValueError:
        raise ValueError(
            f"lat, lon, day_of_year and hour_utc must broadcast together, got shapes {lat.shape}, "
            f"{lon.shape}, {d.shape} and {hour.shape}"
        ) from None
    decl = np.deg2rad(23.45) * np.sin(2 * np.pi * (284 + d) / 365)
    b = 2 * np.pi * (d - 81) / 364
    eot_min = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)
    solar_time = hour + lon / 15.0 + eot_min / 60.0
    omega = np.deg2rad(15.0 * (solar_time - 12.0))
    phi = np.deg2rad(lat)
    return np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(omega)


def clear_sky_ghi(lat, lon, day_of_year, hour_utc) -> np.ndarray:
    """Haurwitz clear-sky global horizontal irradiance in W/m²: 1098 cos z · exp(-0.057 / cos z)."""
    mu = solar_zenith_cos(lat, lon, day_of_year, hour_utc)  # checks every argument (finite, in range)
    out = np.zeros(np.shape(mu))
    up = mu > 1e-3
    out[up] = 1098.0 * mu[up] * np.exp(-0.057 / mu[up])
    return out if out.ndim else float(out)


# ---------------------------------------------------------------- generators


@dataclass
class WeatherPairs:
    """(coarse, fine) clear-sky-index pairs, shapes (n, size/factor, size/factor) and (n, size, size),
    with each case's cloud fraction, regime index (into REGIMES) and forecast lead time in hours."""

    coarse: np.ndarray
    fine: np.ndarray
    cloud_fraction: np.ndarray
    config: WeatherConfig = field(default_factory=WeatherConfig)
    regime: np.ndarray | None = None
    lead: np.ndarray | None = None
    previous: np.ndarray | None = None  # the truth one hour earlier (n, H, W): make_sequence_pairs
    wind: np.ndarray | None = None  # the wind (dy, dx) in pixels per hour that moved it (n, 2)

    def __post_init__(self):
        # checked, not converted: the arrays stay as given (float32 from the generators)
        shape = array_shape("fine", self.fine, finite=True)
        if len(shape) != 3:
            raise ValueError(f"fine must be (n, H, W), got shape {shape}")
        n = shape[0]
        _same_length("coarse", array_shape("coarse", self.coarse, finite=True), n, ndim=3)
        _same_length(
            "cloud_fraction", array_shape("cloud_fraction", self.cloud_fraction), n, ndim=1
        )  # NaN: unknown
        check_instance("config", self.config, WeatherConfig)
        if self.regime is not None:
            _same_length(
                "regime", check_array("regime", self.regime, integer=True, min_size=0).shape, n, ndim=1
            )
        if self.lead is not None:
            _same_length("lead", array_shape("lead", self.lead, finite=True), n, ndim=1)
        if self.previous is not None and array_shape("previous", self.previous, finite=True) != shape:
            raise ValueError(f"previous must have fine's shape {shape}, got {np.shape(self.previous)}")
        if (self.previous is None) != (self.wind is None):
            raise ValueError("previous and wind must be given together")
        if self.wind is not None and array_shape("wind", self.wind, finite=True) != (n, 2):
            raise ValueError(f"wind must be (dy, dx) per case, shape ({n}, 2), got {np.shape(self.wind)}")

    def __len__(self) -> int:
        return len(self.fine)


def _same_length(name: str, shape: tuple, n: int, *, ndim: int) -> None:
    if len(shape) != ndim or shape[0] != n:
        raise ValueError(
            f"{name} must have {ndim} dimension(s) and one entry per case ({n}), got shape {shape}"
        )


def _config(config: WeatherConfig | None, overrides: dict) -> WeatherConfig:
    cfg = _weather_config(config)
    if overrides:
        unknown = set(overrides) - set(WeatherConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown WeatherConfig field(s): {sorted(unknown)}")
        cfg = WeatherConfig(**{**cfg.to_dict(), **overrides})
    return cfg


def _draw_regimes(n: int, cfg: WeatherConfig, rng) -> tuple[np.ndarray, np.ndarray]:
    """Regime index and cloud fraction of n cases."""
    regime = rng.choice(3, size=n, p=np.asarray(cfg.regime_probs))
    ranges = np.array([_CLEAR_CF, cfg.cloud_fraction, _OVERCAST_CF])[regime]
    return regime, rng.uniform(ranges[:, 0], ranges[:, 1])


def _draw_leads(n: int, cfg: WeatherConfig, rng) -> np.ndarray:
    """Lead times of n cases: integer hours ~ U{config.lead} (its lower end if no integer lies in it)."""
    lo, hi = cfg.lead
    if np.floor(hi) >= np.ceil(lo):
        return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, size=n).astype(float)
    return np.full(n, lo)


def make_weather_pairs(
    n: int = 1000, *, config: WeatherConfig | None = None, random_state=None, **overrides
) -> WeatherPairs:
    """Seeded (coarse NWP, fine truth) pairs of the clear-sky index, default 8×8 → 32×32, each with
    its regime and its lead time (integer hours ~ U{config.lead}).

    Keyword overrides are WeatherConfig fields, e.g. make_weather_pairs(500, bias=0.0, random_state=1).
    """
    n = check_int("n", n, low=1, high=10**7)
    cfg = _config(config, overrides)
    rng = as_rng(random_state)
    g = gaussian_random_field(n, cfg.size, slope=cfg.slope, random_state=rng)
    regime, cf = _draw_regimes(n, cfg, rng)
    fine = clear_sky_index(g, cf, kc_min=cfg.kc_min, softness=cfg.softness, enhancement=cfg.enhancement)
    lead = _draw_leads(n, cfg, rng)
    coarse = coarse_nwp(fine, cfg, lead=lead, random_state=rng)
    return WeatherPairs(coarse.astype(np.float32), fine.astype(np.float32), cf, cfg, regime, lead)


def _next_hour(g: np.ndarray, shift, a: float, cfg: WeatherConfig, rng) -> np.ndarray:
    """Cloud fields (..., H, W) carried `shift` pixels by the wind and mixed with fresh ones,
    a · advect(g, shift) + √(1 - a²) · ξ, ξ new unit GRFs (drawn only when a < 1): a unit GRF stays one."""
    moved = advect(g, shift)
    if a >= 1.0:
        return moved
    n = int(np.prod(g.shape[:-2]))
    fresh = gaussian_random_field(n, cfg.size, slope=cfg.slope, random_state=rng).reshape(g.shape)
    return a * moved + np.sqrt(1 - a * a) * fresh


def make_sequence_pairs(
    n: int = 1000,
    *,
    config: WeatherConfig | None = None,
    random_state=None,
    wind_max: float = 2.0,
    evolution: float = 0.15,
) -> WeatherPairs:
    """make_weather_pairs with the truth one hour earlier: training pairs for autoregressive scenarios.

    As in make_weather_sequence, the hour-t cloud field is the hour-(t-1) field advected by a wind
    drawn uniformly from the disc |w| <= wind_max pixels per hour and mixed with a fresh field,
    g_t = a · advect(g_{t-1}, w) + √(1 - a²) · ξ with a = 1 - evolution, so g_t is again a unit GRF
    and the pairs have make_weather_pairs' distribution. `previous` holds kc at t - 1 (same regime
    and cloud fraction) and `wind` the w that moved it; the NWP is the hour-t forecast at a lead
    ~ U{config.lead}.
    """
    n = check_int("n", n, low=1, high=10**7)
    cfg = _weather_config(config)
    rng = as_rng(random_state)
    wind_max = check_float("wind_max", wind_max, low=0.0, high=float(cfg.size))
    a = 1.0 - check_float("evolution", evolution, low=0.0, high=1.0)
    g0 = gaussian_random_field(n, cfg.size, slope=cfg.slope, random_state=rng)
    angle, radius = rng.uniform(0, 2 * np.pi, n), wind_max * np.sqrt(rng.uniform(0, 1, n))
    wind = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=-1)
    g1 = _next_hour(g0, wind, a, cfg, rng)
    regime, cf = _draw_regimes(n, cfg, rng)
    kc = [
        clear_sky_index(g, cf, kc_min=cfg.kc_min, softness=cfg.softness, enhancement=cfg.enhancement)
        for g in (g0, g1)
    ]
    lead = _draw_leads(n, cfg, rng)
    coarse = coarse_nwp(kc[1], cfg, lead=lead, random_state=rng)
    f32 = [x.astype(np.float32) for x in (coarse, kc[1], kc[0])]
    return WeatherPairs(f32[0], f32[1], cf, cfg, regime, lead, previous=f32[2], wind=wind)


@dataclass
class WeatherSequence:
    """Hourly fields at a site: kc (T, H, W), coarse (T, h, w), clear-sky GHI (T,), GHI (T, H, W),
    and each hour's forecast lead time (T,) in hours."""

    hours: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    ghi_clear: np.ndarray
    config: WeatherConfig
    lead: np.ndarray | None = None
    wind: np.ndarray | None = None

    def __post_init__(self):
        hours = array_shape("hours", self.hours, finite=True)
        if len(hours) != 1 or hours[0] == 0:
            raise ValueError(f"hours must be a non-empty 1-D array of hours, got shape {hours}")
        t = hours[0]
        _same_length("fine", array_shape("fine", self.fine, finite=True), t, ndim=3)
        _same_length("coarse", array_shape("coarse", self.coarse, finite=True), t, ndim=3)
        _same_length("ghi_clear", array_shape("ghi_clear", self.ghi_clear, finite=True), t, ndim=1)
        check_instance("config", self.config, WeatherConfig)
        if self.lead is not None:
            _same_length("lead", array_shape("lead", self.lead, finite=True), t, ndim=1)
        if self.wind is not None and array_shape("wind", self.wind, finite=True) != (2,):
            raise ValueError(f"wind must be (dy, dx), got shape {np.shape(self.wind)}")

    @property
    def ghi(self) -> np.ndarray:
        return self.fine * self.ghi_clear[:, None, None]


def _ar1(n: int, dt: np.ndarray, phi: float, rng, dim: int) -> np.ndarray:
    """Standardised AR(1) series x_t = φ^Δt x_{t-1} + √(1 - φ^(2Δt)) ξ_t (unit variance), shape (n, dim)."""
    x = np.empty((n, dim))
    x[0] = rng.standard_normal(dim)
    for t in range(1, n):
        a = phi ** dt[t - 1]
        x[t] = a * x[t - 1] + np.sqrt(max(1 - a * a, 0.0)) * rng.standard_normal(dim)
    return x


def make_weather_sequence(
    hours=range(24),
    *,
    lat: float = 48.0,
    lon: float = 11.0,
    day_of_year: int = 172,
    cloud_fraction: float = 0.5,
    wind=(0.0, 1.5),
    evolution: float = 0.15,
    lead_start: float = 1.0,
    config: WeatherConfig | None = None,
    random_state=None,
) -> WeatherSequence:
    """A day of weather: one cloud field advected by `wind` (pixels per hour, (dy, dx)) that slowly
    evolves (AR(1) mixing with fresh fields at rate `evolution`), a coarse NWP issued before the first
    hour (lead = lead_start + hours - hours[0]) whose errors grow with lead and are AR(1) in time
    (config.error_memory), and clear-sky GHI from solar geometry."""
    cfg = _weather_config(config)
    rng = as_rng(random_state)
    hours = real_array("hours", list(hours) if isinstance(hours, Iterator) else hours)
    if (
        hours.ndim != 1
        or len(hours) == 0
        or not np.all(np.isfinite(hours))
        or np.any(hours < 0)
        or np.any(hours > 24)
    ):
        raise ValueError(f"hours must be a non-empty sequence of finite hours in [0, 24], got {hours}")
    if np.any(np.diff(hours) < 0):
        raise ValueError(f"hours must be non-decreasing, got {hours}")
    check_float("lat", lat, low=-90, high=90)
    check_float("lon", lon, low=-180, high=180)
    check_int("day_of_year", day_of_year, low=1, high=366)
    check_float("cloud_fraction", cloud_fraction, low=0.0, high=1.0)
    evolution = check_float("evolution", evolution, low=0.0, high=1.0)
    lead_start = check_float("lead_start", lead_start, low=0.0, high=216.0)
    wind = np.asarray(wind, dtype=float)
    if wind.shape != (2,) or not np.all(np.isfinite(wind)):
        raise ValueError(f"wind must be finite (dy, dx) in pixels per hour, got {wind}")
    g = gaussian_random_field(1, cfg.size, slope=cfg.slope, random_state=rng)[0]
    fields = []
    prev_h = hours[0]
    for h in hours:
        dt = h - prev_h
        g = _next_hour(g, wind * dt, (1 - evolution) ** dt, cfg, rng)
        fields.append(g)
        prev_h = h
    g_all = np.stack(fields)
    fine = clear_sky_index(
        g_all, cloud_fraction, kc_min=cfg.kc_min, softness=cfg.softness, enhancement=cfg.enhancement
    )
    lead = lead_start + hours - hours[0]
    errors = _ar1(len(hours), np.diff(hours), cfg.error_memory, rng, 3)
    coarse = coarse_nwp(fine, cfg, lead=lead, random_state=rng, errors=errors)
    ghi_clear = np.asarray(clear_sky_ghi(lat, lon, day_of_year, hours), dtype=float)
    return WeatherSequence(
        hours, fine.astype(np.float32), coarse.astype(np.float32), ghi_clear, cfg, lead, wind
    )
