"""Atomic file output and checkpoints that never leave a half-written file behind.

Every write goes to a temporary file in the destination folder, is flushed and fsync'ed, and then
renamed over the target with ``os.replace`` (atomic on POSIX and Windows). A crash or an exception
mid-write leaves the previous file untouched and no stray temporary file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import torch

__all__ = ["atomic_write", "save_checkpoint", "load_checkpoint", "CheckpointError", "FORMAT_VERSION"]

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or was made for another model."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; it replaces ``path`` only if the block succeeds.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary). Parent folders are created.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be one of 'w', 'wb'; got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give what open(path, "w") would
    try:
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_checkpoint(
    path: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    *,
    kind: str,
    config: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save weights plus the config that rebuilds the model, atomically.

    Only tensors and plain Python values are stored so the file loads with
    ``torch.load(weights_only=True)`` (no pickled code runs on load).
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string, got {kind!r}")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict[{key!r}] must be a tensor, got {type(value).__name__}")
    config, extra = _plain(config, "config"), _plain(extra or {}, "extra")
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": config,
        "extra": extra,
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(path, "wb") as fh:
        fh.write(buffer.getvalue())
    return Path(path)


def _plain(obj: Any, where: str) -> Any:
    """numpy scalars -> Python numbers, arrays -> tensors; anything weights_only cannot load -> TypeError."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, torch.Tensor)):
        return obj
    raise TypeError(f"{where} holds a {type(obj).__name__}; checkpoints store only tensors and plain Python values")


def load_checkpoint(path: str | os.PathLike, *, kind: str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` and check it is of ``kind``.

    Returns ``dict(state_dict=..., config=..., extra=..., kind=...)``. Raises
    :class:`CheckpointError` naming the file for missing, corrupt or mismatched checkpoints.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file not found: {path}")
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
    return {"state_dict": payload["state_dict"], "config": payload["config"], "extra": payload.get("extra", {}),
            "kind": payload["kind"]}
