"""toolkit.io: atomic writes never leave half files behind; checkpoints round-trip exactly and
every unreadable file becomes a CheckpointError that names it."""

import os
import stat
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from toolkit.io import FORMAT_VERSION, CheckpointError, atomic_write, load_checkpoint, save_checkpoint

pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore:Detected pickle protocol"),
]


class Boom(Exception):
    pass


class _Evil:
    """Unpickling this runs os.mkdir(path): what a malicious checkpoint could do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


# -- atomic_write ---------------------------------------------------------------------------------
def test_atomic_write_writes_text_and_creates_parent_folders(tmp_path):
    target = tmp_path / "a" / "b" / "c" / "metrics.json"
    with atomic_write(target) as fh:
        fh.write('{"acc": 1}')
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_text() == '{"acc": 1}'
    assert os.listdir(target.parent) == ["metrics.json"]


def test_atomic_write_binary(tmp_path):
    target = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 3
    with atomic_write(str(target), "wb") as fh:
        fh.write(payload)
    assert target.read_bytes() == payload


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(tmp_path, error):
    target = tmp_path / "model.ckpt"
    target.write_text("old content")
    with pytest.raises(error):
        with atomic_write(target) as fh:
            fh.write("new half-written cont")
            raise error()
    assert target.read_text() == "old content"
    assert os.listdir(tmp_path) == ["model.ckpt"]


def test_atomic_write_failure_without_old_file_leaves_nothing(tmp_path):
    with pytest.raises(Boom):
        with atomic_write(tmp_path / "sub" / "new.csv") as fh:
            fh.write("a,b\n")
            raise Boom
    assert os.listdir(tmp_path / "sub") == []


def test_atomic_write_rejects_other_modes(tmp_path):
    for mode in ("a", "r", "w+", "x"):
        with pytest.raises(ValueError, match="mode"):
            with atomic_write(tmp_path / "f", mode):
                pass
    assert os.listdir(tmp_path) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")))
def test_atomic_write_text_round_trip(tmp_path, text):
    target = tmp_path / "t.txt"
    with atomic_write(target, encoding="utf-8") as fh:
        fh.write(text)
    assert target.read_text(encoding="utf-8") == text


def test_atomic_write_file_mode_matches_a_plain_open(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic = tmp_path / "atomic.txt"
    with atomic_write(atomic) as fh:
        fh.write("x")
    assert stat.S_IMODE(atomic.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


# -- checkpoints: round trip --------------------------------------------------------------------------
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int8, torch.bool]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), min_size=1, max_size=4),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_checkpoint_round_trip_is_exact(tmp_path, shapes, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    state = {
        f"layer{i}.weight": (torch.randn(tuple(s), generator=gen) * 50).to(dtype)
        for i, s in enumerate(shapes)
    }
    config = {"hidden": 16, "lr": 0.01, "rule": "rbp", "sizes": (3, 4), "tags": ["a"], "none": None}
    extra = {"epoch": 7, "history": [0.5, 0.25], "nested": {"best": torch.tensor(0.125)}}
    path = save_checkpoint(tmp_path / "ck" / "m.pt", state, kind="feedback.mlp", config=config, extra=extra)
    assert path == tmp_path / "ck" / "m.pt"
    out = load_checkpoint(path, kind="feedback.mlp")
    assert set(out) == {"state_dict", "config", "extra", "kind"}
    assert out["kind"] == "feedback.mlp" and out["config"] == config
    assert out["extra"]["history"] == [0.5, 0.25] and out["extra"]["epoch"] == 7
    assert torch.equal(out["extra"]["nested"]["best"], torch.tensor(0.125))
    assert list(out["state_dict"]) == list(state)
    for name, tensor in state.items():
        got = out["state_dict"][name]
        assert got.dtype == tensor.dtype and got.shape == tensor.shape
        assert torch.equal(got, tensor)


def test_checkpoint_restores_a_module_exactly(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2))
    model(torch.randn(16, 3))  # moves BatchNorm running stats away from their defaults
    model.eval()
    save_checkpoint(tmp_path / "m.pt", model.state_dict(), kind="demo", config={"hidden": 8})
    fresh = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 2)).eval()
    loaded = load_checkpoint(tmp_path / "m.pt", kind="demo")
    fresh.load_state_dict(loaded["state_dict"])  # strict: same keys, same shapes
    x = torch.randn(5, 3)
    assert torch.equal(fresh(x), model(x))


def test_checkpoint_stores_detached_copies(tmp_path):
    weight = nn.Parameter(torch.ones(3))
    save_checkpoint(tmp_path / "m.pt", {"w": weight}, kind="demo", config={})
    with torch.no_grad():
        weight.add_(1.0)  # training goes on after saving
    got = load_checkpoint(tmp_path / "m.pt", kind="demo")["state_dict"]["w"]
    assert torch.equal(got, torch.ones(3)) and not got.requires_grad
    assert load_checkpoint(tmp_path / "m.pt", kind="demo")["extra"] == {}


def test_checkpoint_with_plain_extra_objects_loads_with_weights_only(tmp_path):
    extra = {
        "metrics": {"acc": 0.9, "losses": [1.0, 0.5]},
        "note": "seed 3",
        "flags": (True, False),
        "n": None,
    }
    path = save_checkpoint(
        tmp_path / "m.pt", {"w": torch.arange(4.0)}, kind="demo", config={"a": 1}, extra=extra
    )
    # the trusted oracle: torch's own safe loader accepts the file as it is
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION and raw["extra"] == extra
    assert load_checkpoint(path, kind="demo")["extra"] == extra


def test_saving_over_a_checkpoint_replaces_it(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, {"w": torch.zeros(2)}, kind="demo", config={"v": 1})
    save_checkpoint(path, {"w": torch.ones(2)}, kind="demo", config={"v": 2})
    out = load_checkpoint(path, kind="demo")
    assert out["config"] == {"v": 2} and torch.equal(out["state_dict"]["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["m.pt"]


def test_a_checkpoint_that_saves_also_loads(tmp_path):
    path = tmp_path / "m.pt"
    try:
        save_checkpoint(
            path,
            {"w": torch.zeros(2)},
            kind="demo",
            config={"hidden": np.int64(8)},
            extra={"val_loss": np.float64(0.25)},
        )
    except (TypeError, ValueError) as exc:  # refusing at save time, naming the value, is fine too
        assert "hidden" in str(exc) or "val_loss" in str(exc)
        return
    out = load_checkpoint(path, kind="demo")
    assert out["config"]["hidden"] == 8 and out["extra"]["val_loss"] == 0.25


# -- checkpoints: bad input ------------------------------------------------------------------------------
def test_save_checkpoint_validates_kind_and_config(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        save_checkpoint(tmp_path / "m.pt", {}, kind="", config={})
    with pytest.raises(TypeError, match="config"):
        save_checkpoint(tmp_path / "m.pt", {}, kind="demo", config=[("a", 1)])
    assert os.listdir(tmp_path) == []


def test_save_checkpoint_rejects_non_tensor_weights_clearly(tmp_path):
    with pytest.raises(TypeError, match="w"):
        save_checkpoint(tmp_path / "m.pt", {"w": [1.0, 2.0]}, kind="demo", config={})


def test_load_missing_file_names_it(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(missing, kind="demo")
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ValueError)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path, kind="demo")  # a folder is not a checkpoint file


@pytest.fixture
def good_checkpoint(tmp_path):
    path = tmp_path / "good.pt"
    save_checkpoint(path, {"w": torch.randn(8, 8), "b": torch.randn(8)}, kind="demo", config={"a": 1})
    return path


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.5, 0.9, 0.99])
def test_truncated_checkpoint_is_a_checkpoint_error_naming_the_file(good_checkpoint, fraction):
    raw = good_checkpoint.read_bytes()
    broken = good_checkpoint.with_name("broken.pt")
    broken.write_bytes(raw[: int(len(raw) * fraction)])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(broken, kind="demo")
    assert str(broken) in str(info.value)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00" * 64,
        b"PK\x03\x04garbage",
        bytes(range(256)),
        b"hello world\n",
        b"step,loss\n1,0.5\n",
        b"X",
        b"\x80\x05K",
    ],
    ids=["zeros", "zip-magic", "bytes", "text", "csv", "X", "pickle-stub"],
)
def test_garbage_file_is_a_checkpoint_error(tmp_path, payload):
    """io.py:96 only catches RuntimeError/EOFError/BadZipFile/UnpicklingError/OSError; torch.load on a
    text or CSV file given by mistake raises KeyError/IndexError/struct.error instead."""
    path = tmp_path / "notes.pt"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, kind="demo")
    assert str(path) in str(info.value)


def test_wrong_kind_names_both_kinds_and_the_file(good_checkpoint):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(good_checkpoint, kind="diffusion.unet")
    msg = str(info.value)
    assert "'demo'" in msg and "'diffusion.unet'" in msg and str(good_checkpoint) in msg


@pytest.mark.parametrize(
    "obj",
    [[1, 2, 3], {"weights": torch.ones(2)}, {"kind": "demo"}, torch.ones(3)],
    ids=["list", "no-kind", "no-sd", "tensor"],
)
def test_foreign_torch_files_are_rejected(tmp_path, obj):
    path = tmp_path / "foreign.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="not a Gradient Lab checkpoint"):
        load_checkpoint(path, kind="demo")


def test_other_format_version_is_rejected(tmp_path):
    path = tmp_path / "future.pt"
    torch.save(
        {"format_version": FORMAT_VERSION + 1, "kind": "demo", "state_dict": {}, "config": {}, "extra": {}},
        path,
    )
    with pytest.raises(CheckpointError, match="format"):
        load_checkpoint(path, kind="demo")


def test_checkpoint_missing_config_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"format_version": FORMAT_VERSION, "kind": "demo", "state_dict": {}}, path)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, kind="demo")


def test_pickled_code_is_never_executed(tmp_path):
    """weights_only=True: a file carrying a pickled callable is refused, not run."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save(
        {
            "format_version": FORMAT_VERSION,
            "kind": "demo",
            "state_dict": {},
            "config": {},
            "extra": {"x": _Evil(str(marker))},
        },
        path,
    )
    with pytest.raises(CheckpointError):
        load_checkpoint(path, kind="demo")
    assert not marker.exists()


