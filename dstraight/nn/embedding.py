"""Embedding: integer indices (tokens, item ids) looked up as rows of a learned table.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import nn
    >>> nn.reset_name_counters()
    >>> emb = nn.Embedding(10, 4)
    >>> emb.initialize("ones")
    >>> emb(jnp.array([[1, 2, 3], [4, 5, 6]])).shape     # (batch, tokens, output_dim)
    (2, 3, 4)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import positive_int
from .block import HybridBlock

__all__ = ["Embedding"]


class Embedding(HybridBlock):
    """Maps each index ``i`` in ``0 .. input_dim - 1`` to row ``i`` of ``weight``.

    An input of shape ``(d1, ..., dk)`` gives an output of shape ``(d1, ..., dk, output_dim)``.
    ``weight`` has shape ``(input_dim, output_dim)``, as in MXNet. Indices may be integers or,
    as MXNet's token arrays often are, floats holding whole numbers.

    An index outside ``0 .. input_dim - 1`` (negative ones included: they do not count from
    the end) is a fault. When the values are known, in a call ``net(x)`` that is not compiled,
    it raises a ``ValueError``. Inside ``jax.jit`` (``net.apply`` under jit, ``hybridize()``, the
    trainers) the values are not known when the program is built, so the row of such an index
    is all NaN: the loss becomes NaN and the trainers report it, instead of training silently
    on a clamped or wrapped-around row.

    Args:
        input_dim: the vocabulary size, i.e. the largest index plus one.
        output_dim: the length of each embedding vector.
        dtype: the weight's (and the output's) floating dtype.
        weight_initializer: the weight's own initializer; ``None`` uses the one given to
            ``initialize``.
        sparse_grad: accepted for MXNet code and ignored. MXNet can return the gradient of
            ``weight`` as a ``row_sparse`` array holding only the rows that were looked up;
            JAX has no such array type here, and under ``jax.jit`` XLA builds the dense
            gradient as one scatter-add anyway.
        prefix, params, name: see :class:`Block`.

    Examples:
        >>> from dstraight import init, nn
        >>> nn.reset_name_counters()
        >>> emb = Embedding(3, 2)
        >>> emb
        Embedding(3 -> 2, float32)
        >>> emb.initialize(init.Constant(0.5))
        >>> emb(jnp.array([0, 2])).tolist()
        [[0.5, 0.5], [0.5, 0.5]]
        >>> emb(jnp.array([0, 3]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: embedding0: Embedding(input_dim=3) got index 3 ...
    """

    def __init__(self, input_dim: int, output_dim: int, dtype: Any = "float32",
                 weight_initializer: Any = None, sparse_grad: bool = False, **kwargs: Any):
        positive_int(input_dim, "Embedding(input_dim=...)")
        positive_int(output_dim, "Embedding(output_dim=...)")
        try:
            floating = jnp.issubdtype(jnp.dtype(dtype), jnp.floating)
        except TypeError:
            floating = False
        if not floating:
            raise TypeError(f"Embedding(dtype=...) must be a floating dtype such as 'float32', "
                            f"got {dtype!r}.")
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.dtype = jnp.dtype(dtype).name
        self.sparse_grad = bool(sparse_grad)
        self.weight = self.params.get("weight", shape=(input_dim, output_dim),
                                      init=weight_initializer, dtype=dtype)

    def __repr__(self) -> str:
        return f"Embedding({self.input_dim} -> {self.output_dim}, {self.dtype})"

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.integer):
            index = x
            valid = (index >= 0) & (index < self.input_dim)
        elif jnp.issubdtype(x.dtype, jnp.floating):
            index = x.astype(jnp.int32)
            valid = (x >= 0) & (x < self.input_dim) & (index == x)
        else:
            raise TypeError(
                f"{self.name}: Embedding takes integer indices (or floats holding whole "
                f"numbers), got an input of dtype {x.dtype}. Convert tokens to ids first.")
        if not isinstance(valid, jax.core.Tracer):
            self._check(x, np.asarray(valid))
        weight = self.weight.data()
        rows = jnp.take(weight, jnp.where(valid, index, 0), axis=0)
        # NaN marks the fault under jit, where raising is impossible
        return jnp.where(valid[..., None], rows, jnp.asarray(jnp.nan, weight.dtype))

    def _check(self, x: jax.Array, valid: np.ndarray) -> None:
        if valid.all():
            return
        where = tuple(int(i) for i in np.argwhere(~valid)[0])
        bad = np.asarray(x)[where]
        raise ValueError(
            f"{self.name}: Embedding(input_dim={self.input_dim}) got index {bad} at position "
            f"{where} of an input of shape {tuple(x.shape)}; indices must be whole numbers in "
            f"0..{self.input_dim - 1} ({int((~valid).sum())} of {valid.size} are not). Map "
            f"unknown tokens to a reserved index, or make input_dim larger.")
