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

from .base import EvalMetric
from .binary import F1, MCC
from .classification import (
    Accuracy,
    CrossEntropy,
    NegativeLogLikelihood,
    Perplexity,
    TopKAccuracy,
)
from .composite import CompositeEvalMetric, create
from .correlation import PCC
from .custom import CustomMetric, Loss, np
from .evaluation import evaluate, leaves
from .regression import MAE, MSE, RMSE, PearsonCorrelation

__all__ = [
    "EvalMetric",
    "Accuracy",
    "TopKAccuracy",
    "F1",
    "MCC",
    "Perplexity",
    "MSE",
    "RMSE",
    "MAE",
    "CrossEntropy",
    "NegativeLogLikelihood",
    "PearsonCorrelation",
    "PCC",
    "Loss",
    "CustomMetric",
    "CompositeEvalMetric",
    "create",
    "evaluate",
    "leaves",
    "np",
]


def __getattr__(name: str):
    # MXNet's metrics that this package lacks (Torch, Caffe) say what to use instead.
    from .._gluon_names import missing_name

    missing_name(__name__, name)
