"""Evaluation of a network over a whole loader, through the compiled engine."""

from __future__ import annotations

from typing import Any

from .base import EvalMetric
from .composite import CompositeEvalMetric, create

__all__ = [
    "evaluate",
    "leaves",
]


def leaves(metric: EvalMetric) -> list[EvalMetric]:
    """The metrics inside a (possibly composite) metric, flattened."""
    if isinstance(metric, CompositeEvalMetric):
        return [leaf for m in metric.metrics for leaf in leaves(m)]
    return [metric]


def evaluate(net: Any, data: Any, metric: Any = "accuracy") -> Any:
    """Evaluates ``net`` (in prediction mode) on every example of a loader, compiled and batched.

    When ``data`` follows :class:`dstraight.data.DeviceLoader` (``DataLoader``, ``NDArrayIter``),
    the pass over the data is one compiled ``jax.lax.scan`` that gathers the batches and sums the
    metric's statistics on the device; it is compiled once per batch shape. Every example counts
    once, whatever the loader's shuffling or last-batch mode. Other iterables of ``(X, y)`` pairs
    are evaluated batch by batch with a compiled step (padding of ``DataBatch.pad`` dropped).

    Args:
        net: a block.
        data: a ``DataLoader``, an ``NDArrayIter`` or an iterable of ``(X, y)`` batches.
        metric: a metric or anything :func:`create` accepts.

    Returns:
        The metric's value (``get()[1]``): a float, or a list of floats for several metrics.

    Examples:
        >>> import jax.numpy as jnp
        >>> from dstraight import nn
        >>> net = nn.Dense(2, in_units=2)
        >>> net.initialize("ones")
        >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0]])
        >>> evaluate(net, [(X, jnp.array([0, 0]))], "acc")
        1.0
    """
    from .. import _engine

    metric = create(metric)
    metric.reset()
    _engine.evaluate(net, data, leaves(metric))
    return metric.get()[1]
