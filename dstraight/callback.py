"""Callbacks for ``Module.fit``: the per-batch argument and a throughput logger.

A batch-end callback is any function of one :class:`BatchEndParam`. ``Module.fit`` calls it after
every batch, with one exception that keeps compiled epochs fast: a callback with an integer
attribute ``frequent`` (like :class:`Speedometer`) is only called after the batches whose index
``nbatch`` is a multiple of ``frequent`` (0 included), and the batches in between run as one
compiled program. A Speedometer prints at exactly those batches anyway, so its output is the same.

Examples:
    >>> from dstraight import callback, metric
    >>> speedometer = callback.Speedometer(batch_size=32, frequent=2)
    >>> mse = metric.MSE()
    >>> for nbatch in range(3):
    ...     speedometer(callback.BatchEndParam(epoch=0, nbatch=nbatch, eval_metric=mse,
    ...                                        locals=None))  # doctest: +ELLIPSIS
    Epoch[0] Batch [2] Speed: ... samples/sec mse=nan
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

__all__ = ["BatchEndParam", "Speedometer"]


class BatchEndParam(NamedTuple):
    """What a batch-end callback receives (MXNet's ``BatchEndParam``)."""

    #: The epoch, counted from 0.
    epoch: int
    #: The index of the batch that just finished, counted from 0 in each epoch.
    nbatch: int
    #: The training metric, updated up to this batch.
    eval_metric: Any
    #: The caller's local variables (MXNet passes them; may be ``None``).
    locals: Any


class Speedometer:
    """Prints the training speed and the metric every ``frequent`` batches.

    Lines look like ``Epoch[0] Batch [50] Speed: 1234.56 samples/sec mse=0.1234``; the speed is
    measured over the batches since the previous line. The first call of an epoch (batch 0) only
    starts the clock.

    Args:
        batch_size: examples per batch, to turn batches per second into samples per second.
        frequent: print after every ``frequent``-th batch.
        auto_reset: reset the metric's local accumulators after each line, so each line shows
            the metric over its own batches (the epoch summary of ``Module.fit`` uses the global
            accumulators and still covers the whole epoch).

    Examples:
        >>> speedometer = Speedometer(batch_size=64, frequent=100)
        >>> speedometer.frequent
        100
    """

    def __init__(self, batch_size: int, frequent: int = 50, auto_reset: bool = True):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"Speedometer(batch_size=...) must be a positive int, got {batch_size!r}."
            )
        if isinstance(frequent, bool) or not isinstance(frequent, int) or frequent < 1:
            raise ValueError(
                f"Speedometer(frequent=...) must be a positive int (print every that many "
                f"batches), got {frequent!r}."
            )
        self.batch_size = batch_size
        self.frequent = frequent
        self.auto_reset = auto_reset
        self.init = False
        self.tic = 0.0
        self.last_count = 0

    def __call__(self, param: BatchEndParam) -> None:
        count = param.nbatch
        if self.last_count > count:  # a new epoch began
            self.init = False
        self.last_count = count
        if not self.init:
            self.init = True
            self.tic = time.perf_counter()
            return
        if count % self.frequent != 0:
            return
        # Reading the metric waits for the device, so the time below covers finished work.
        pairs = param.eval_metric.get_name_value() if param.eval_metric is not None else []
        elapsed = max(time.perf_counter() - self.tic, 1e-9)
        speed = self.frequent * self.batch_size / elapsed
        line = f"Epoch[{param.epoch}] Batch [{count}] Speed: {speed:.2f} samples/sec"
        line += "".join(f" {name}={value:.4g}" for name, value in pairs)
        print(line)
        if self.auto_reset and param.eval_metric is not None:
            param.eval_metric.reset_local()
        self.tic = time.perf_counter()
