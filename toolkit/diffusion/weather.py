"""Synthetic solar weather: cloud fields, clear-sky irradiance and a coarse "NWP" forecast.

High-resolution truth (after Hatanaka et al. 2023, who downscale NWP to satellite irradiance):

* a Gaussian random field (GRF) with isotropic power spectrum P(k) ∝ k^-slope,
* thresholded at the (1 - cloud_fraction) quantile, so every case has its own cloud cover,
* clear-sky index kc = 1 - (1 - kc_min) tanh((g - threshold)_+ / softness),
* irradiance GHI = kc × GHI_clear(lat, lon, day, hour) (Haurwitz clear-sky model).

The coarse forecast block-averages the truth after a small displacement and smoothing, then adds
a bias and noise: the typical errors of a numerical weather prediction (NWP).
All fields are periodic, so advection is an exact Fourier phase shift.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from toolkit.validation import as_rng, check_float, check_int

__all__ = [
    "WeatherConfig", "WeatherPairs", "WeatherSequence", "gaussian_random_field", "clear_sky_index",
    "advect", "smooth", "block_average", "coarse_nwp", "solar_zenith_cos", "clear_sky_ghi",
    "make_weather_pairs", "make_weather_sequence",
]


@dataclass
class WeatherConfig:
    """Parameters of the synthetic truth and of the coarse NWP errors (pixels are fine pixels)."""

    size: int = 32                      # fine grid is size × size
    factor: int = 4                     # coarse grid is (size / factor)²
    slope: float = 3.0                  # GRF power spectrum P(k) ∝ k^-slope
    cloud_fraction: tuple[float, float] = (0.1, 0.9)   # per-case cloud cover ~ U(low, high)
    kc_min: float = 0.15                # clear-sky index of thick cloud
    softness: float = 0.6               # GRF units over which a cloud thickens
    bias: float = 0.05                  # NWP additive bias in clear-sky index
    displacement: float = 1.0           # std of the NWP position error (fine pixels)
    smoothing: float = 1.0              # Gaussian smoothing std of the NWP (fine pixels)
    noise: float = 0.03                 # std of white noise on each coarse pixel

    def __post_init__(self):
        check_int("size", self.size, low=4, high=1024)
        check_int("factor", self.factor, low=1, high=self.size)
        if self.size % self.factor:
            raise ValueError(f"size must be a multiple of factor, got size={self.size}, factor={self.factor}")
        check_float("slope", self.slope, low=0.0, high=10.0)
        lo, hi = (check_float("cloud_fraction", float(c), low=0.0, high=1.0) for c in self.cloud_fraction)
        if lo > hi:
            raise ValueError(f"cloud_fraction must be (low, high) with low <= high, got {self.cloud_fraction}")
        self.cloud_fraction = (lo, hi)
        check_float("kc_min", self.kc_min, low=0.0, high=1.0)
        check_float("softness", self.softness, low=0.0, low_open=True, high=100.0)
        check_float("bias", self.bias, low=-1.0, high=1.0)
        check_float("displacement", self.displacement, low=0.0, high=float(self.size))
        check_float("smoothing", self.smoothing, low=0.0, high=float(self.size))
        check_float("noise", self.noise, low=0.0, high=1.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cloud_fraction"] = list(self.cloud_fraction)
        return d


def _wavenumbers(size: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.fft.fftfreq(size) * size          # integer wavenumbers 0, 1, ..., -1
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


def clear_sky_index(g: np.ndarray, cloud_fraction, *, kc_min: float = 0.15, softness: float = 0.6) -> np.ndarray:
    """Cloud cover from a GRF: pixels above the (1 - cloud_fraction) quantile are cloudy.

    kc = 1 - (1 - kc_min) · tanh((g - t)_+ / softness); cloud_fraction is a scalar or one per case.
    """
    g = np.asarray(g, dtype=float)
    if g.ndim < 2:
        raise ValueError(f"g must have at least 2 dimensions (..., H, W), got shape {g.shape}")
    cf = np.asarray(cloud_fraction, dtype=float)
    if np.any(~np.isfinite(cf)) or np.any(cf < 0) or np.any(cf > 1):
        raise ValueError(f"cloud_fraction must be in [0, 1], got {cloud_fraction}")
    check_float("kc_min", kc_min, low=0.0, high=1.0)
    check_float("softness", softness, low=0.0, low_open=True)
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
    return kc


def advect(field: np.ndarray, shift) -> np.ndarray:
    """Move a periodic field by shift = (dy, dx) pixels (sub-pixel allowed) with a Fourier phase shift.

    shift may be (2,) or (..., 2) matching the leading dimensions of field. Integer shifts equal
    np.roll; sub-pixel shifts compose exactly for odd sizes (an even size has a Nyquist mode whose
    half-pixel phase cannot stay real).
    """
    field = np.asarray(field, dtype=float)
    if field.ndim < 2:
        raise ValueError(f"field must have at least 2 dimensions, got shape {field.shape}")
    shift = np.asarray(shift, dtype=float)
    if shift.shape[-1:] != (2,):
        raise ValueError(f"shift must have last dimension 2 (dy, dx), got shape {shift.shape}")
    h, w = field.shape[-2:]
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    dy = shift[..., 0][..., None, None]
    dx = shift[..., 1][..., None, None]
    phase = np.exp(-2j * np.pi * (ky * dy + kx * dx))
    return np.fft.ifft2(np.fft.fft2(field) * phase).real


def smooth(field: np.ndarray, sigma: float) -> np.ndarray:
    """Periodic Gaussian smoothing with std sigma pixels (multiplies the spectrum by exp(-2π²σ²f²))."""
    field = np.asarray(field, dtype=float)
    sigma = check_float("sigma", sigma, low=0.0)
    if sigma == 0:
        return field.copy()
    h, w = field.shape[-2:]
    f2 = np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2
    return np.fft.ifft2(np.fft.fft2(field) * np.exp(-2 * np.pi**2 * sigma**2 * f2)).real


def block_average(field: np.ndarray, factor: int) -> np.ndarray:
    """Mean over non-overlapping factor × factor blocks of the last two dimensions."""
    field = np.asarray(field)
    factor = check_int("factor", factor, low=1)
    h, w = field.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"factor must divide the field size {h}x{w}, got {factor}")
    return field.reshape(*field.shape[:-2], h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def coarse_nwp(fine: np.ndarray, config: WeatherConfig | None = None, *, random_state=None,
               bias: float | None = None) -> np.ndarray:
    """Coarse forecast of a fine clear-sky-index field: displace, smooth, block-average, + bias + noise."""
    cfg = config or WeatherConfig()
    rng = as_rng(random_state)
    fine = np.asarray(fine, dtype=float)
    lead = fine.shape[:-2]
    shift = rng.normal(0.0, cfg.displacement, size=lead + (2,)) if cfg.displacement > 0 else np.zeros(lead + (2,))
    x = advect(fine, shift)
    x = smooth(x, cfg.smoothing)
    c = block_average(x, cfg.factor)
    c = c + (cfg.bias if bias is None else bias) + cfg.noise * rng.standard_normal(c.shape)
    return np.clip(c, 0.0, 1.2)


# ---------------------------------------------------------------- solar geometry

def solar_zenith_cos(lat, lon, day_of_year, hour_utc) -> np.ndarray:
    """cos(solar zenith angle) from declination, equation of time and hour angle (Cooper/Spencer).

    cos z = sin φ sin δ + cos φ cos δ cos ω, with δ = 23.45° sin(2π(284 + d)/365) and ω = 15°(t_solar - 12).
    """
    lat = np.asarray(lat, dtype=float)
    if np.any(np.abs(lat) > 90):
        raise ValueError(f"lat must be in [-90, 90], got {lat}")
    lon = np.asarray(lon, dtype=float)
    if np.any(np.abs(lon) > 180):
        raise ValueError(f"lon must be in [-180, 180], got {lon}")
    d = np.asarray(day_of_year, dtype=float)
    if np.any(d < 1) or np.any(d > 366):
        raise ValueError(f"day_of_year must be in [1, 366], got {day_of_year}")
    hour = np.asarray(hour_utc, dtype=float)
    decl = np.deg2rad(23.45) * np.sin(2 * np.pi * (284 + d) / 365)
    b = 2 * np.pi * (d - 81) / 364
    eot_min = 9.87 * np.sin(2 * b) - 7.53 * np.cos(b) - 1.5 * np.sin(b)
    solar_time = hour + lon / 15.0 + eot_min / 60.0
    omega = np.deg2rad(15.0 * (solar_time - 12.0))
    phi = np.deg2rad(lat)
    return np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(omega)


def clear_sky_ghi(lat, lon, day_of_year, hour_utc) -> np.ndarray:
    """Haurwitz clear-sky global horizontal irradiance in W/m²: 1098 cos z · exp(-0.057 / cos z)."""
    mu = solar_zenith_cos(lat, lon, day_of_year, hour_utc)
    out = np.zeros(np.shape(mu))
    up = mu > 1e-3
    out[up] = 1098.0 * mu[up] * np.exp(-0.057 / mu[up])
    return out if out.ndim else float(out)


# ---------------------------------------------------------------- generators

@dataclass
class WeatherPairs:
    """(coarse, fine) clear-sky-index pairs, shapes (n, size/factor, size/factor) and (n, size, size)."""

    coarse: np.ndarray
    fine: np.ndarray
    cloud_fraction: np.ndarray
    config: WeatherConfig = field(default_factory=WeatherConfig)

    def __len__(self) -> int:
        return len(self.fine)


def make_weather_pairs(n: int = 1000, *, config: WeatherConfig | None = None, random_state=None,
                       **overrides) -> WeatherPairs:
    """Seeded (coarse NWP, fine truth) pairs of the clear-sky index, default 8×8 → 32×32.

    Keyword overrides are WeatherConfig fields, e.g. make_weather_pairs(500, bias=0.0, random_state=1).
    """
    n = check_int("n", n, low=1, high=10**7)
    cfg = config or WeatherConfig()
    if overrides:
        unknown = set(overrides) - set(WeatherConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(f"unknown WeatherConfig field(s): {sorted(unknown)}")
        cfg = WeatherConfig(**{**cfg.to_dict(), **overrides})
    rng = as_rng(random_state)
    g = gaussian_random_field(n, cfg.size, slope=cfg.slope, random_state=rng)
    cf = rng.uniform(*cfg.cloud_fraction, size=n)
    fine = clear_sky_index(g, cf, kc_min=cfg.kc_min, softness=cfg.softness)
    coarse = coarse_nwp(fine, cfg, random_state=rng)
    return WeatherPairs(coarse.astype(np.float32), fine.astype(np.float32), cf, cfg)


@dataclass
class WeatherSequence:
    """Hourly fields at a site: kc (T, H, W), coarse (T, h, w), clear-sky GHI (T,) and GHI (T, H, W)."""

    hours: np.ndarray
    fine: np.ndarray
    coarse: np.ndarray
    ghi_clear: np.ndarray
    config: WeatherConfig

    @property
    def ghi(self) -> np.ndarray:
        return self.fine * self.ghi_clear[:, None, None]


def make_weather_sequence(hours=range(24), *, lat: float = 48.0, lon: float = 11.0, day_of_year: int = 172,
                          cloud_fraction: float = 0.5, wind=(0.0, 1.5), evolution: float = 0.15,
                          config: WeatherConfig | None = None, random_state=None) -> WeatherSequence:
    """A day of weather: one cloud field advected by `wind` (pixels per hour, (dy, dx)) that slowly
    evolves (AR(1) mixing with fresh fields at rate `evolution`), a coarse day-ahead NWP of every
    hour (one bias for the whole day) and clear-sky GHI from solar geometry."""
    cfg = config or WeatherConfig()
    rng = as_rng(random_state)
    hours = np.asarray(list(hours), dtype=float)
    if hours.ndim != 1 or len(hours) == 0 or np.any(hours < 0) or np.any(hours > 24):
        raise ValueError(f"hours must be a non-empty sequence of hours in [0, 24], got {hours}")
    check_float("lat", lat, low=-90, high=90)
    check_float("lon", lon, low=-180, high=180)
    check_int("day_of_year", day_of_year, low=1, high=366)
    check_float("cloud_fraction", cloud_fraction, low=0.0, high=1.0)
    evolution = check_float("evolution", evolution, low=0.0, high=1.0)
    wind = np.asarray(wind, dtype=float)
    if wind.shape != (2,):
        raise ValueError(f"wind must be (dy, dx) in pixels per hour, got {wind}")
    g = gaussian_random_field(1, cfg.size, slope=cfg.slope, random_state=rng)[0]
    fields = []
    prev_h = hours[0]
    for h in hours:
        dt = h - prev_h
        g = advect(g, wind * dt)
        if dt > 0 and evolution > 0:
            a = (1 - evolution) ** dt
            g = a * g + np.sqrt(1 - a * a) * gaussian_random_field(1, cfg.size, slope=cfg.slope, random_state=rng)[0]
        fields.append(g)
        prev_h = h
    g_all = np.stack(fields)
    fine = clear_sky_index(g_all, cloud_fraction, kc_min=cfg.kc_min, softness=cfg.softness)
    day_bias = cfg.bias + 0.5 * cfg.bias * rng.standard_normal()
    coarse = coarse_nwp(fine, cfg, random_state=rng, bias=day_bias)
    ghi_clear = np.asarray(clear_sky_ghi(lat, lon, day_of_year, hours), dtype=float)
    return WeatherSequence(hours, fine.astype(np.float32), coarse.astype(np.float32), ghi_clear, cfg)
