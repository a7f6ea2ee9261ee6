"""Regression metrics: mean squared and absolute errors, RMSE, Pearson correlation."""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from ._checks import (
    float_pair,
    per_example,
)
from .base import EvalMetric

__all__ = [
    "MAE",
    "MSE",
    "PearsonCorrelation",
    "RMSE",
]


class MSE(EvalMetric):
    """Mean squared error, averaged over examples.

    Labels whose size equals the predictions' are reshaped to them (so ``(N,)`` labels work
    with ``(N, 1)`` predictions, instead of broadcasting to ``(N, N)``).

    Examples:
        >>> import numpy as np
        >>> m = MSE()
        >>> m.update(np.array([1.0, 2.0]), np.array([[1.5], [2.0]]))
        >>> m.get()
        ('mse', 0.125)
    """

    def __init__(self, name: str = "mse", **kwargs: Any):
        super().__init__(name, **kwargs)

    def stats(self, label, pred):
        label, pred = float_pair(label, pred, type(self).__name__)
        return per_example(jnp.square(label - pred))


class RMSE(MSE):
    """Root mean squared error: the square root of the MSE over all the updates.

    Examples:
        >>> import numpy as np
        >>> m = RMSE()
        >>> m.update(np.array([0.0, 0.0]), np.array([3.0, 4.0]))
        >>> round(m.get()[1], 4)
        3.5355
    """

    def __init__(self, name: str = "rmse", **kwargs: Any):
        super().__init__(name, **kwargs)

    def _value(self, total, count):
        return math.sqrt(total / count)


class MAE(EvalMetric):
    """Mean absolute error, averaged over examples.

    Examples:
        >>> import numpy as np
        >>> m = MAE()
        >>> m.update(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
        >>> m.get()
        ('mae', 0.75)
    """

    def __init__(self, name: str = "mae", **kwargs: Any):
        super().__init__(name, **kwargs)

    def stats(self, label, pred):
        label, pred = float_pair(label, pred, type(self).__name__)
        return per_example(jnp.abs(label - pred))


class PearsonCorrelation(EvalMetric):
    """Pearson correlation of predictions and labels, averaged over batches (MXNet 1.x).

    Each batch contributes the correlation coefficient of its flattened predictions and labels
    (MXNet 1.x's ``average='macro'``); a batch in which either is constant has no correlation
    and makes the value ``nan``.

    Args:
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = PearsonCorrelation()
        >>> m.update(np.array([[1, 0], [0, 1], [0, 1]]),
        ...          np.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]]))
        >>> round(m.get()[1], 6)
        0.421637
    """

    def __init__(self, name: str = "pearsonr", **kwargs: Any):
        super().__init__(name, **kwargs)

    def stats(self, label, pred):
        label, pred = float_pair(label, pred, type(self).__name__)
        # centred first: the float32 sums of raw squares would cancel badly for large means
        x, y = pred.ravel() - jnp.mean(pred), label.ravel() - jnp.mean(label)
        corr = jnp.sum(x * y) / jnp.sqrt(jnp.sum(x * x) * jnp.sum(y * y))
        return corr, jnp.asarray(1.0, corr.dtype)
