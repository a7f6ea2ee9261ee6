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

# A gather fetches up to this many bytes of batches at once: large enough that the per-chunk
# dispatch vanishes next to the per-batch loop, small enough not to double device memory. Below
# 100 rows, iterating a chunk is a single unstack (jax.Array.__iter__ slices longer arrays into
# pieces of 100 first, with an eager dispatch per piece).
_CHUNK_BYTES = 8 << 20
_MAX_CHUNK_ROWS = 64


def check_batch_size(batch_size: Any, owner: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(
            f"{owner}: batch_size must be a positive integer, got {batch_size!r} "
            f"({type(batch_size).__name__})."
        )
    if batch_size <= 0:
        raise ValueError(f"{owner}: batch_size must be a positive integer, got {batch_size}.")
    return int(batch_size)


def as_key(seed: Any, owner: str) -> jax.Array:
    """A typed PRNG key from an int seed or a ``jax.random`` key (typed or raw ``uint32[2]``)."""
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        return jax.random.key(int(seed))
    if isinstance(seed, jax.Array):
        if jnp.issubdtype(seed.dtype, jax.dtypes.prng_key) and seed.shape == ():
            return seed
        if seed.dtype == jnp.uint32 and seed.shape == (2,):
            return jax.random.wrap_key_data(seed)
    raise TypeError(
        f"{owner}: seed must be an int or a single jax.random key, got {seed!r}. "
        "Use e.g. seed=0 or seed=jax.random.key(0)."
    )


@functools.partial(jax.jit, static_argnums=2)
def _permutation(key: jax.Array, epoch: jax.Array, n: int) -> jax.Array:
    return jax.random.permutation(jax.random.fold_in(key, epoch), n).astype(jnp.int32)


def epoch_order(key: jax.Array | None, epoch: int, n: int, device: Any) -> jax.Array:
    """The order of the examples in ``epoch``: a fresh permutation per epoch, or ``arange``."""
    order = jnp.arange(n, dtype=jnp.int32) if key is None else _permutation(key, epoch, n)
    return order if device is None else jax.device_put(order, device)


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


@functools.partial(jax.jit, static_argnums=(3, 4))
def _gather_chunk(
    arrays: tuple[jax.Array, ...], table: jax.Array, start: jax.Array, rows: int, with_index: bool
) -> tuple[jax.Array, ...]:
    idx = jax.lax.dynamic_slice_in_dim(table, start, rows)
    # Indices come from our own tables, so clipping never changes them; it is the cheapest mode.
    gathered = tuple(jnp.take(a, idx, axis=0, mode="clip") for a in arrays)
    return (idx, *gathered) if with_index else gathered


@jax.jit
def gather(arrays: tuple[jax.Array, ...], idx: jax.Array) -> tuple[jax.Array, ...]:
    return tuple(jnp.take(a, idx, axis=0, mode="clip") for a in arrays)


def chunk_rows(arrays: tuple[jax.Array, ...], num_batches: int, batch_size: int) -> int:
    row_bytes = batch_size * sum(
        a.dtype.itemsize * int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays
    )
    return max(1, min(num_batches, _MAX_CHUNK_ROWS, _CHUNK_BYTES // max(row_bytes, 1)))


def iter_full_batches(
    arrays: tuple[jax.Array, ...], full: jax.Array, with_index: bool = False
) -> Iterator[tuple[jax.Array, ...]]:
    """Yield the batch (``(indices, *arrays)`` with ``with_index``) for each row of ``full``.

    The rows are gathered a chunk at a time.
    """
    num_batches, batch_size = full.shape
    if num_batches == 0:
        return
    rows = chunk_rows(arrays, num_batches, batch_size)
    for s in range(0, num_batches, rows):
        # The last chunk is moved back to end at the table's end, so every call has the same
        # shape (one compilation); the rows it repeats are skipped.
        start = min(s, num_batches - rows)
        chunk = _gather_chunk(arrays, full, start, rows, with_index)
        yield from itertools.islice(zip(*chunk, strict=True), s - start, None)
