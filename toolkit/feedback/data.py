"""Offline data for the learning-channel experiments.

* ``load_digits_split`` — scikit-learn's bundled 8×8 digits (1797 images, no download).
* ``make_mnist1d`` — a procedural 1-D "digits" task in the spirit of MNIST-1D (Greydanus 2020):
  ten hand-drawn 1-D templates, randomly stretched, scaled, sheared, shifted and noised. A linear
  model or a random-feature model does poorly, so depth, f′ and the feedback rule matter.
* ``read_idx`` / ``load_mnist`` — a strict reader for the IDX files of MNIST / Fashion-MNIST the
  user supplies (raw or ``.gz``): magic number, dimensions and payload size are all checked.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..validation import (
    as_rng,
    check_array,
    check_bool,
    check_choice,
    check_float,
    check_instance,
    check_int,
    check_tensor,
)

__all__ = [
    "Split",
    "load_digits_split",
    "make_mnist1d",
    "read_idx",
    "load_idx_pair",
    "load_mnist",
    "load_dataset",
    "IDXError",
    "DATASETS",
    "MAX_IDX_BYTES",
]

DATASETS = ("digits", "mnist1d", "mnist")


@dataclass
class Split:
    """A train/test split as float32 inputs and int64 class labels (torch tensors)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str = ""

    def __post_init__(self) -> None:
        self.x_train = check_tensor("x_train", self.x_train, ndim=2)
        self.x_test = check_tensor("x_test", self.x_test, ndim=2)
        self.y_train = check_labels("y_train", self.y_train, len(self.x_train))
        self.y_test = check_labels("y_test", self.y_test, len(self.x_test))
        if self.x_test.shape[1] != self.x_train.shape[1]:
            raise ValueError(
                f"x_test must have as many features as x_train ({self.x_train.shape[1]}), "
                f"got {self.x_test.shape[1]}"
            )
        check_instance("name", self.name, str)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def check_labels(name: str, y, n: int) -> torch.Tensor:
    """``y`` as an int64 tensor of ``n`` non-negative class indices (a tensor of an integer dtype or an
    array of integers; float and bool labels are refused)."""
    if isinstance(y, torch.Tensor):
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    else:
        if isinstance(y, np.ndarray) and y.dtype == bool:
            raise TypeError(f"{name} must hold integer class indices, got dtype bool")
        y = torch.as_tensor(check_array(name, y, ndim=1, integer=True, min_size=0))
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must have shape ({n},) to match its inputs, got {tuple(y.shape)}")
    if n and int(y.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0, got {int(y.min())}")
    return y if y.dtype == torch.int64 else y.long()


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator, name: str) -> Split:
    # stratified: the same fraction of every class goes to the test set
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    t = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt)  # noqa: E731
    return Split(
        t(x[~test], torch.float32),
        t(y[~test], torch.int64),
        t(x[test], torch.float32),
        t(y[test], torch.int64),
        name,
    )


def load_digits_split(
    *, test_fraction: float = 0.3, random_state: int | np.random.Generator | None = 0
) -> Split:
    """scikit-learn's 8×8 digits scaled to [0, 1], split stratified (1797 images, 64 pixels)."""
    from sklearn.datasets import load_digits

    test_fraction = check_float("test_fraction", test_fraction, low=0.05, high=0.95)
    data = load_digits()
    return _split(data.data / 16.0, data.target, test_fraction, as_rng(random_state), "digits")


# Ten 12-point templates drawn by hand: each is a distinct 1-D "stroke" profile.
_TEMPLATES = (
    np.array(
        [
            [0, 3, 6, 7, 6, 3, 0, -3, -6, -7, -6, -3],  # 0: one full wave
            [0, 0, 0, 8, 8, 8, 0, 0, 0, 0, 0, 0],  # 1: a plateau
            [5, 6, 4, 0, -4, -2, 2, 5, 6, 6, 6, 6],  # 2: dip then high
            [5, 0, 5, 0, 5, 0, 5, 0, 2, 2, 2, 2],  # 3: fast oscillation
            [0, -3, -6, -6, 0, 6, 6, 6, 6, 0, 0, 0],  # 4: down then step up
            [6, 6, 6, 3, 0, -3, -6, -6, -6, 0, 3, 6],  # 5: slow descent and return
            [-6, -4, -2, 0, 2, 4, 6, 4, 2, 0, -2, -4],  # 6: triangle
            [8, 8, 6, 4, 2, 0, -2, -4, -6, -8, -8, -8],  # 7: ramp down
            [0, 5, 0, -5, 0, 5, 0, -5, 0, 5, 0, -5],  # 8: regular zigzag
            [-5, -5, 5, 5, -5, -5, 5, 5, 0, 0, 0, 0],  # 9: square wave then flat
        ],
        dtype=float,
    )
    / 8.0
)


