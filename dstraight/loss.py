"""Losses with gluon's names and semantics, computed with optax.

Every loss returns one value per example, shape ``(N,)`` for a batch of ``N``: the elementwise
loss averaged over all axes but ``batch_axis``. Reducing over the batch (sum for gluon's
``Trainer.step(batch_size)`` contract, mean for ``jax.grad``) is the caller's business. Each loss
exists as a plain function (``l2_loss``) and as a gluon-style object (``L2Loss()``) that stores
the options; both are pure and work under ``jax.jit`` and ``jax.grad``.

Labels must have the prediction's shape, or the same number of elements, in which case they are
reshaped to it (a ``(N,)`` label for a ``(N, 1)`` prediction). Anything else raises a
``ValueError``: silently broadcasting ``(N,)`` against ``(N, 1)`` would give an ``(N, N)`` loss.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import loss
    >>> y_hat = jnp.array([[1.0], [2.0]])
    >>> y = jnp.array([1.5, 2.0])               # (N,) against (N, 1): reshaped, not broadcast
    >>> loss.L2Loss()(y_hat, y).tolist()
    [0.125, 0.0]
    >>> loss.softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])).round(4)
    Array([1.3863, 1.3863], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = [
    "Loss",
    "L2Loss",
    "L1Loss",
    "SoftmaxCrossEntropyLoss",
    "SigmoidBinaryCrossEntropyLoss",
    "l2_loss",
    "l1_loss",
    "softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
]

# gluon's SigmoidBinaryCrossEntropyLoss(from_sigmoid=True) guards log(0) with the same constant
_EPS = 1e-12


def _prediction(pred: Any, where: str) -> jax.Array:
    pred = jnp.asarray(pred)
    if pred.ndim == 0:
        raise ValueError(
            f"{where}: the prediction must have a batch axis, got a scalar. Pass a batch, "
            f"e.g. of shape (N,) or (N, 1)."
        )
    return pred


def _axis(axis: int, ndim: int, what: str, where: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{where}: {what}={axis} is out of range for a prediction with {ndim} axes."
        )
    return axis % ndim


def _match(label: Any, shape: tuple[int, ...], pred_shape: tuple[int, ...], where: str,
           hint: str = "") -> jax.Array:
    label = jnp.asarray(label)
    if label.shape == shape:
        return label
    if label.size == math.prod(shape):
        return label.reshape(shape)
    raise ValueError(
        f"{where}: label of shape {label.shape} does not fit the prediction of shape "
        f"{pred_shape}: expected a label of shape {shape} (or with {math.prod(shape)} elements, "
        f"which is reshaped to it). Broadcasting is not attempted because e.g. (N,) against "
        f"(N, 1) would silently give an (N, N) loss.{hint}"
    )


def _reduce(loss: jax.Array, batch_axis: int, weight: float | None, sample_weight: Any,
            where: str) -> jax.Array:
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight)
        try:
            ok = jnp.broadcast_shapes(sample_weight.shape, loss.shape) == loss.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{where}: sample_weight of shape {sample_weight.shape} does not broadcast to "
                f"the elementwise loss of shape {loss.shape}; use e.g. shape "
                f"{tuple(d if i == batch_axis else 1 for i, d in enumerate(loss.shape))}."
            )
        loss = loss * sample_weight
    if weight is not None:
        loss = loss * weight
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis)
    return jnp.mean(loss, axis=axes)


def l2_loss(pred: Any, label: Any, weight: float | None = 1.0, batch_axis: int = 0,
            sample_weight: Any = None) -> jax.Array:
    """Half the squared error, ``weight * (pred - label)**2 / 2``, averaged per example.

    Args:
        pred: predictions with a batch axis.
        label: targets of the same shape or number of elements.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional per-example or elementwise weights, broadcastable to ``pred``.

    Returns:
        One loss per example, shape ``(pred.shape[batch_axis],)``.

    Raises:
        ValueError: if ``label`` or ``sample_weight`` does not fit ``pred``.

    Examples:
        >>> l2_loss(jnp.array([[1.0, 2.0]]), jnp.array([[0.0, 0.0]])).tolist()
        [1.25]
    """
    pred = _prediction(pred, "l2_loss")
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", "l2_loss")
    label = _match(label, pred.shape, pred.shape, "l2_loss")
    return _reduce(optax.l2_loss(pred, label), batch_axis, weight, sample_weight, "l2_loss")


def l1_loss(pred: Any, label: Any, weight: float | None = 1.0, batch_axis: int = 0,
            sample_weight: Any = None) -> jax.Array:
    """Absolute error, ``weight * |pred - label|``, averaged per example.

    Arguments, return value and errors as for :func:`l2_loss`.

    Examples:
        >>> l1_loss(jnp.array([[1.0, -2.0]]), jnp.array([[0.0, 0.0]])).tolist()
        [1.5]
    """
    pred = _prediction(pred, "l1_loss")
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", "l1_loss")
    label = _match(label, pred.shape, pred.shape, "l1_loss")
    return _reduce(jnp.abs(pred - label), batch_axis, weight, sample_weight, "l1_loss")


def softmax_cross_entropy(pred: Any, label: Any, axis: int = -1, sparse_label: bool = True,
                          from_logits: bool = False, weight: float | None = 1.0,
                          batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """Cross-entropy between ``softmax(pred)`` and the labels, one value per example.

    Computed from ``log_softmax`` (via optax), so large logits do not overflow.

    Args:
        pred: unnormalised scores (logits), or log-probabilities if ``from_logits=True``;
            classes along ``axis``.
        label: class indices (``sparse_label=True``; the shape of ``pred`` without ``axis``,
            floats are truncated to ints) or probabilities of the same shape as ``pred``.
        axis: the class axis.
        sparse_label: whether labels are class indices rather than distributions.
        from_logits: gluon's name for "``pred`` is already ``log_softmax`` output".
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred`` with ``axis`` of size 1.

    Returns:
        One loss per example.

    Raises:
        ValueError: if the label shape does not fit or an axis is out of range.

    Examples:
        >>> logits = jnp.array([[2.0, 0.0], [0.0, 2.0]])
        >>> softmax_cross_entropy(logits, jnp.array([0, 0])).round(4)
        Array([0.1269, 2.1269], dtype=float32)
        >>> onehot = jnp.array([[1.0, 0.0], [1.0, 0.0]])
        >>> softmax_cross_entropy(logits, onehot, sparse_label=False).round(4)
        Array([0.1269, 2.1269], dtype=float32)
    """
    where = "softmax_cross_entropy"
    pred = _prediction(pred, where)
    axis = _axis(axis, pred.ndim, "axis", where)
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", where)
    scores = jnp.moveaxis(pred, axis, -1)
    if sparse_label:
        shape = scores.shape[:-1]
        hint = (
            " With sparse_label=True labels are class indices; pass sparse_label=False for "
            "one-hot or probability labels." if jnp.shape(label) == pred.shape else ""
        )
        label = _match(label, shape, pred.shape, where, hint)
        if not jnp.issubdtype(label.dtype, jnp.integer):
            label = label.astype(jnp.int32)
        if from_logits:
            loss = -jnp.take_along_axis(scores, label[..., None], axis=-1)[..., 0]
        else:
            loss = optax.softmax_cross_entropy_with_integer_labels(scores, label)
    else:
        label = jnp.moveaxis(_match(label, pred.shape, pred.shape, where), axis, -1)
        if from_logits:
            loss = -jnp.sum(scores * label, axis=-1)
        else:
            loss = optax.softmax_cross_entropy(scores, label)
    # restore the class axis (size 1) so that batch_axis and sample_weight refer to pred's axes
    loss = jnp.expand_dims(loss, axis)
    return _reduce(loss, batch_axis, weight, sample_weight, where)


def sigmoid_binary_cross_entropy(pred: Any, label: Any, from_sigmoid: bool = False,
                                 weight: float | None = 1.0, batch_axis: int = 0,
                                 sample_weight: Any = None) -> jax.Array:
    """Binary cross-entropy with labels in ``[0, 1]``, averaged per example.

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
        ValueError: if ``label`` or ``sample_weight`` does not fit ``pred``.

    Examples:
        >>> sigmoid_binary_cross_entropy(jnp.array([0.0, 0.0]), jnp.array([1.0, 0.0])).round(4)
        Array([0.6931, 0.6931], dtype=float32)
    """
    where = "sigmoid_binary_cross_entropy"
    pred = _prediction(pred, where)
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", where)
    label = _match(label, pred.shape, pred.shape, where)
    if from_sigmoid:
        loss = -(label * jnp.log(pred + _EPS) + (1 - label) * jnp.log(1 - pred + _EPS))
    else:
        # optax uses the stable form max(x, 0) - x * z + log(1 + exp(-|x|))
        loss = optax.sigmoid_binary_cross_entropy(pred, label.astype(pred.dtype))
    return _reduce(loss, batch_axis, weight, sample_weight, where)


class Loss:
    """Base class of the loss objects: stores the options, ``__call__`` does the work.

    Args:
        weight: global scale factor (``None``: 1).
        batch_axis: the axis that indexes examples.
    """

    def __init__(self, weight: float | None = None, batch_axis: int = 0):
        self.weight = weight
        self.batch_axis = batch_axis

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        raise NotImplementedError


class L2Loss(Loss):
    """``weight * (pred - label)**2 / 2`` averaged over all but the batch axis; see :func:`l2_loss`.

    Examples:
        >>> L2Loss()(jnp.array([3.0, 1.0]), jnp.array([1.0, 1.0])).tolist()
        [2.0, 0.0]
    """

    def __init__(self, weight: float | None = 1.0, batch_axis: int = 0):
        super().__init__(weight, batch_axis)

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return l2_loss(pred, label, self.weight, self.batch_axis, sample_weight)


class L1Loss(Loss):
    """``weight * |pred - label|`` averaged over all but the batch axis; see :func:`l1_loss`.

    Examples:
        >>> L1Loss()(jnp.array([3.0, 1.0]), jnp.array([1.0, 1.0])).tolist()
        [2.0, 0.0]
    """

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return l1_loss(pred, label, self.weight, self.batch_axis, sample_weight)


class SoftmaxCrossEntropyLoss(Loss):
    """Softmax followed by cross-entropy; see :func:`softmax_cross_entropy`.

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


class SigmoidBinaryCrossEntropyLoss(Loss):
    """Sigmoid followed by binary cross-entropy; see :func:`sigmoid_binary_cross_entropy`.

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
