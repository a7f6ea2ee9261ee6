"""Evaluation metrics with MXNet's names and semantics, plus compiled evaluation over a loader.

A metric accumulates a running sum and a count: :meth:`EvalMetric.update` adds the statistics of
one batch (or of several: lists of label and prediction arrays are accepted, as in MXNet) and
:meth:`EvalMetric.get` returns ``(name, value)`` with ``value = sum / count``. The arithmetic lives
in one pure method, :meth:`EvalMetric.stats`, that maps ``(label, pred)`` to ``(sum, count)``;
it works on NumPy and JAX arrays and under ``jax.jit``, which is how :func:`evaluate`,
``Module.fit`` and ``Module.score`` sum a whole epoch of statistics on the device without a host
round trip per batch.

Averages are taken over examples (the batch axis): the mean squared error of a dataset is the same
whichever way it is cut into batches. (MXNet 1.x averaged the per-batch values of MSE, MAE and
RMSE; that differs only when batches have different sizes. ``RMSE`` here is the square root of the
overall MSE.)

Examples:
    >>> import numpy as np
    >>> from dstraight import metric
    >>> acc = metric.Accuracy()
    >>> acc.update(labels=np.array([0, 1, 1]), preds=np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]))
    >>> name, value = acc.get()
    >>> print(name, round(value, 4))
    accuracy 0.6667
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "EvalMetric",
    "Accuracy",
    "MSE",
    "RMSE",
    "MAE",
    "CrossEntropy",
    "CustomMetric",
    "CompositeEvalMetric",
    "create",
    "evaluate",
]


def _is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray | jax.Array) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic)
    )


def _as_list(x: Any) -> list:
    # MXNet accepts one array or a list of arrays; a list of plain numbers is one array.
    if isinstance(x, list | tuple) and len(x) > 0 and all(_is_array(e) for e in x):
        return list(x)
    return [x]


def _float_pair(label: Any, pred: Any, name: str) -> tuple[jax.Array, jax.Array]:
    """Returns ``label`` and ``pred`` as floating arrays of the same shape (label reshaped)."""
    label, pred = jnp.asarray(label), jnp.asarray(pred)
    if not jnp.issubdtype(pred.dtype, jnp.floating):
        pred = pred.astype(jnp.float32)
    if label.shape != pred.shape:
        if label.size != pred.size:
            raise ValueError(
                f"{name}: labels of shape {label.shape} do not match predictions of shape "
                f"{pred.shape}. Pass one label per predicted value, e.g. labels of shape "
                f"{pred.shape} or of size {pred.size}."
            )
        label = label.reshape(pred.shape)
    return label.astype(pred.dtype), pred


def _per_example(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sum over examples of the per-example mean of ``values``; and the number of examples."""
    n = values.shape[0] if values.ndim else 1
    if values.size == 0:
        return jnp.zeros((), values.dtype), jnp.asarray(0.0, values.dtype)
    per_example_size = values.size // n
    return jnp.sum(values) / per_example_size, jnp.asarray(float(n), values.dtype)


