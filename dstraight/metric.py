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
from functools import partial
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
# Compiled evaluation. The helpers below are shared with dstraight.module and dstraight.trainer.


def _leaves(metric: EvalMetric) -> list[EvalMetric]:
    if isinstance(metric, CompositeEvalMetric):
        return [leaf for m in metric.metrics for leaf in _leaves(m)]
    return [metric]


def _get_state(metric: EvalMetric) -> tuple[jax.Array, ...]:
    """The four accumulators of a leaf metric as float32 device scalars."""
    values = (metric.sum_metric, metric.num_inst, metric.global_sum_metric, metric.global_num_inst)
    return tuple(jnp.asarray(v, jnp.float32) for v in values)


def _set_state(metric: EvalMetric, state: Sequence[Any]) -> None:
    metric.sum_metric, metric.num_inst, metric.global_sum_metric, metric.global_num_inst = state


def _accumulate(metric: EvalMetric, state: tuple, label: Any, pred: Any) -> tuple:
    """Pure: ``state`` plus the statistics of one batch (used inside compiled programs)."""
    total, count = metric.stats(label, pred)
    total, count = jnp.asarray(total, jnp.float32), jnp.asarray(count, jnp.float32)
    local_sum, local_count, global_sum, global_count = state
    return (local_sum + total, local_count + count, global_sum + total, global_count + count)


def _add_stats(metric: EvalMetric, acc: tuple, label: Any, pred: Any) -> tuple:
    """Pure: ``(sum, count)`` plus the statistics of one batch, as float32."""
    total, count = metric.stats(label, pred)
    return (acc[0] + jnp.asarray(total, jnp.float32), acc[1] + jnp.asarray(count, jnp.float32))


class _Static:
    """Hashes a metric by its configuration, a net by identity: jit's static-argument keys."""

    def __init__(self, obj: Any, key: Any):
        self.obj, self.key = obj, key

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and self.key == other.key


def _static_net(net: Any) -> _Static:
    return _Static(net, ("net", id(net)))


def _static_metrics(metrics: Sequence[EvalMetric]) -> _Static:
    return _Static(tuple(metrics), tuple(m._config() for m in metrics))


# Batches per iteration of the compiled loops (jax.lax.scan's ``unroll``); None picks by backend.
# Measured on linear and softmax regression (H100; 2 CPU cores): on a GPU every loop iteration
# costs microseconds of its own, and 8 batches per iteration cut an epoch by 20-50%; on a CPU 2
# gives most of what more unrolling gives (about 18% at batch 64) and compiles about as fast as 1.
_SCAN_UNROLL: int | None = None


def _scan_unroll(num_batches: int) -> int:
    unroll = _SCAN_UNROLL
    if unroll is None:
        unroll = 2 if jax.default_backend() == "cpu" else 8
    return max(1, min(unroll, num_batches))


def _gather(arrays: Sequence[jax.Array], idx: jax.Array) -> list[jax.Array]:
    # Indices come from the loader and are in range, which spares the gather a bounds check.
    return [a.at[idx].get(mode="promise_in_bounds") for a in arrays]


@partial(jax.jit, static_argnums=(0, 1))
def _eval_rows(net: _Static, metrics: _Static, params, states, arrays, rows):
    """Scans the batches ``rows`` (``(k, batch_size)`` indices), summing metric statistics."""

    def body(states, idx):
        X, y = _gather(arrays, idx)
        y_hat = net.obj.apply(params, X)
        new = tuple(
            _accumulate(m, st, y, y_hat) for m, st in zip(metrics.obj, states, strict=True)
        )
        return new, None

    states, _ = jax.lax.scan(body, states, rows, unroll=_scan_unroll(rows.shape[0]))
    return states


@partial(jax.jit, static_argnums=(0, 1))
def _eval_batch(net: _Static, metrics: _Static, params, states, X, y):
    y_hat = net.obj.apply(params, X)
    return tuple(_accumulate(m, st, y, y_hat) for m, st in zip(metrics.obj, states, strict=True))


