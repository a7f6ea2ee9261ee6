"""Several metrics as one, and ``create``: a metric from a name, a function or a list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import EvalMetric
from .binary import F1, MCC
from .classification import (
    Accuracy,
    CrossEntropy,
    NegativeLogLikelihood,
    Perplexity,
    TopKAccuracy,
)
from .correlation import PCC
from .custom import CustomMetric, Loss
from .regression import MAE, MSE, RMSE, PearsonCorrelation

__all__ = [
    "CompositeEvalMetric",
    "create",
]


class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together.

    Args:
        metrics: the metrics (objects or names, see :func:`create`).
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = CompositeEvalMetric(["mse", "mae"])
        >>> m.update(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
        >>> m.get_name_value()
        [('mse', 0.625), ('mae', 0.75)]
    """

    def __init__(
        self, metrics: Iterable[Any] | None = None, name: str = "composite", **kwargs: Any
    ):
        self.metrics = [create(m) for m in (metrics or [])]
        super().__init__(name, **kwargs)

    def add(self, metric: Any) -> None:
        """Adds a metric (an object or a name)."""
        self.metrics.append(create(metric))

    def get_metric(self, index: int) -> EvalMetric:
        """Returns the metric at position ``index``."""
        try:
            return self.metrics[index]
        except IndexError:
            raise ValueError(
                f"CompositeEvalMetric holds {len(self.metrics)} metrics; index {index} is out of "
                "range."
            ) from None

    def update(self, labels, preds):
        for m in self.metrics:
            m.update(labels, preds)

    def reset(self):
        for m in getattr(self, "metrics", []):
            m.reset()

    def reset_local(self):
        for m in getattr(self, "metrics", []):
            m.reset_local()

    def get(self):
        pairs = self.get_name_value()
        return [n for n, _ in pairs], [v for _, v in pairs]

    def get_global(self):
        pairs = self.get_global_name_value()
        return [n for n, _ in pairs], [v for _, v in pairs]

    def get_name_value(self):
        return [pair for m in self.metrics for pair in m.get_name_value()]

    def get_global_name_value(self):
        return [pair for m in self.metrics for pair in m.get_global_name_value()]


# Class names (lower case) and MXNet's aliases.
_REGISTRY: dict[str, type[EvalMetric]] = {
    **{cls.__name__.lower(): cls for cls in (
        Accuracy, TopKAccuracy, F1, Perplexity, MSE, RMSE, MAE, CrossEntropy,
        NegativeLogLikelihood, PearsonCorrelation, Loss, CustomMetric, CompositeEvalMetric,
        MCC, PCC,
    )},
    "acc": Accuracy,
    "top_k_accuracy": TopKAccuracy,
    "top_k_acc": TopKAccuracy,
    "ce": CrossEntropy,
    "cross-entropy": CrossEntropy,
    "nll_loss": NegativeLogLikelihood,
    "pearsonr": PearsonCorrelation,
    "composite": CompositeEvalMetric,
}


def create(metric: Any, *args: Any, **kwargs: Any) -> EvalMetric:
    """Builds a metric from a name, a function, a metric object or a list of those.

    Args:
        metric: a class name, any case (``'Accuracy'``, ``'TopKAccuracy'``, ``'F1'``, ``'MCC'``,
            ``'PCC'``, ``'MSE'``, ``'CrossEntropy'``, ``'Loss'``, ``'composite'``, ...) or one of
            MXNet's aliases (``'acc'``, ``'top_k_acc'``, ``'ce'``, ``'cross-entropy'``,
            ``'nll_loss'``, ``'pearsonr'``); a function ``feval(label, pred)`` (wrapped in
            :class:`CustomMetric`); an :class:`EvalMetric` (returned as is); or a list of those
            (a :class:`CompositeEvalMetric`).
        *args: passed to the metric's constructor when ``metric`` is a name or a function.
        **kwargs: passed to the metric's constructor when ``metric`` is a name or a function.

    Returns:
        The metric.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else.

    Examples:
        >>> create("acc")
        EvalMetric: {'accuracy': nan}
        >>> create("TopKAccuracy", top_k=5).name
        'top_k_accuracy_5'
        >>> type(create(["mse", "mae"])).__name__
        'CompositeEvalMetric'
        >>> create("composite", ["acc", "f1"]).get()
        (['accuracy', 'f1'], [nan, nan])
    """
    if isinstance(metric, EvalMetric):
        return metric
    if isinstance(metric, str):
        cls = _REGISTRY.get(metric.lower())
        if cls is None:
            raise ValueError(
                f"Unknown metric {metric!r}. Valid names: {', '.join(sorted(_REGISTRY))}; or "
                "pass a function feval(label, pred) or an EvalMetric."
            )
        return cls(*args, **kwargs)
    if isinstance(metric, list | tuple):
        return CompositeEvalMetric(list(metric))
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    raise TypeError(
        f"metric must be a name, a function feval(label, pred), an EvalMetric or a list of "
        f"those, got {type(metric).__name__}."
    )