class EvalMetric:
    """Base class of the metrics: a running sum and count, and a pure ``stats`` function.

    Two sets of accumulators are kept, as in MXNet: the *local* ones, which
    :meth:`reset_local` clears (``Speedometer(auto_reset=True)`` does so after each line it
    prints), and the *global* ones, which only :meth:`reset` clears (``Module.fit`` reports those
    at the end of an epoch).

    Subclasses implement :meth:`stats` and, when the value is not ``sum / count``,
    :meth:`_value`.

    Args:
        name: the name that :meth:`get` reports.
        output_names: kept for MXNet compatibility; not used.
        label_names: kept for MXNet compatibility; not used.
    """

    #: whether ``stats`` can be traced by ``jax.jit`` (true for every built-in metric).
    jittable: bool = True

    def __init__(
        self,
        name: str,
        output_names: Sequence[str] | None = None,
        label_names: Sequence[str] | None = None,
    ):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self.reset()

    def stats(self, label: Any, pred: Any) -> tuple[jax.Array, jax.Array]:
        """Statistics of one batch: ``(sum, count)``, pure and jittable.

        Args:
            label: the labels of the batch.
            pred: the predictions of the batch.

        Returns:
            Two scalars, the sum of the per-example values and the number of examples.
        """
        raise NotImplementedError

    def _value(self, total: float, count: float) -> float:
        return total / count

    def _config(self) -> tuple:
        """A hashable description: metrics with equal configs compute the same statistics."""
        return (type(self), self.name)

    def update(self, labels: Any, preds: Any) -> None:
        """Adds the statistics of a batch (or of a list of batches).

        Args:
            labels: an array of labels or a list of such arrays.
            preds: an array of predictions or a list of as many arrays as ``labels``.

        Raises:
            ValueError: if the lists have different lengths or a label does not fit its prediction.
        """
        labels, preds = _as_list(labels), _as_list(preds)
        if len(labels) != len(preds):
            raise ValueError(
                f"{type(self).__name__}.update got {len(labels)} label arrays and {len(preds)} "
                "prediction arrays; pass as many of each (one per output)."
            )
        for label, pred in zip(labels, preds, strict=True):
            total, count = self.stats(label, pred)
            self._add(float(total), float(count))

    def add_stats(self, total: Any, count: Any) -> None:
        """Adds statistics computed elsewhere (by the compiled loops) to the accumulators."""
        self._add(float(total), float(count))

    def _add(self, total: Any, count: Any) -> None:
        self.sum_metric += total
        self.num_inst += count
        self.global_sum_metric += total
        self.global_num_inst += count

    def reset(self) -> None:
        """Clears the local and the global accumulators."""
        self.reset_local()
        self.global_sum_metric = 0.0
        self.global_num_inst = 0

    def reset_local(self) -> None:
        """Clears the local accumulators only (what ``get`` reports)."""
        self.sum_metric = 0.0
        self.num_inst = 0

    def _result(self, total: Any, count: Any) -> float:
        count = float(count)
        if count == 0:
            return float("nan")
        return float(self._value(float(total), count))

    def get(self) -> tuple[str, float]:
        """Returns ``(name, value)`` over the updates since the last reset (``nan`` if none)."""
        return self.name, self._result(self.sum_metric, self.num_inst)

    def get_global(self) -> tuple[str, float]:
        """Like :meth:`get`, over the updates since the last :meth:`reset`."""
        return self.name, self._result(self.global_sum_metric, self.global_num_inst)

    def get_name_value(self) -> list[tuple[str, float]]:
        """Returns ``[(name, value)]``: the same as :meth:`get`, as a list of pairs."""
        return [self.get()]

    def get_global_name_value(self) -> list[tuple[str, float]]:
        """Returns ``[(name, value)]`` over the updates since the last :meth:`reset`."""
        return [self.get_global()]

    def __repr__(self) -> str:
        return f"EvalMetric: {dict(self.get_name_value())}"


class Accuracy(EvalMetric):
    """Fraction of examples whose predicted class equals the label.

    Predictions of a different shape from the labels are class scores: the predicted class is
    their argmax along ``axis``. Predictions of the same shape as the labels are class ids.

    Args:
        axis: the class axis of the predictions.
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = Accuracy()
        >>> m.update([np.array([1, 0])], [np.array([[0.3, 0.7], [0.6, 0.4]])])
        >>> m.get()
        ('accuracy', 1.0)
    """

    def __init__(self, axis: int = 1, name: str = "accuracy", **kwargs: Any):
        self.axis = axis
        super().__init__(name, **kwargs)

    def _config(self) -> tuple:
        return (*super()._config(), self.axis)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        pred_label = pred if pred.shape == label.shape else jnp.argmax(pred, axis=self.axis)
        if pred_label.size != label.size:
            raise ValueError(
                f"Accuracy: {label.size} labels (shape {label.shape}) but {pred_label.size} "
                f"predicted classes (predictions of shape {pred.shape}, argmax over axis "
                f"{self.axis}). Pass one class id per example."
            )
        correct = pred_label.astype(jnp.int32).ravel() == label.astype(jnp.int32).ravel()
        return jnp.sum(correct).astype(jnp.float32), jnp.asarray(float(label.size), jnp.float32)


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
        label, pred = _float_pair(label, pred, type(self).__name__)
        return _per_example(jnp.square(label - pred))


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
        label, pred = _float_pair(label, pred, type(self).__name__)
        return _per_example(jnp.abs(label - pred))