def make_mnist1d(
    n_samples: int = 4000,
    *,
    length: int = 40,
    noise: float = 0.25,
    shift: bool = True,
    test_fraction: float = 0.2,
    random_state: int | np.random.Generator | None = 0,
) -> Split:
    """A procedural 1-D ten-class task (MNIST-1D-like): template → stretch → scale → shear →
    random circular shift → white + correlated noise, sampled at ``length`` points.

    The random shift makes the classes non-linearly separable (a linear read-out of random
    features is weak); ``noise`` sets the white-noise standard deviation.
    """
    n_samples = check_int("n_samples", n_samples, low=20, high=1_000_000)
    length = check_int("length", length, low=16, high=1000)
    noise = check_float("noise", noise, low=0.0, high=5.0)
    shift = check_bool("shift", shift)
    test_fraction = check_float("test_fraction", test_fraction, low=0.05, high=0.95)
    rng = as_rng(random_state)
    y = np.arange(n_samples) % 10
    rng.shuffle(y)
    grid = np.linspace(0, 1, length)
    x = np.empty((n_samples, length))
    base = np.linspace(0, 1, _TEMPLATES.shape[1])
    for k in range(n_samples):
        stretch = rng.uniform(0.6, 0.9)  # the pattern occupies 60–90 % of the window
        t = np.interp(grid / stretch, base, _TEMPLATES[y[k]], right=0.0)
        t = t * rng.uniform(0.7, 1.3) + rng.uniform(-0.5, 0.5) * (grid - 0.5)  # scale + shear
        if shift:
            t = np.roll(t, rng.integers(0, length))
        smooth = np.convolve(rng.normal(0, 1, length + 8), np.ones(9) / 3.0, mode="valid")
        x[k] = t + noise * rng.normal(0, 1, length) + 0.5 * noise * smooth
    return _split(x.astype(np.float32), y, test_fraction, rng, "mnist1d")


# -- IDX ------------------------------------------------------------------------------------------
class IDXError(ValueError):
    """An IDX file is missing, truncated, or not an IDX file."""


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_IDX_BYTES = 512 * 2**20  # 512 MiB of payload: MNIST's largest file is 47 MB


