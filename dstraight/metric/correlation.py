"""``PCC``: the multiclass Matthews correlation, read off a ``K x K`` confusion matrix.

It is the Pearson correlation of the one-hot predicted and true classes, the generalisation of
the binary ``MCC`` (in :mod:`dstraight.metric.binary`). Unlike accuracy or F1 it is 0 for a
classifier that always predicts the same class, however unbalanced the data.
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
    poison,
)
from .base import EvalMetric

__all__ = ["PCC"]


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