@partial(jax.jit, static_argnums=(0,))
def _forward(net: _Static, params, X):
    return net.obj.apply(params, X)


@partial(jax.jit, static_argnums=(0,))
def _forward_rows(net: _Static, params, data, rows):
    """Predictions for the batches ``rows``, stacked: shape ``(k, batch_size, ...)``."""

    def body(carry, idx):
        (X,) = _gather((data,), idx)
        return carry, net.obj.apply(params, X)

    _, out = jax.lax.scan(body, None, rows, unroll=_scan_unroll(rows.shape[0]))
    return out


def _has_fast_path(data: Any) -> bool:
    """Whether ``data`` follows dstraight.data's fast-path protocol."""
    return all(hasattr(data, a) for a in ("arrays", "batch_size", "epoch_indices"))


def _epoch_rows(data: Any) -> tuple[jax.Array, jax.Array]:
    """``(rows, tail)``: full batches and one last batch of indices, padding dropped.

    ``tail`` joins what the protocol returns as padding-free part of a padded last row
    (``NDArrayIter``'s ``last_pad``) and the short ``rest`` batch; it may be empty.
    """
    full, rest = data.epoch_indices()
    pad = int(getattr(data, "last_pad", 0) or 0)
    if pad and full.shape[0]:
        keep = full.shape[1] - pad
        return full[:-1], jnp.concatenate([full[-1, :keep], rest])
    return full, rest


def _unpack_batch(batch: Any) -> tuple[Any, Any, int]:
    """``(X, y, pad)`` from a DataBatch (``.data``/``.label`` lists) or an ``(X, y)`` pair."""
    if hasattr(batch, "data") and isinstance(batch.data, list | tuple):
        label = batch.label[0] if batch.label else None
        return batch.data[0], label, int(getattr(batch, "pad", 0) or 0)
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return batch[0], batch[1], 0
    if isinstance(batch, list | tuple) and len(batch) == 1:
        return batch[0], None, 0
    raise TypeError(
        f"Expected batches that are (data, label) pairs or DataBatch objects, got "
        f"{type(batch).__name__}."
    )


def _rewind(data: Any) -> None:
    """Starts a new pass over an MXNet-style iterator (they stop at the end until ``reset()``)."""
    if hasattr(data, "reset") and hasattr(data, "provide_data"):
        data.reset()


def _iterate(data: Any) -> Iterable:
    _rewind(data)
    return iter(data)


def _data_label(data: Any, need_label: bool = True) -> tuple[jax.Array, ...]:
    """The device arrays of a fast-path loader: ``(data, label)``, or ``(data,)`` if unlabelled."""
    arrays = tuple(data.arrays)
    if len(arrays) > 2:
        raise ValueError(
            f"Expected a loader with one data array and at most one label array, got "
            f"{len(arrays)} arrays; combine the inputs into one array."
        )
    if need_label and len(arrays) < 2:
        raise _missing_labels()
    return arrays


def _missing_labels() -> ValueError:
    return ValueError(
        "This needs labels, but the data has none; build the iterator with labels, e.g. "
        "NDArrayIter(X, y, batch_size) or DataLoader(ArrayDataset(X, y), batch_size)."
    )


def _update_eager(metrics: Sequence[EvalMetric], label: Any, pred: Any) -> None:
    for m in metrics:
        m.update([label], [pred])


def _spec(x: Any) -> jax.ShapeDtypeStruct:
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return jax.ShapeDtypeStruct(tuple(np.shape(x)), dtype)


def _jittable(metrics: Sequence[EvalMetric], net: Any, params: Any, X: Any, y: Any) -> bool:
    """Whether every metric's ``stats`` traces for labels like ``y`` and outputs of ``net(X)``.

    ``X`` and ``y`` may be arrays or ``jax.ShapeDtypeStruct`` specs.
    """
    if all(m.jittable and not isinstance(m, CustomMetric) for m in metrics):
        return True
    label_spec = _spec(y)
    pred_spec = jax.eval_shape(net.apply, params, _spec(X))
    return all(
        m._traceable(label_spec, pred_spec) if isinstance(m, CustomMetric) else m.jittable
        for m in metrics
    )


