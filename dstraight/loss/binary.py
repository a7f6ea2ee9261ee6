"""Losses for two classes: sigmoid binary cross-entropy, hinge, squared hinge, logistic."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from ._checks import (
    EPS,
    checked_set,
    checked_unit,
    elementwise,
    poison,
    reduce,
)
from .base import Loss

__all__ = [
    "HingeLoss",
    "LogisticLoss",
    "SigmoidBCELoss",
    "SigmoidBinaryCrossEntropyLoss",
    "SquaredHingeLoss",
    "hinge_loss",
    "logistic_loss",
    "sigmoid_binary_cross_entropy",
    "squared_hinge_loss",
]


def sigmoid_binary_cross_entropy(pred: Any, label: Any, from_sigmoid: bool = False,
                                 weight: float | None = 1.0, batch_axis: int = 0,
                                 sample_weight: Any = None) -> jax.Array:
    """Binary cross-entropy with labels in ``[0, 1]``, averaged per example.

    Labels outside ``[0, 1]`` raise a ``ValueError`` when concrete and give ``nan`` under
    ``jax.jit``.

    Args:
        pred: logits, or probabilities if ``from_sigmoid=True``.
        label: targets in ``[0, 1]``, same shape or number of elements as ``pred``.
        from_sigmoid: whether ``pred`` already went through a sigmoid.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights broadcastable to ``pred``.

    Returns:
        One loss per example.

    Raises:
        ValueError: if ``label`` or ``sample_weight`` does not fit ``pred``, or concrete
            labels are outside ``[0, 1]``.

    Examples:
        >>> sigmoid_binary_cross_entropy(jnp.array([0.0, 0.0]), jnp.array([1.0, 0.0])).round(4)
        Array([0.6931, 0.6931], dtype=float32)
    """
    where = "sigmoid_binary_cross_entropy"
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    ok = checked_unit(label, "labels", where,
                       "Labels -1/1 become 0/1 with (y + 1) / 2; class indices of more than two "
                       "classes need SoftmaxCrossEntropyLoss.")
    if from_sigmoid:
        loss = -(label * jnp.log(pred + EPS) + (1 - label) * jnp.log(1 - pred + EPS))
    else:
        # optax uses the stable form max(x, 0) - x * z + log(1 + exp(-|x|))
        loss = optax.sigmoid_binary_cross_entropy(pred, label.astype(pred.dtype))
    return reduce(poison(loss, ok), batch_axis, weight, sample_weight, where)


_SIGNED_HINT = "Labels 0/1 become -1/1 with 2 * y - 1."


def hinge_loss(pred: Any, label: Any, margin: float = 1.0, weight: float | None = None,
               batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """The SVM hinge loss ``max(0, margin - pred * label)`` with labels -1 or 1, per example.

    Labels other than -1 and 1 raise a ``ValueError`` when concrete and give ``nan`` under
    ``jax.jit`` (a 0/1 label would silently make every negative example a constant ``margin``).

    Args:
        pred: scores (positive means class 1) with a batch axis.
        label: -1 or 1, same shape or number of elements as ``pred``.
        margin: the margin by which a score must be on the right side.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred``.

    Returns:
        One loss per example.

    Raises:
        ValueError: if the label does not fit or concrete labels are not -1/1.

    Examples:
        >>> hinge_loss(jnp.array([2.0, 0.5, -1.0]), jnp.array([1, 1, 1])).tolist()
        [0.0, 0.5, 2.0]
    """
    where = "hinge_loss"
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    ok = checked_set(label, (-1, 1), where, _SIGNED_HINT)
    loss = poison(jax.nn.relu(margin - pred * label), ok)
    return reduce(loss, batch_axis, weight, sample_weight, where)


def squared_hinge_loss(pred: Any, label: Any, margin: float = 1.0, weight: float | None = None,
                       batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """The soft-margin SVM loss ``max(0, margin - pred * label)**2``; see :func:`hinge_loss`.

    Examples:
        >>> squared_hinge_loss(jnp.array([2.0, 0.5, -1.0]), jnp.array([1, 1, 1])).tolist()
        [0.0, 0.25, 4.0]
    """
    where = "squared_hinge_loss"
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    ok = checked_set(label, (-1, 1), where, _SIGNED_HINT)
    loss = poison(jnp.square(jax.nn.relu(margin - pred * label)), ok)
    return reduce(loss, batch_axis, weight, sample_weight, where)


def logistic_loss(pred: Any, label: Any, label_format: str = "signed",
                  weight: float | None = None, batch_axis: int = 0,
                  sample_weight: Any = None) -> jax.Array:
    """The logistic loss ``log(1 + exp(-pred * label))`` for labels -1/1 (or 0/1), per example.

    With ``label_format='binary'`` labels 0/1 are mapped to -1/1 first, which makes this the
    sigmoid binary cross-entropy of the logits ``pred``. Computed in a stable form.

    Args:
        pred: scores (logits) with a batch axis.
        label: -1 or 1 (``'signed'``) or 0 or 1 (``'binary'``), same shape or size as ``pred``.
        label_format: ``'signed'`` or ``'binary'``.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred``.

    Returns:
        One loss per example.

    Raises:
        ValueError: for another ``label_format``, a label that does not fit, or concrete
            labels outside the format.

    Examples:
        >>> logistic_loss(jnp.array([0.0, 2.0]), jnp.array([1, -1])).round(4)
        Array([0.6931, 2.1269], dtype=float32)
        >>> logistic_loss(jnp.array([0.0, 2.0]), jnp.array([1, 0]), label_format="binary").round(4)
        Array([0.6931, 2.1269], dtype=float32)
    """
    where = "logistic_loss"
    if label_format not in ("signed", "binary"):
        raise ValueError(
            f"{where}: label_format must be 'signed' (labels -1/1) or 'binary' (labels 0/1), "
            f"got {label_format!r}."
        )
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    if label_format == "signed":
        ok = checked_set(label, (-1, 1), where, "For labels 0/1 pass label_format='binary'.")
        target = (label + 1.0) / 2.0
    else:
        ok = checked_set(label, (0, 1), where, "For labels -1/1 pass label_format='signed'.")
        target = label
    loss = optax.sigmoid_binary_cross_entropy(pred, target.astype(pred.dtype))
    return reduce(poison(loss, ok), batch_axis, weight, sample_weight, where)



class SigmoidBinaryCrossEntropyLoss(Loss):
    """Sigmoid then binary cross-entropy (alias ``SigmoidBCELoss``); see
    :func:`sigmoid_binary_cross_entropy`.

    Args:
        from_sigmoid: ``pred`` holds probabilities rather than logits.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.

    Examples:
        >>> SigmoidBinaryCrossEntropyLoss()(jnp.array([0.0]), jnp.array([1.0])).round(4)
        Array([0.6931], dtype=float32)
    """

    def __init__(self, from_sigmoid: bool = False, weight: float | None = None,
                 batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.from_sigmoid = from_sigmoid

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return sigmoid_binary_cross_entropy(pred, label, self.from_sigmoid, self.weight,
                                            self.batch_axis, sample_weight)


class HingeLoss(Loss):
    """SVM hinge loss with labels -1/1; see :func:`hinge_loss`.

    Examples:
        >>> HingeLoss(margin=2)(jnp.array([1.0]), jnp.array([-1])).tolist()
        [3.0]
    """

    def __init__(self, margin: float = 1, weight: float | None = None, batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.margin = margin

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return hinge_loss(pred, label, self.margin, self.weight, self.batch_axis, sample_weight)


class SquaredHingeLoss(HingeLoss):
    """Squared hinge loss with labels -1/1; see :func:`squared_hinge_loss`.

    Examples:
        >>> SquaredHingeLoss(margin=2)(jnp.array([1.0]), jnp.array([-1])).tolist()
        [9.0]
    """

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return squared_hinge_loss(pred, label, self.margin, self.weight, self.batch_axis,
                                  sample_weight)


class LogisticLoss(Loss):
    """Logistic loss with labels -1/1 (``'signed'``) or 0/1 (``'binary'``); see
    :func:`logistic_loss`.

    Examples:
        >>> LogisticLoss(label_format="binary")(jnp.array([0.0]), jnp.array([1])).round(4)
        Array([0.6931], dtype=float32)
    """

    def __init__(self, weight: float | None = None, batch_axis: int = 0,
                 label_format: str = "signed"):
        if label_format not in ("signed", "binary"):
            raise ValueError(
                f"LogisticLoss: label_format must be 'signed' (labels -1/1) or 'binary' "
                f"(labels 0/1), got {label_format!r}."
            )
        super().__init__(weight, batch_axis)
        self.label_format = label_format

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return logistic_loss(pred, label, self.label_format, self.weight, self.batch_axis,
                             sample_weight)



# gluon's short name
SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss
