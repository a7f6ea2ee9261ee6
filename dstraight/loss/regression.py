"""Regression losses: L2 (half squared error), L1 (absolute error) and Huber."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from ._checks import (
    elementwise,
    reduce,
)
from .base import Loss

__all__ = ["L1Loss", "L2Loss", "HuberLoss", "huber_loss", "l1_loss", "l2_loss"]


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