def _idx_header(head: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse magic number and dimensions; return (dtype, dims, header length)."""
    if len(head) < 4:
        raise IDXError(f"{path} is too short to be an IDX file ({len(head)} bytes)")
    if head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES or head[3] == 0:
        raise IDXError(
            f"{path} is not an IDX file: magic number {head[:4].hex()} (expected 0000 + type code "
            f"08/09/0b/0c/0d/0e + number of dimensions ≥ 1)"
        )
    ndim = head[3]
    header = 4 + 4 * ndim
    if len(head) < header:
        raise IDXError(f"{path} is truncated inside its header ({len(head)} < {header} bytes)")
    dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.dtype(_IDX_TYPES[head[2]]), dims, header


def read_idx(path: str | os.PathLike, *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed, detected from its first bytes) into an array.

    Format: two zero bytes, a type code (0x08 ubyte … 0x0E float64), the number of dimensions,
    then one big-endian int32 per dimension, then exactly prod(dims) items. The header is read
    first and the size it announces is checked against ``max_bytes`` *before* the payload is
    read or decompressed (a small gzip bomb never inflates), and the payload is read with a bound.
    """
    path = Path(check_instance("path", path, (str, os.PathLike), "a file path (str or os.PathLike)"))
    max_bytes = check_int("max_bytes", max_bytes, low=1)
    if not path.is_file():
        raise IDXError(f"path must name an existing IDX file, got {str(path)!r} (not found)")
    with open(path, "rb") as raw_fh:
        compressed = raw_fh.read(2) == b"\x1f\x8b"
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            head = fh.read(4)
            if len(head) == 4 and head[3] > 0:
                head += fh.read(4 * head[3])
            dtype, dims, header = _idx_header(head, path)
            expected = int(np.prod(dims, dtype=object)) * dtype.itemsize  # object: no int64 overflow
            if expected > max_bytes:
                raise IDXError(
                    f"{path}: header says dims {dims} of {dtype.name} = {expected:,} bytes, more "
                    f"than max_bytes = {max_bytes:,}; refusing to read (damaged or not an IDX file?)"
                )
            payload = fh.read(expected + 1)  # one byte more tells a too-long file apart
    except (OSError, EOFError) as exc:
        raise IDXError(f"{path} is a damaged gzip file: {exc}") from exc
    if len(payload) != expected:
        raise IDXError(
            f"{path}: header says dims {dims} of {dtype.name} ({expected} bytes of data) "
            f"but the file holds {len(payload) if len(payload) <= expected else f'more than {expected}'} "
            f"bytes — truncated or not matching its header"
        )
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def load_idx_pair(images: str | os.PathLike, labels: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) as float32 in [0, 1] flattened to (N, H·W), labels (N,) as int64."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3:
        raise IDXError(f"{images}: image files must have 3 dimensions (N, H, W), got {x.shape}")
    if y.ndim != 1:
        raise IDXError(f"{labels}: label files must have 1 dimension (N,), got {y.shape}")
    if len(x) != len(y):
        raise IDXError(f"{images} holds {len(x)} images but {labels} holds {len(y)} labels")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    return (x.reshape(len(x), -1) / scale).astype(np.float32), y.astype(np.int64)


def _find(directory: Path, prefix: str, kind: str) -> Path:
    for name in (
        f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte",
        f"{prefix}-{kind}.idx{3 if kind == 'images' else 1}-ubyte",
    ):
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    raise IDXError(
        f"no {prefix} {kind} file in {directory}: expected {prefix}-{kind}-idx"
        f"{3 if kind == 'images' else 1}-ubyte (optionally .gz), as distributed for MNIST / Fashion-MNIST"
    )


def load_mnist(directory: str | os.PathLike, *, limit: int | None = None) -> Split:
    """MNIST or Fashion-MNIST from the four standard IDX files in ``directory`` (raw or .gz).

    ``limit`` keeps the first ``limit`` training and test images (quick experiments).
    """
    directory = Path(
        check_instance("directory", directory, (str, os.PathLike), "a folder path (str or os.PathLike)")
    )
    if limit is not None:
        limit = check_int("limit", limit, low=1)
    if not directory.is_dir():
        raise IDXError(
            f"directory must be an existing folder with the MNIST IDX files, got {str(directory)!r} "
            f"(not found)"
        )
    xtr, ytr = load_idx_pair(_find(directory, "train", "images"), _find(directory, "train", "labels"))
    xte, yte = load_idx_pair(_find(directory, "t10k", "images"), _find(directory, "t10k", "labels"))
    if xtr.shape[1] != xte.shape[1]:
        raise IDXError(f"train images have {xtr.shape[1]} pixels but test images {xte.shape[1]}")
    s = slice(None, limit)
    t = torch.as_tensor
    return Split(t(xtr[s]), t(ytr[s]), t(xte[s]), t(yte[s]), "mnist")


def load_dataset(
    name: str = "digits",
    *,
    path: str | os.PathLike | None = None,
    random_state: int | None = 0,
    limit: int | None = None,
) -> Split:
    """``digits`` (bundled), ``mnist1d`` (procedural) or ``mnist`` (IDX files in ``path``)."""
    check_choice("name", name, DATASETS)
    if path is not None:
        check_instance("path", path, (str, os.PathLike), "None or a folder path (str or os.PathLike)")
    if limit is not None:
        limit = check_int("limit", limit, low=1)
    if random_state is not None:
        random_state = check_int("random_state", random_state, low=0)
    if name == "digits":
        return load_digits_split(random_state=random_state)
    if name == "mnist1d":
        return make_mnist1d(random_state=random_state)
    if path is None:
        raise ValueError("path must name the folder with the MNIST IDX files when name='mnist'")
    return load_mnist(path, limit=limit)
