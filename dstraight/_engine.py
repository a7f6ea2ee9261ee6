"""The one loop engine: every training, evaluation and prediction path of ``dstraight``.

``Trainer.step``, ``Trainer.fused_step``, ``Trainer.fit_epoch``, ``Module.fit/score/predict``
and ``metric.evaluate`` are thin calls into :func:`train_epoch`, :class:`StepRunner`,
:func:`apply_gradients`, :func:`evaluate` and :func:`predict`. A loader that follows
:class:`dstraight.data.DeviceLoader` has each epoch run as one compiled ``jax.lax.scan`` over its
index table (the compiled programs are in :mod:`dstraight._programs`), except where the step
holds an operation that XLA runs slowly inside a loop (on a CPU, a convolution: see
:data:`dstraight._programs.SLOW_IN_LOOPS`), which is then called once per batch; any other
iterable of batches runs one compiled step per batch. Evaluation and prediction visit every
example once, in dataset order, whatever the loader's shuffling or last-batch mode; they are in
:mod:`dstraight._engine_eval` (re-exported here). What the loops do in Python (reading batches,
shapes, label checks, metric statistics) is in :mod:`dstraight._engine_host`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _programs as P
from ._engine_eval import evaluate, predict, predict_arrays  # noqa: F401  (re-exported)
from ._engine_host import (
    check_labels_once,
    deliver,
    device_arrays,
    divergence_message,  # noqa: F401  (the trainer uses it through the engine)
    ensure_shapes,
    is_device_loader,  # noqa: F401  (so do the trainer and Module)
    iterate,
    missing_labels,
    out_spec,
    rewind,
    sample_specs,
    spec_of,
    traceable,
    unpack_batch,
    zero_acc,
)
from .data.protocol import DeviceLoader
from .nn.block import Block

__all__ = ["EpochResult", "Optimizing", "apply_gradients", "evaluate", "predict",
           "StepRunner", "train_epoch"]


class Optimizing:
    """What the engine needs of a trainer: the optimizer and the values it trains.

    ``params`` are the trainable :class:`~dstraight.parameter.Parameter` objects in the
    trainer's order; ``opt_state`` is the optax state over the tuple of their values (None until
    the first update). ``tx`` is the transformation for the parameters' *current* ``lr_mult``
    and ``wd_mult``, rebuilt by ``build(lr_mults, wd_mults)`` whenever they change, and
    ``tx_key`` identifies it (the optimizer's configuration plus the multipliers) for the
    caches: every compiled path reads ``tx``/``tx_key`` when it builds or runs a step, so a
    change of a multiplier takes effect at the next step.
    """

    def __init__(self, tx: Any, tx_key: Any, params: tuple, opt_state: Any = None,
                 build: Callable[[tuple, tuple], Any] | None = None):
        self.params = tuple(params)
        self.opt_state = opt_state
        self._base_tx, self._base_key, self._build = tx, tx_key, build
        self._mults: tuple | None = None
        self._refresh()

    def multipliers(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The ``(lr_mult, wd_mult)`` values of the parameters, in their order."""
        return (tuple(p.lr_mult for p in self.params), tuple(p.wd_mult for p in self.params))

    def _refresh(self) -> None:
        mults = self.multipliers()
        if mults == self._mults:
            return
        default = all(m == 1.0 for group in mults for m in group)
        if default or self._build is None:
            if not default:
                raise ValueError("lr_mult and wd_mult need a trainer's optimizer to apply them.")
            tx, key = self._base_tx, self._base_key
        else:
            tx, key = self._build(*mults), (self._base_key, "multipliers", mults)
        self._mults, self._tx, self._tx_key = mults, tx, key
        self._static = P.Static(tx, key)

    @property
    def tx(self) -> Any:
        self._refresh()
        return self._tx

    @property
    def tx_key(self) -> Any:
        self._refresh()
        return self._tx_key

    @property
    def static_tx(self) -> Any:
        self._refresh()
        return self._static

    def values(self) -> tuple:
        return tuple(p.stored() for p in self.params)

    def state_for(self, values: tuple) -> Any:
        if self.opt_state is None:
            self.opt_state = self.tx.init(values)
        return self.opt_state

    def commit(self, values: tuple, opt_state: Any) -> None:
        for p, v in zip(self.params, values, strict=True):
            p.set_data(v)
        self.opt_state = opt_state


@dataclasses.dataclass
class EpochResult:
    """The host values of one epoch: loss sum and count over the finite steps, skipped steps."""

    loss_sum: float
    count: float
    bad_steps: int
    steps: int

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.count if self.count else float("nan")


# -- host side ------------------------------------------------------------------------------------


def trace_count() -> int:
    """How many times the engine's programs were traced (compiled) in this process."""
    return P.trace_count()


# -- training -------------------------------------------------------------------------------------


def train_epoch(net: Block, loss_fn: Callable, data: Any, opt: Optimizing,
                metrics: Sequence[Any] = (), points: Sequence[int] = (),
                on_point: Callable[[int], None] | None = None,
                on_batch: Callable[[int], None] | None = None) -> EpochResult:
    """Trains one epoch; parameters, state and ``opt.opt_state`` are committed at the end.

    Args:
        points: batch indices after which ``on_point(nbatch)`` is called, with the parameters
            and metrics committed up to that batch (the batches in between stay compiled); or a
            function of the epoch's number of batches that returns them.
        on_batch: called after every batch (this runs the epoch batch by batch).
    """
    if isinstance(data, DeviceLoader) and on_batch is None:
        return _train_device_epoch(net, loss_fn, data, opt, metrics, points, on_point)
    return _train_iterated(net, loss_fn, data, opt, metrics, on_batch)


def _carry(net: Block, spec: Any, opt: Optimizing, acc: tuple) -> tuple[tuple, tuple]:
    structure = net.structure()
    values = tuple(p.stored() for p in structure.params)
    trainable = opt.values()
    carry = (trainable, tuple(p.stored() for p in structure.states), opt.state_for(trainable), acc)
    return carry, P.split_values(spec, values)


def _commit(net: Block, opt: Optimizing, carry: tuple) -> None:
    trainable, states, opt_state, _ = carry
    opt.commit(trainable, opt_state)
    for p, v in zip(net.structure().states, states, strict=True):
        p.set_data(v)


def _deliver_acc(metrics: Sequence[Any], acc: tuple) -> tuple[float, float, int]:
    loss_sum, count, bad, stats = jax.device_get(acc)
    deliver(metrics, stats)
    return float(loss_sum), float(count), int(bad)


def _train_device_epoch(net, loss_fn, data, opt, metrics, points, on_point) -> EpochResult:
    arrays, n_data = device_arrays(data, need_label=True)
    rewind(data)
    full, rest = data.epoch_indices()
    total = int(full.shape[0]) + (1 if rest.shape[0] else 0)
    if total == 0:
        raise ValueError("The loader yielded no batch in this epoch; it holds no data.")
    ensure_shapes(net, lambda: tuple(a[: data.batch_size] for a in arrays[:n_data]))
    sample = sample_specs(arrays, data.batch_size)
    spec0 = P.make_spec(net, loss_fn, (), opt.tx, opt.tx_key, opt.params)
    pred_spec = out_spec(spec0, net, sample[:n_data])
    check_labels_once(loss_fn, data, arrays[n_data], pred_spec.shape[-1])
    label_spec = sample[n_data]
    eager = [m for m in metrics if not traceable(m, label_spec, pred_spec)]
    if eager:  # a feval that needs NumPy values: batch by batch, updated on the host
        return _train_iterated(net, loss_fn, data, opt, metrics, None, rows=(full, rest))
    spec = P.make_spec(net, loss_fn, metrics, opt.tx, opt.tx_key, opt.params)
    carry, frozen = _carry(net, spec, opt, zero_acc(spec, label_spec, pred_spec))
    key = net.next_key()
    nfull = int(full.shape[0])
    stops = sorted({p for p in (points(total) if callable(points) else points) if p < total})
    # One compiled call per batch where the step holds an operation that loops slowly, else one
    # per stretch of batches between the points where the caller wants to hear back.
    per_batch = P.slow_in_loops("train", spec, frozen, carry, sample[:n_data], sample[n_data],
                                key)
    ends = (range(1, nfull + 1) if per_batch
            else [*[p + 1 for p in stops if p < nfull], nfull])
    if per_batch or (stops and stops[0] < nfull):
        full = np.asarray(jax.device_get(full))  # slicing on the host costs no dispatch
    start, chunk, report = 0, 0, set(stops)
    for end in ends:
        if per_batch:
            carry = P.train_row(spec, frozen, carry, arrays, n_data, full[start], key,
                                np.uint32(start))
            start = end
        elif end > start:
            carry = P.train_rows(spec, frozen, carry, arrays, n_data, full[start:end],
                                 jax.random.fold_in(key, chunk))
            chunk += 1
            start = end
        if end - 1 in report:
            carry = _report(net, opt, metrics, carry, on_point, end - 1)
            spec = _current(spec, net, loss_fn, metrics, opt)  # a callback may change lr_mult
    if rest.shape[0] and per_batch:
        carry = P.train_row(spec, frozen, carry, arrays, n_data, rest, key, np.uint32(nfull))
    elif rest.shape[0]:
        carry = P.train_rows(spec, frozen, carry, arrays, n_data, rest[None],
                             jax.random.fold_in(key, chunk))
    if rest.shape[0] and nfull in stops:
        carry = _report(net, opt, metrics, carry, on_point, nfull)
    _commit(net, opt, carry)
    loss_sum, count, bad = _deliver_acc(metrics, carry[3])
    return EpochResult(loss_sum, count, bad, total)


def _current(spec: Any, net: Block, loss_fn: Callable, metrics: Sequence[Any],
             opt: Optimizing) -> Any:
    """``spec``, or a new one if the optimizer changed (a parameter's multiplier was set)."""
    if spec.tx.key is opt.tx_key:
        return spec
    return P.make_spec(net, loss_fn, metrics, opt.tx, opt.tx_key, opt.params)


def _report(net, opt, metrics, carry, on_point, nbatch) -> tuple:
    """Commits what the epoch did so far, hands the metrics their sums, calls back."""
    _commit(net, opt, carry)
    trainable, states, opt_state, acc = carry
    loss_sum, count, bad, stats = acc
    deliver(metrics, jax.device_get(stats))
    acc = (loss_sum, count, bad, jax.tree.map(jnp.zeros_like, stats))
    if on_point is not None:
        on_point(nbatch)
    return (trainable, states, opt.opt_state, acc)


def _batches_from_rows(data: Any, rows: tuple) -> Iterable:
    arrays = tuple(data.data_arrays) + tuple(data.label_arrays)
    n_data = len(data.data_arrays)
    full, rest = rows
    tables = [full[i] for i in range(full.shape[0])] + ([rest] if rest.shape[0] else [])
    for idx in tables:
        batch = [jnp.take(a, idx, axis=0) for a in arrays]
        yield tuple(batch[:n_data]), batch[n_data], 0


def _train_iterated(net, loss_fn, data, opt, metrics, on_batch, rows=None) -> EpochResult:
    batches = (_batches_from_rows(data, rows) if rows is not None
               else (unpack_batch(b) for b in iterate(data)))
    carry = spec = frozen = eager = None
    steps = 0
    key = None
    for steps, (inputs, y, _) in enumerate(batches, start=1):
        if y is None:
            raise missing_labels()
        inputs = tuple(jnp.asarray(x) for x in inputs)
        if carry is None:
            ensure_shapes(net, inputs)
            spec0 = P.make_spec(net, loss_fn, (), opt.tx, opt.tx_key, opt.params)
            pred_spec = out_spec(spec0, net, inputs)
            label_spec = spec_of(y)
            eager = [m for m in metrics if not traceable(m, label_spec, pred_spec)]
            compiled = [m for m in metrics if m not in eager]
            spec = P.make_spec(net, loss_fn, compiled, opt.tx, opt.tx_key, opt.params)
            carry, frozen = _carry(net, spec, opt, zero_acc(spec, label_spec, pred_spec))
            key = net.next_key()
        carry, out, _ = P.train_batch(spec, frozen, carry, inputs, y, key, np.uint32(steps))
        for m in eager:
            m.update([y], [out])
        if on_batch is not None:
            carry = _report(net, opt, [m for m in metrics if m not in eager], carry,
                            lambda nb: on_batch(nb), steps - 1)
            spec = _current(spec, net, loss_fn, compiled, opt)
    if carry is None:
        raise ValueError(
            "The loader yielded no batch. An MXNet-style iterator that was consumed must be "
            "reset() first; a DataLoader must not be empty."
        )
    _commit(net, opt, carry)
    loss_sum, count, bad = _deliver_acc([m for m in metrics if m not in eager], carry[3])
    return EpochResult(loss_sum, count, bad, steps)


class StepRunner:
    """One compiled training step at a time (``Trainer.fused_step``), programs cached.

    The count of skipped (non-finite) steps stays on the device, in the accumulator that each
    step carries on; :attr:`bad_steps` reads it, which waits for the steps to finish.
    """

    def __init__(self, net: Block, loss_fn: Callable, opt: Optimizing):
        self.net, self.loss_fn, self.opt = net, loss_fn, opt
        self._skey: Any = None
        self._spec: Any = None
        self._acc: Any = None
        self._key: Any = None
        self._count = 0

    @property
    def bad_total(self) -> Any:
        """The device scalar counting the steps skipped so far (None before the first)."""
        return None if self._acc is None else self._acc[2]

    def __call__(self, inputs: tuple, y: Any) -> jax.Array:
        """Trains on one batch; returns the mean loss as a device scalar."""
        net = self.net
        structure = net.structure()
        if self._skey is not structure.key or self._spec.tx.key is not self.opt.tx_key:
            ensure_shapes(net, tuple(jnp.asarray(x) for x in inputs))
            structure = net.structure()
            self._spec = P.make_spec(net, self.loss_fn, (), self.opt.tx, self.opt.tx_key,
                                     self.opt.params)
            self._skey = structure.key
            if self._acc is None:
                zero = jnp.zeros((), jnp.float32)
                self._acc = (zero, zero, zero, ())
                self._key = net.next_key()
        spec, opt = self._spec, self.opt
        trainable = opt.values()
        states = tuple(p.stored() for p in structure.states)
        frozen = tuple(p.stored() for p, j in zip(structure.params, spec.place, strict=True)
                       if j is None)
        carry = (trainable, states, opt.state_for(trainable), self._acc)
        self._count += 1
        carry, _, mean_loss = P.train_batch(spec, frozen, carry, inputs, y, self._key,
                                            np.uint32(self._count))
        _commit(net, opt, carry)
        self._acc = carry[3]
        return mean_loss


def apply_gradients(opt: Optimizing, grads: tuple, scale: float, bad: Any) -> Any:
    """One optimizer update from gradients; returns the device count of skipped updates.

    ``bad`` is the count so far (a device scalar): an update whose gradients are not finite is
    skipped and adds one.
    """
    values = opt.values()
    new, new_state, bad = P.apply_grads(opt.static_tx, values, opt.state_for(values), grads,
                                        np.float32(scale), bad)
    opt.commit(new, new_state)
    return bad


# -- evaluation and prediction --------------------------------------------------------------------
