"""Binary classification metrics read off the four counts of a confusion matrix: F1 and MCC.

Both take scores of shape ``(N, 2)`` (class 1 where its score is the larger, MXNet's ``argmax``)
or probabilities of class 1 of shape ``(N,)`` or ``(N, 1)`` (class 1 above ``threshold``), and
labels 0 or 1. Both average as MXNet does: ``'macro'`` is the mean of one score per update,
``'micro'`` the score of all the examples together. :class:`BinaryCounts` holds what they share.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import as_list, class_ids, concrete, poison
from .base import EvalMetric

__all__ = ["F1", "MCC", "BinaryCounts", "f1_host", "f1_of", "mcc_host", "mcc_of"]


def f1_of(tp: jax.Array, fp: jax.Array, fn: jax.Array) -> jax.Array:
    """``2 tp / (2 tp + fp + fn)``: the F1 score, 0 with no positives at all (MXNet); nan stays."""
    denominator = 2 * tp + fp + fn
    return jnp.where(denominator == 0, 0.0, 2 * tp / jnp.where(denominator == 0, 1, denominator))


def f1_host(tp: float, fp: float, fn: float) -> float:
    """:func:`f1_of` in Python floats."""
    denominator = 2 * tp + fp + fn
    return 0.0 if denominator == 0 else 2 * tp / denominator



def mcc_of(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    """MXNet's MCC: zero factors of the denominator count as 1, so no examples give 0."""
    num = tp * tn - fp * fn
    den = 1.0
    for t in (tp + fp, tp + fn, tn + fp, tn + fn):
        # square roots one by one: the product of four counts overflows float32 sooner
        den = den * jnp.sqrt(jnp.where(t == 0, 1.0, t))
    return num / den


def mcc_host(tp: float, fp: float, fn: float, tn: float) -> float:
    """:func:`mcc_of` in Python floats (exact for any count a metric accumulates)."""
    den = math.prod(t for t in (tp + fp, tp + fn, tn + fp, tn + fn) if t != 0)
    return (tp * tn - fp * fn) / math.sqrt(den)



class BinaryCounts(EvalMetric):
    """A binary metric that is a function of ``(tp, fp, fn, tn)``: the shared reading and averaging.

    Subclasses set :attr:`multiclass` and define :meth:`score_of` (jax arrays, jittable) and
    :meth:`score_host` (Python floats). The statistics are ``(sum of scores, updates)`` for
    ``average='macro'`` and ``(tp, fp, fn, examples)`` for ``average='micro'``.
    """

    #: the metric to use instead for more than two classes, named in the error messages
    multiclass = "Accuracy"

    def __init__(self, name: str, average: str = "macro", threshold: float = 0.5,
                 **kwargs: Any):
        if average not in ("macro", "micro"):
            raise ValueError(
                f"{type(self).__name__}: average must be 'macro' (mean over batches) or 'micro' "
                f"(over all examples), got {average!r}."
            )
        self.average = average
        self.threshold = threshold
        self.num_stats = 2 if average == "macro" else 4
        super().__init__(name, **kwargs)

    @staticmethod
    def score_of(tp: jax.Array, fp: jax.Array, fn: jax.Array, tn: jax.Array) -> jax.Array:
        raise NotImplementedError

    @staticmethod
    def score_host(tp: float, fp: float, fn: float, tn: float) -> float:
        raise NotImplementedError

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.average, self.threshold)

    def counts(self, label: Any, pred: Any) -> tuple[jax.Array, ...]:
        """``(tp, fp, fn, tn, examples)`` of one batch, float32; ``nan`` for bad values (jit)."""
        what = type(self).__name__
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
                    f"{what}: predictions of shape {pred.shape} are read as probabilities of "
                    f"class 1, but some are outside [0, 1] (up to {values.max():g}, down to "
                    f"{values.min():g}). Apply jax.nn.sigmoid to logits, or pass scores of "
                    "shape (N, 2)."
                )
            positive = prob > self.threshold
            ok = jnp.all((prob >= 0) & (prob <= 1))
        else:
            raise ValueError(
                f"{what} is for binary classification: predictions of shape (N, 2) (scores of "
                f"classes 0 and 1) or (N,) (probabilities of class 1), got shape {pred.shape}. "
                f"For more classes use {self.multiclass}."
            )
        if label.size != n:
            raise ValueError(
                f"{what}: {label.size} labels (shape {label.shape}) for {n} predictions (shape "
                f"{pred.shape}); pass one label, 0 or 1, per example."
            )
        ids, label_ok = class_ids(label.reshape(-1), 2, what, f" {what} is for binary "
                                  f"classification; for more classes use {self.multiclass}.")
        actual = ids == 1
        cells = (positive & actual, positive & ~actual, ~positive & actual, ~positive & ~actual)
        cells = tuple(poison(jnp.sum(c).astype(jnp.float32), ok & label_ok) for c in cells)
        return (*cells, jnp.asarray(float(n), jnp.float32))

    def stats(self, label, pred):
        tp, fp, fn, tn, n = self.counts(label, pred)
        if self.average == "micro":
            return tp, fp, fn, n
        return self.score_of(tp, fp, fn, tn), jnp.asarray(1.0, jnp.float32)

    def _value(self, *totals):
        if self.average == "micro":
            tp, fp, fn, n = totals
            return self.score_host(tp, fp, fn, n - tp - fp - fn)
        return super()._value(*totals)

    def update(self, labels, preds):
        labels, preds = as_list(labels), as_list(preds)
        self._check_lists(labels, preds)
        counts = [self.counts(y, p) for y, p in zip(labels, preds, strict=True)]
        tp, fp, fn, tn, n = (sum(float(c[i]) for c in counts) for i in range(5))
        if self.average == "micro":
            self.add_stats(tp, fp, fn, n)
        else:  # MXNet: one score per update, over all of its arrays
            self.add_stats(self.score_host(tp, fp, fn, tn), 1.0)


