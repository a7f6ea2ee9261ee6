"""How ``Module.fit`` trains an epoch around its batch-end callbacks.

A callback with an integer ``frequent`` attribute (``callback.Speedometer``) is called after batch
0 and every ``frequent``-th batch, with the batches in between run as compiled chunks; any other
batch-end callback makes the epoch run the compiled step batch by batch.
"""

from __future__ import annotations

from typing import Any

from dstraight import _engine
from dstraight.callback import BatchEndParam
from dstraight.trainer import Trainer

__all__ = ["as_list", "frequency", "train_epoch"]


def as_list(callbacks: Any) -> list:
    """A callback argument (None, one callback, or several) as a list."""
    if callbacks is None:
        return []
    if isinstance(callbacks, list | tuple):
        return list(callbacks)
    return [callbacks]


def frequency(callback: Any) -> int | None:
    """Every how many batches ``callback`` wants to be called (its ``frequent``), or None."""
    freq = getattr(callback, "frequent", None)
    if isinstance(freq, int) and not isinstance(freq, bool) and freq > 0:
        return freq
    return None


def train_epoch(trainer: Trainer, net: Any, loss: Any, train_data: Any, leaves: tuple,
                train_metric: Any, callbacks: list, epoch: int, bar: Any) -> int:
    """Trains one epoch of ``Module.fit``, calling ``callbacks``; returns the number of batches."""
    frequencies = [frequency(cb) for cb in callbacks]
    compiled = _engine.is_device_loader(train_data) and all(f is not None
                                                            for f in frequencies)
    done = [0]

    def call_back(nbatch: int) -> None:
        bar.update(nbatch + 1 - done[0])
        done[0] = nbatch + 1
        param = BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=train_metric,
                              locals=locals())
        for cb in callbacks:
            cb(param)

    if compiled:
        def points(total: int) -> list[int]:
            return sorted({p for f in frequencies for p in range(0, total, f)})

        result = trainer.train_epoch(net, loss, train_data, leaves, points,
                                     call_back if callbacks else None)
    else:
        result = trainer.train_epoch(net, loss, train_data, leaves,
                                     on_batch=call_back if callbacks else None)
    bar.update(result.steps - done[0])
    return result.steps
