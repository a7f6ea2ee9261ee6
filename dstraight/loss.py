"""Losses with gluon's names and semantics, computed with optax.

Every loss returns one value per example, shape ``(N,)`` for a batch of ``N``: the elementwise
loss averaged over all axes but ``batch_axis``. Reducing over the batch (sum for gluon's
``Trainer.step(batch_size)`` contract, mean for ``jax.grad``) is the caller's business. Each loss
exists as a plain function (``l2_loss``) and as a gluon-style object (``L2Loss()``) that stores
the options; both are pure and work under ``jax.jit`` and ``jax.grad``.

Labels must have the prediction's shape, or the same number of elements, in which case they are
reshaped to it (a ``(N,)`` label for a ``(N, 1)`` prediction). Anything else raises a
``ValueError``: silently broadcasting ``(N,)`` against ``(N, 1)`` would give an ``(N, N)`` loss.

Label *values* are checked too. When they are known (an eager call, or ``jax.grad`` without
``jax.jit``: the labels are then concrete arrays), a value the loss cannot mean raises a
``ValueError``: a class index outside ``0..C-1`` or with a fractional part, a binary label
outside ``[0, 1]``, a hinge label other than -1 or 1. Under ``jax.jit`` the labels are tracers
and cannot be looked at, so instead the loss of an example with such a label is ``nan``: the
mean loss becomes ``nan``, which the trainers check for. :func:`describe_nonfinite_causes` lists
what makes a loss non-finite.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import loss
    >>> y_hat = jnp.array([[1.0], [2.0]])
    >>> y = jnp.array([1.5, 2.0])               # (N,) against (N, 1): reshaped, not broadcast
    >>> loss.L2Loss()(y_hat, y).tolist()
    [0.125, 0.0]
    >>> loss.softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])).round(4)
    Array([1.3863, 1.3863], dtype=float32)
    >>> jax.jit(loss.softmax_cross_entropy)(jnp.zeros((2, 4)), jnp.array([0, 4]))  # 4: no class
    Array([1.3862944,       nan], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "Loss",
    "L2Loss",
    "L1Loss",
    "SoftmaxCrossEntropyLoss",
    "SoftmaxCELoss",
    "SigmoidBinaryCrossEntropyLoss",
    "SigmoidBCELoss",
    "KLDivLoss",
    "HuberLoss",
    "HingeLoss",
    "SquaredHingeLoss",
    "LogisticLoss",
    "l2_loss",
    "l1_loss",
    "softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "kl_div_loss",
    "huber_loss",
    "hinge_loss",
    "squared_hinge_loss",
    "logistic_loss",
    "describe_nonfinite_causes",
]

# gluon guards log(0) with this constant (SigmoidBCE with from_sigmoid=True, KLDivLoss)
_EPS = 1e-12


# -- shapes ---------------------------------------------------------------------------------------


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


def _elementwise(pred: Any, label: Any, batch_axis: int, where: str, hint: str = ""
                 ) -> tuple[jax.Array, jax.Array, int]:
    """``pred``, ``label`` reshaped to it, and ``batch_axis`` made non-negative."""
    pred = _prediction(pred, where)
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", where)
    return pred, _match(label, pred.shape, pred.shape, where, hint), batch_axis


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


# -- label values ---------------------------------------------------------------------------------


def _concrete(x: jax.Array) -> np.ndarray | None:
    """The values of ``x`` if they are known now; ``None`` for a tracer (inside ``jax.jit``)."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def _listing(values: np.ndarray, limit: int = 5) -> str:
    distinct = np.unique(values)
    text = ", ".join(f"{v:g}" for v in distinct[:limit].tolist())
    return text + (f", ... ({distinct.size} distinct values)" if distinct.size > limit else "")


def _poison(loss: jax.Array, ok: jax.Array) -> jax.Array:
    """``loss`` where ``ok``, ``nan`` elsewhere: bad labels under jit become visible."""
    return jnp.where(ok, loss, jnp.nan)


