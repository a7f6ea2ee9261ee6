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

# Batches are gathered a chunk at a time and the chunk is split into batches: one dispatch per
# chunk instead of one per batch. Splitting compiles one small kernel per batch of the chunk, so a
# chunk is kept short, and short epochs, where the compilation would not pay off, gather batch by
# batch instead. The byte cap keeps a chunk of big batches from doubling device memory.
_CHUNK_ROWS = 16
_CHUNK_BYTES = 16 << 20
_MIN_BATCHES_FOR_CHUNKS = 64


def check_batch_size(batch_size: Any, owner: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(
            f"{owner}: batch_size must be a positive integer, got {batch_size!r} "
            f"({type(batch_size).__name__})."
        )
    if batch_size <= 0:
        raise ValueError(f"{owner}: batch_size must be a positive integer, got {batch_size}.")
    return int(batch_size)


def check_device(device: Any, owner: str) -> None:
    if device is not None and not isinstance(device, jax.Device):
        raise TypeError(
            f"{owner}: device must be a jax.Device (e.g. dstraight.cpu()) or None, got {device!r}."
        )


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


def epoch_order(words: tuple[int, ...] | None, epoch: int, n: int, device: Any) -> jax.Array:
    """The order of the examples in ``epoch``: a fresh permutation per epoch, or ``arange``.

    The permutation is drawn on the host from the key's words and the epoch number (a few
    milliseconds even for 60,000 examples, where ``jax.random.permutation`` costs seconds of
    compilation on a small CPU) and sent to the device once per epoch.
    """
    if words is None:
        order = np.arange(n, dtype=np.int32)
    else:
        rng = np.random.default_rng(np.random.SeedSequence([*words, epoch]))
        order = rng.permutation(n).astype(np.int32)
    return jax.device_put(order, device)


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
    if rows == 1:
        for i in range(num_batches):
            yield _gather_row(arrays, full, i)
        return
    for s in range(0, num_batches, rows):
        # The last chunk is moved back to end at the table's end, so every call has the same
        # shape (one compilation); the rows it repeats are skipped.
        start = min(s, num_batches - rows)
        chunk = _gather_chunk(arrays, full, start, rows)
        yield from itertools.islice(zip(*chunk, strict=True), s - start, None)
