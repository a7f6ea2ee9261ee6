"""Metrics of values the caller computes: ``Loss``, ``CustomMetric`` and ``np``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

# imported unaliased: this module defines np(), MXNet's mx.metric.np
import numpy

from ._checks import (
    as_list,
)
from .base import EvalMetric

__all__ = [
    "CustomMetric",
    "Loss",
    "np",
]


class Loss(EvalMetric):
    """The mean of loss values passed as predictions; the labels are ignored (MXNet's ``Loss``).

    Examples:
        >>> import numpy as np
        >>> m = Loss()
        >>> m.update(None, [np.array([0.5, 1.5]), np.array([1.0])])
        >>> m.get()
        ('loss', 1.0)
    """

    def __init__(self, name: str = "loss", **kwargs: Any):
        super().__init__(name, **kwargs)

    def stats(self, label, pred):
        pred = jnp.asarray(pred)
        if not jnp.issubdtype(pred.dtype, jnp.floating):
            pred = pred.astype(jnp.float32)
        return jnp.sum(pred), jnp.asarray(float(pred.size), pred.dtype)

    def update(self, labels, preds):
        for pred in as_list(preds):
            self.add_stats(*self.stats(None, pred))


def _feval_name(feval: Callable) -> str:
    name = getattr(feval, "__name__", type(feval).__name__)
    return f"custom({name})" if "<" in name else name


class CustomMetric(EvalMetric):
    """A metric from a function ``feval(label, pred)``.

    ``feval`` returns either a value, which counts as one instance (the metric is then the mean
    of the per-batch values), or a pair ``(sum, count)``. :meth:`update` calls it with NumPy
    arrays, as MXNet does. If ``feval`` also works on JAX arrays under ``jax.jit`` (written with
    ``jnp`` or with array methods), the compiled loops of ``Module`` and :func:`evaluate` use it
    inside the compiled program; otherwise they compute the predictions on the device and call
    it batch by batch.

    Args:
        feval: the function of ``(label, pred)``.
        name: the reported name; by default the function's name, or ``'custom(<lambda>)'``
            for a lambda (MXNet's naming).
        allow_extra_outputs: kept for MXNet compatibility; not used.

    Examples:
        >>> import numpy as np
        >>> def max_error(label, pred):
        ...     return np.abs(label - pred).max()
        >>> m = CustomMetric(max_error)
        >>> m.update(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
        >>> m.get()
        ('max_error', 1.0)
        >>> CustomMetric(lambda label, pred: 0.0).name
        'custom(<lambda>)'
    """

    def __init__(
        self,
        feval: Callable[[Any, Any], Any],
        name: str | None = None,
        allow_extra_outputs: bool = False,
        **kwargs: Any,
    ):
        if not callable(feval):
            raise TypeError(
                f"CustomMetric(feval=...) must be a function of (label, pred), got "
                f"{type(feval).__name__}."
            )
        self._feval = feval
        self.allow_extra_outputs = allow_extra_outputs
        self._jittable_cache: dict = {}
        super().__init__(_feval_name(feval) if name is None else name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self._feval)

    @staticmethod
    def _split(result: Any) -> tuple[Any, Any]:
        if isinstance(result, tuple):
            if len(result) != 2:
                raise ValueError(
                    f"CustomMetric: feval returned a tuple of {len(result)} items; return a "
                    "value or a pair (sum, count)."
                )
            return result
        return result, 1.0

    def stats(self, label, pred):
        total, count = self._split(self._feval(label, pred))
        total = jnp.asarray(total, jnp.float32)
        return total, jnp.asarray(count, jnp.float32)

    def update(self, labels, preds):
        labels, preds = as_list(labels), as_list(preds)
        self._check_lists(labels, preds)
        for label, pred in zip(labels, preds, strict=True):
            self.add_stats(*self._split(self._feval(numpy.asarray(label), numpy.asarray(pred))))

    def _traceable(self, label_spec: Any, pred_spec: Any) -> bool:
        """Whether ``feval`` can be traced for these shapes (checked once per shape)."""
        key = (label_spec.shape, label_spec.dtype, pred_spec.shape, pred_spec.dtype)
        if key not in self._jittable_cache:
            try:
                jax.eval_shape(self.stats, label_spec, pred_spec)
                self._jittable_cache[key] = True
            except Exception:  # NumPy code on tracers fails in many ways; all mean "not jittable".
                self._jittable_cache[key] = False
        return self._jittable_cache[key]


def np(
    numpy_feval: Callable[[Any, Any], Any],
    name: str | None = None,
    allow_extra_outputs: bool = False,
) -> CustomMetric:
    """A :class:`CustomMetric` from a NumPy function (MXNet's ``mx.metric.np``).

    ``numpy_feval(label, pred)`` is always called on the host with NumPy arrays, also by the
    compiled loops of ``Module`` and :func:`~dstraight.metric.evaluate`, which compute the
    predictions on the device and hand them over: it is never traced, so any NumPy code works
    (a plain :class:`CustomMetric` is traced when its function happens to accept JAX arrays).
    It returns a value (one instance) or a pair ``(sum, count)``, as for :class:`CustomMetric`.

    Args:
        numpy_feval: the function of ``(label, pred)``.
        name: the reported name; by default the function's name.
        allow_extra_outputs: kept for MXNet compatibility; not used.

    Returns:
        The metric.

    Raises:
        TypeError: if ``numpy_feval`` is not callable.

    Examples:
        >>> import numpy
        >>> def worst_error(label, pred):
        ...     return numpy.abs(label - pred).max()
        >>> m = np(worst_error)
        >>> m.update(numpy.array([1.0, 2.0]), numpy.array([1.5, 1.0]))
        >>> m.get()
        ('worst_error', 1.0)
    """
    metric = CustomMetric(numpy_feval, name, allow_extra_outputs)
    # the compiled loops check `jittable` first: the function then only ever sees NumPy arrays
    metric.jittable = False
    return metric