def _class_indices(label: jax.Array, num_classes: int, where: str) -> tuple[jax.Array, jax.Array]:
    """``(indices, ok)``: the labels as int32 indices (0 where invalid) and where they are valid.

    Raises for invalid labels when their values are known.
    """
    values = _concrete(label)
    if values is not None:
        whole = values == np.floor(values) if values.dtype.kind == "f" else True
        bad = values[~(whole & (values >= 0) & (values < num_classes))]
        if bad.size:
            hint = "Class labels must be whole numbers 0, 1, ..., C-1."
            if bad.dtype.kind == "f" and np.any(bad != np.floor(bad)):
                hint = ("Class labels must be whole numbers; fractional labels are targets for a "
                        "regression loss, or pass probabilities with sparse_label=False.")
            elif values.min() >= 1 and values.max() == num_classes:
                hint = f"The labels look numbered 1..{num_classes}: pass y - 1."
            elif values.min() >= 0:
                hint = (f"Does the network have as many outputs as classes, e.g. "
                        f"Dense({int(values.max()) + 1})?")
            elif np.all(bad < 0):
                hint = ("Negative labels are not supported (gluon has no ignore label): drop those "
                        "examples, or give them label 0 and sample_weight 0.")
            raise ValueError(
                f"{where}: labels must be class indices in 0..{num_classes - 1} for a prediction "
                f"with {num_classes} classes, got {bad.size} label(s) outside: {_listing(bad)}. "
                f"{hint}"
            )
    ok = (label >= 0) & (label < num_classes)
    if jnp.issubdtype(label.dtype, jnp.floating):
        ok &= label == jnp.floor(label)
    return jnp.where(ok, label, 0).astype(jnp.int32), ok


def _checked_set(label: jax.Array, allowed: tuple[float, ...], where: str, hint: str
                 ) -> jax.Array:
    """Where ``label`` is one of ``allowed``; raises for other values when they are known."""
    values = _concrete(label)
    if values is not None:
        bad = values[~np.isin(values, allowed)]
        if bad.size:
            raise ValueError(
                f"{where}: labels must be {' or '.join(f'{a:g}' for a in allowed)}, got "
                f"{bad.size} other value(s): {_listing(bad)}. {hint}"
            )
    ok = label == allowed[0]
    for a in allowed[1:]:
        ok |= label == a
    return ok


def _checked_unit(x: jax.Array, what: str, where: str, hint: str) -> jax.Array:
    """Where ``x`` is in ``[0, 1]``; raises for other values when they are known."""
    values = _concrete(x)
    if values is not None:
        bad = values[~((values >= 0) & (values <= 1))]
        if bad.size:
            raise ValueError(
                f"{where}: {what} must be in [0, 1], got {bad.size} value(s) outside: "
                f"{_listing(bad)}. {hint}"
            )
    return (x >= 0) & (x <= 1)


# -- regression -----------------------------------------------------------------------------------


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
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, "l2_loss")
    return _reduce(optax.l2_loss(pred, label), batch_axis, weight, sample_weight, "l2_loss")


def l1_loss(pred: Any, label: Any, weight: float | None = 1.0, batch_axis: int = 0,
            sample_weight: Any = None) -> jax.Array:
    """Absolute error, ``weight * |pred - label|``, averaged per example.

    Arguments, return value and errors as for :func:`l2_loss`.

    Examples:
        >>> l1_loss(jnp.array([[1.0, -2.0]]), jnp.array([[0.0, 0.0]])).tolist()
        [1.5]
    """
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, "l1_loss")
    return _reduce(jnp.abs(pred - label), batch_axis, weight, sample_weight, "l1_loss")


