"""Losses over class scores: softmax cross-entropy and the Kullback-Leibler divergence."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import (
    EPS,
    checked_axis,
    checked_unit,
    class_indices,
    concrete,
    elementwise,
    match_label,
    poison,
    prediction,
    reduce,
)
from .base import Loss

__all__ = [
    "KLDivLoss",
    "SoftmaxCELoss",
    "SoftmaxCrossEntropyLoss",
    "kl_div_loss",
    "softmax_cross_entropy",
]


def softmax_cross_entropy(pred: Any, label: Any, axis: int = -1, sparse_label: bool = True,
                          from_logits: bool = False, weight: float | None = 1.0,
                          batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """Cross-entropy between ``softmax(pred)`` and the labels, one value per example.

    Computed from ``log_softmax`` (via optax), so large logits do not overflow. Class indices
    outside ``0..C-1`` or with a fractional part raise a ``ValueError`` when the labels are
    concrete, and give ``nan`` for that example under ``jax.jit`` (gluon would silently pick
    a wrong class, and a label ``-1`` would score the last class).

    Args:
        pred: unnormalised scores (logits), or log-probabilities if ``from_logits=True``;
            classes along ``axis``, at least two of them.
        label: class indices (``sparse_label=True``; the shape of ``pred`` without ``axis``,
            int or whole-valued float) or probabilities of the same shape as ``pred``.
        axis: the class axis.
        sparse_label: whether labels are class indices rather than distributions.
        from_logits: gluon's name for "``pred`` is already ``log_softmax`` output".
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred`` with ``axis`` of size 1.

    Returns:
        One loss per example.

    Raises:
        ValueError: if there is one class, the label shape does not fit, an axis is out of
            range, or concrete labels are not class indices of ``pred``.

    Examples:
        >>> logits = jnp.array([[2.0, 0.0], [0.0, 2.0]])
        >>> softmax_cross_entropy(logits, jnp.array([0, 0])).round(4)
        Array([0.1269, 2.1269], dtype=float32)
        >>> onehot = jnp.array([[1.0, 0.0], [1.0, 0.0]])
        >>> softmax_cross_entropy(logits, onehot, sparse_label=False).round(4)
        Array([0.1269, 2.1269], dtype=float32)
    """
    where = "softmax_cross_entropy"
    pred = prediction(pred, where)
    axis = checked_axis(axis, pred.ndim, "axis", where)
    batch_axis = checked_axis(batch_axis, pred.ndim, "batch_axis", where)
    if pred.shape[axis] == 1:
        raise ValueError(
            f"{where}: the prediction of shape {pred.shape} has one class along axis {axis}, and "
            "softmax over one class is always 1, so the loss would be 0 whatever the network "
            "does: use SigmoidBinaryCrossEntropyLoss for two classes with one output, or "
            "Dense(num_classes)."
        )
    scores = jnp.moveaxis(pred, axis, -1)
    if sparse_label:
        shape = scores.shape[:-1]
        hint = (
            " With sparse_label=True labels are class indices; pass sparse_label=False for "
            "one-hot or probability labels." if jnp.shape(label) == pred.shape else ""
        )
        label = match_label(label, shape, pred.shape, where, hint)
        index, ok = class_indices(label, scores.shape[-1], where)
        if from_logits:
            loss = -jnp.take_along_axis(scores, index[..., None], axis=-1)[..., 0]
        else:
            loss = optax.softmax_cross_entropy_with_integer_labels(scores, index)
        loss = poison(loss, ok)
    else:
        hint = (
            " With sparse_label=False labels are one-hot or probability rows of the "
            "prediction's shape; pass class indices with sparse_label=True (the default)."
            if jnp.shape(label) == scores.shape[:-1] else ""
        )
        label = jnp.moveaxis(match_label(label, pred.shape, pred.shape, where, hint), axis, -1)
        if from_logits:
            loss = -jnp.sum(scores * label, axis=-1)
        else:
            loss = optax.softmax_cross_entropy(scores, label)
    # restore the class axis (size 1) so that batch_axis and sample_weight refer to pred's axes
    loss = jnp.expand_dims(loss, axis)
    return reduce(loss, batch_axis, weight, sample_weight, where)


def kl_div_loss(pred: Any, label: Any, from_logits: bool = True, axis: int = -1,
                weight: float | None = None, batch_axis: int = 0,
                sample_weight: Any = None) -> jax.Array:
    """Kullback-Leibler divergence ``label * (log(label) - log_q)``, averaged per example.

    As in gluon, the elementwise terms are *averaged* over the non-batch axes, so for ``(N, C)``
    inputs each value is the divergence ``KL(label || q)`` divided by ``C``; and ``log(label)``
    is ``log(label + 1e-12)``, so zero probabilities contribute 0.

    Args:
        pred: log-probabilities ``log_q`` (``from_logits=True``, gluon's default: e.g. the
            output of ``jax.nn.log_softmax``), or unnormalised scores, turned into
            log-probabilities with a log-softmax over ``axis``.
        label: the target distribution, values in ``[0, 1]``, same shape or size as ``pred``.
        from_logits: whether ``pred`` already holds log-probabilities.
        axis: the class axis of the log-softmax (used only when ``from_logits=False``).
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred``.

    Returns:
        One loss per example.

    Raises:
        ValueError: if the label does not fit, or concrete values are impossible: labels
            outside ``[0, 1]``, or ``from_logits=True`` with positive "log-probabilities".

    Examples:
        >>> q = jnp.log(jnp.array([[0.5, 0.5]]))
        >>> kl_div_loss(q, jnp.array([[1.0, 0.0]])).round(4)   # log(2) / 2 classes
        Array([0.3466], dtype=float32)
    """
    where = "kl_div_loss"
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    ok = checked_unit(label, "labels (probabilities)", where,
                       "Pass the target distribution, e.g. jax.nn.softmax of target scores.")
    if from_logits:
        values = concrete(pred)
        if values is not None and np.any(values > 1e-6):
            raise ValueError(
                f"{where}: with from_logits=True the prediction must be log-probabilities "
                f"(at most 0), got values up to {values.max():g}. Pass "
                "jax.nn.log_softmax(scores), or from_logits=False for unnormalised scores."
            )
    else:
        pred = jax.nn.log_softmax(pred, axis=checked_axis(axis, pred.ndim, "axis", where))
    loss = poison(label * (jnp.log(label + EPS) - pred), ok)
    return reduce(loss, batch_axis, weight, sample_weight, where)



class SoftmaxCrossEntropyLoss(Loss):
    """Softmax then cross-entropy (alias ``SoftmaxCELoss``); see :func:`softmax_cross_entropy`.

    Args:
        axis: the class axis.
        sparse_label: labels are class indices (``True``) or distributions.
        from_logits: ``pred`` is already ``log_softmax`` output (gluon's naming).
        weight: global scale factor.
        batch_axis: the axis that indexes examples.

    Examples:
        >>> ce = SoftmaxCrossEntropyLoss()
        >>> ce(jnp.array([[0.0, 0.0]]), jnp.array([1])).round(4)
        Array([0.6931], dtype=float32)
    """

    def __init__(self, axis: int = -1, sparse_label: bool = True, from_logits: bool = False,
                 weight: float | None = None, batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.axis = axis
        self.sparse_label = sparse_label
        self.from_logits = from_logits

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return softmax_cross_entropy(pred, label, self.axis, self.sparse_label, self.from_logits,
                                     self.weight, self.batch_axis, sample_weight)


class KLDivLoss(Loss):
    """Kullback-Leibler divergence, gluon's defaults; see :func:`kl_div_loss`.

    Examples:
        >>> KLDivLoss(from_logits=False)(jnp.zeros((1, 2)), jnp.array([[0.5, 0.5]])).tolist()
        [0.0]
    """

    def __init__(self, from_logits: bool = True, axis: int = -1, weight: float | None = None,
                 batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.from_logits = from_logits
        self.axis = axis

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return kl_div_loss(pred, label, self.from_logits, self.axis, self.weight,
                           self.batch_axis, sample_weight)



# gluon's short name
SoftmaxCELoss = SoftmaxCrossEntropyLoss