class CrossEntropy(EvalMetric):
    """Mean of ``-log(p[label] + eps)`` where ``p`` are predicted class *probabilities*.

    The predictions must be probabilities of shape ``(N, classes)`` (apply a softmax to the
    outputs of a network that returns logits).

    Args:
        eps: added to the probability before the logarithm, to keep it finite.
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = CrossEntropy()
        >>> m.update(np.array([0, 1]), np.array([[0.5, 0.5], [0.1, 0.9]]))
        >>> round(m.get()[1], 4)
        0.3993
    """

    def __init__(self, eps: float = 1e-12, name: str = "cross-entropy", **kwargs: Any):
        self.eps = eps
        super().__init__(name, **kwargs)

    def _config(self) -> tuple:
        return (*super()._config(), self.eps)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        if pred.ndim != 2 or label.size != pred.shape[0]:
            raise ValueError(
                f"CrossEntropy expects probabilities of shape (N, classes) and N class ids, got "
                f"predictions of shape {pred.shape} and labels of shape {label.shape}."
            )
        idx = label.astype(jnp.int32).reshape(-1, 1)
        prob = jnp.take_along_axis(pred, idx, axis=1)[:, 0]
        total = jnp.sum(-jnp.log(prob + self.eps))
        return total, jnp.asarray(float(label.size), total.dtype)


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
        name: the reported name.
        allow_extra_outputs: kept for MXNet compatibility; not used.

    Examples:
        >>> import numpy as np
        >>> m = CustomMetric(lambda label, pred: np.abs(label - pred).max(), name="max-error")
        >>> m.update(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
        >>> m.get()
        ('max-error', 1.0)
    """

    def __init__(
        self,
        feval: Callable[[Any, Any], Any],
        name: str = "custom",
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
        super().__init__(name, **kwargs)

    def _config(self) -> tuple:
        return (*super()._config(), self._feval)

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
        labels, preds = _as_list(labels), _as_list(preds)
        if len(labels) != len(preds):
            raise ValueError(
                f"CustomMetric.update got {len(labels)} label arrays and {len(preds)} "
                "prediction arrays; pass as many of each (one per output)."
            )
        for label, pred in zip(labels, preds, strict=True):
            total, count = self._split(self._feval(np.asarray(label), np.asarray(pred)))
            self._add(float(total), float(count))

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


_REGISTRY: dict[str, type[EvalMetric]] = {
    "acc": Accuracy,
    "accuracy": Accuracy,
    "mse": MSE,
    "rmse": RMSE,
    "mae": MAE,
    "ce": CrossEntropy,
    "cross-entropy": CrossEntropy,
}


def create(metric: Any, *args: Any, **kwargs: Any) -> EvalMetric:
    """Builds a metric from a name, a function, a metric object or a list of those.

    Args:
        metric: a name ('acc'/'accuracy', 'mse', 'rmse', 'mae', 'ce'/'cross-entropy'), a
            function ``feval(label, pred)`` (wrapped in :class:`CustomMetric`), an
            :class:`EvalMetric` (returned as is) or a list of those (a
            :class:`CompositeEvalMetric`).
        *args: passed to the metric's constructor when ``metric`` is a name.
        **kwargs: passed to the metric's constructor when ``metric`` is a name.

    Returns:
        The metric.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else.

    Examples:
        >>> create("acc")
        EvalMetric: {'accuracy': nan}
        >>> type(create(["mse", "mae"])).__name__
        'CompositeEvalMetric'
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


# --------------------------------------------------------------------------------------------
# Evaluation over a whole loader, through the engine.


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
    from . import _engine

    metric = create(metric)
    metric.reset()
    _engine.evaluate(net, data, leaves(metric))
    return metric.get()[1]