# -- checkpoint digests ---------------------------------------------------------------------------
def _flip_one_bit_in_tensor_data(path):
    """Flip one bit inside the stored bytes of the tensor (the zip entry data/0), not in metadata."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("/data/0"))
    raw = bytearray(path.read_bytes())
    # local header: 30 bytes + file name + extra field, then the stored (uncompressed) bytes
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    raw[start + 5] ^= 0x10
    path.write_bytes(bytes(raw))


def test_checkpoint_carries_the_sha256_of_its_tensors(tmp_path):
    from toolkit.io import tensor_digest

    state = {"w": torch.arange(12.0).reshape(3, 4), "b": torch.ones(3, dtype=torch.bfloat16)}
    path = save_checkpoint(tmp_path / "m.pt", state, kind="demo", config={})
    payload = torch.load(path, weights_only=True)
    assert payload["sha256"] == tensor_digest(state) and len(payload["sha256"]) == 64
    # the digest sees names, dtypes, shapes and every byte
    assert tensor_digest({"w": state["w"].reshape(4, 3), "b": state["b"]}) != payload["sha256"]
    assert tensor_digest({"v": state["w"], "b": state["b"]}) != payload["sha256"]
    assert tensor_digest({**state, "w": state["w"].double()}) != payload["sha256"]


def test_a_flipped_bit_in_tensor_data_is_a_checkpoint_error(tmp_path):
    state = {"w": torch.arange(64.0)}
    path = save_checkpoint(tmp_path / "m.pt", state, kind="demo", config={})
    _flip_one_bit_in_tensor_data(path)
    assert not torch.equal(
        torch.load(path, weights_only=True)["state_dict"]["w"], state["w"]
    )  # it does load...
    with pytest.raises(CheckpointError, match="sha256") as info:  # ... but we refuse it
        load_checkpoint(path, kind="demo")
    assert str(path) in str(info.value)


def test_a_legacy_checkpoint_without_digest_still_loads(tmp_path):
    path = tmp_path / "old.pt"
    torch.save(
        {
            "format_version": FORMAT_VERSION,
            "kind": "demo",
            "config": {},
            "extra": {},
            "state_dict": {"w": torch.ones(2)},
        },
        path,
    )
    assert torch.equal(load_checkpoint(path, kind="demo")["state_dict"]["w"], torch.ones(2))


def test_a_wrong_digest_is_refused(tmp_path):
    path = tmp_path / "bad.pt"
    torch.save(
        {
            "format_version": FORMAT_VERSION,
            "kind": "demo",
            "config": {},
            "extra": {},
            "state_dict": {"w": torch.ones(2)},
            "sha256": "0" * 64,
        },
        path,
    )
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path, kind="demo")


def test_every_shipped_checkpoint_loads():
    from pathlib import Path

    shipped = sorted((Path(__file__).parents[1] / "datasets").rglob("*.pt"))
    assert shipped
    for path in shipped:
        kind = torch.load(path, map_location="cpu", weights_only=True)["kind"]
        assert load_checkpoint(path, kind=kind)["state_dict"], path


# -- stale temporaries, kill-safe folder swaps ----------------------------------------------------
def _dead_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "metrics.json"
    dead, alive = _dead_pid(), os.getppid()
    stale_file = tmp_path / f".metrics.json.{dead}.abcd0123.tmp"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".metrics.json.{dead}.ef014567.tmp"
    stale_dir.mkdir()
    (stale_dir / "chunk").write_bytes(b"y")
    live = tmp_path / f".metrics.json.{alive}.23456789.tmp"  # another process still writing: keep
    live.write_bytes(b"z")
    other = tmp_path / f".other.json.{dead}.abcd.tmp"  # another target's temporary: not ours to judge
    other.write_bytes(b"w")
    longer = tmp_path / f".metrics.json.bak.{dead}.0123abcd.tmp"  # ... even when its name starts like ours
    longer.write_bytes(b"v")
    legacy_old = tmp_path / ".metrics.json.k3_9xq2a.tmp"  # mkstemp name from an older toolkit, 1 h old
    legacy_old.write_bytes(b"u")
    os.utime(legacy_old, (time.time() - 3600, time.time() - 3600))
    legacy_new = tmp_path / ".metrics.json.p0q1r2s3.tmp"  # ... and one that may still be being written
    legacy_new.write_bytes(b"t")
    with atomic_write(target) as fh:
        fh.write("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["metrics.json", live.name, other.name, longer.name, legacy_new.name]
    )


def test_atomic_write_fsyncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    import toolkit.io as tio

    synced = []
    monkeypatch.setattr(tio, "_fsync_dir", lambda folder: synced.append(folder))
    with atomic_write(tmp_path / "f.txt") as fh:
        fh.write("x")
    assert synced == [tmp_path]


def _store(path, text):
    from toolkit.io import atomic_directory

    with atomic_directory(path) as tmp:
        (tmp / "data.txt").write_text(text)
        (tmp / "sub").mkdir()
        (tmp / "sub" / "chunk").write_text(text * 3)


def _loadable(path):
    from toolkit.io import recover_directory

    recover_directory(path)
    text = (path / "data.txt").read_text()
    assert (path / "sub" / "chunk").read_text() == text * 3  # whole, not a mix of old and new
    return text


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "rename-aside"])
def test_a_kill_at_any_step_of_a_folder_swap_leaves_old_or_new(tmp_path, exchange):
    """Kill (os._exit, no cleanup) a child at every file-system step of the swap, then check the store."""
    import shutil

    import toolkit.io as tio

    seen_steps = set()
    for step in range(12):
        target = tmp_path / f"s{step}" / "store.zarr"
        _store(target, "old")
        pid = os.fork()
        if pid == 0:  # child: die at the step-th rename / delete / fsync
            count = [0]

            def dying(real, count=count, step=step):  # bound now: the child dies within this iteration
                def wrapper(*args, **kwargs):
                    if count[0] == step:
                        os._exit(9)
                    count[0] += 1
                    return real(*args, **kwargs)

                return wrapper

            os.replace = dying(os.replace)
            shutil.rmtree = dying(shutil.rmtree)
            tio._fsync_dir = dying(tio._fsync_dir)
            tio._exchange = dying(tio._exchange if exchange else (lambda a, b: False))
            try:
                _store(target, "new")
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        killed = os.WEXITSTATUS(status) == 9
        seen_steps.add(killed)
        assert _loadable(target) in (("old", "new") if killed else ("new",)), step
        _store(target, "newer")  # the next write succeeds and leaves no temporaries behind
        assert _loadable(target) == "newer"
        assert [p.name for p in target.parent.iterdir()] == ["store.zarr"], step
    assert seen_steps == {True, False}  # some steps killed the swap, and the later ones ran to the end


def test_zarr_store_survives_a_kill_between_the_renames(tmp_path):
    pytest.importorskip("zarr")
    import toolkit.io as tio
    from toolkit.diffusion.userdata import load_paired_data, save_paired_data

    old, new = np.zeros((2, 4, 4), np.float32), np.ones((2, 4, 4), np.float32)
    path = save_paired_data(tmp_path / "pairs.zarr", old, np.zeros((2, 16, 16), np.float32))
    pid = os.fork()
    if pid == 0:
        tio._exchange = lambda a, b: False  # take the rename-aside path, then die between the renames
        real = os.replace

        def replace(src, dst):
            real(src, dst)
            if os.fspath(src) == os.fspath(path):  # the old store was just moved aside
                os._exit(9)

        os.replace = replace
        try:
            save_paired_data(path, new, np.ones((2, 16, 16), np.float32))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert not path.exists()  # the kill landed between the renames ...
    assert np.array_equal(load_paired_data(path).coarse, old)  # ... and the old store comes back on load
