"""Atomic file output and checkpoints that never leave a half-written file behind.

Every write goes to a temporary file in the destination folder, is flushed and fsync'ed, renamed
over the target with ``os.replace`` (atomic on POSIX and Windows), and the folder is fsync'ed so the
rename itself survives a power cut. A crash or an exception mid-write leaves the previous file
untouched; a temporary left behind by a *killed* process (its name carries the writer's pid) is
removed by the next write to the same target.

Folders (Zarr stores) are built beside the target and swapped in by :func:`atomic_directory`: an
atomic exchange where the OS has one (Linux ``renameat2(RENAME_EXCHANGE)``), else rename the old
store aside, rename the new one in, then delete the old one. A kill at any point leaves the old or
the new store; if it lands between the two renames, the next write (or :func:`recover_directory`,
called before loading) puts the old store back.

Checkpoints carry the sha256 of their tensors (names, dtypes, shapes and bytes), verified on load:
a flipped bit is a :class:`CheckpointError`, not silently different weights. Files written before
digests existed (no ``sha256`` entry) still load: the digest guards against damage, not against an
author (who could recompute it); ``weights_only=True`` is what keeps code out of a checkpoint.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import hashlib
import io
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import torch

__all__ = [
    "atomic_write",
    "atomic_directory",
    "recover_directory",
    "clean_stale_temporaries",
    "save_checkpoint",
    "load_checkpoint",
    "tensor_digest",
    "CheckpointError",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 1
LEGACY_TEMP_AGE_S = 600  # temporaries named without a pid (older toolkit versions): stale after 10 min


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or was made for another model."""


def _as_path(name: str, path: Any) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    if not path.name:
        raise ValueError(f"{name} must name a file, got {str(path)!r}")
    return path


# -- temporaries: named .<target>.<pid>.<random>.tmp|.old beside the target ----------------------------------
def _temp_path(path: Path, suffix: str) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


def _writer_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _is_stale(entry: Path, target: Path) -> bool:
    """A temporary of ``target`` whose writer is gone (dead pid, or an old pid-less legacy name)."""
    rest = entry.name[len(target.name) + 2 :]  # after ".<target>."
    ours = re.fullmatch(r"(\d+)\.[0-9a-f]{8}\.(tmp|old)", rest)
    if ours:
        pid = int(ours.group(1))
        return pid != os.getpid() and not _writer_alive(pid)
    if not re.fullmatch(
        r"[a-z0-9_]{8}\.tmp", rest
    ):  # mkstemp's names (toolkit <= 0.1); anything else is not ours
        return False
    try:
        return time.time() - entry.lstat().st_mtime > LEGACY_TEMP_AGE_S
    except FileNotFoundError:
        return False


def _fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; Windows has no directory handles for this)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def recover_directory(path: str | os.PathLike) -> bool:
    """If ``path`` is missing because a swap was killed midway, move the old copy back; True if it did."""
    path = _as_path("path", path)
    if path.exists() or not path.parent.is_dir():
        return False
    asides = [e for e in path.parent.glob(f".{glob.escape(path.name)}.*.old") if _is_stale(e, path)]
    if not asides:
        return False
    os.replace(max(asides, key=lambda e: e.lstat().st_mtime), path)
    _fsync_dir(path.parent)
    return True


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by killed writers (after restoring a store lost mid-swap)."""
    path = _as_path("path", path)
    if not path.parent.is_dir():
        return []
    recover_directory(path)
    removed = []
    for entry in path.parent.glob(f".{glob.escape(path.name)}.*"):
        if entry.name.endswith((".tmp", ".old")) and _is_stale(entry, path):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(entry)
    return removed


# -- atomic files and folders --------------------------------------------------------------------------------
def atomic_write(
    path: str | os.PathLike, mode: str = "w", **open_kwargs: Any
) -> contextlib.AbstractContextManager[IO]:
    """Open a temporary file beside ``path``; it replaces ``path`` only if the block succeeds.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary). Parent folders are created.
    """
    path = _as_path("path", path)
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be one of 'w', 'wb'; got {mode!r}")
    return _atomic_write(path, mode, open_kwargs)


@contextlib.contextmanager
def _atomic_write(path: Path, mode: str, open_kwargs: dict) -> Iterator[IO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    tmp = _temp_path(path, ".tmp")
    # O_EXCL: never follow a planted link; 0o666 minus the umask: what open(path, "w") would give
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL / ENOSYS / EOPNOTSUPP: file system or kernel without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def atomic_directory(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Yield an empty folder beside ``path`` to build a store in; it replaces ``path`` if the block succeeds.

    The swap is kill-safe (see the module docstring); the old store is deleted afterwards.
    """
    return _atomic_directory(_as_path("path", path))


