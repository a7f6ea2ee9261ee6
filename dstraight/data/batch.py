"""``DataDesc`` and ``DataBatch``: what MXNet's data iterators describe and yield.

:class:`DataDesc` names one input and its batch shape (``provide_data``/``provide_label``);
:class:`DataBatch` is one batch, with its padding and example indices.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

__all__ = ["DataBatch", "DataDesc", "trusted_batch"]


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """Name and batch shape of one input, as ``provide_data``/``provide_label`` list them.

    A ``(name, shape)`` named tuple with ``dtype`` and ``layout`` as extra attributes, like MXNet's.

    Examples:
        >>> desc = DataDesc("data", (4, 2))
        >>> desc.name, desc.shape, desc == ("data", (4, 2))
        ('data', (4, 2), True)
    """

    def __new__(cls, name: str, shape: tuple[int, ...], dtype: Any = np.float32, layout="NCHW"):
        self = super().__new__(cls, name, tuple(int(s) for s in shape))
        self.dtype = np.dtype(dtype)
        self.layout = layout
        return self

    def __repr__(self) -> str:
        return f"DataDesc[{self.name},{self.shape},{self.dtype},{self.layout}]"


class DataBatch:
    """One batch from a data iterator.

    Attributes:
        data: list of input arrays (one per data source).
        label: list of label arrays, or None for unlabelled data.
        pad: how many examples at the end of the batch are padding (repeats of earlier examples
            that only fill the last batch); drop them from predictions.
        index: the indices of the batch's examples in the dataset (a NumPy int32 array; for
            the padded last batch they wrap round to the start), or None.
        provide_data, provide_label: the iterator's descriptions, when known.

    Examples:
        >>> batch = DataBatch(data=[np.zeros((2, 3))], label=[np.zeros(2)], pad=0)
        >>> batch
        DataBatch: data shapes: [(2, 3)] label shapes: [(2,)]
    """

    __slots__ = ("data", "label", "pad", "provide_data", "provide_label", "_index", "_index_fn")

    def __init__(
        self,
        data: list[Any],
        label: list[Any] | None = None,
        pad: int = 0,
        index: Any = None,
        provide_data: list[DataDesc] | None = None,
        provide_label: list[DataDesc] | None = None,
    ) -> None:
        if not isinstance(data, list | tuple):
            raise TypeError(
                f"DataBatch(data=...) expects a list of arrays (one per input), got "
                f"{type(data).__name__}; wrap a single array as [x]."
            )
        if label is not None and not isinstance(label, list | tuple):
            raise TypeError(
                f"DataBatch(label=...) expects a list of arrays or None, got "
                f"{type(label).__name__}; wrap a single array as [y]."
            )
        self.data = list(data)
        self.label = None if label is None else list(label)
        self.pad = pad
        self._index = index
        self._index_fn = None
        self.provide_data = provide_data
        self.provide_label = provide_label

    @property
    def index(self) -> Any:
        """The indices of the batch's examples in the dataset, or None."""
        if self._index is None and self._index_fn is not None:
            self._index, self._index_fn = self._index_fn(), None
        return self._index

    @index.setter
    def index(self, value: Any) -> None:
        self._index, self._index_fn = value, None

    def __repr__(self) -> str:
        data = [tuple(d.shape) for d in self.data]
        label = None if self.label is None else [tuple(lb.shape) for lb in self.label]
        return f"DataBatch: data shapes: {data} label shapes: {label}"


def trusted_batch(data, label, pad, index_fn, provide_data, provide_label) -> DataBatch:
    """A :class:`DataBatch` built by an iterator from its own, already checked, arrays.

    No argument checks, and the example indices are only looked up (``index_fn()``) if someone
    asks (most loops never do), keeping a batch's cost down.
    """
    batch = DataBatch.__new__(DataBatch)
    batch.data, batch.label, batch.pad = data, label, pad
    batch._index, batch._index_fn = None, index_fn
    batch.provide_data, batch.provide_label = provide_data, provide_label
    return batch
