"""Gluon's datasets: the ``Dataset`` interface with lazy transforms, ``SimpleDataset`` and
``ArrayDataset``.

A dataset is anything with ``len(ds)`` and ``ds[i]``; ``ds.transform(fn)`` and
``ds.transform_first(fn)`` give a new dataset whose items are those of ``ds`` passed through
``fn``. The DataLoader turns a whole dataset into arrays once; for a transformed dataset it tries
``fn`` on the whole arrays first, so a transform written with array operations costs one call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["ArrayDataset", "Dataset", "LazyTransformDataset", "SimpleDataset"]


def _check_transform(fn: Any, lazy: Any, method: str) -> None:
    if not callable(fn):
        raise TypeError(
            f"Dataset.{method}(fn) expects a function, got {type(fn).__name__}; e.g. "
            f"ds.{method}(lambda x, *rest: ...)."
        )
    if not isinstance(lazy, bool):
        raise TypeError(
            f"Dataset.{method}(lazy=...) expects True (apply fn at each ds[i]) or False (apply "
            f"it to every item now), got {lazy!r}."
        )


class Dataset:
    """The interface of gluon's datasets: ``len(ds)``, ``ds[i]`` and lazy transforms.

    Subclasses implement ``__getitem__`` and ``__len__``; an item is one sample, often a tuple
    such as ``(image, label)``.

    Examples:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return np.float32(i), i * i
        >>> ds = Squares().transform_first(lambda x: x / 2)
        >>> len(ds), ds[3]
        (4, (np.float32(1.5), 9))
    """

    def __getitem__(self, idx: int) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} subclasses Dataset but does not define __getitem__; a dataset "
            "returns its sample idx from ds[idx]."
        )

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__} subclasses Dataset but does not define __len__; a dataset "
            "says how many samples it holds."
        )

    def transform(self, fn: Callable[..., Any], lazy: bool = True) -> Dataset:
        """A dataset whose item ``i`` is ``fn(*self[i])`` (``fn(self[i])`` if that is no tuple).

        Args:
            fn: the function applied to each sample, its fields as separate arguments.
            lazy: apply ``fn`` each time an item is read (True), or to every item now and keep
                the results (False).

        Returns:
            a :class:`LazyTransformDataset` (lazy) or a :class:`SimpleDataset` of the results.

        Examples:
            >>> ds = ArrayDataset(np.arange(3.0), np.array([0, 1, 0]))
            >>> ds.transform(lambda x, y: (x * 10, y + 1))[2]
            (np.float64(20.0), np.int64(1))
        """
        _check_transform(fn, lazy, "transform")
        return self._transformed(fn, lazy, first=False)

    def transform_first(self, fn: Callable[[Any], Any], lazy: bool = True) -> Dataset:
        """A dataset whose items have ``fn`` applied to their first field only.

        For a tuple sample ``(x, y, ...)`` the item is ``(fn(x), y, ...)``; a sample that is no
        tuple is passed to ``fn`` whole. Use it to transform images and leave labels alone.

        Args:
            fn: the function applied to the first field of each sample.
            lazy: apply ``fn`` each time an item is read (True), or to every item now (False).

        Examples:
            >>> ds = ArrayDataset(np.arange(3.0), np.array([0, 1, 0]))
            >>> ds.transform_first(lambda x: x * 10)[2]
            (np.float64(20.0), np.int64(0))
        """
        _check_transform(fn, lazy, "transform_first")
        return self._transformed(fn, lazy, first=True)

    def _transformed(self, fn: Callable[..., Any], lazy: bool, first: bool) -> Dataset:
        view = LazyTransformDataset(self, fn, first=first)
        if lazy:
            return view
        return SimpleDataset([view[i] for i in range(len(view))])


class LazyTransformDataset(Dataset):
    """What :meth:`Dataset.transform` and :meth:`Dataset.transform_first` return.

    Item ``i`` is computed from ``dataset[i]`` when it is read.

    Args:
        dataset: the dataset transformed.
        fn: the function.
        first: apply ``fn`` to the first field of each sample only (``transform_first``).

    Attributes:
        dataset, fn, first: as given; the DataLoader uses them to apply ``fn`` to whole arrays.

    Examples:
        >>> ds = LazyTransformDataset(SimpleDataset([(1, "a"), (2, "b")]), lambda x: -x, first=True)
        >>> ds[1]
        (-2, 'b')
    """

    def __init__(self, dataset: Any, fn: Callable[..., Any], first: bool = False) -> None:
        if not callable(fn):
            raise TypeError(f"LazyTransformDataset expects a function, got {type(fn).__name__}.")
        self.dataset = dataset
        self.fn = fn
        self.first = bool(first)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int) -> Any:
        item = self.dataset[idx]
        # gluon's rule: a tuple is a sample of several fields, anything else one field.
        if not isinstance(item, tuple):
            return self.fn(item)
        if self.first:
            return (self.fn(item[0]), *item[1:])
        return self.fn(*item)

    def __repr__(self) -> str:
        kind = "transform_first" if self.first else "transform"
        return f"{self.dataset!r}.{kind}({getattr(self.fn, '__name__', repr(self.fn))})"


class SimpleDataset(Dataset):
    """A dataset over a list (or any sequence) of samples: ``ds[i]`` is ``data[i]``.

    Args:
        data: the samples, e.g. a list of ``(x, y)`` tuples.

    Attributes:
        data: the sequence, as given.

    Examples:
        >>> ds = SimpleDataset([(np.zeros(2), 0), (np.ones(2), 1)])
        >>> len(ds), ds[1][1]
        (2, 1)
    """

    def __init__(self, data: Sequence[Any]) -> None:
        if not (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
            raise TypeError(
                f"SimpleDataset expects a sequence of samples (a list, tuple or array), got "
                f"{type(data).__name__}; wrap an iterator as SimpleDataset(list(it))."
            )
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idx: int) -> Any:
        return self.data[idx]

    def __repr__(self) -> str:
        return f"SimpleDataset({len(self.data)} samples)"


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


class ArrayDataset(Dataset):
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
