"""Classification metrics: accuracy, top-k accuracy, perplexity, cross-entropy (F1: binary)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import (
    check_axis,
    class_ids,
    distribution_rows,
    poison,
)
from .base import EvalMetric

__all__ = [
    "Accuracy",
    "CrossEntropy",
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
