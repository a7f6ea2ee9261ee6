"""``NDArrayIter`` with MXNet's semantics, on device-held data.

The batches it yields (``DataBatch``) and their descriptions (``DataDesc``) are defined in
:mod:`dstraight.data.batch` and offered here too.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._batching import (
    Placement,
    check_batch_size,
    check_fits_32bit,
    check_not_always_empty,
    check_shuffle,
    concat,
    iter_full_batches,
    seed_words,
    split_epoch,
)
from .batch import DataBatch, DataDesc, trusted_batch

__all__ = ["NDArrayIter", "DataBatch", "DataDesc"]

_MODES = ("pad", "discard", "roll_over")


def _is_empty_collection(value: Any) -> bool:
    return isinstance(value, list | tuple | dict) and len(value) == 0


def _to_array(value: Any, name: str, what: str) -> np.ndarray | jax.Array:
    if isinstance(value, np.ndarray | jax.Array):
        return value
    if value is None:
        raise TypeError(
            f"NDArrayIter: {what} {name!r} is None; expected an array with one row per example."
        )
    try:
        return np.asarray(value)
    except ValueError as err:  # NumPy's complaint about nested lists of unequal lengths
        raise ValueError(
            f"NDArrayIter: {what} {name!r} is not a rectangular array ({err}). Nested lists "
            "need equal lengths at every level; several inputs are passed as a list of arrays "
            "(np.ndarray or jax.Array) or a dict name -> array."
        ) from None


def _named_arrays(value: Any, default_name: str, what: str,
                  placement: Placement) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, np.ndarray | jax.Array) for v in value)
    ):
        # MXNet's names for several unnamed inputs.
        items = (
            [(default_name, value[0])]
            if len(value) == 1
            else [(f"_{i}_{default_name}", v) for i, v in enumerate(value)]
        )
    else:
        if isinstance(value, list | tuple) and any(
            isinstance(v, np.ndarray | jax.Array) for v in value
        ):
            i, odd = next(
                (i, v) for i, v in enumerate(value) if not isinstance(v, np.ndarray | jax.Array)
            )
            raise TypeError(
                f"NDArrayIter: {what} is a list of arrays with a {type(odd).__name__} at position "
                f"{i}; every input must be an array (NumPy or JAX). Drop it, or leave "
                f"{what} out."
            )
        items = [(default_name, value)]
    if not items:
        raise ValueError(f"NDArrayIter: {what} is empty; expected at least one array.")
    named = []
    for name, v in items:
        arr = _to_array(v, name, what)
        if arr.ndim == 0:
            raise ValueError(
                f"NDArrayIter: {what} {name!r} is a scalar; expected an array whose first axis "
                "indexes the examples."
            )
        if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == bool):
            raise TypeError(
                f"NDArrayIter: {what} {name!r} must hold numbers, got dtype {arr.dtype}."
            )
        check_fits_32bit(arr, f"{what} {name!r}", "NDArrayIter")
        named.append((name, placement.data(arr)))
    return named


class NDArrayIter:
    """MXNet's ``mx.io.NDArrayIter``: batches of in-memory arrays, with the data on the device.

    Iterating (or calling ``next()``) yields :class:`DataBatch` objects until the end of the data,
    then raises ``StopIteration`` until :meth:`reset` starts the next epoch, as in MXNet:

    - ``'pad'``: the last batch is completed with examples from the start of the (current) order,
      and ``batch.pad`` says how many;
    - ``'discard'``: the last, short batch is dropped;
    - ``'roll_over'``: the last, short batch is not returned; after ``reset()`` its examples start
      the next epoch, followed by the next epoch's examples (``hard_reset()`` drops them).

    With ``shuffle=True`` every epoch (the one begun by the constructor and each one begun by
    ``reset()``) visits the examples in a new order drawn from ``seed``.

    Args:
        data: an array, a list of arrays, or a dict name -> array (NumPy, JAX or nested lists).
        label: the same for labels, or None (an empty list or dict also means no labels).
        batch_size: examples per batch.
        shuffle: shuffle the examples at every epoch (True or False; 1 and 0 are accepted).
        last_batch_handle: ``'pad'``, ``'discard'`` or ``'roll_over'``.
        data_name, label_name: the names ``provide_data``/``provide_label`` report.
        seed: int or ``jax.random`` key for shuffling.
        device: where to keep the data: a ``jax.Device``, None (JAX's default device), or a
            mesh (``dstraight.data_parallel()``), which replicates the data on its devices and
            splits every batch along its first axis over them (``batch_size`` must be a
            multiple of the number of devices).
        num_parts, part_index: load only part ``part_index`` of ``num_parts`` equal, contiguous
            parts of every batch (``batch_size`` stays the global batch size); the defaults are
            ``jax.process_count()`` and ``jax.process_index()``. See ``DataLoader``.

    Fast-path protocol (for compiling whole epochs): ``arrays`` (data arrays, then label arrays),
    ``batch_size``, ``epoch_indices()`` and ``last_pad``.

    Examples:
        >>> X = np.arange(10, dtype=np.float32).reshape(5, 2)
        >>> it = NDArrayIter(X, np.arange(5), batch_size=2)
        >>> [(b.label[0].tolist(), b.pad) for b in it]
        [([0, 1], 0), ([2, 3], 0), ([4, 0], 1)]
        >>> [b.pad for b in it]  # exhausted until reset()
        []
        >>> it.reset()
        >>> it.next().data[0].tolist()
        [[0.0, 1.0], [2.0, 3.0]]
        >>> it.provide_data
        [DataDesc[data,(2, 2),float32,NCHW]]
    """

    def __init__(
        self,
        data: Any,
        label: Any = None,
        batch_size: int = 1,
        shuffle: bool = False,
        last_batch_handle: str = "pad",
        data_name: str = "data",
        label_name: str = "softmax_label",
        seed: Any = 0,
        device: Any = None,
        num_parts: int | None = None,
        part_index: int | None = None,
    ) -> None:
        self.batch_size = check_batch_size(batch_size, "NDArrayIter")
        if last_batch_handle not in _MODES:
            hint = ""
            if last_batch_handle in ("keep", "rollover"):
                hint = " ('keep' and 'rollover' are DataLoader's last_batch modes)"
            raise ValueError(
                f"NDArrayIter: last_batch_handle must be one of {', '.join(map(repr, _MODES))}, "
                f"got {last_batch_handle!r}{hint}."
            )
        placement = Placement(device, self.batch_size, num_parts, part_index, "NDArrayIter")
        self._placement = placement
        self.num_parts, self.part_index = placement.num_parts, placement.part_index
        if data is None:
            raise TypeError("NDArrayIter: data is required (an array, list or dict of arrays).")
        if isinstance(data, list | tuple) and not data:
            raise ValueError(
                "NDArrayIter: data is an empty list; expected an array, a list of arrays or a "
                "dict name -> array."
            )
        self.shuffle = check_shuffle(shuffle, "NDArrayIter")
        self.last_batch_handle = last_batch_handle
        self.data_name = data_name
        self.label_name = label_name
        self.device = device
        self._seed_words = seed_words(seed, "NDArrayIter")
        self._data = _named_arrays(data, data_name, "data", placement)
        # As in MXNet, an empty list (or dict) of labels means unlabelled data, like None.
        no_label = label is None or _is_empty_collection(label)
        self._label = [] if no_label else _named_arrays(label, label_name, "label", placement)
        lengths = {name: a.shape[0] for name, a in self._data + self._label}
        if len(set(lengths.values())) != 1:
            shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in self._data + self._label)
            raise ValueError(
                f"NDArrayIter: data and label must have the same number of examples along axis "
                f"0, got {shapes}."
            )
        self.num_data: int = next(iter(lengths.values()))
        if self.num_data == 0:
            raise ValueError(
                "NDArrayIter: the data is empty (0 examples); there is nothing to iterate over."
            )
        check_not_always_empty(
            self.num_data, self.batch_size, last_batch_handle == "discard", "NDArrayIter"
        )
        self._arrays = tuple(a for _, a in self._data + self._label)
        # Built once: every batch carries them, and per-batch work is what iteration speed is.
        self._provide_data = [
            DataDesc(name, (self.batch_size, *a.shape[1:]), a.dtype) for name, a in self._data
        ]
        self._provide_label = [
            DataDesc(name, (self.batch_size, *a.shape[1:]), a.dtype) for name, a in self._label
        ]
        self._num_data_sources = len(self._data)
        self._epoch = 0
        self._leftover = placement.empty()
        self._start_epoch_state()

    # -- state --------------------------------------------------------------------------------

    def _start_epoch_state(self) -> None:
        self._full: jax.Array | None = None  # built lazily at the first batch of the epoch
        self._host_full: np.ndarray | None = None  # its host copy, made if an index is asked for
        self._tail = self._leftover[:0]
        self._cursor = 0
        self._batches = None
        self._exhausted = False

    def _ensure_epoch(self) -> jax.Array:
        if self._full is None:
            order = self._placement.order(
                self._seed_words if self.shuffle else None, self._epoch, self.num_data
            )
            if self._leftover.shape[0]:
                order = concat(self._leftover, order)
            self._leftover = self._leftover[:0]
            mode = "pad" if self.last_batch_handle == "pad" else "split"
            full, tail, _ = split_epoch(order, self.batch_size, mode)
            if self._placement.mesh is not None:
                self._host_full = full  # the global table, kept on the host
            self._full, _ = self._placement.tables(full, tail[:0])
            self._tail = tail if self.last_batch_handle == "roll_over" else tail[:0]
        return self._full

    def _remaining(self, full: jax.Array, start: int) -> jax.Array:
        # With a mesh the rows are cut from the host table and placed again: slicing a table
        # that spans the devices of several processes would be a computation of its own.
        if self._placement.mesh is None or self._host_full is None:
            return full[start:]
        return self._placement.tables(self._host_full[start:], self._host_full[:0, 0])[0]

    def reset(self) -> None:
        """Begin the next epoch (reshuffling when ``shuffle``).

        In ``'roll_over'`` mode, when the epoch just ended, the examples of its short last batch
        open the new epoch.
        """
        if self._exhausted and self.last_batch_handle == "roll_over":
            self._leftover = self._tail
        else:
            self._leftover = self._leftover[:0]
        self._epoch += 1
        self._start_epoch_state()

    def hard_reset(self) -> None:
        """Begin the next epoch, dropping any examples rolled over from the last one."""
        self._leftover = self._leftover[:0]
        self._epoch += 1
        self._start_epoch_state()

    # -- iteration ----------------------------------------------------------------------------

    def __iter__(self) -> NDArrayIter:
        return self

    def __next__(self) -> DataBatch:
        return self.next()

    def next(self) -> DataBatch:
        """The next batch; ``StopIteration`` at the end of the data until :meth:`reset`."""
        if self._exhausted:
            raise StopIteration
        full = self._ensure_epoch()
        if self._batches is None:
            self._batches = iter_full_batches(self._arrays, self._remaining(full, self._cursor))
        try:
            arrays = next(self._batches)
        except StopIteration:
            self._exhausted = True
            self._batches = None
            raise
        row = self._cursor
        self._cursor += 1
        pad = self.last_pad if self._cursor == full.shape[0] else 0
        k = self._num_data_sources
        return trusted_batch(
            list(arrays[:k]),
            list(arrays[k:]) if self._label else None,
            pad,
            functools.partial(self._row_indices, full, row),
            self._provide_data,
            self._provide_label,
        )

    def _row_indices(self, full: jax.Array, row: int) -> np.ndarray:
        if self._full is not full:  # a batch of an earlier epoch
            return np.asarray(full)[row]
        if self._host_full is None:
            self._host_full = np.asarray(full)
        return self._host_full[row]

    # -- descriptions and the fast-path protocol ----------------------------------------------

    @property
    def provide_data(self) -> list[DataDesc]:
        """Name and batch shape of each data input."""
        return list(self._provide_data)

    @property
    def provide_label(self) -> list[DataDesc]:
        """Name and batch shape of each label (empty without labels)."""
        return list(self._provide_label)

    @property
    def arrays(self) -> tuple[jax.Array, ...]:
        """The device arrays: the data arrays followed by the label arrays."""
        return self._arrays

    @property
    def data_arrays(self) -> tuple[jax.Array, ...]:
        """The data arrays, in ``provide_data`` order."""
        return tuple(a for _, a in self._data)

    @property
    def label_arrays(self) -> tuple[jax.Array, ...]:
        """The label arrays, in ``provide_label`` order (empty without labels)."""
        return tuple(a for _, a in self._label)

    @property
    def last_pad(self) -> int:
        """How many trailing entries of the last row of ``full`` are padding ('pad' mode only)."""
        if self.last_batch_handle != "pad":
            return 0
        return -self.num_data % self.batch_size

    def epoch_indices(self) -> tuple[jax.Array, jax.Array]:
        """Consume the rest of the current epoch, as iterating would, and return its indices.

        Returns:
            ``(full, rest)``: int32 ``(num_batches, batch_size)`` indices of the batches that
            iterating would still yield (in 'pad' mode the last row is the padded batch, its last
            ``last_pad`` entries wrapping round to the start), and an empty ``rest``. Like
            iteration, it leaves the iterator exhausted: call :meth:`reset` between epochs (a
            second call without it returns no batches).

        Examples:
            >>> it = NDArrayIter(np.zeros((5, 1)), np.zeros(5), batch_size=2)
            >>> full, rest = it.epoch_indices()
            >>> full.tolist(), rest.shape, it.last_pad
            ([[0, 1], [2, 3], [4, 0]], (0,), 1)
        """
        full = self._ensure_epoch()
        remaining = self._remaining(full, self._cursor if not self._exhausted else full.shape[0])
        self._cursor = full.shape[0]
        self._batches = None
        self._exhausted = True
        return remaining, self._tail[:0]

    def __repr__(self) -> str:
        return (
            f"NDArrayIter(num_data={self.num_data}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, last_batch_handle={self.last_batch_handle!r}, "
            f"provide_data={self.provide_data}, provide_label={self.provide_label})"
        )