class F1(BinaryCounts):
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
        super().__init__(name, average, threshold, **kwargs)

    @staticmethod
    def score_of(tp, fp, fn, tn):
        return f1_of(tp, fp, fn)

    @staticmethod
    def score_host(tp, fp, fn, tn):
        return f1_host(tp, fp, fn)


class MCC(BinaryCounts):
    """Matthews correlation coefficient of a binary classification.

    ``(tp * tn - fp * fn) / sqrt((tp + fp)(tp + fn)(tn + fp)(tn + fn))``, where factors of the
    denominator that are 0 are replaced by 1 (MXNet's rule, so a batch with one class only
    scores 0 rather than ``nan``). 1 is a perfect classifier, 0 one no better than chance, -1 a
    perfectly wrong one.

    Predictions are scores of shape ``(N, 2)`` (class 1 where its score is the larger, MXNet's
    ``argmax``), or probabilities of class 1 of shape ``(N,)`` or ``(N, 1)`` (class 1 above
    ``threshold``). Labels are 0 or 1; other values raise a ``ValueError`` when concrete and
    make the statistic ``nan`` under ``jax.jit``.

    ``average='macro'`` (MXNet's default) reports the mean of the MCCs of the updates (one per
    batch; an update with a list of arrays counts once), statistics ``(sum of MCC, updates)``.
    ``average='micro'`` reports the MCC of all the examples together, from the statistics
    ``(tp, fp, fn, examples)``; ``num_inst`` is then the number of examples.

    Args:
        name: the reported name.
        average: ``'macro'`` or ``'micro'``.
        threshold: the probability above which an ``(N,)`` prediction means class 1.

    Examples:
        >>> import numpy as np
        >>> m = MCC()
        >>> label = np.array([1, 1, 1, 0, 0])                 # tp=2, fn=1, fp=1, tn=1
        >>> pred = np.array([[0, 1], [0, 1], [1, 0], [0, 1], [1, 0]], float)
        >>> m.update(label, pred)
        >>> round(m.get()[1], 4)                               # (2 - 1) / sqrt(3 * 3 * 2 * 2)
        0.1667
    """

    multiclass = "PCC"

    def __init__(self, name: str = "mcc", average: str = "macro", threshold: float = 0.5,
                 **kwargs: Any):
        super().__init__(name, average, threshold, **kwargs)

    score_of = staticmethod(mcc_of)
    score_host = staticmethod(mcc_host)
