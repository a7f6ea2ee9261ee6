"""Correlation metrics of classifications: Matthews (``MCC``, binary) and its multiclass ``PCC``.

Both are the Pearson correlation of the one-hot predicted and true classes, read off counts:
``MCC`` from the four cells of a binary confusion matrix, ``PCC`` from a ``K x K`` one. Unlike
accuracy or F1 they are 0 for a classifier that always predicts the same class, however
unbalanced the data.
"""

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
    poison,
)
from .base import EvalMetric

__all__ = ["MCC", "PCC"]


def _mcc_of(tp: Any, fp: Any, fn: Any, tn: Any) -> Any:
    """MXNet's MCC: zero factors of the denominator count as 1, so no examples give 0."""
    num = tp * tn - fp * fn
    den = 1.0
    for t in (tp + fp, tp + fn, tn + fp, tn + fn):
        # square roots one by one: the product of four counts overflows float32 sooner
        den = den * jnp.sqrt(jnp.where(t == 0, 1.0, t))
    return num / den


def _mcc_host(tp: float, fp: float, fn: float, tn: float) -> float:
    """:func:`_mcc_of` in Python floats (exact for any count a metric accumulates)."""
    den = math.prod(t for t in (tp + fp, tp + fn, tn + fp, tn + fn) if t != 0)
    return (tp * tn - fp * fn) / math.sqrt(den)


class MCC(EvalMetric):
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

    def __init__(self, name: str = "mcc", average: str = "macro", threshold: float = 0.5,
                 **kwargs: Any):
        if average not in ("macro", "micro"):
            raise ValueError(
                f"MCC: average must be 'macro' (mean over batches) or 'micro' (over all "
                f"examples), got {average!r}."
            )
        self.average = average
        self.threshold = threshold
        self.num_stats = 2 if average == "macro" else 4
        super().__init__(name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.average, self.threshold)

    def _counts(self, label: Any, pred: Any) -> tuple[jax.Array, ...]:
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        n = pred.shape[0] if pred.ndim else 0
        ok = jnp.asarray(True)
        if pred.ndim == 2 and pred.shape[1] == 2:
            positive = jnp.argmax(pred, axis=1) == 1
        elif pred.ndim == 1 or (pred.ndim == 2 and pred.shape[1] == 1):
            prob = pred.reshape(-1)
            values = concrete(prob)
            if values is not None and not np.all((values >= 0) & (values <= 1)):
                raise ValueError(
                    f"MCC: predictions of shape {pred.shape} are read as probabilities of "
                    f"class 1, but some are outside [0, 1] (from {values.min():g} to "
                    f"{values.max():g}). Apply jax.nn.sigmoid to logits, or pass scores of "
                    "shape (N, 2)."
                )
            positive = prob > self.threshold
            ok = jnp.all((prob >= 0) & (prob <= 1))
        else:
            raise ValueError(
                f"MCC is for binary classification: predictions of shape (N, 2) (scores of "
                f"classes 0 and 1) or (N,) (probabilities of class 1), got shape {pred.shape}. "
                "For more classes use PCC."
            )
        if label.size != n:
            raise ValueError(
                f"MCC: {label.size} labels (shape {label.shape}) for {n} predictions (shape "
                f"{pred.shape}); pass one label, 0 or 1, per example."
            )
        ids, label_ok = class_ids(label.reshape(-1), 2, "MCC",
                                  " MCC is for binary classification; for more classes use PCC.")
        actual = ids == 1
        counts = (positive & actual, positive & ~actual, ~positive & actual, ~positive & ~actual)
        return tuple(poison(jnp.sum(c).astype(jnp.float32), ok & label_ok) for c in counts)

    def stats(self, label, pred):
        tp, fp, fn, tn = self._counts(label, pred)
        if self.average == "micro":
            return tp, fp, fn, tp + fp + fn + tn
        return _mcc_of(tp, fp, fn, tn), jnp.asarray(1.0, jnp.float32)

    def _value(self, *totals):
        if self.average == "micro":
            tp, fp, fn, n = totals
            return _mcc_host(tp, fp, fn, n - tp - fp - fn)
        return super()._value(*totals)

    def update(self, labels, preds):
        labels, preds = as_list(labels), as_list(preds)
        self._check_lists(labels, preds)
        counts = [self._counts(y, p) for y, p in zip(labels, preds, strict=True)]
        tp, fp, fn, tn = (sum(float(c[i]) for c in counts) for i in range(4))
        if self.average == "micro":
            self.add_stats(tp, fp, fn, tp + fp + fn + tn)
        else:  # MXNet: one MCC per update, over all of its arrays
            self.add_stats(_mcc_host(tp, fp, fn, tn), 1.0)