def huber_loss(pred: Any, label: Any, rho: float = 1.0, weight: float | None = None,
               batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """Smoothed L1 loss: ``d**2 / (2 rho)`` for ``|d| <= rho``, ``|d| - rho/2`` beyond.

    ``d = pred - label``. Quadratic near zero, linear (so robust to outliers) beyond ``rho``;
    gluon's scaling, which is optax's ``huber_loss(delta=rho)`` divided by ``rho``.

    Args:
        pred: predictions with a batch axis.
        label: targets of the same shape or number of elements.
        rho: where the quadratic part meets the linear part; positive.
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred``.

    Returns:
        One loss per example.

    Raises:
        ValueError: if ``rho`` is not positive or the label does not fit.

    Examples:
        >>> huber_loss(jnp.array([[0.5], [3.0]]), jnp.zeros(2)).tolist()
        [0.125, 2.5]
    """
    where = "huber_loss"
    if not rho > 0:
        raise ValueError(f"{where}: rho must be positive, got {rho!r}; gluon's default is 1.")
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    loss = optax.huber_loss(pred, label, delta=rho) / rho
    return _reduce(loss, batch_axis, weight, sample_weight, where)


# -- classification with a softmax ----------------------------------------------------------------


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
    pred = _prediction(pred, where)
    axis = _axis(axis, pred.ndim, "axis", where)
    batch_axis = _axis(batch_axis, pred.ndim, "batch_axis", where)
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
        label = _match(label, shape, pred.shape, where, hint)
        index, ok = _class_indices(label, scores.shape[-1], where)
        if from_logits:
            loss = -jnp.take_along_axis(scores, index[..., None], axis=-1)[..., 0]
        else:
            loss = optax.softmax_cross_entropy_with_integer_labels(scores, index)
        loss = _poison(loss, ok)
    else:
        hint = (
            " With sparse_label=False labels are one-hot or probability rows of the "
            "prediction's shape; pass class indices with sparse_label=True (the default)."
            if jnp.shape(label) == scores.shape[:-1] else ""
        )
        label = jnp.moveaxis(_match(label, pred.shape, pred.shape, where, hint), axis, -1)
        if from_logits:
            loss = -jnp.sum(scores * label, axis=-1)
        else:
            loss = optax.softmax_cross_entropy(scores, label)
    # restore the class axis (size 1) so that batch_axis and sample_weight refer to pred's axes
    loss = jnp.expand_dims(loss, axis)
    return _reduce(loss, batch_axis, weight, sample_weight, where)


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
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    ok = _checked_unit(label, "labels (probabilities)", where,
                       "Pass the target distribution, e.g. jax.nn.softmax of target scores.")
    if from_logits:
        values = _concrete(pred)
        if values is not None and np.any(values > 1e-6):
            raise ValueError(
                f"{where}: with from_logits=True the prediction must be log-probabilities "
                f"(at most 0), got values up to {values.max():g}. Pass "
                "jax.nn.log_softmax(scores), or from_logits=False for unnormalised scores."
            )
    else:
        pred = jax.nn.log_softmax(pred, axis=_axis(axis, pred.ndim, "axis", where))
    loss = _poison(label * (jnp.log(label + _EPS) - pred), ok)
    return _reduce(loss, batch_axis, weight, sample_weight, where)


# -- binary classification ------------------------------------------------------------------------


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
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    ok = _checked_unit(label, "labels", where,
                       "Labels -1/1 become 0/1 with (y + 1) / 2; class indices of more than two "
                       "classes need SoftmaxCrossEntropyLoss.")
    if from_sigmoid:
        loss = -(label * jnp.log(pred + _EPS) + (1 - label) * jnp.log(1 - pred + _EPS))
    else:
        # optax uses the stable form max(x, 0) - x * z + log(1 + exp(-|x|))
        loss = optax.sigmoid_binary_cross_entropy(pred, label.astype(pred.dtype))
    return _reduce(_poison(loss, ok), batch_axis, weight, sample_weight, where)


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
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    ok = _checked_set(label, (-1, 1), where, _SIGNED_HINT)
    loss = _poison(jax.nn.relu(margin - pred * label), ok)
    return _reduce(loss, batch_axis, weight, sample_weight, where)


def squared_hinge_loss(pred: Any, label: Any, margin: float = 1.0, weight: float | None = None,
                       batch_axis: int = 0, sample_weight: Any = None) -> jax.Array:
    """The soft-margin SVM loss ``max(0, margin - pred * label)**2``; see :func:`hinge_loss`.

    Examples:
        >>> squared_hinge_loss(jnp.array([2.0, 0.5, -1.0]), jnp.array([1, 1, 1])).tolist()
        [0.0, 0.25, 4.0]
    """
    where = "squared_hinge_loss"
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    ok = _checked_set(label, (-1, 1), where, _SIGNED_HINT)
    loss = _poison(jnp.square(jax.nn.relu(margin - pred * label)), ok)
    return _reduce(loss, batch_axis, weight, sample_weight, where)


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
    pred, label, batch_axis = _elementwise(pred, label, batch_axis, where)
    if label_format == "signed":
        ok = _checked_set(label, (-1, 1), where, "For labels 0/1 pass label_format='binary'.")
        target = (label + 1.0) / 2.0
    else:
        ok = _checked_set(label, (0, 1), where, "For labels -1/1 pass label_format='signed'.")
        target = label
    loss = optax.sigmoid_binary_cross_entropy(pred, target.astype(pred.dtype))
    return _reduce(_poison(loss, ok), batch_axis, weight, sample_weight, where)


# -- objects --------------------------------------------------------------------------------------


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


class HuberLoss(Loss):
    """Smoothed L1 loss with threshold ``rho``; see :func:`huber_loss`.

    Examples:
        >>> HuberLoss(rho=2)(jnp.array([1.0, 4.0]), jnp.zeros(2)).tolist()
        [0.25, 3.0]
    """

    def __init__(self, rho: float = 1, weight: float | None = None, batch_axis: int = 0):
        super().__init__(weight, batch_axis)
        self.rho = rho

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        return huber_loss(pred, label, self.rho, self.weight, self.batch_axis, sample_weight)


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


# gluon's short names
SoftmaxCELoss = SoftmaxCrossEntropyLoss
SigmoidBCELoss = SigmoidBinaryCrossEntropyLoss


# -- diagnosis ------------------------------------------------------------------------------------

_GENERIC_CAUSES = (
    "the optimisation diverged: the learning rate is too large (try ten times smaller)",
    "the data hold NaN or infinite values (check X and y with jnp.isfinite)",
)

_LABEL_CAUSES: dict[type, str] = {
    SoftmaxCrossEntropyLoss: "labels outside 0..C-1 (or fractional class labels): under jax.jit "
    "SoftmaxCrossEntropyLoss gives nan for them; labels numbered 1..C need y - 1, and the "
    "network needs one output per class",
    SigmoidBinaryCrossEntropyLoss: "labels outside [0, 1] (under jax.jit "
    "SigmoidBinaryCrossEntropyLoss gives nan for them); with from_sigmoid=True, predictions "
    "outside [0, 1] (pass logits and from_sigmoid=False instead)",
    HingeLoss: "labels other than -1/1 (under jax.jit the hinge losses give nan for them); "
    "labels 0/1 need 2 * y - 1",
    LogisticLoss: "labels outside the label_format (-1/1 for 'signed', 0/1 for 'binary'): "
    "under jax.jit LogisticLoss gives nan for them",
    KLDivLoss: "labels outside [0, 1] (under jax.jit KLDivLoss gives nan for them), or "
    "from_logits=True with predictions that are not log-probabilities",
}


def describe_nonfinite_causes(loss_fn: Any = None) -> str:
    """The likely reasons why a loss came out ``nan`` or infinite, as one sentence.

    Meant for the error message of code that finds a non-finite loss (the trainers do). The
    label causes are those of ``loss_fn`` when it is one of this module's loss objects, and
    those of every loss otherwise.

    Args:
        loss_fn: the loss in use (any callable; ``None`` if unknown).

    Returns:
        A sentence listing the causes, most likely first.

    Examples:
        >>> describe_nonfinite_causes(L2Loss()).startswith("Likely causes: the optimisation")
        True
        >>> "labels outside 0..C-1" in describe_nonfinite_causes(SoftmaxCELoss())
        True
    """
    known = [c for t, c in _LABEL_CAUSES.items() if isinstance(loss_fn, t)]
    if not isinstance(loss_fn, Loss):
        known = list(_LABEL_CAUSES.values())
    return "Likely causes: " + "; ".join([*_GENERIC_CAUSES, *known]) + "."
