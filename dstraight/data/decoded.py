"""Decoded arrays cached as ``.npy`` files, named after and checked against the payload digest.

Decoding the 60,000 Fashion-MNIST training images from their gzip archive takes a while; the
decoded array, kept in the user cache, loads in a fraction of a second. Every load checks it
against the payload's SHA-256, so a stale or damaged copy is dropped and decoded again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .download import lock, remove_quietly, remove_stale_parts
from .idx import idx_sha256
from .places import cache_dir
from .specs import DatasetSpec, RemoteFile

__all__ = ["load_npy", "npy_path", "save_npy"]


def npy_path(spec: DatasetSpec, remote: RemoteFile) -> Path | None:
    """Where the decoded array of ``remote`` is cached, or None without a payload digest."""
    if remote.sha256 is None:
        return None  # nothing to check a decoded copy against
    return cache_dir() / spec.name / f"{remote.stem}.{remote.sha256[:16]}.npy"


def load_npy(path: Path | None, remote: RemoteFile) -> np.ndarray | None:
    """The cached array at ``path`` if its digest is the payload's; a bad copy is removed."""
    if path is None or not os.path.isfile(path):
        return None
    try:
        array = np.load(path, allow_pickle=False)
        if idx_sha256(array) == remote.sha256:
            return array
    except (OSError, ValueError, TypeError, EOFError):
        pass
    # A stale or damaged decoded copy (derived data, ours): drop it, the file is decoded again.
    remove_quietly(path)
    return None


def save_npy(path: Path | None, array: np.ndarray) -> None:
    """Caches ``array`` at ``path`` atomically; a read-only cache only costs speed."""
    if path is None:
        return
    remove_stale_parts(path.parent, path.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}-tmp-", suffix=".part")
    except OSError:
        return  # a read-only cache only costs speed
    try:
        with os.fdopen(fd, "wb") as f:
            lock(f)
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
    except OSError:
        pass
    finally:
        remove_quietly(Path(tmp))
