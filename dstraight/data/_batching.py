"""Machinery shared by DataLoader and NDArrayIter: epoch orders, index tables, device gathers.

Both iterators hold the whole dataset on the device and describe an epoch by a table of example
indices, ``full`` of shape ``(num_batches, batch_size)`` plus an optional short ``rest``. Iterating
gathers the rows of a chunk of batches in one compiled call and hands the batches out one by one,
so a step costs a Python loop turn rather than a host-to-device copy or a dispatch per batch. The
same tables are what the compiled training paths scan over (``epoch_indices()``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..device import put

# Batches are gathered a chunk at a time and the chunk is split into batches: one dispatch per
# chunk instead of one per batch. Splitting compiles one small kernel per batch of the chunk, so a
# chunk is kept short, and short epochs, where the compilation would not pay off, gather batch by
# batch instead. The byte cap keeps a chunk of big batches from doubling device memory.
_CHUNK_ROWS = 16
_CHUNK_BYTES = 16 << 20
_MIN_BATCHES_FOR_CHUNKS = 64


def check_batch_size(batch_size: Any, owner: str) -> int:
    """``batch_size`` as an int, or a TypeError/ValueError saying what a batch size must be.

    Examples:
        >>> check_batch_size(np.int64(32), "DataLoader")
        32
        >>> check_batch_size(32.0, "DataLoader")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: DataLoader: batch_size must be a positive integer, got 32.0 (float); ...
    """
    if isinstance(batch_size, bool | np.bool_) or not isinstance(batch_size, int | np.integer):
        hint = "e.g. batch_size=64"
        if isinstance(batch_size, float) and batch_size.is_integer() and batch_size > 0:
            hint = f"write batch_size={int(batch_size)}, or int(...) of a computed size"
        raise TypeError(
            f"{owner}: batch_size must be a positive integer, got {batch_size!r} "
            f"({type(batch_size).__name__}); {hint}."
        )
    if batch_size <= 0:
        raise ValueError(
            f"{owner}: batch_size must be a positive integer, got {batch_size}; e.g. batch_size=64."
        )
    return int(batch_size)


def check_shuffle(shuffle: Any, owner: str) -> bool:
    """``shuffle`` as a bool: True, False, or the ints 1 and 0 that older MXNet scripts pass.

    A string is refused rather than read by its truth value, which would make ``"False"`` and
    ``"no"`` shuffle.

    Examples:
        >>> check_shuffle(1, "NDArrayIter")
        True
    """
    if isinstance(shuffle, bool | np.bool_):
        return bool(shuffle)
    if isinstance(shuffle, int | np.integer):
        if shuffle in (0, 1):
            return bool(shuffle)
        raise ValueError(f"{owner}: shuffle must be True or False (or 1/0), got {shuffle}.")
    hint = (
        "A string is not read as a flag: convert it first, e.g. shuffle=(arg == 'yes')."
        if isinstance(shuffle, str)
        else "E.g. shuffle=True."
    )
    raise TypeError(
        f"{owner}: shuffle must be True or False, got {shuffle!r} ({type(shuffle).__name__}). "
        + hint
    )


def check_not_always_empty(num_examples: int, batch_size: int, discard: bool, owner: str) -> None:
    """Refuse a loader that drops its short last batch and has no full one: no epoch has data."""
    if discard and batch_size > num_examples:
        raise ValueError(
            f"{owner}: batch_size={batch_size} is larger than the dataset ({num_examples} "
            "examples) and the short last batch is discarded, so every epoch would be empty. "
            f"Use a batch_size of at most {num_examples}, or keep or pad the last batch."
        )


# Where JAX's default 32-bit mode puts each 64-bit host dtype.
_NARROWED = {
    np.dtype(np.int64): np.dtype(np.int32),
    np.dtype(np.uint64): np.dtype(np.uint32),
    np.dtype(np.float64): np.dtype(np.float32),
}


def check_fits_32bit(array: Any, name: str, owner: str) -> None:
    """Refuse a host array whose values JAX's default 32-bit mode would change.

    64-bit integers outside the 32-bit range would wrap round, finite float64 values beyond
    float32's range would become inf. The check costs one min and one max over the array, and
    nothing when 64-bit mode is on or the array is already a JAX array (hence already narrowed).

    Examples:
        >>> check_fits_32bit(np.array([0, 2**31]), "label", "DataLoader")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: DataLoader: label holds int64 values from 0 to 2147483648, outside ...
    """
    if not isinstance(array, np.ndarray) or array.size == 0 or jax.config.jax_enable_x64:
        return
    narrow = _NARROWED.get(array.dtype)
    if narrow is None:
        return
    if narrow.kind == "f":
        # fmin/fmax skip NaNs, which survive the narrowing unchanged.
        lo, hi = np.fmin.reduce(array, axis=None), np.fmax.reduce(array, axis=None)
        with np.errstate(over="ignore"):
            overflows = any(np.isfinite(v) and np.isinf(v.astype(narrow)) for v in (lo, hi))
        if overflows:
            raise ValueError(
                f"{owner}: {name} holds float64 values from {lo:g} to {hi:g}; JAX works in "
                f"float32 by default, whose largest value is {np.finfo(narrow).max:g}, so they "
                "would become inf. Rescale them, or enable 64-bit floats with "
                "jax.config.update('jax_enable_x64', True) before creating any arrays."
            )
        return
    info = np.iinfo(narrow)
    lo, hi = array.min(), array.max()
    if lo < info.min or hi > info.max:
        raise ValueError(
            f"{owner}: {name} holds {array.dtype} values from {lo} to {hi}, outside {narrow}'s "
            f"range [{info.min}, {info.max}]; JAX works in 32-bit by default and would wrap them "
            "round to garbage. Remap them (class labels: to 0..K-1 with "
            "np.unique(y, return_inverse=True)[1]), or enable 64-bit with "
            "jax.config.update('jax_enable_x64', True) before creating any arrays."
        )


def check_device(device: Any, owner: str) -> None:
    if device is not None and not isinstance(device, jax.Device | Mesh):
        raise TypeError(
            f"{owner}: device must be a jax.Device (e.g. dstraight.cpu()), a mesh "
            f"(dstraight.data_parallel()) or None, got {device!r}."
        )


def _check_part(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}.")
    return int(value)


class Placement:
    """Where a loader keeps its dataset and its index tables, and which part of a batch it loads.

    - One device (or None, JAX's default): the dataset lives there. With ``num_parts > 1`` the
      loader takes part ``part_index`` of every batch: the ``batch_size // num_parts``
      consecutive examples starting at ``part_index * batch_size // num_parts`` (gluon's
      ``SplitSampler`` idea; the short last batch is split as evenly as possible).
    - A mesh: the dataset is replicated on every device of the mesh, and the index table of the
      full batches is split along the batch axis, so the batches gathered from it are split
      too, each device holding ``batch_size // mesh.size`` consecutive examples of each batch
      (the short last batch, if any, is replicated). Index tables are drawn on the host. When
      the mesh spans several processes, every process holds the whole dataset and draws the
      same tables, and its devices load its contiguous part of every global batch, which
      ``num_parts``/``part_index`` must name.
    """

    def __init__(self, device: Any, batch_size: int, num_parts: Any, part_index: Any,
                 owner: str) -> None:
        check_device(device, owner)
        num_parts = jax.process_count() if num_parts is None else num_parts
        part_index = jax.process_index() if part_index is None else part_index
        num_parts = _check_part(num_parts, "num_parts", owner)
        part_index = _check_part(part_index, "part_index", owner)
        if num_parts < 1 or not 0 <= part_index < num_parts:
            raise ValueError(
                f"{owner}: need num_parts >= 1 and 0 <= part_index < num_parts, got "
                f"num_parts={num_parts}, part_index={part_index}."
            )
        self.mesh = device if isinstance(device, Mesh) else None
        self.device = None if self.mesh is not None else device
        self.num_parts, self.part_index = num_parts, part_index
        self.batch_size = batch_size
        if self.mesh is None:
            if batch_size % num_parts:
                raise ValueError(
                    f"{owner}: batch_size={batch_size} cannot be split into num_parts="
                    f"{num_parts} equal parts; use a batch size that is a multiple of "
                    f"{num_parts}."
                )
            return
        n = self.mesh.size
        if batch_size % n:
            raise ValueError(
                f"{owner}: batch_size={batch_size} cannot be split evenly over the {n} devices "
                f"of the mesh; use a multiple of {n}, e.g. "
                f"batch_size={n * max(1, batch_size // n)}."
            )
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.split = NamedSharding(self.mesh, PartitionSpec(None, tuple(self.mesh.axis_names)))
        processes = sorted({d.process_index for d in self.mesh.devices.flat})
        mine = self._local_columns()
        lo, hi = part_index * batch_size // num_parts, (part_index + 1) * batch_size // num_parts
        if num_parts != len(processes) or mine != (lo, hi):
            raise ValueError(
                f"{owner}: with a mesh over {len(processes)} process(es), each process loads the "
                f"examples its devices hold: num_parts must be {len(processes)} and this "
                f"process's devices must hold examples [{lo}, {hi}) of each batch of "
                f"{batch_size}, but they hold {mine} (num_parts={num_parts}, "
                f"part_index={part_index}). Leave num_parts and part_index at their defaults "
                "and build the mesh from jax.devices()."
            )

    def _local_columns(self) -> tuple[int, int] | None:
        spans = sorted({(idx[1].start or 0, idx[1].stop or self.batch_size) for idx in
                        self.split.addressable_devices_indices_map((1, self.batch_size)).values()})
        for (_, stop), (start, _) in itertools.pairwise(spans):
            if stop != start:
                return None
        return (spans[0][0], spans[-1][1]) if spans else None

    def data(self, array: Any) -> jax.Array:
        """A dataset array placed: on the device, or replicated on the mesh."""
        if self.mesh is None:
            return jax.device_put(array, self.device)
        return put(array, self.replicated)

    def order(self, words: tuple[int, ...] | None, epoch: int, n: int) -> Any:
        """The epoch's order (a host array with a mesh, whose tables are placed at the end)."""
        return epoch_order(words, epoch, n, self.device, host=self.mesh is not None)

    def empty(self) -> Any:
        return np.zeros((0,), np.int32) if self.mesh is not None else empty_indices(self.device)

    def tables(self, full: Any, rest: Any) -> tuple[jax.Array, jax.Array]:
        """This loader's ``(full, rest)`` tables, placed, from the epoch's global ones."""
        if self.mesh is not None:
            return put(full, self.split), put(rest, self.replicated)
        if self.num_parts == 1:
            return full, rest
        width = self.batch_size // self.num_parts
        r, p = rest.shape[0], self.part_index
        return (full[:, p * width:(p + 1) * width],
                rest[p * r // self.num_parts:(p + 1) * r // self.num_parts])


def concat(a: Any, b: Any) -> Any:
    """Two index streams end to end (on the host when both are host arrays)."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return np.concatenate([a, b])
    return jnp.concatenate([a, b])


def seed_words(seed: Any, owner: str) -> tuple[int, ...]:
    """The words of a ``jax.random`` key, from an int seed or a key (typed or raw ``uint32[2]``).

    An int seed and ``jax.random.key`` of it give the same words, hence the same shuffles.
    """
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        key = jax.random.key(int(seed))
    elif (
        isinstance(seed, jax.Array)
        and jnp.issubdtype(seed.dtype, jax.dtypes.prng_key)
        and seed.shape == ()
    ):
        key = seed
    elif isinstance(seed, jax.Array) and seed.dtype == jnp.uint32 and seed.shape == (2,):
        key = jax.random.wrap_key_data(seed)
    else:
        raise TypeError(
            f"{owner}: seed must be an int or a single jax.random key, got {seed!r}. "
            "Use e.g. seed=0 or seed=jax.random.key(0)."
        )
    return tuple(int(w) for w in np.asarray(jax.random.key_data(key)).ravel())


def epoch_order(words: tuple[int, ...] | None, epoch: int, n: int, device: Any,
                host: bool = False) -> Any:
    """The order of the examples in ``epoch``: a fresh permutation per epoch, or ``arange``.

    The permutation is drawn on the host from the key's words and the epoch number (a few
    milliseconds even for 60,000 examples, where ``jax.random.permutation`` costs seconds of
    compilation on a small CPU) and sent to the device once per epoch (``host``: kept on the host).
    """
    if words is None:
        order = np.arange(n, dtype=np.int32)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([*words, epoch]))
        order = rng.permutation(n).astype(np.int32)
    return order if host else jax.device_put(order, device)


def empty_indices(device: Any) -> jax.Array:
    empty = jnp.zeros((0,), jnp.int32)
    return empty if device is None else jax.device_put(empty, device)


def split_epoch(stream: jax.Array, batch_size: int, mode: str) -> tuple[jax.Array, jax.Array, int]:
    """Cut an index stream into ``(full, tail, pad)``.

    ``mode`` is 'pad' (the last, short batch is completed by wrapping round to the start of the
    stream, tiling it if the stream is shorter than a batch; ``pad`` says by how many), or anything
    else (the tail is returned for the caller to keep, drop or roll over).
    """
    n = stream.shape[0]
    num_full, r = divmod(n, batch_size)
    if mode == "pad" and r:
        wrap = np.arange((num_full + 1) * batch_size) % n
        full = stream[wrap].reshape(num_full + 1, batch_size)
        return full, stream[:0], batch_size - r
    full = stream[: num_full * batch_size].reshape(num_full, batch_size)
    return full, stream[num_full * batch_size :], 0


@jax.jit
def _gather_row(
    arrays: tuple[jax.Array, ...], table: jax.Array, i: jax.Array
) -> tuple[jax.Array, ...]:
    # Indices come from our own tables, so clipping never changes them; it is the cheapest mode.
    return tuple(jnp.take(a, table[i], axis=0, mode="clip") for a in arrays)


@functools.partial(jax.jit, static_argnums=3)
def _gather_chunk(
    arrays: tuple[jax.Array, ...], table: jax.Array, start: jax.Array, rows: int
) -> tuple[jax.Array, ...]:
    idx = jax.lax.dynamic_slice_in_dim(table, start, rows)
    return tuple(jnp.take(a, idx, axis=0, mode="clip") for a in arrays)


@jax.jit
def gather(arrays: tuple[jax.Array, ...], idx: jax.Array) -> tuple[jax.Array, ...]:
    return tuple(jnp.take(a, idx, axis=0, mode="clip") for a in arrays)


def chunk_rows(arrays: tuple[jax.Array, ...], num_batches: int, batch_size: int) -> int:
    """How many batches to gather at once (1: batch by batch)."""
    if num_batches < _MIN_BATCHES_FOR_CHUNKS:
        return 1
    row_bytes = batch_size * sum(
        a.dtype.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays
    )
    return max(1, min(_CHUNK_ROWS, _CHUNK_BYTES // max(row_bytes, 1)))


def iter_full_batches(
    arrays: tuple[jax.Array, ...], full: jax.Array
) -> Iterator[tuple[jax.Array, ...]]:
    """Yield the batch (a tuple with one array per source) for each row of ``full``."""
    num_batches, batch_size = full.shape
    rows = chunk_rows(arrays, num_batches, batch_size)
    # On a mesh, batch by batch: iterating over a chunk would hand out its rows on one device.
    if rows == 1 or len(full.sharding.device_set) > 1:
        for i in range(num_batches):
            yield _gather_row(arrays, full, i)
        return
    for s in range(0, num_batches, rows):
        # The last chunk is moved back to end at the table's end, so every call has the same
        # shape (one compilation); the rows it repeats are skipped.
        start = min(s, num_batches - rows)
        chunk = _gather_chunk(arrays, full, start, rows)
        yield from itertools.islice(zip(*chunk, strict=True), s - start, None)
