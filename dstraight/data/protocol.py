"""The protocol of loaders whose epochs can be compiled: data on the device, epochs as indices.

``DataLoader`` and ``NDArrayIter`` hold the whole dataset on the device and describe an epoch as
a table of example indices. Anything with these attributes gets the compiled paths of the
trainers (a whole epoch as one ``jax.lax.scan``); any other iterable of ``(data, label)``
batches is trained on batch by batch.

Examples:
    >>> import numpy as np
    >>> from dstraight import data
    >>> loader = data.DataLoader(data.ArrayDataset(np.zeros((4, 2)), np.zeros(4)), batch_size=2)
    >>> isinstance(loader, data.DeviceLoader)
    True
    >>> len(loader.data_arrays), len(loader.label_arrays)
    (1, 1)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import jax

__all__ = ["DeviceLoader"]


@runtime_checkable
class DeviceLoader(Protocol):
    """A loader whose epochs are index tables into device arrays.

    Attributes:
        batch_size: examples per batch.
        data_arrays: the inputs, one device array per input of the network (usually one).
        label_arrays: the labels, one device array per label (empty for unlabelled data).
        last_pad: how many trailing entries of the last row of an epoch's ``full`` table are
            padding that repeats earlier examples (``NDArrayIter(last_batch_handle='pad')``).
    """

    batch_size: int

    @property
    def data_arrays(self) -> tuple[jax.Array, ...]: ...

    @property
    def label_arrays(self) -> tuple[jax.Array, ...]: ...

    @property
    def last_pad(self) -> int: ...

    def epoch_indices(self) -> tuple[jax.Array, jax.Array]:
        """Consumes one epoch and returns ``(full, rest)``: ``(k, batch_size)`` and ``(r,)``
        int32 index tables of its full batches and of its short last batch."""
        ...
