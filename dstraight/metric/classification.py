"""Classification metrics: accuracy, top-k accuracy, F1, perplexity and cross-entropy."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import (
    as_list,
    check_axis,
    class_ids,
    concrete,
    distribution_rows,
    poison,
)
from .base import EvalMetric

__all__ = [
    "Accuracy",
    "CrossEntropy",
    "F1",
    "NegativeLogLikelihood",
    "Perplexity",
    "TopKAccuracy",
]


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
            axis = check_axis(self.axis, pred.shape, "Accuracy")
            pred_label = jnp.argmax(pred, axis=axis)
            if pred_label.size != label.size:
                raise ValueError(
                    f"Accuracy: {label.size} labels (shape {label.shape}) but {pred_label.size} "
                    f"predicted classes (predictions of shape {pred.shape}, argmax over axis "
                    f"{self.axis}). Pass one class id per example."
                )
            ids, ok = class_ids(label, pred.shape[axis], "Accuracy")
            count = label.size
        elif (pred.ndim >= 2 and jnp.issubdtype(pred.dtype, jnp.floating)
              and pred.shape[check_axis(self.axis, pred.shape, "Accuracy")] > 1):
            axis = self.axis % pred.ndim
            ok = distribution_rows(label, axis, "Accuracy")
            pred_label, ids = jnp.argmax(pred, axis=axis), jnp.argmax(label, axis=axis)
            count = ids.size
        else:
            pred_label = pred
            ids, ok = class_ids(label, None, "Accuracy")
            count = label.size
        correct = pred_label.astype(jnp.int32).ravel() == ids.ravel()
        total = poison(jnp.sum(correct).astype(jnp.float32), ok)
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
        ids, ok = class_ids(label.reshape(-1), pred.shape[1], "TopKAccuracy")
        _, best = jax.lax.top_k(pred, min(self.top_k, pred.shape[1]))
        hit = jnp.any(best == ids[:, None], axis=1)
        total = poison(jnp.sum(hit).astype(jnp.float32), ok)
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
            values = concrete(prob)
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
        ids, label_ok = class_ids(label.reshape(-1), 2, "F1", " F1 is for binary "
                                   "classification; for more classes use Accuracy.")
        actual = ids == 1
        counts = (jnp.sum(positive & actual), jnp.sum(positive & ~actual),
                  jnp.sum(~positive & actual))
        counts = tuple(poison(c.astype(jnp.float32), ok & label_ok) for c in counts)
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
        labels, preds = as_list(labels), as_list(preds)
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
        axis = check_axis(self.axis, pred.shape, "Perplexity")
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
        ids, ok = class_ids(jnp.where(keep, label, 0), probs.shape[-1], "Perplexity")
        p = jnp.take_along_axis(probs, ids[..., None], axis=-1)[..., 0]
        total = -jnp.sum(jnp.where(keep, jnp.log(jnp.maximum(p, 1e-10)), 0.0))
        return poison(total, ok), jnp.sum(keep).astype(total.dtype)

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
        ids, ok = class_ids(label.reshape(-1), pred.shape[1], type(self).__name__)
        prob = jnp.take_along_axis(pred, ids[:, None], axis=1)[:, 0]
        total = poison(jnp.sum(-jnp.log(prob + self.eps)), ok)
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