def _materialised_params(net: Any, X: Any) -> Any:
    """``net.params``, running ``net`` on ``X`` first if its shapes are still deferred."""
    from dstraight.nn import DeferredInitializationError

    try:
        return net.params
    except DeferredInitializationError:
        net(X)  # the shell's first call fixes the shapes
        return net.params


def _run_eval(net: Any, params: Any, data: Any, metric: EvalMetric) -> None:
    """Adds the statistics of ``net`` over all of ``data`` to ``metric`` (padding dropped).

    ``params=None`` means the net's current parameters (materialised on a first batch if needed).
    """
    leaves = _leaves(metric)
    snet = _static_net(net)
    if _has_fast_path(data):
        arrays = _data_label(data)
        _rewind(data)
        rows, tail = _epoch_rows(data)
        sample = arrays[0][: data.batch_size], arrays[1][: data.batch_size]
        if params is None:
            params = _materialised_params(net, sample[0])
        if _jittable(leaves, net, params, *sample):
            smetrics = _static_metrics(leaves)
            states = tuple(_get_state(m) for m in leaves)
            if rows.shape[0]:
                states = _eval_rows(snet, smetrics, params, states, arrays, rows)
            if tail.shape[0]:
                states = _eval_rows(snet, smetrics, params, states, arrays, tail[None])
            for m, st in zip(leaves, states, strict=True):
                _set_state(m, [float(v) for v in st])
        else:
            # feval needs concrete arrays: predict on the device, update batch by batch.
            if rows.shape[0]:
                out = _forward_rows(snet, params, arrays[0], rows)
                labels = jnp.take(arrays[1], rows, axis=0)
                for i in range(rows.shape[0]):
                    _update_eager(leaves, labels[i], out[i])
            if tail.shape[0]:
                out = _forward_rows(snet, params, arrays[0], tail[None])[0]
                _update_eager(leaves, jnp.take(arrays[1], tail, axis=0), out)
        return
    seen = False
    for batch in _iterate(data):
        X, y, pad = _unpack_batch(batch)
        if y is None:
            raise _missing_labels()
        seen = True
        if pad:
            X, y = X[: len(X) - pad], y[: len(y) - pad]
        X, y = jnp.asarray(X), jnp.asarray(y)
        if params is None:
            params = _materialised_params(net, X)
        if _jittable(leaves, net, params, X, y):
            states = tuple(_get_state(m) for m in leaves)
            states = _eval_batch(snet, _static_metrics(leaves), params, states, X, y)
            for m, st in zip(leaves, states, strict=True):
                _set_state(m, st)
        else:
            _update_eager(leaves, y, _forward(snet, params, X))
    if not seen:
        raise ValueError(
            "The data yielded no batches. An MXNet-style iterator that was consumed must be "
            "reset() first; a DataLoader must not be empty."
        )
    for m in leaves:
        _set_state(m, [float(v) for v in _get_state(m)])


def evaluate(net: Any, data: Any, metric: Any = "accuracy") -> Any:
    """Evaluates ``net`` on a whole loader or iterator, compiled and batched.

    When ``data`` follows the fast-path protocol of :mod:`dstraight.data` (``DataLoader``,
    ``NDArrayIter``), the pass over the data is one compiled ``jax.lax.scan`` that gathers the
    batches and sums the metric's statistics on the device; it is compiled once per batch shape.
    Other iterables of ``(X, y)`` pairs are evaluated batch by batch with a compiled step.
    Padding added by ``NDArrayIter(last_batch_handle='pad')`` is not counted.

    Args:
        net: a block (anything with ``apply(params, x)`` and ``params``).
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
    metric = create(metric)
    metric.reset()
    _run_eval(net, None, data, metric)
    return metric.get()[1]
