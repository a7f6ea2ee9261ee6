"""Saving and loading named arrays: ``.npz`` files that never unpickle, written atomically.

Every file that ``dstraight`` writes (``Block.save_parameters``, ``Trainer.save_states``,
``Module.save_checkpoint``) goes through :func:`save_arrays`: the arrays are written to a
temporary file in the destination folder, flushed to disk, then renamed over the destination, so a
crash or a full disk never leaves a half-written file under the real name. Reading uses
``numpy.load(allow_pickle=False)``: a file can hold numbers only, never code.

Examples:
    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> save_arrays(path, {"dense0_weight": np.ones((2, 1), np.float32)})
    >>> {k: v.shape for k, v in load_arrays(path).items()}
    {'dense0_weight': (2, 1)}
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_arrays", "match_arrays", "save_arrays"]


def save_arrays(path: str | os.PathLike, arrays: Mapping[str, Any]) -> None:
    """Writes ``arrays`` (name -> array) to the ``.npz`` file ``path``, atomically.

    Raises:
        TypeError: if a value is not an array of numbers (object arrays would need pickling).
    """
    path = Path(path)
    converted = {}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"save_arrays: {name!r} is not an array of numbers ({type(value)}).")
        converted[str(name)] = arr
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot save to {path}: the folder {folder} does not exist. Create it first, e.g. "
            f"os.makedirs({str(folder)!r}, exist_ok=True)."
        )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **converted)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # only our own temporary file is removed; an earlier file at `path` is left untouched
        Path(tmp).unlink(missing_ok=True)
        raise


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads a file written by :func:`save_arrays` (or any ``.npz`` of plain arrays).

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file is not an ``.npz`` of numeric arrays (e.g. it needs pickling).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No parameter file at {path}.")
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic[:1] == b"\x80":
        raise ValueError(
            f"{path} is a pickle; dstraight reads only plain arrays (.npz) and never unpickles "
            f"(a pickle can run code)."
        )
    if magic != b"PK":
        raise ValueError(
            f"{path} is not a readable .npz file of named arrays (it does not start like a zip "
            f"archive). It may be truncated or of another format."
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError(f"{path} holds a single array, not named arrays (.npz).")
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise ValueError(
            f"{path} is not a readable .npz file of named arrays ({err}). It may be truncated or "
            f"of another format."
        ) from err
    except ValueError as err:
        if "allow_pickle" in str(err) or "pickle" in str(err).lower():
            raise ValueError(
                f"{path} contains pickled objects; dstraight reads only plain arrays and never "
                f"unpickles (a pickle can run code)."
            ) from err
        raise


def match_arrays(params: Mapping[str, Any], arrays: Mapping[str, np.ndarray], source: Any,
                 allow_missing: bool = False, ignore_extra: bool = False) -> None:
    """Sets each parameter of ``params`` (name -> Parameter) from ``arrays`` by name.

    Nothing is written unless every name and shape fits.

    Raises:
        ValueError: listing each missing, unexpected or wrongly shaped parameter.
    """
    problems = []
    missing = [n for n in params if n not in arrays]
    extra = [n for n in arrays if n not in params]
    if missing and not allow_missing:
        problems.append(
            f"missing from the file: {missing} (pass allow_missing=True to keep their values)"
        )
    if extra and not ignore_extra:
        problems.append(
            f"in the file but not in the network: {extra} (pass ignore_extra=True to skip them)"
        )
    for name, param in params.items():
        if name not in arrays:
            continue
        shape, known = tuple(arrays[name].shape), param.shape
        if len(shape) != len(known) or any(k is not None and k != s
                                           for k, s in zip(known, shape, strict=True)):
            problems.append(f"'{name}': the network has shape {known}, the file {shape}")
    if problems:
        raise ValueError(
            f"Cannot load {source}: the parameters do not match.\n  - " + "\n  - ".join(problems)
            + "\nParameters are matched by full name (e.g. 'dense0_weight'); build the network "
            "the same way as the one that was saved, with the same names."
        )
    for name, param in params.items():
        if name in arrays:
            param.set_data(arrays[name])
