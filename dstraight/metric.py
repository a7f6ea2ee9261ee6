"""Evaluation metrics with MXNet's names and semantics, plus compiled evaluation over a loader.

A metric accumulates a few additive statistics: :meth:`EvalMetric.update` adds those of one batch
(or of several: lists of label and prediction arrays are accepted, as in MXNet) and
:meth:`EvalMetric.get` returns ``(name, value)``. The arithmetic lives in one pure method,
:meth:`EvalMetric.stats`, that maps ``(label, pred)`` to a tuple of ``num_stats`` scalars; the
statistics of several batches are their elementwise sums. For most metrics the tuple is
``(sum, count)`` and the value is ``sum / count`` (MXNet's ``sum_metric`` and ``num_inst``);
``F1(average='micro')`` keeps ``(true positives, false positives, false negatives, examples)``.
``stats`` works on NumPy and JAX arrays and under ``jax.jit``, which is how :func:`evaluate`,
``Module.fit`` and ``Module.score`` sum a whole epoch of statistics on the device without a host
round trip per batch.

Averages are taken over examples (the batch axis): the mean squared error of a dataset is the same
whichever way it is cut into batches. (MXNet 1.x averaged the per-batch values of MSE, MAE and
RMSE; that differs only when batches have different sizes. ``RMSE`` here is the square root of the
overall MSE.) ``F1(average='macro')`` and ``PearsonCorrelation`` average per-batch values, as in
MXNet 1.x.

Labels are checked where their values are known (eager calls): class ids outside the predicted
classes, fractional class ids, one-hot rows that are not distributions raise a ``ValueError``.
Under ``jax.jit`` they cannot be looked at; the batch's statistic is ``nan`` instead, so that the
metric's value is ``nan`` rather than silently wrong.

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
    "TopKAccuracy",
    "F1",
    "Perplexity",
    "MSE",
    "RMSE",
    "MAE",
    "CrossEntropy",
    "NegativeLogLikelihood",
    "PearsonCorrelation",
    "Loss",
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


def _concrete(x: jax.Array) -> np.ndarray | None:
    """The values of ``x`` if they are known now; ``None`` for a tracer (inside ``jax.jit``)."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def _listing(values: np.ndarray, limit: int = 5) -> str:
    distinct = np.unique(values)
    text = ", ".join(f"{v:g}" for v in distinct[:limit].tolist())
    return text + (f", ... ({distinct.size} distinct values)" if distinct.size > limit else "")


def _poison(total: jax.Array, ok: jax.Array) -> jax.Array:
    """``total`` if every entry of ``ok`` holds, else ``nan``: bad labels under jit show."""
    return jnp.where(jnp.all(ok), total, jnp.nan)


def _class_ids(label: jax.Array, num_classes: int | None, where: str, hint: str | None = None
               ) -> tuple[jax.Array, jax.Array]:
    """``(ids, ok)``: the labels as int32 class ids and where they are valid ids.

    Valid: whole numbers in ``0..num_classes-1`` (``num_classes=None``: any ``>= 0``). Raises for
    invalid labels when their values are known, with ``hint`` or one guessed from the values.
    """
    label = jnp.asarray(label)
    ok = label >= 0
    if num_classes is not None:
        ok &= label < num_classes
    if jnp.issubdtype(label.dtype, jnp.floating):
        ok &= label == jnp.floor(label)
    values = _concrete(label)
    if values is not None:
        bad = values[~np.asarray(ok)]
        if bad.size:
            classes = "0, 1, 2, ..." if num_classes is None else f"0..{num_classes - 1}"
            if hint is None:
                hint = ""
                if num_classes is not None and values.min() >= 1 and values.max() == num_classes:
                    hint = f" The labels look numbered 1..{num_classes}: pass y - 1."
                elif num_classes is not None and values.min() >= 0:
                    hint = " Does the network have one output per class?"
            raise ValueError(
                f"{where}: labels must be class ids {classes}, got {bad.size} other value(s): "
                f"{_listing(bad)}.{hint}"
            )
    return label.astype(jnp.int32), ok


