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

import jax
import numpy as np

__all__ = ["load_arrays", "match_arrays", "save_arrays", "tree_from_arrays", "tree_to_arrays"]


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


# -- pytrees (optimizer states) as named arrays ---------------------------------------------------


def _key(path: tuple) -> str:
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):  # DictKey / FlattenedIndexKey, GetAttrKey, SequenceKey
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


def _flat(state: Any) -> tuple[dict[str, Any], Any]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    flat: dict[str, Any] = {}
    for path, leaf in leaves:
        key = _key(path)
        if key in flat:
            raise ValueError(
                f"Two entries of the tree are both named {key!r}; rename the "
                "parameters so that no name contains '/'."
            )
        flat[key] = leaf
    return flat, treedef


def tree_to_arrays(tree: Any) -> dict[str, np.ndarray]:
    """The leaves of a pytree (an optimizer state, say) as NumPy arrays, keyed by their path.

    Keys join the path with ``/`` (``'hyperparams/learning_rate'``,
    ``'inner_state/0/mom/weight'``); for an optimizer state they depend only on the optimizer
    and the parameter names, so :func:`save_arrays` writes a file that :func:`load_arrays` reads
    back for :func:`tree_from_arrays`. ``dstraight.optimizer.state_to_arrays`` is this function.

    Examples:
        >>> import jax.numpy as jnp
        >>> from dstraight import optimizer
        >>> opt = optimizer.create("sgd", {"momentum": 0.9})
        >>> arrays = tree_to_arrays(opt.init({"w": jnp.zeros(3)}))
        >>> sorted(arrays), arrays["inner_state/0/mom/w"].shape
        (['count', 'hyperparams/learning_rate', 'inner_state/0/mom/w'], (3,))
    """
    flat, _ = _flat(tree)
    return {key: np.asarray(leaf) for key, leaf in flat.items()}


def tree_from_arrays(template: Any, arrays: Mapping[str, Any],
                     fits: str = "this tree", hint: str = "") -> Any:
    """A pytree shaped like ``template`` with the values of ``arrays``.

    Args:
        template: a tree of the same structure, e.g. the state ``opt.init(params)`` of the same
            optimizer and parameters; it is not modified.
        arrays: what :func:`tree_to_arrays` returned, or what :func:`load_arrays` read.
        fits: what the arrays must fit, for the error message (``"this optimizer and these
            parameters"`` for :func:`dstraight.optimizer.state_from_arrays`).
        hint: a sentence the error message ends with: what to do instead.

    Returns:
        The new state; each array goes where the template's leaf was (same device/sharding).

    Raises:
        ValueError: naming every missing, unexpected or mismatched (shape or dtype) key.

    Examples:
        >>> import jax.numpy as jnp
        >>> from dstraight import optimizer
        >>> opt = optimizer.create("adam")
        >>> state = opt.init({"w": jnp.zeros(2)})
        >>> arrays = tree_to_arrays(state)
        >>> arrays["inner_state/0/mean/w"] = arrays["inner_state/0/mean/w"] + 1
        >>> tree_from_arrays(state, arrays).inner_state[0].mean["w"].tolist()
        [1.0, 1.0]
    """
    flat, treedef = _flat(template)
    problems = [f"missing {key!r}" for key in flat if key not in arrays]
    problems += [f"unexpected {key!r}" for key in arrays if key not in flat]
    for key, leaf in flat.items():
        if key in arrays:
            got = np.asarray(arrays[key])
            dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
            want = (tuple(np.shape(leaf)), np.dtype(dtype))
            if (got.shape, got.dtype) != want:
                problems.append(
                    f"{key!r} has shape {got.shape} and dtype {got.dtype}, expected shape "
                    f"{want[0]} and dtype {want[1]}"
                )
    if problems:
        raise ValueError(
            f"The saved arrays do not fit {fits}: " + "; ".join(problems) + f". {hint}".rstrip()
        )
    leaves = []
    for key, leaf in flat.items():
        value = np.asarray(arrays[key])
        leaves.append(
            jax.device_put(value, leaf.sharding) if isinstance(leaf, jax.Array) else value
        )
    return jax.tree_util.tree_unflatten(treedef, leaves)
