"""Regression losses: L2 (half squared error), L1 (absolute error), Huber and Poisson NLL."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import (
    concrete,
    elementwise,
    listing,
    poison,
    reduce,
)
from .base import Loss

__all__ = [
    "L1Loss",
    "L2Loss",
    "HuberLoss",
    "PoissonNLLLoss",
    "huber_loss",
    "l1_loss",
    "l2_loss",
    "poisson_nll_loss",
]


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
    pred, label, batch_axis = elementwise(pred, label, batch_axis, "l2_loss")
    return reduce(optax.l2_loss(pred, label), batch_axis, weight, sample_weight, "l2_loss")


def l1_loss(pred: Any, label: Any, weight: float | None = 1.0, batch_axis: int = 0,
            sample_weight: Any = None) -> jax.Array:
    """Absolute error, ``weight * |pred - label|``, averaged per example.

    Arguments, return value and errors as for :func:`l2_loss`.

    Examples:
        >>> l1_loss(jnp.array([[1.0, -2.0]]), jnp.array([[0.0, 0.0]])).tolist()
        [1.5]
    """
    pred, label, batch_axis = elementwise(pred, label, batch_axis, "l1_loss")
    return reduce(jnp.abs(pred - label), batch_axis, weight, sample_weight, "l1_loss")


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
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    loss = optax.huber_loss(pred, label, delta=rho) / rho
    return reduce(loss, batch_axis, weight, sample_weight, where)


def poisson_nll_loss(pred: Any, label: Any, from_logits: bool = True, compute_full: bool = False,
                     weight: float | None = None, batch_axis: int = 0, sample_weight: Any = None,
                     epsilon: float = 1e-8) -> jax.Array:
    """Negative log-likelihood of counts ``label`` under a Poisson rate, averaged per example.

    With ``from_logits=True`` (gluon's default) ``pred`` is the log-rate and the elementwise loss
    is ``exp(pred) - label * pred``; otherwise ``pred`` is the rate and the loss is
    ``pred - label * log(pred + epsilon)``. Both drop the constant ``log(label!)``; with
    ``compute_full=True`` its Stirling approximation
    ``label * log(label) - label + log(2 pi label) / 2`` is added where ``label > 1`` (0 for
    labels 0 and 1, whose ``log(label!)`` is 0).

    gluon returns one scalar, the mean over every element; here, as for every loss of this
    package, the mean is taken per example, and the batch mean of the result is gluon's scalar.

    Targets must be non-negative (counts or rates). A negative one raises a ``ValueError`` when
    concrete and gives ``nan`` under ``jax.jit``; so does, with ``from_logits=False``, a negative
    rate.

    Args:
        pred: log-rates (``from_logits=True``) or rates, with a batch axis.
        label: the observed counts, same shape or number of elements as ``pred``.
        from_logits: whether ``pred`` is the logarithm of the rate.
        compute_full: add the Stirling term, which makes the loss a full negative
            log-likelihood (it does not change the gradient with respect to ``pred``).
        weight: global scale factor.
        batch_axis: the axis that indexes examples.
        sample_weight: optional weights, broadcastable to ``pred``.
        epsilon: guards ``log(0)`` when ``from_logits=False`` (gluon's ``epsilon``).

    Returns:
        One loss per example.

    Raises:
        ValueError: if the label does not fit, or concrete targets (or rates, with
            ``from_logits=False``) are negative.

    Examples:
        >>> poisson_nll_loss(jnp.log(jnp.array([[2.0], [1.0]])), jnp.array([2.0, 0.0])).round(4)
        Array([0.6137, 1.    ], dtype=float32)
        >>> poisson_nll_loss(jnp.array([[2.0]]), jnp.array([2.0]), from_logits=False).round(4)
        Array([0.6137], dtype=float32)
    """
    where = "poisson_nll_loss"
    pred, label, batch_axis = elementwise(pred, label, batch_axis, where)
    label = label.astype(pred.dtype)
    for what, x, hint, check in (
        ("targets", label, "Poisson targets are counts: 0, 1, 2, ...", True),
        ("rates (from_logits=False)", pred, "Pass log-rates with from_logits=True (the "
         "default), or make the rate positive, e.g. with jnp.exp or jax.nn.softplus.",
         not from_logits),
    ):
        values = concrete(x) if check else None
        if values is not None and np.any(values < 0):
            raise ValueError(
                f"{where}: {what} must be >= 0, got {int(np.sum(values < 0))} negative "
                f"value(s): {listing(values[values < 0])}. {hint}"
            )
    ok = label >= 0
    if from_logits:
        loss = jnp.exp(pred) - label * pred
    else:
        ok &= pred >= 0
        loss = pred - label * jnp.log(pred + epsilon)
    if compute_full:
        big = label > 1
        safe = jnp.where(big, label, 1.0)  # keeps log() and its gradient finite where unused
        stirling = safe * jnp.log(safe) - safe + 0.5 * jnp.log(2 * math.pi * safe)
        loss = loss + jnp.where(big, stirling, 0.0)
    return reduce(poison(loss, ok), batch_axis, weight, sample_weight, where)



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


class PoissonNLLLoss(Loss):
    """Poisson negative log-likelihood, gluon's defaults; see :func:`poisson_nll_loss`.

    Examples:
        >>> PoissonNLLLoss()(jnp.zeros((2, 1)), jnp.array([1.0, 0.0])).tolist()
        [1.0, 1.0]
    """

    def __init__(self, weight: float | None = None, from_logits: bool = True,
                 batch_axis: int = 0, compute_full: bool = False):
        super().__init__(weight, batch_axis)
        self.from_logits = from_logits
        self.compute_full = compute_full

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None,
                 epsilon: float = 1e-8) -> jax.Array:
        return poisson_nll_loss(pred, label, self.from_logits, self.compute_full, self.weight,
                                self.batch_axis, sample_weight, epsilon)
