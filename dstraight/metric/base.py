"""The base class of the metrics and the accumulator contract the compiled loops rely on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

from ._checks import (
    as_list,
)

__all__ = [
    "EvalMetric",
]


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
        labels, preds = as_list(labels), as_list(preds)
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
