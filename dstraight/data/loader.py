"""``DataLoader``: gluon's mini-batch loader, with the dataset held on the device."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np

from ._batching import (
    Placement,
    check_batch_size,
    check_fits_32bit,
    check_not_always_empty,
    check_shuffle,
    concat,
    gather,
    iter_full_batches,
    seed_words,
    split_epoch,
)
from .dataset import ArrayDataset, LazyTransformDataset, SimpleDataset

__all__ = ["DataLoader"]

_MODES = ("keep", "discard", "rollover")


def _checked_bulk(dataset: Any, out: Any) -> tuple[tuple[Any, ...], bool] | None:
    """``out``, a transform's result on whole arrays, as columns if it agrees with ``dataset[i]``.

    None when it cannot be the per-sample results stacked: wrong structure or length, or values
    that differ from those of the first and last items.
    """
    n = len(dataset)
    single = not isinstance(out, tuple | list)
    columns = (out,) if single else tuple(out)
    columns = tuple(c if isinstance(c, jax.Array) else np.asarray(c) for c in columns)
    if any(c.ndim == 0 or c.shape[0] != n for c in columns):
        return None
    # Spot-check that the bulk result agrees with the per-sample one (a transform that normalises
    # by a statistic, e.g. x / x.max(), gives different answers on one image and on all of them).
    for i in sorted({0, n - 1}):
        item = dataset[i]
        if single == isinstance(item, tuple | list):
            return None
        parts = (item,) if single else item
        if len(parts) != len(columns):
            return None
        for whole, one in zip(columns, parts, strict=True):
            try:
                a, b = np.asarray(whole[i]), np.asarray(one)
                same = a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
            except (TypeError, ValueError):
                same = False
            if not same:
                return None
    return columns, single


def _bulk(dataset: Any, apply: Callable[[], Any]) -> tuple[tuple[Any, ...], bool] | None:
    """Run ``apply`` (a transform on whole arrays) and check its result against the samples."""
    try:
        out = apply()
    except Exception:  # any failure means "not written for whole arrays": go per item
        return None
    return _checked_bulk(dataset, out)


def _stack_items(dataset: Any) -> tuple[tuple[np.ndarray, ...], bool]:
    n = len(dataset)
    items = [dataset[i] for i in range(n)]
    single = not isinstance(items[0], tuple | list)
    columns = [items] if single else list(zip(*items, strict=True))
    stacked = []
    for c, column in enumerate(columns):
        values = [np.asarray(v) for v in column]
        shape = values[0].shape
        for i, v in enumerate(values):
            if v.shape != shape:
                raise ValueError(
                    f"DataLoader stacks samples into batches, so they must share their shape: "
                    f"field {c} of sample 0 has shape {shape}, of sample {i} {v.shape}. "
                    "Resize or pad them in the dataset's transform."
                )
        stacked.append(np.stack(values))
    return tuple(stacked), single


def _sample_function(dataset: Any) -> tuple[bool, Callable[..., Any] | None]:
    """Whether ``dataset[i]`` is ``fn(data[i], label[i])`` for a known ``fn`` (None: the pair)."""
    if hasattr(dataset, "sample_transform"):  # dstraight's vision datasets
        return True, dataset.sample_transform
    transform = getattr(dataset, "transform", None)
    # A method of the dataset itself (like gluon's Dataset.transform) is no per-sample
    # function, and says nothing about what ds[i] returns: only the per-item path is safe.
    if inspect.ismethod(transform) and transform.__self__ is dataset:
        return False, None
    return True, transform


def _lazy_apply(dataset: LazyTransformDataset, base: tuple[Any, ...], single: bool) -> Any:
    fn = dataset.fn
    if single:
        return fn(base[0])
    if dataset.first:
        return (fn(base[0]), *base[1:])
    return fn(*base)


def materialise(dataset: Any) -> tuple[tuple[Any, ...], bool]:
    """The dataset as whole arrays (host or device) and whether its items are single arrays."""
    if isinstance(dataset, np.ndarray | jax.Array):
        return (dataset,), True
    if isinstance(dataset, ArrayDataset):
        return dataset.arrays, len(dataset.arrays) == 1
    if isinstance(dataset, SimpleDataset) and isinstance(dataset.data, np.ndarray | jax.Array):
        return materialise(dataset.data)
    try:
        n = len(dataset)
    except TypeError:
        raise TypeError(
            f"DataLoader expects a dataset with __len__ and __getitem__ (e.g. ArrayDataset(X, y) "
            f"or FashionMNIST()), got {type(dataset).__name__}."
        ) from None
    if n == 0:
        raise ValueError("DataLoader got an empty dataset (0 examples); there is nothing to batch.")
    if isinstance(dataset, LazyTransformDataset):
        # The function on the whole arrays of the dataset beneath, if that gives the same items.
        base, single = materialise(dataset.dataset)
        out = _bulk(dataset, lambda: _lazy_apply(dataset, base, single))
        return out if out is not None else _stack_items(dataset)
    data, label = getattr(dataset, "data", None), getattr(dataset, "label", None)
    bulk = (
        data is not None
        and label is not None
        and hasattr(data, "shape")
        and hasattr(label, "shape")
        and len(data) == len(label) == n
    )
    if bulk:
        known, fn = _sample_function(dataset)
        if known and fn is None:
            return (data, label), False
        if known:
            out = _bulk(dataset, lambda: fn(data, label))
            if out is not None:
                return out
    return _stack_items(dataset)


# MXNet's DataLoader options for its worker processes and host memory: accepted, and moot here.
_HOST_OPTIONS = ("num_workers", "pin_memory", "pin_device_id", "prefetch", "thread_pool",
                 "timeout")


def _refuse_mxnet_options(sampler: Any, batch_sampler: Any, batchify_fn: Any,
                          host_options: dict[str, Any]) -> None:
    unknown = sorted(set(host_options) - set(_HOST_OPTIONS))
    if unknown:
        raise TypeError(
            f"DataLoader got unexpected keyword argument(s) {', '.join(unknown)}; its options are "
            "dataset, batch_size, shuffle, last_batch, seed, device, num_parts and part_index "
            f"(MXNet's {', '.join(_HOST_OPTIONS)} are accepted and ignored)."
        )
    if sampler is not None or batch_sampler is not None:
        name = "sampler" if sampler is not None else "batch_sampler"
        raise TypeError(
            f"DataLoader({name}=...) is MXNet's way to choose the order of the examples; this "
            "DataLoader draws it itself: shuffle=True gives a fresh random order every epoch "
            "(seed= makes it reproducible), shuffle=False the stored order, and last_batch= "
            "('keep', 'discard', 'rollover') says what happens to a short last batch. For any "
            "other order, reorder the data first, e.g. ArrayDataset(X[order], y[order])."
        )
    if batchify_fn is not None:
        raise TypeError(
            "DataLoader(batchify_fn=...) is not supported: batches are gathered on the device "
            "from arrays of equally shaped examples. Transform the examples instead, with "
            "dataset.transform(fn) or dataset.transform_first(fn); pad variable-length "
            "examples to one length before building the loader."
        )


class DataLoader:
    """Mini-batches of a dataset as JAX arrays, the dataset held on the device once.

    The whole dataset is turned into arrays and copied to the device when the loader is built.
    A transform (the ``transform=`` of MNIST and FashionMNIST, or ``ds.transform(fn)`` and
    ``ds.transform_first(fn)`` of any dataset) is tried once on the whole arrays, which works for
    functions written with array operations such as ``x.astype(np.float32) / 255``; the result is
    kept if it agrees with ``ds[i]`` on the first and last samples, else every sample is fetched,
    transformed and stacked. Each batch is then gathered on the device, so iterating costs no
    host-to-device copy per batch.

    Args:
        dataset: an ``ArrayDataset``, a vision dataset, a transformed dataset, an array, or
            anything with ``__len__`` and ``__getitem__`` returning equally shaped samples.
        batch_size: examples per batch.
        shuffle: visit the examples in a new random order every epoch (True or False; 1 and 0
            are accepted).
        last_batch: what to do with the last batch when ``batch_size`` does not divide the number
            of examples: ``'keep'`` it short, ``'discard'`` it, or ``'rollover'`` its examples to
            the start of the next epoch (None, MXNet's default, is 'keep').
        seed: int or ``jax.random`` key for shuffling (``seed=0`` and ``jax.random.key(0)`` are the
            same). Epoch ``e``'s order is drawn from the key and ``e`` alone, so the same seed
            gives the same sequence of epochs.
        device: where to keep the data: a ``jax.Device``, None (JAX's default device), or a
            mesh (``dstraight.data_parallel()``): the dataset is then replicated on its devices
            and every full batch is split along its first axis over them (``batch_size`` must
            be a multiple of the number of devices; a short last batch is replicated).
        num_parts, part_index: load only part ``part_index`` of ``num_parts`` equal, contiguous
            parts of every batch; ``batch_size`` stays the size of the whole (global) batch.
            The defaults, ``jax.process_count()`` and ``jax.process_index()``, give each process
            of a multi-process run its own part (one process: the whole batch). With a mesh the
            parts are those the process's devices hold, so the defaults are the only valid values.
        sampler, batch_sampler, batchify_fn: MXNet's ways to choose the order and to stack the
            batches, refused with a ``TypeError`` that says what to do instead: this loader
            draws the order itself (``shuffle``) and stacks arrays on the device.
        **host_options: MXNet's options for worker processes and host memory, ``num_workers``,
            ``pin_memory``, ``pin_device_id``, ``prefetch``, ``thread_pool`` and ``timeout``,
            are accepted and change nothing: the dataset is on the device already and every
            batch is gathered there by a compiled call, with no worker to start. Any other
            keyword is a ``TypeError``.

    Iterating yields ``(data, label)`` tuples of JAX arrays (a single array for single-array
    datasets). ``len(loader)`` is the number of batches in the next epoch.

    The fast-path protocol (used to compile whole epochs with ``jax.lax.scan``):
    ``loader.arrays`` (the device arrays), ``loader.batch_size``, ``loader.last_pad`` (always 0
    here) and ``loader.epoch_indices()``.

    Examples:
        >>> X = np.arange(10, dtype=np.float32).reshape(5, 2)
        >>> y = np.arange(5, dtype=np.float32)
        >>> loader = DataLoader(ArrayDataset(X, y), batch_size=2)
        >>> [yb.tolist() for _, yb in loader]
        [[0.0, 1.0], [2.0, 3.0], [4.0]]
        >>> len(DataLoader(ArrayDataset(X, y), batch_size=2, last_batch="discard"))
        2
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = None,
        shuffle: bool = False,
        last_batch: str | None = "keep",
        seed: Any = 0,
        device: Any = None,
        num_parts: int | None = None,
        part_index: int | None = None,
        *,
        sampler: Any = None,
        batch_sampler: Any = None,
        batchify_fn: Any = None,
        **host_options: Any,
    ) -> None:
        _refuse_mxnet_options(sampler, batch_sampler, batchify_fn, host_options)
        self.batch_size = check_batch_size(batch_size, "DataLoader")
        if last_batch is None:  # MXNet's default, which keeps the short batch
            last_batch = "keep"
        if last_batch not in _MODES:
            hint = " (NDArrayIter spells it 'roll_over'; DataLoader says 'rollover')"
            raise ValueError(
                f"DataLoader: last_batch must be one of {', '.join(map(repr, _MODES))}, got "
                f"{last_batch!r}{hint if last_batch == 'roll_over' else ''}."
            )
        self._placement = Placement(device, self.batch_size, num_parts, part_index, "DataLoader")
        self.num_parts, self.part_index = self._placement.num_parts, self._placement.part_index
        self.shuffle = check_shuffle(shuffle, "DataLoader")
        self.last_batch = last_batch
        self.device = device
        self._seed_words = seed_words(seed, "DataLoader")
        host_arrays, self._single = materialise(dataset)
        lengths = [a.shape[0] if a.ndim else None for a in host_arrays]
        if len(set(lengths)) != 1 or None in lengths:
            raise ValueError(
                f"DataLoader: the dataset's arrays must be equally long along axis 0, got shapes "
                f"{[tuple(a.shape) for a in host_arrays]}; each example needs one row in each."
            )
        if lengths[0] == 0:
            raise ValueError(
                "DataLoader got an empty dataset (0 examples); there is nothing to batch."
            )
        for i, a in enumerate(host_arrays):
            role = "label" if i == len(host_arrays) - 1 and i > 0 else "data"
            check_fits_32bit(a, f"field {i} of the dataset ({role})", "DataLoader")
        check_not_always_empty(lengths[0], self.batch_size, last_batch == "discard", "DataLoader")
        self._arrays: tuple[jax.Array, ...] = tuple(self._placement.data(a) for a in host_arrays)
        self.num_examples: int = lengths[0]
        self._epoch = 0
        self._leftover = self._placement.empty()

    @property
    def arrays(self) -> tuple[jax.Array, ...]:
        """The whole dataset as device arrays, ``(data, label)`` for labelled datasets."""
        return self._arrays

    @property
    def data_arrays(self) -> tuple[jax.Array, ...]:
        """The inputs: every array of the dataset but the last, or the only one."""
        return self._arrays if len(self._arrays) == 1 else self._arrays[:-1]

    @property
    def label_arrays(self) -> tuple[jax.Array, ...]:
        """The labels: the dataset's last array when it has two or more, else none."""
        return () if len(self._arrays) == 1 else self._arrays[-1:]

    @property
    def last_pad(self) -> int:
        """Padding at the end of the last row of ``full``: always 0 (DataLoader never pads)."""
        return 0

    def __len__(self) -> int:
        n = self.num_examples + (self._leftover.shape[0] if self.last_batch == "rollover" else 0)
        if self.last_batch == "keep":
            return -(-n // self.batch_size)
        return n // self.batch_size

    def epoch_indices(self) -> tuple[jax.Array, jax.Array]:
        """Consume one epoch, as iterating would, and return its example indices.

        Returns:
            ``(full, rest)``: int32 ``(num_full_batches, batch_size)`` indices of the full
            batches, and the ``(r,)`` indices of the short last batch (``0 <= r < batch_size``;
            empty for 'discard', 'rollover', or when ``batch_size`` divides the dataset).
            Gathering ``loader.arrays`` at these indices gives exactly the batches iteration
            would have given. The shuffle and rollover state advance as for a full iteration.

        Examples:
            >>> loader = DataLoader(ArrayDataset(np.zeros((5, 1)), np.zeros(5)), batch_size=2)
            >>> full, rest = loader.epoch_indices()
            >>> full.tolist(), rest.tolist()
            ([[0, 1], [2, 3]], [4])
        """
        order = self._placement.order(
            self._seed_words if self.shuffle else None, self._epoch, self.num_examples
        )
        self._epoch += 1
        stream = order
        if self.last_batch == "rollover" and self._leftover.shape[0]:
            stream = concat(self._leftover, order)
        full, tail, _ = split_epoch(stream, self.batch_size, "split")
        if self.last_batch == "rollover":
            self._leftover = tail
        return self._placement.tables(full, tail if self.last_batch == "keep" else tail[:0])

    def __iter__(self) -> Iterator[Any]:
        full, rest = self.epoch_indices()
        return self._batches(full, rest)

    def _batches(self, full: jax.Array, rest: jax.Array) -> Iterator[Any]:
        for batch in iter_full_batches(self._arrays, full):
            yield batch[0] if self._single else batch
        if rest.shape[0]:
            batch = gather(self._arrays, rest)
            yield batch[0] if self._single else batch

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(a.shape)) for a in self._arrays)
        return (
            f"DataLoader(arrays=[{shapes}], batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"last_batch={self.last_batch!r})"
        )