def _distribution_rows(label: jax.Array, axis: int, where: str) -> jax.Array:
    """Whether every row of ``label`` along ``axis`` is a distribution; raises when concrete."""
    ok = jnp.all((label >= 0) & (label <= 1), axis=axis)
    ok &= jnp.abs(jnp.sum(label, axis=axis) - 1) <= 1e-3
    values = _concrete(label)
    if values is not None and not np.all(np.asarray(ok)):
        rows = np.moveaxis(values, axis, -1)
        i = int(np.argmin(np.asarray(ok)))
        raise ValueError(
            f"{where}: labels of the predictions' shape {label.shape} are read as one-hot or "
            f"probability rows along axis {axis} (the class is their argmax), but "
            f"{int(np.sum(~np.asarray(ok)))} row(s) are not distributions (values in [0, 1] "
            f"summing to 1), e.g. row {i}: {np.round(rows[i][:6], 4).tolist()}. Pass one class "
            f"id per example instead (labels of shape {rows.shape[:-1]}); predicted class ids "
            "of the labels' shape must be integers, e.g. pred.argmax(axis=-1)."
        )
    return ok


def _check_axis(axis: int, shape: tuple[int, ...], where: str) -> int:
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"{where}: axis={axis} is out of range for predictions of shape {shape}; pass the "
            "class axis, e.g. axis=1 for predictions of shape (N, classes)."
        )
    return axis % len(shape)


