"""Losses over embeddings: cosine embedding (pairs) and triplet (anchor, positive, negative).

Both compare vectors rather than a prediction with a target, so their inputs are two or three
arrays of the same number of elements; the second and third are reshaped to the first, never
broadcast.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ._checks import (
    checked_axis,
    checked_set,
    match_label,
    poison,
    prediction,
    reduce,
)
from .base import Loss

__all__ = [
    "CosineEmbeddingLoss",
    "TripletLoss",
    "cosine_embedding_loss",
    "triplet_loss",
]


def _same_size(x: Any, like: jax.Array, what: str, like_what: str, where: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.shape == like.shape:
        return x
    if x.size == like.size:
        return x.reshape(like.shape)
    raise ValueError(
        f"{where}: {what} of shape {x.shape} does not fit {like_what} of shape {like.shape}: "
        f"expected the same shape (or {like.size} elements, which are reshaped to it). "
        f"Broadcasting is not attempted."
    )


def cosine_embedding_loss(input1: Any, input2: Any, label: Any, margin: float = 0.0,
                          weight: float | None = None, batch_axis: int = 0,
                          sample_weight: Any = None) -> jax.Array:
    """Cosine embedding loss of vector pairs with labels 1 (similar) or -1 (dissimilar).

    With ``s`` the cosine similarity of ``input1`` and ``input2`` along their **last** axis (as
    in gluon; the norms' product is floored at 1e-12), each pair's loss is ``1 - s`` for label 1
    and ``max(0, s - margin)`` for label -1. For inputs of shape ``(N, D)`` there is one pair per
    example; more axes give more pairs per example, whose losses are averaged.

    Labels other than -1 and 1 raise a ``ValueError`` when concrete and give ``nan`` under
    ``jax.jit`` (a label 0 would silently give loss 0).

    Args:
        input1: vectors along the last axis, with a batch axis; reshaped to ``input2``'s shape
            if it has the same number of elements (gluon's ``reshape_like``).
        input2: the vectors compared with ``input1``.
        label: one -1 or 1 per pair: ``input2.shape[:-1]`` elements (``(N,)`` for ``(N, D)``).
        margin: similarity below which a dissimilar pair costs nothing.
        weight: global scale factor.
        batch_axis: the axis that indexes examples; not the last (vector) axis.
        sample_weight: optional weights, broadcastable to the per-pair loss with the vector
            axis kept as size 1, e.g. ``(N, 1)`` for ``(N, D)`` inputs.

    Returns:
        One loss per example.

    Raises:
        ValueError: if the inputs have fewer than 2 axes or different sizes, ``batch_axis`` is
            the vector axis, the label does not have one value per pair, or concrete labels
            are not -1/1.

    Examples:
        >>> a = jnp.array([[1.0, 0.0], [1.0, 0.0]])
        >>> b = jnp.array([[1.0, 1.0], [1.0, 1.0]])            # cosine similarity 0.7071
        >>> cosine_embedding_loss(a, b, jnp.array([1, -1])).round(4)
        Array([0.2929, 0.7071], dtype=float32)
    """
    where = "cosine_embedding_loss"
    input2 = prediction(input2, where)
    if input2.ndim < 2:
        raise ValueError(
            f"{where}: the inputs must have a batch axis and a vector axis (the last), got "
            f"shape {input2.shape}. For one pair per example use shape (N, D)."
        )
    batch_axis = checked_axis(batch_axis, input2.ndim, "batch_axis", where)
    if batch_axis == input2.ndim - 1:
        raise ValueError(
            f"{where}: batch_axis={batch_axis} is the vector axis (the cosine similarity is "
            f"taken along the last axis); pass the axis that indexes examples, e.g. 0."
        )
    input1 = _same_size(input1, input2, "input1", "input2", where)
    pair_shape = (*input2.shape[:-1], 1)
    label = match_label(label, pair_shape, input2.shape, where,
                        " Pass one label, -1 or 1, per pair of vectors.")
    ok = checked_set(label, (-1, 1), where, "Labels 0/1 become -1/1 with 2 * y - 1.")
    dot = jnp.sum(input1 * input2, axis=-1, keepdims=True)
    norms = jnp.sqrt(jnp.sum(jnp.square(input1), axis=-1, keepdims=True)
                     * jnp.sum(jnp.square(input2), axis=-1, keepdims=True))
    cos = dot / jnp.maximum(norms, 1e-12)
    loss = jnp.where(label == 1, 1.0 - cos, jax.nn.relu(cos - margin))
    return reduce(poison(loss, ok), batch_axis, weight, sample_weight, where)


def triplet_loss(pred: Any, positive: Any, negative: Any, margin: float = 1.0,
                 weight: float | None = None, batch_axis: int = 0,
                 sample_weight: Any = None) -> jax.Array:
    """Triplet loss ``max(0, |positive - pred|^2 - |negative - pred|^2 + margin)`` per example.

    As in gluon the squared distances are *summed* over all axes but ``batch_axis`` (not
    averaged as the elementwise losses are) before the hinge: the anchor ``pred`` should be
    closer to ``positive`` than to ``negative`` by at least ``margin``.

    Args:
        pred: the anchors' embeddings, with a batch axis.
        positive: embeddings of the same class, reshaped to ``pred`` if of the same size.
        negative: embeddings of another class, likewise.
        margin: the required gap between the squared distances.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional per-example weights, broadcastable to the loss with the other
            axes kept as size 1, e.g. ``(N, 1)`` for ``(N, D)`` embeddings (gluon has none).

    Returns:
        One loss per example.

    Raises:
        ValueError: if ``positive`` or ``negative`` has another number of elements than
            ``pred``, or ``batch_axis`` is out of range.

    Examples:
        >>> anchor = jnp.array([[0.0, 0.0], [0.0, 0.0]])
        >>> pos = jnp.array([[1.0, 0.0], [3.0, 0.0]])
        >>> neg = jnp.array([[0.0, 2.0], [0.0, 2.0]])
        >>> triplet_loss(anchor, pos, neg).tolist()           # 1 - 4 + 1, 9 - 4 + 1
        [0.0, 6.0]
    """
    where = "triplet_loss"
    pred = prediction(pred, where)
    batch_axis = checked_axis(batch_axis, pred.ndim, "batch_axis", where)
    positive = _same_size(positive, pred, "positive", "pred", where)
    negative = _same_size(negative, pred, "negative", "pred", where)
    axes = tuple(a for a in range(pred.ndim) if a != batch_axis)
    gap = jnp.sum(jnp.square(positive - pred) - jnp.square(negative - pred), axis=axes,
                  keepdims=True)
    return reduce(jax.nn.relu(gap + margin), batch_axis, weight, sample_weight, where)


class CosineEmbeddingLoss(Loss):
    """Cosine embedding loss of pairs with labels -1/1; see :func:`cosine_embedding_loss`.

    Called as ``loss(input1, input2, label, sample_weight=None)``.

    Examples:
        >>> x = jnp.array([[1.0, 0.0]])
        >>> CosineEmbeddingLoss(margin=0.5)(x, x, jnp.array([-1])).tolist()
        [0.5]
    """

    def __init__(self, weight: float | None = None, batch_axis: int = 0, margin: float = 0):
        super().__init__(weight, batch_axis)
        self.margin = margin

    def __call__(self, input1: Any, input2: Any, label: Any,
                 sample_weight: Any = None) -> jax.Array:
        return cosine_embedding_loss(input1, input2, label, self.margin, self.weight,
                                     self.batch_axis, sample_weight)


class TripletLoss(Loss):
    """Triplet loss of (anchor, positive, negative) embeddings; see :func:`triplet_loss`.

    Called as ``loss(pred, positive, negative, sample_weight=None)``.

    Examples:
        >>> z = jnp.zeros((1, 3))
        >>> TripletLoss(margin=2)(z, z, z).tolist()
        [2.0]
    """

    def __init__(self, margin: float = 1, weight: float | None = None, batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.margin = margin

    def __call__(self, pred: Any, positive: Any, negative: Any,
                 sample_weight: Any = None) -> jax.Array:
        return triplet_loss(pred, positive, negative, self.margin, self.weight,
                            self.batch_axis, sample_weight)

