"""The ``"reshape"`` lowering of :func:`dstraight.ops.max_pool2d` and ``avg_pool2d``, for windows
that tile the input: a reshape and one reduction, and a gradient of its own for the max.

JAX differentiates a ``max`` over the window axes by sharing the cotangent among the entries that
tie. XLA's CPU compiler makes that three passes over the pool's input (find the ties, count
them, spread the cotangent) and, when the input is a cheap expression such as the one-channel
convolution before LeNet's first pool, recomputes the input in each pass: 2.1 ms of a 10 ms
step. The gradient here sends each window's cotangent to its first maximum (row-major), as
MXNet, PyTorch and ``lax.reduce_window`` do: one small reduction finds that position per window,
and one elementwise pass places the cotangent there (0.6 ms together). The cotangent passes
:func:`~dstraight._fusion_barrier.materialized` first, since the placing pass reads it once per
window entry.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._fusion_barrier import materialized

__all__ = ["Tiles", "tiles_max", "tiles_sum"]


class Tiles(NamedTuple):  # the static geometry, hashable for custom_vjp's nondiff argument
    shape: tuple[int, ...]  # the input's
    axes: tuple[int, int]  # its H and W axes
    window: tuple[int, int]  # pool_size (== strides)
    outs: tuple[int, int]  # output H and W


def _covered(t: Tiles) -> list[int]:
    """The input's shape without the rows and columns no window covers (floor mode drops them)."""
    covered = list(t.shape)
    for i, ax in enumerate(t.axes):
        covered[ax] = t.outs[i] * t.window[i]
    return covered


def _blocks(x, t: Tiles):
    """``x`` without the rows and columns no window covers, each window spread over two axes
    (output position, position in the window); and the two window axes."""
    shape = []
    for ax in range(x.ndim):
        if ax in t.axes:
            i = t.axes.index(ax)
            shape += [t.outs[i], t.window[i]]
        else:
            shape.append(x.shape[ax])
    inner = (t.axes[0] + 1, t.axes[1] + 2)
    return lax.slice(x, (0,) * x.ndim, _covered(t)).reshape(shape), inner


def _positions(t: Tiles, inner, ndim: int) -> np.ndarray:
    """Each entry's row-major position in its window, shaped to broadcast against the blocks.

    int32, not int8 or float32: XLA's CPU compiler hands a reduction of those to its YNN
    library, which first writes the whole masked array out (LeNet's first pool: 1.9-2.0 ms
    against 0.6 ms for the search and the placing pass together in int32)."""
    shape = [1] * ndim
    shape[inner[0]], shape[inner[1]] = t.window
    return np.arange(t.window[0] * t.window[1], dtype=np.int32).reshape(shape)


def tiles_sum(x, t: Tiles):
    blocks, inner = _blocks(x, t)
    return blocks.sum(axis=inner)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def tiles_max(x, t: Tiles):
    blocks, inner = _blocks(x, t)
    return blocks.max(axis=inner)


def _max_fwd(x, t: Tiles):
    y = tiles_max(x, t)
    return y, (x, y)


def _max_bwd(t: Tiles, residuals, g):
    x, y = residuals
    blocks, inner = _blocks(x, t)
    pos = _positions(t, inner, blocks.ndim)
    size = pos.dtype.type(pos.size)
    # a window's max is its first NaN if it holds one: so is where its gradient goes
    hit = (blocks == jnp.expand_dims(y, inner)) | (blocks != blocks)
    first = jnp.where(hit, pos, size).min(axis=inner)
    zero = jnp.zeros((), g.dtype)
    dx = jnp.where(jnp.expand_dims(first, inner) == pos,
                   jnp.expand_dims(materialized(g), inner), zero)
    covered = _covered(t)
    widths = [(0, full - part, 0) for full, part in zip(t.shape, covered, strict=True)]
    return (lax.pad(dx.reshape(covered), zero, widths),)


tiles_max.defvjp(_max_fwd, _max_bwd)
