"""Data: the strict IDX reader on tiny files written here, MNIST folders, procedural MNIST-1D, digits."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from toolkit.feedback.data import IDXError, load_digits_split, load_mnist, make_mnist1d, read_idx


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    dtype = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    return header + array.astype(dtype).tobytes()


@pytest.mark.parametrize("code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trip(tmp_path, code, compressed):
    rng = np.random.default_rng(code)
    arr = rng.integers(0, 100, size=(3, 4, 5))
    raw = _idx(arr, code)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    got = read_idx(path)
    assert got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    good = _idx(np.arange(12).reshape(3, 4))
    cases = {
        "magic.idx": b"\x01\x00" + good[2:],
        "type.idx": good[:2] + b"\x07" + good[3:],
        "short.idx": good[:3],
        "header.idx": good[:9],
        "truncated.idx": good[:-1],
        "extra.idx": good + b"\x00",
        "gz.idx": b"\x1f\x8b" + b"garbage",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(IDXError):
            read_idx(tmp_path / name)
    with pytest.raises(IDXError, match="not found"):
        read_idx(tmp_path / "missing.idx")
    with pytest.raises(IDXError, match="holds 11 bytes"):
        read_idx(tmp_path / "truncated.idx")


def _write_mnist(folder, n_train=6, n_test=4, gz=True, labels_train=None):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": _idx(
            labels_train if labels_train is not None else rng.integers(0, 10, n_train)
        ),
        "t10k-images-idx3-ubyte": _idx(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": _idx(rng.integers(0, 10, n_test)),
    }
    for name, content in files.items():
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(content) if gz else content)


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_folder(tmp_path, gz):
    _write_mnist(tmp_path, gz=gz)
    split = load_mnist(tmp_path)
    assert split.x_train.shape == (6, 784) and split.x_test.shape == (4, 784)
    assert (
        split.x_train.dtype == torch.float32
        and 0 <= float(split.x_train.min())
        and float(split.x_train.max()) <= 1
    )
    assert split.y_train.dtype == torch.int64
    assert load_mnist(tmp_path, limit=2).x_train.shape == (2, 784)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(IDXError, match="not found"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(IDXError, match="no train images"):
        load_mnist(tmp_path)
    _write_mnist(tmp_path, labels_train=np.arange(5))
    with pytest.raises(IDXError, match="6 images but .* 5 labels"):
        load_mnist(tmp_path)


def test_mnist1d_is_seeded_balanced_and_shaped():
    a = make_mnist1d(300, length=32, random_state=1)
    b = make_mnist1d(300, length=32, random_state=1)
    c = make_mnist1d(300, length=32, random_state=2)
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    assert a.x_train.shape[1] == 32 and len(a.y_train) + len(a.y_test) == 300
    counts = torch.bincount(torch.cat([a.y_train, a.y_test]), minlength=10)
    assert torch.all(counts == 30)
    with pytest.raises(ValueError, match="n_samples"):
        make_mnist1d(5)
    with pytest.raises(ValueError, match="noise"):
        make_mnist1d(100, noise=-1)


def test_digits_split_is_stratified_and_disjoint():
    s = load_digits_split(test_fraction=0.3, random_state=0)
    assert len(s.y_train) + len(s.y_test) == 1797 and s.n_features == 64 and s.n_classes == 10
    frac = torch.bincount(s.y_test, minlength=10) / torch.bincount(
        torch.cat([s.y_train, s.y_test]), minlength=10
    )
    assert float((frac - 0.3).abs().max()) < 0.01
    rows = {tuple(r.tolist()) for r in s.x_train}
    assert sum(tuple(r.tolist()) in rows for r in s.x_test) < 20  # digits has a few exact duplicates


def test_read_idx_checks_the_announced_size_before_decompressing(tmp_path):
    import gzip as _gzip
    import zlib

    # a gzip bomb: the header announces 1000³ bytes (1 GB) and the stream really inflates to that;
    # written in chunks so the test itself never holds 1 GB
    path = tmp_path / "bomb-idx3-ubyte.gz"
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        fh.write(comp.compress(b"\x00\x00\x08\x03" + (1000).to_bytes(4, "big") * 3))
        zeros = bytes(2**24)
        for _ in range(60):  # 1 GB of zeros compresses to about 1 MB
            fh.write(comp.compress(zeros))
        fh.write(comp.flush())
    assert path.stat().st_size < 1.2e6
    with pytest.raises(IDXError, match="max_bytes"):
        read_idx(path)
    # a small file over a small cap is refused; under it, read
    small = tmp_path / "small.idx.gz"
    small.write_bytes(_gzip.compress(_idx(np.arange(12).reshape(3, 4))))
    with pytest.raises(IDXError, match="max_bytes"):
        read_idx(small, max_bytes=11)
    assert read_idx(small, max_bytes=12).shape == (3, 4)