class PCC(EvalMetric):
    """Multiclass Matthews correlation (MXNet 1.6's ``PCC``) of a ``K x K`` confusion matrix.

    With ``C[p, t]`` the number of examples of class ``t`` predicted as ``p``, ``n`` their
    total, ``x`` the row sums and ``y`` the column sums, the value is
    ``sum(n * diag(C) - x * y) / sqrt(sum(x * (n - x)) * sum(y * (n - y)))``; ``nan`` when all
    predictions, or all labels, are one class. For two classes it is the MCC; for more its
    minimum lies between -1 and 0, its maximum is 1. The matrix sums every update since the
    last reset (MXNet does not average per batch here).

    Predictions of a different shape from the labels are scores, the class is their argmax
    along axis 1 (MXNet's rule); of the labels' shape, they are class ids.

    Statistics: the ``K * K`` cells of the matrix (row-major) and the number of updates. With
    ``num_classes`` given, ``K`` is fixed: class ids outside ``0..K-1`` raise when concrete,
    give ``nan`` under ``jax.jit``, and the compiled loops accumulate on the device. With
    ``num_classes=None`` (MXNet's behaviour), ``K`` starts at 2 and grows with the largest
    class seen; the matrix then lives on the host (``update`` only, ``jittable`` is false).

    Args:
        name: the reported name.
        num_classes: ``K``, or ``None`` to grow it as classes appear.

    Examples:
        >>> import numpy as np
        >>> m = PCC()
        >>> m.update(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1]))
        >>> m.k, round(m.get()[1], 4)                         # 7 / sqrt(10 * 10)
        (3, 0.7)
    """

    def __init__(self, name: str = "pcc", num_classes: int | None = None, **kwargs: Any):
        if num_classes is not None and (
                not isinstance(num_classes, int | np.integer) or num_classes < 2):
            raise ValueError(
                f"PCC: num_classes must be an integer >= 2, or None to grow with the labels, "
                f"got {num_classes!r}."
            )
        self.num_classes = None if num_classes is None else int(num_classes)
        self.k = self.num_classes or 2
        self.num_stats = self.k * self.k + 1
        self.jittable = self.num_classes is not None
        super().__init__(name, **kwargs)

    def cache_key(self) -> tuple:
        return (*super().cache_key(), self.num_classes, self.k)

    def _ids(self, label: Any, pred: Any, k: int | None) -> tuple[jax.Array, jax.Array, Any]:
        label, pred = jnp.asarray(label), jnp.asarray(pred)
        if pred.shape != label.shape:
            axis = check_axis(1, pred.shape, "PCC")
            pred = jnp.argmax(pred, axis=axis)
            if pred.size != label.size:
                raise ValueError(
                    f"PCC: {label.size} labels (shape {label.shape}) for {pred.size} predicted "
                    f"classes (argmax over axis 1 of predictions of shape {pred.shape}). Pass "
                    "one class id per example."
                )
        hint = None if k is None else (
            f" PCC(num_classes={k}) was built for {k} classes; pass num_classes=None to grow "
            "the confusion matrix with the classes seen.")
        truth, ok = class_ids(label.reshape(-1), k, "PCC", hint)
        guess, ok_pred = class_ids(pred.reshape(-1), k, "PCC (predicted classes)", hint)
        return truth, guess, ok & ok_pred

    def _matrix(self, truth: jax.Array, guess: jax.Array, ok: Any) -> jax.Array:
        cm = jax.nn.one_hot(guess, self.k).T @ jax.nn.one_hot(truth, self.k)
        return poison(cm, ok)

    def stats(self, label, pred):
        cm = self._matrix(*self._ids(label, pred, self.k))
        return (*cm.ravel(), jnp.asarray(1.0, cm.dtype))

    def _grow(self, k: int) -> None:
        def padded(stats: tuple) -> tuple:
            cm = np.pad(np.reshape(stats[:-1], (self.k, self.k)), (0, k - self.k))
            return (*cm.ravel().tolist(), stats[-1])

        local, global_ = padded(self.local_stats), padded(self.global_stats)
        self.k, self.num_stats = k, k * k + 1
        self.local_stats, self.global_stats = local, global_

    def update(self, labels, preds):
        labels, preds = as_list(labels), as_list(preds)
        self._check_lists(labels, preds)
        pairs = [self._ids(y, p, self.num_classes) for y, p in zip(labels, preds, strict=True)]
        if self.num_classes is None:
            top = max((int(jnp.max(jnp.concatenate([t, g]), initial=0)) for t, g, _ in pairs),
                      default=0)
            if top >= self.k:
                self._grow(top + 1)
        cm = sum(np.asarray(self._matrix(*pair)) for pair in pairs)
        self.add_stats(*np.ravel(cm).tolist(), 1.0)

    def _value(self, *totals):
        cm = np.reshape(np.asarray(totals[:-1], np.float64), (self.k, self.k))
        n, x, y = cm.sum(), cm.sum(axis=1), cm.sum(axis=0)
        cov_xx, cov_yy = np.sum(x * (n - x)), np.sum(y * (n - y))
        if cov_xx == 0 or cov_yy == 0:
            return float("nan")
        return float(np.sum(np.diag(cm) * n - x * y) / math.sqrt(cov_xx * cov_yy))