class EvalMetric:
    """Base class of the metrics: additive statistics and a pure ``stats`` function.

    The accumulator contract (what the compiled loops rely on):

    * ``stats(label, pred)`` is pure and jittable and returns a tuple of ``num_stats`` scalars;
      the statistics of several batches are their elementwise sum. It may return ``nan`` under
      ``jax.jit`` for labels that would raise when concrete.
    * ``local_stats`` and ``global_stats`` are the running sums, tuples of ``num_stats`` floats
      (assignable); ``add_stats(*stats)`` adds one batch's statistics to both.
    * The value is ``_value(*stats)``; it is ``nan`` while the last statistic, the count, is 0.
    * For ``num_stats == 2`` the tuples are MXNet's ``(sum_metric, num_inst)`` and
      ``(global_sum_metric, global_num_inst)``, the same four attributes. For more statistics
      those four are read-only views kept for MXNet compatibility (``num_inst`` is the count,
      ``sum_metric`` is value times count); assigning them does not change the metric.

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

    #: whether the compiled loops may trace ``stats`` (true for every built-in metric but
    #: ``F1(average='micro')``, whose four statistics the compiled loops do not carry yet).
    jittable: bool = True
    #: the length of the tuple that ``stats`` returns.
    num_stats: int = 2

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

    def stats(self, label: Any, pred: Any) -> tuple[jax.Array, ...]:
        """Statistics of one batch, pure and jittable: for most metrics ``(sum, count)``.

        Args:
            label: the labels of the batch.
            pred: the predictions of the batch.

        Returns:
            ``num_stats`` scalars; those of several batches add up.
        """
        raise NotImplementedError

    def _value(self, *totals: float) -> float:
        total, count = totals
        return total / count

    def cache_key(self) -> tuple:
        """A hashable description: metrics with equal configs compute the same statistics."""
        return (type(self), self.name)

    def _check_lists(self, labels: list, preds: list) -> None:
        if len(labels) != len(preds):
            raise ValueError(
                f"{type(self).__name__}.update got {len(labels)} label arrays and {len(preds)} "
                "prediction arrays; pass as many of each (one per output)."
            )

    def update(self, labels: Any, preds: Any) -> None:
        """Adds the statistics of a batch (or of a list of batches).

        Args:
            labels: an array of labels or a list of such arrays.
            preds: an array of predictions or a list of as many arrays as ``labels``.

        Raises:
            ValueError: if the lists have different lengths or a label does not fit its prediction.
        """
        labels, preds = _as_list(labels), _as_list(preds)
        self._check_lists(labels, preds)
        for label, pred in zip(labels, preds, strict=True):
            self.add_stats(*self.stats(label, pred))

    def add_stats(self, *stats: Any) -> None:
        """Adds statistics computed elsewhere (what :meth:`stats` returned, e.g. summed over
        batches by the compiled loops) to the local and the global accumulators.

        Raises:
            ValueError: if there are not ``num_stats`` values.
        """
        values = self._checked(stats)
        self.local_stats = tuple(a + b for a, b in zip(self.local_stats, values, strict=True))
        self.global_stats = tuple(a + b for a, b in zip(self.global_stats, values, strict=True))


    def _checked(self, stats: Sequence[Any]) -> tuple[float, ...]:
        stats = tuple(stats)
        if len(stats) != self.num_stats:
            raise ValueError(
                f"{type(self).__name__} keeps {self.num_stats} statistics (see stats()), got "
                f"{len(stats)}."
            )
        return tuple(float(s) for s in stats)

    def _mxnet_view(self, totals: tuple[float, ...]) -> tuple[float, float]:
        count = totals[-1]
        return (self._value(*totals) * count if count else 0.0), count

    @property
    def local_stats(self) -> tuple:
        """The statistics summed since the last reset or reset_local."""
        if self.num_stats == 2:
            return (self.sum_metric, self.num_inst)
        return self._local_stats

    @local_stats.setter
    def local_stats(self, values: Sequence[Any]) -> None:
        if self.num_stats == 2:
            self.sum_metric, self.num_inst = self._checked(values)
        else:
            self._local_stats = self._checked(values)
            self.sum_metric, self.num_inst = self._mxnet_view(self._local_stats)

    @property
    def global_stats(self) -> tuple:
        """The statistics summed since the last reset."""
        if self.num_stats == 2:
            return (self.global_sum_metric, self.global_num_inst)
        return self._global_stats

    @global_stats.setter
    def global_stats(self, values: Sequence[Any]) -> None:
        if self.num_stats == 2:
            self.global_sum_metric, self.global_num_inst = self._checked(values)
        else:
            self._global_stats = self._checked(values)
            self.global_sum_metric, self.global_num_inst = self._mxnet_view(self._global_stats)

    def reset(self) -> None:
        """Clears the local and the global accumulators."""
        self.reset_local()
        self.global_stats = (0.0,) * self.num_stats

    def reset_local(self) -> None:
        """Clears the local accumulators only (what ``get`` reports)."""
        self.local_stats = (0.0,) * self.num_stats

    def _result(self, totals: Sequence[Any]) -> float:
        totals = [float(t) for t in totals]
        if totals[-1] == 0:
            return float("nan")
        return float(self._value(*totals))

    def get(self) -> tuple[str, float]:
        """Returns ``(name, value)`` over the updates since the last reset (``nan`` if none)."""
        return self.name, self._result(self.local_stats)

    def get_global(self) -> tuple[str, float]:
        """Like :meth:`get`, over the updates since the last :meth:`reset`."""
        return self.name, self._result(self.global_stats)

    def get_name_value(self) -> list[tuple[str, float]]:
        """Returns ``[(name, value)]``: the same as :meth:`get`, as a list of pairs."""
        return [self.get()]

    def get_global_name_value(self) -> list[tuple[str, float]]:
        """Returns ``[(name, value)]`` over the updates since the last :meth:`reset`."""
        return [self.get_global()]

    def __repr__(self) -> str:
        return f"EvalMetric: {dict(self.get_name_value())}"


# -- classification ----------------------------------------------------------------------------


class Accuracy(EvalMetric):
    """Fraction of examples whose predicted class equals the label.

    How the predictions are read:

    * of a different shape from the labels: class scores, the predicted class is their argmax
      along ``axis``; the labels are class ids ``0..C-1``;
    * of the labels' shape, floating, with ``C > 1`` entries along ``axis``: scores, and the
      labels are one-hot or probability rows along ``axis``: the argmaxes are compared (MXNet
      compares all ``N * C`` entries, which scores a random 10-class model far above 0.1);
    * otherwise (same shape, integer, or one entry along ``axis``): predicted class ids.

    Labels that are not class ids (or, for the second case, rows that are not distributions)
    raise a ``ValueError`` when concrete, and make the batch's statistic ``nan`` under jit.

    Args:
        axis: the class axis of the predictions.
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = Accuracy()
        >>> m.update([np.array([1, 0])], [np.array([[0.3, 0.7], [0.6, 0.4]])])
        >>> m.get()
        ('accuracy', 1.0)
        >>> m.update(np.array([[0.0, 1.0]]), np.array([[0.9, 0.1]]))  # one-hot label: wrong
        >>> round(m.get()[1], 4)
        0.6667
    """

    def __init__(self, axis: int = 1, name: str = "accuracy", **kwargs: Any):
        self.axis = axis
        super().__init__(name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.axis)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        if pred.shape != label.shape:
            axis = _check_axis(self.axis, pred.shape, "Accuracy")
            pred_label = jnp.argmax(pred, axis=axis)
            if pred_label.size != label.size:
                raise ValueError(
                    f"Accuracy: {label.size} labels (shape {label.shape}) but {pred_label.size} "
                    f"predicted classes (predictions of shape {pred.shape}, argmax over axis "
                    f"{self.axis}). Pass one class id per example."
                )
            ids, ok = _class_ids(label, pred.shape[axis], "Accuracy")
            count = label.size
        elif (pred.ndim >= 2 and jnp.issubdtype(pred.dtype, jnp.floating)
              and pred.shape[_check_axis(self.axis, pred.shape, "Accuracy")] > 1):
            axis = self.axis % pred.ndim
            ok = _distribution_rows(label, axis, "Accuracy")
            pred_label, ids = jnp.argmax(pred, axis=axis), jnp.argmax(label, axis=axis)
            count = ids.size
        else:
            pred_label = pred
            ids, ok = _class_ids(label, None, "Accuracy")
            count = label.size
        correct = pred_label.astype(jnp.int32).ravel() == ids.ravel()
        total = _poison(jnp.sum(correct).astype(jnp.float32), ok)
        return total, jnp.asarray(float(count), jnp.float32)


class TopKAccuracy(EvalMetric):
    """Fraction of examples whose label is among the ``top_k`` highest-scored classes.

    ``top_k=1`` is :class:`Accuracy`; a ``top_k`` of at least the number of classes gives 1.

    Args:
        top_k: how many of the best classes count as right; at least 1.
        name: the reported name, to which ``_<top_k>`` is appended (MXNet's naming).

    Examples:
        >>> import numpy as np
        >>> m = TopKAccuracy(top_k=2)
        >>> m.update(np.array([2, 0]), np.array([[0.1, 0.5, 0.4], [0.2, 0.5, 0.3]]))
        >>> m.get()
        ('top_k_accuracy_2', 0.5)
    """

    def __init__(self, top_k: int = 1, name: str = "top_k_accuracy", **kwargs: Any):
        if not isinstance(top_k, int | np.integer) or top_k < 1:
            raise ValueError(f"TopKAccuracy: top_k must be a positive integer, got {top_k!r}.")
        self.top_k = int(top_k)
        super().__init__(f"{name}_{self.top_k}", **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.top_k)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        if pred.ndim != 2 or label.size != pred.shape[0]:
            raise ValueError(
                f"TopKAccuracy expects scores of shape (N, classes) and N class ids, got "
                f"predictions of shape {pred.shape} and labels of shape {label.shape}."
            )
        ids, ok = _class_ids(label.reshape(-1), pred.shape[1], "TopKAccuracy")
        _, best = jax.lax.top_k(pred, min(self.top_k, pred.shape[1]))
        hit = jnp.any(best == ids[:, None], axis=1)
        total = _poison(jnp.sum(hit).astype(jnp.float32), ok)
        return total, jnp.asarray(float(pred.shape[0]), jnp.float32)


def _f1_of(tp: jax.Array, fp: jax.Array, fn: jax.Array) -> jax.Array:
    """``2 tp / (2 tp + fp + fn)``: the F1 score, 0 with no positives at all (MXNet); nan stays."""
    denominator = 2 * tp + fp + fn
    return jnp.where(denominator == 0, 0.0, 2 * tp / jnp.where(denominator == 0, 1, denominator))


def _f1_host(tp: float, fp: float, fn: float) -> float:
    """:func:`_f1_of` in Python floats."""
    denominator = 2 * tp + fp + fn
    return 0.0 if denominator == 0 else 2 * tp / denominator


class F1(EvalMetric):
    """F1 score of a binary classification, ``2 tp / (2 tp + fp + fn)``.

    Predictions are scores of the two classes, shape ``(N, 2)`` (class 1 predicted where its
    score is the larger, as in MXNet), or probabilities of class 1, shape ``(N,)`` or ``(N, 1)``
    (class 1 predicted above ``threshold``). Labels are 0 or 1. With no positive label and no
    positive prediction the score is 0, as in MXNet.

    ``average='macro'`` (MXNet's default) reports the mean of the F1 scores of the updates (one
    per batch; an update with a list of arrays counts once): statistics ``(sum of F1, number of
    updates)``. ``average='micro'`` reports the F1 score of all the examples together, from the
    statistics ``(tp, fp, fn, examples)``; ``num_inst`` is then the number of examples.

    Args:
        name: the reported name.
        average: ``'macro'`` or ``'micro'``.
        threshold: the probability above which an ``(N,)`` prediction means class 1.

    Examples:
        >>> import numpy as np
        >>> m = F1()
        >>> m.update(np.array([0.0, 1.0, 1.0]), np.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]]))
        >>> round(m.get()[1], 4)
        0.8
    """

    def __init__(self, name: str = "f1", average: str = "macro", threshold: float = 0.5,
                 **kwargs: Any):
        if average not in ("macro", "micro"):
            raise ValueError(
                f"F1: average must be 'macro' (mean over batches) or 'micro' (over all "
                f"examples), got {average!r}."
            )
        self.average = average
        self.threshold = threshold
        self.num_stats = 2 if average == "macro" else 4
        # The compiled loops carry (sum, count) only; micro F1 is updated on the host meanwhile.
        super().__init__(name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.average, self.threshold)

    def _counts(self, label: Any, pred: Any) -> tuple[jax.Array, ...]:
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        n = pred.shape[0] if pred.ndim else 0
        if pred.ndim == 2 and pred.shape[1] == 2:
            positive = jnp.argmax(pred, axis=1) == 1
            ok = jnp.asarray(True)
        elif pred.ndim == 1 or (pred.ndim == 2 and pred.shape[1] == 1):
            prob = pred.reshape(-1)
            values = _concrete(prob)
            if values is not None and not np.all((values >= 0) & (values <= 1)):
                raise ValueError(
                    f"F1: predictions of shape {pred.shape} are read as probabilities of class "
                    f"1, but some are outside [0, 1] (up to {values.max():g}, down to "
                    f"{values.min():g}). Apply jax.nn.sigmoid to logits, or pass scores of "
                    "shape (N, 2)."
                )
            positive = prob > self.threshold
            ok = jnp.all((prob >= 0) & (prob <= 1))
        else:
            raise ValueError(
                f"F1 is for binary classification: predictions of shape (N, 2) (scores of "
                f"classes 0 and 1) or (N,) (probabilities of class 1), got shape {pred.shape}. "
                "For more classes use Accuracy."
            )
        if label.size != n:
            raise ValueError(
                f"F1: {label.size} labels (shape {label.shape}) for {n} predictions (shape "
                f"{pred.shape}); pass one label, 0 or 1, per example."
            )
        ids, label_ok = _class_ids(label.reshape(-1), 2, "F1", " F1 is for binary "
                                   "classification; for more classes use Accuracy.")
        actual = ids == 1
        counts = (jnp.sum(positive & actual), jnp.sum(positive & ~actual),
                  jnp.sum(~positive & actual))
        counts = tuple(_poison(c.astype(jnp.float32), ok & label_ok) for c in counts)
        return (*counts, jnp.asarray(float(n), jnp.float32))

    def stats(self, label, pred):
        tp, fp, fn, n = self._counts(label, pred)
        if self.average == "micro":
            return tp, fp, fn, n
        return _f1_of(tp, fp, fn), jnp.asarray(1.0, jnp.float32)

    def _value(self, *totals):
        if self.average == "micro":
            return _f1_host(*totals[:3])
        return super()._value(*totals)

    def update(self, labels, preds):
        labels, preds = _as_list(labels), _as_list(preds)
        self._check_lists(labels, preds)
        counts = [self._counts(y, p) for y, p in zip(labels, preds, strict=True)]
        tp, fp, fn, n = (sum(float(c[i]) for c in counts) for i in range(4))
        if self.average == "micro":
            self.add_stats(tp, fp, fn, n)
        else:  # MXNet: one F1 score per update, over all of its arrays
            self.add_stats(_f1_host(tp, fp, fn), 1.0)


class Perplexity(EvalMetric):
    """``exp`` of the mean negative log-probability of the labels, ignoring ``ignore_label``.

    Predictions are probabilities (not logits), classes along ``axis``; there is one label per
    probability row. Probabilities are clipped below at 1e-10, as in MXNet.

    Args:
        ignore_label: a label value that is not counted (e.g. padding), or ``None``.
        axis: the class axis of the predictions.
        name: the reported name.

    Examples:
        >>> import numpy as np
        >>> m = Perplexity(ignore_label=None)
        >>> m.update(np.array([0, 1, 1]), np.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]]))
        >>> round(m.get()[1], 6)
        1.771098
    """

    def __init__(self, ignore_label: int | None = None, axis: int = -1,
                 name: str = "perplexity", **kwargs: Any):
        self.ignore_label = ignore_label
        self.axis = axis
        super().__init__(name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.ignore_label, self.axis)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        axis = _check_axis(self.axis, pred.shape, "Perplexity")
        probs = jnp.moveaxis(pred, axis, -1)
        if label.size != probs.size // probs.shape[-1]:
            raise ValueError(
                f"Perplexity: {label.size} labels (shape {label.shape}) for predictions of "
                f"shape {pred.shape}: expected one label per row along axis {self.axis}, "
                f"{probs.size // probs.shape[-1]} of them."
            )
        label = label.reshape(probs.shape[:-1])
        keep = jnp.ones(label.shape, bool)
        if self.ignore_label is not None:
            keep = label != self.ignore_label
        # ignored labels need not be classes: give them class 0, their term is dropped anyway
        ids, ok = _class_ids(jnp.where(keep, label, 0), probs.shape[-1], "Perplexity")
        p = jnp.take_along_axis(probs, ids[..., None], axis=-1)[..., 0]
        total = -jnp.sum(jnp.where(keep, jnp.log(jnp.maximum(p, 1e-10)), 0.0))
        return _poison(total, ok), jnp.sum(keep).astype(total.dtype)

    def _value(self, total, count):
        return math.exp(total / count)


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

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.eps)

    def stats(self, label, pred):
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        if pred.ndim != 2 or label.size != pred.shape[0]:
            raise ValueError(
                f"{type(self).__name__} expects probabilities of shape (N, classes) and N class "
                f"ids, got predictions of shape {pred.shape} and labels of shape {label.shape}."
            )
        ids, ok = _class_ids(label.reshape(-1), pred.shape[1], type(self).__name__)
        prob = jnp.take_along_axis(pred, ids[:, None], axis=1)[:, 0]
        total = _poison(jnp.sum(-jnp.log(prob + self.eps)), ok)
        return total, jnp.asarray(float(label.size), total.dtype)


class NegativeLogLikelihood(CrossEntropy):
    """MXNet's ``nll_loss``: the same as :class:`CrossEntropy`, named ``'nll-loss'``.

    Examples:
        >>> import numpy as np
        >>> m = NegativeLogLikelihood()
        >>> m.update(np.array([2, 1]), np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]]))
        >>> round(m.get()[1], 4)
        1.4979
    """

    def __init__(self, eps: float = 1e-12, name: str = "nll-loss", **kwargs: Any):
        super().__init__(eps, name, **kwargs)


# -- regression ----------------------------------------------------------------------------------


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
        label, pred = _float_pair(label, pred, type(self).__name__)
        # centred first: the float32 sums of raw squares would cancel badly for large means
        x, y = pred.ravel() - jnp.mean(pred), label.ravel() - jnp.mean(label)
        corr = jnp.sum(x * y) / jnp.sqrt(jnp.sum(x * x) * jnp.sum(y * y))
        return corr, jnp.asarray(1.0, corr.dtype)


# -- others --------------------------------------------------------------------------------------


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
        for pred in _as_list(preds):
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
        labels, preds = _as_list(labels), _as_list(preds)
        self._check_lists(labels, preds)
        for label, pred in zip(labels, preds, strict=True):
            self.add_stats(*self._split(self._feval(np.asarray(label), np.asarray(pred))))

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


# Class names (lower case) and MXNet's aliases.
_REGISTRY: dict[str, type[EvalMetric]] = {
    **{cls.__name__.lower(): cls for cls in (
        Accuracy, TopKAccuracy, F1, Perplexity, MSE, RMSE, MAE, CrossEntropy,
        NegativeLogLikelihood, PearsonCorrelation, Loss, CustomMetric, CompositeEvalMetric,
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
        metric: a class name, any case (``'Accuracy'``, ``'TopKAccuracy'``, ``'F1'``, ``'MSE'``,
            ``'CrossEntropy'``, ``'Loss'``, ``'composite'``, ...) or one of MXNet's aliases
            (``'acc'``, ``'top_k_acc'``, ``'ce'``, ``'cross-entropy'``, ``'nll_loss'``,
            ``'pearsonr'``); a function ``feval(label, pred)`` (wrapped in
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
