"""``ArrayDataset``: several equally long arrays seen as one dataset of tuples."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["ArrayDataset"]


def _as_array(x: Any, position: int) -> np.ndarray | jax.Array:
    if x is None:
        hint = (
            "For unlabelled data pass the inputs alone, e.g. ArrayDataset(X)."
            if position > 0
            else "Pass the inputs first, e.g. ArrayDataset(X, y)."
        )
        raise TypeError(
            f"ArrayDataset argument {position} is None; expected an array with one row per "
            f"example. {hint}"
        )
    if isinstance(x, np.ndarray | jax.Array):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"ArrayDataset argument {position} must be a rectangular array of numbers (NumPy, "
                f"JAX, or nested lists of equal lengths), got {type(x).__name__}: {err}"
            ) from err
    if arr.dtype == object:
        raise TypeError(
            f"ArrayDataset argument {position} must be a rectangular array of numbers, got an "
            f"object array of shape {arr.shape} (ragged lists?)."
        )
    if arr.ndim == 0:
        raise ValueError(
            f"ArrayDataset argument {position} is a scalar; expected an array whose first axis "
            "indexes the examples."
        )
    return arr


class ArrayDataset:
    """A dataset made of arrays that share their first axis: item ``i`` is the tuple of rows ``i``.

    Args:
        *arrays: NumPy or JAX arrays (or nested lists) of equal length along axis 0.

    Attributes:
        arrays: the arrays, as given (lists converted to NumPy).

    With a single array, ``ds[i]`` is that array's row itself rather than a 1-tuple, as in gluon.

    Examples:
        >>> X = np.arange(6.0).reshape(3, 2)
        >>> y = np.array([0, 1, 0])
        >>> ds = ArrayDataset(X, y)
        >>> len(ds)
        3
        >>> ds[1]
        (array([2., 3.]), np.int64(1))
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array, e.g. ArrayDataset(X, y).")
        converted = tuple(_as_array(a, i) for i, a in enumerate(arrays))
        lengths = [a.shape[0] for a in converted]
        if len(set(lengths)) != 1:
            raise ValueError(
                f"ArrayDataset arrays must have the same length along axis 0, got lengths "
                f"{lengths}; each example needs one row in every array."
            )
        self.arrays: tuple[np.ndarray | jax.Array, ...] = converted

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, idx: int) -> Any:
        if len(self.arrays) == 1:
            return self.arrays[0][idx]
        return tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in self.arrays)
        return f"ArrayDataset({shapes})"
