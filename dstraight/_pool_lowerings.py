"""The ``"reshape"`` lowering of :func:`dstraight.ops.max_pool2d` and ``avg_pool2d``: windows that
tile the input, as a reshape and one reduction, and the max's gradient to each window's first
maximum.

Why a gradient of its own: JAX differentiates ``max`` over the window axes by sharing the
cotangent among the entries that tie, which needs the input twice more in the backward pass (to
find and to count the ties). On a CPU, XLA recomputes that input inside each consumer when it is
a cheap elementwise expression, such as the one-input-channel convolution before LeNet's first
pool: 2.3 ms of a 10 ms step. Here the forward pass records, per window, the position of its first
maximum (one small integer per output), and the backward pass only places the cotangent there.
The first maximum is what MXNet, PyTorch and ``lax.reduce_window`` choose too.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["Tiles", "tiles_max", "tiles_sum"]


class Tiles(NamedTuple):  # the static geometry, hashable for custom_vjp's nondiff argument
    shape: tuple[int, ...]  # the input's
    axes: tuple[int, int]  # its H and W axes
    window: tuple[int, int]  # pool_size (== strides)
    outs: tuple[int, int]  # output H and W


def _blocks(x, t: Tiles):
    """``x`` without the rows and columns no window covers, each window spread over two axes
    (output position, position in the window); and the two window axes."""
    shape, limits = [], list(x.shape)
    for ax in range(x.ndim):
        if ax in t.axes:
            i = t.axes.index(ax)
            limits[ax] = t.outs[i] * t.window[i]
            shape += [t.outs[i], t.window[i]]
        else:
            shape.append(x.shape[ax])
    inner = (t.axes[0] + 1, t.axes[1] + 2)
    return lax.slice(x, (0,) * x.ndim, limits).reshape(shape), inner


def _positions(t: Tiles, inner, ndim: int, dtype) -> np.ndarray:
    """Each entry's row-major position in its window, shaped to broadcast against the blocks."""
    shape = [1] * ndim
    shape[inner[0]], shape[inner[1]] = t.window
    return np.arange(t.window[0] * t.window[1], dtype=dtype).reshape(shape)


def tiles_sum(x, t: Tiles):
    blocks, inner = _blocks(x, t)
    return blocks.sum(axis=inner)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def tiles_max(x, t: Tiles):
    blocks, inner = _blocks(x, t)
    return blocks.max(axis=inner)


def _max_fwd(x, t: Tiles):
    blocks, inner = _blocks(x, t)
    y = blocks.max(axis=inner)
    size = t.window[0] * t.window[1]
    dtype = np.int8 if size < 127 else np.int32
    hit = blocks == jnp.expand_dims(y, inner)
    if jnp.issubdtype(blocks.dtype, jnp.floating):  # max returns a window's NaN: so does its
        hit = hit | jnp.isnan(blocks)               # gradient, to the first NaN
    first = jnp.where(hit, _positions(t, inner, blocks.ndim, dtype), dtype(size)).min(axis=inner)
    return y, first


def _max_bwd(t: Tiles, first, g):
    inner = (t.axes[0] + 1, t.axes[1] + 2)
    ndim = len(t.shape) + 2
    at = jnp.expand_dims(first, inner) == _positions(t, inner, ndim, first.dtype)
    dx = jnp.where(at, jnp.expand_dims(g, inner), jnp.zeros((), g.dtype))
    covered = list(t.shape)
    for i, ax in enumerate(t.axes):
        covered[ax] = t.outs[i] * t.window[i]
    dx = dx.reshape(covered)
    widths = [(0, full - part, 0) for full, part in zip(t.shape, covered, strict=True)]
    return (lax.pad(dx, jnp.zeros((), g.dtype), widths),)


tiles_max.defvjp(_max_fwd, _max_bwd)