@contextlib.contextmanager
def _atomic_directory(path: Path) -> Iterator[Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    new = _temp_path(path, ".tmp")
    new.mkdir()
    try:
        yield new
        if not path.exists() and not path.is_symlink():
            os.replace(new, path)
            _fsync_dir(path.parent)
            return
        if _exchange(new, path):  # `new` now holds the old store, under a temporary name
            _fsync_dir(path.parent)
            shutil.rmtree(new, ignore_errors=True)
            return
        old = _temp_path(path, ".old")
        os.replace(path, old)  # a kill here: recover_directory() moves `old` back
        os.replace(new, path)
        _fsync_dir(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)


# -- checkpoints ---------------------------------------------------------------------------------------------
def tensor_digest(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names, dtypes, shapes and bytes (in key order), as hex."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    digest = hashlib.sha256()
    for key in sorted(state_dict, key=str):
        value = state_dict[key]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] must be a tensor, got {type(value).__name__}")
        value = value.detach().cpu()
        if value.layout != torch.strided:
            value = value.to_dense()
        digest.update(f"{key}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(value.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    *,
    kind: str,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save weights plus the config that rebuilds the model, atomically, with the tensors' sha256.

    Only tensors and plain Python values are stored so the file loads with
    ``torch.load(weights_only=True)`` (no pickled code runs on load).
    """
    path = _as_path("path", path)
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    for key, value in state_dict.items():
        if not isinstance(key, str):
            raise TypeError(f"state_dict keys must be strings, got {key!r}")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] must be a tensor, got {type(value).__name__}")
    config, extra = _plain(config, "config"), _plain(extra or {}, "extra")
    tensors = {k: v.detach().cpu().clone() for k, v in state_dict.items()}
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": config,
        "extra": extra,
        "state_dict": tensors,
        "sha256": tensor_digest(tensors),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getvalue())
    return path


def _plain(obj: Any, where: str, depth: int = 0) -> Any:
    """numpy scalars -> Python numbers, arrays -> tensors; anything weights_only cannot load -> TypeError."""
    import numpy as np

    if depth > 32:
        raise ValueError(f"{where} is nested more than 32 levels deep; checkpoints store plain configs")
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, dict):
        return {k: _plain(v, f"{where}[{k!r}]", depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj))
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, torch.Tensor)):
        return obj
    raise TypeError(
        f"{where} holds a {type(obj).__name__}; checkpoints store only tensors and plain Python values"
    )


def load_checkpoint(path: str | os.PathLike, *, kind: str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` and check it is of ``kind``.

    Returns ``dict(state_dict=..., config=..., extra=..., kind=...)``. Raises
    :class:`CheckpointError` naming the file for missing, corrupt (sha256 mismatch) or mismatched
    checkpoints. A file without a digest (written before digests existed) is accepted.
    """
    path = _as_path("path", path)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty string, got {kind!r}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: path={str(path)!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many kinds on foreign files (KeyError, IndexError, ...)
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt or truncated file?): {exc}"
        ) from exc
    if not isinstance(payload, dict) or not {"state_dict", "kind", "config"} <= set(payload):
        raise CheckpointError(f"{path} is not a Gradient Lab checkpoint (no 'kind'/'state_dict')")
    if payload["kind"] != kind:
        raise CheckpointError(
            f"{path} holds a {payload['kind']!r} checkpoint, but a {kind!r} checkpoint was expected"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload.get('format_version')!r}; "
            f"this toolkit reads format {FORMAT_VERSION}"
        )
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} has a state_dict that is not a dict of tensors")
    if "sha256" in payload:
        try:
            ok = payload["sha256"] == tensor_digest(state)
        except (TypeError, ValueError, RuntimeError):
            ok = False
        if not ok:
            raise CheckpointError(f"{path} is damaged: its tensors do not match the sha256 stored with them")
    return {
        "state_dict": state,
        "config": payload["config"],
        "extra": payload.get("extra", {}),
        "kind": payload["kind"],
    }
