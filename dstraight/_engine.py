"""The one loop engine: every training, evaluation and prediction path of ``dstraight``.

``Trainer.step``, ``Trainer.fused_step``, ``Trainer.fit_epoch``, ``Module.fit/score/predict``
and ``metric.evaluate`` are thin calls into :func:`train_epoch`, :func:`train_step`,
:func:`apply_gradients`, :func:`evaluate` and :func:`predict`. A loader that follows
:class:`dstraight.data.DeviceLoader` has each epoch run as one compiled ``jax.lax.scan`` over its
index table (the compiled programs are in :mod:`dstraight._programs`); any other iterable of
batches runs one compiled step per batch. Evaluation and prediction visit every example once, in
dataset order, whatever the loader's shuffling or last-batch mode.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _programs as P
from .data.protocol import DeviceLoader
from .nn.block import Block

__all__ = ["EpochResult", "Optimizing", "apply_gradients", "evaluate", "predict",
           "StepRunner", "train_epoch"]


@dataclasses.dataclass
class Optimizing:
    """What the engine needs of a trainer: the optimizer and the values it trains.

    ``params`` are the trainable :class:`~dstraight.parameter.Parameter` objects in the
    trainer's order; ``opt_state`` is the optax state over the tuple of their values (None until
    the first update); ``tx_key`` identifies the optimizer's configuration for the caches.
    """

    tx: Any
    tx_key: Any
    params: tuple
    opt_state: Any = None

    def __post_init__(self) -> None:
        self.static_tx = P.Static(self.tx, self.tx_key)

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


# -- host side ----------------------------------------------------------------------------------


def trace_count() -> int:
    """How many times the engine's programs were traced (compiled) in this process."""
    return P.trace_count()


def is_device_loader(data: Any) -> bool:
    """Whether ``data`` follows :class:`dstraight.data.DeviceLoader` (compiled epochs)."""
    return isinstance(data, DeviceLoader)


def rewind(data: Any) -> None:
    """Starts a new pass over an MXNet-style iterator (they stop at the end until ``reset()``)."""
    if hasattr(data, "reset") and hasattr(data, "provide_data"):
        data.reset()


def missing_labels() -> ValueError:
    return ValueError(
        "This needs labels, but the data has none; build the iterator with labels, e.g. "
        "NDArrayIter(X, y, batch_size) or DataLoader(ArrayDataset(X, y), batch_size)."
    )


def unpack_batch(batch: Any) -> tuple[tuple, Any, int]:
    """``(inputs, label, pad)`` from a DataBatch (``.data``/``.label``) or an ``(X, y)`` pair."""
    if hasattr(batch, "data") and isinstance(batch.data, list | tuple):
        label = batch.label[0] if batch.label else None
        return tuple(batch.data), label, int(getattr(batch, "pad", 0) or 0)
    if isinstance(batch, list | tuple) and len(batch) == 2:
        return (batch[0],), batch[1], 0
    if isinstance(batch, list | tuple) and len(batch) == 1:
        return (batch[0],), None, 0
    if isinstance(batch, np.ndarray | jax.Array):
        return (batch,), None, 0
    raise TypeError(
        f"Expected batches that are (data, label) pairs or DataBatch objects, got "
        f"{type(batch).__name__}."
    )


def device_arrays(data: Any, need_label: bool) -> tuple[tuple, int]:
    """The device arrays of a fast-path loader, inputs first, and the number of inputs."""
    inputs, labels = tuple(data.data_arrays), tuple(data.label_arrays)
    if need_label and not labels:
        raise missing_labels()
    if len(labels) > 1:
        raise ValueError(
            f"The loader provides {len(labels)} label arrays; the losses and metrics here take "
            f"one. Combine them into one array or train with a loop of your own."
        )
    return inputs + (labels if need_label else ()), len(inputs)


def zero_acc(spec: Any, label_spec: Any, pred_spec: Any) -> tuple:
    zero = jnp.zeros((), jnp.float32)
    stats = tuple(
        jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32),
                     jax.eval_shape(m.obj.stats, label_spec, pred_spec))
        for m in spec.metrics)
    return (zero, zero, zero, stats)


def deliver(metrics: Sequence[Any], stats: Sequence[Any]) -> None:
    """Adds the host values of accumulated statistics to the metrics."""
    for m, st in zip(metrics, stats, strict=True):
        m.add_stats(*[np.asarray(v) for v in st])


def traceable(metric: Any, label_spec: Any, pred_spec: Any) -> bool:
    """Whether ``metric.stats`` works on traced values (a ``feval`` of NumPy code may not)."""
    if not getattr(metric, "jittable", True):
        return False
    return _memo(_traceable, (P.metric_key(metric), label_spec, pred_spec),
                 lambda: _traces_ok(metric, label_spec, pred_spec))


def _traces_ok(metric: Any, label_spec: Any, pred_spec: Any) -> bool:
    try:
        jax.eval_shape(metric.stats, label_spec, pred_spec)
    except Exception:  # anything that fails on tracers means "update eagerly"
        return False
    return True


def spec_of(x: Any) -> jax.ShapeDtypeStruct:
    if isinstance(x, jax.ShapeDtypeStruct):
        return x
    return jax.ShapeDtypeStruct(tuple(np.shape(x)), getattr(x, "dtype", np.asarray(x).dtype))


def order_rows(n: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every example once, in dataset order: full batches and a short last one."""
    k = n // batch_size
    idx = np.arange(n, dtype=np.int32)
    return idx[: k * batch_size].reshape(k, batch_size), idx[k * batch_size:]


def iterate(data: Any) -> Iterable:
    rewind(data)
    return iter(data)


def divergence_message(bad: int, total: int, what: str, lr: str = "") -> str:
    """The error for steps whose loss or gradient was not finite, with the likely causes."""
    return (
        f"The training loss or its gradient was not finite (NaN or inf) in {bad} of {what} "
        f"{total}. Those steps were skipped, so the parameters hold their last finite values. "
        f"Likely causes: a learning rate too large{lr} (try ten times smaller), labels outside "
        f"0..C-1 for a classification loss, or NaN/inf values in the data."
    )






# -- shapes and labels, checked where the values are concrete ---------------------------------

_labels_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensure_shapes(net: Block, inputs: tuple) -> None:
    """Runs the shell once on ``inputs`` if deferred shapes are still unknown.

    ``inputs`` may be a function returning them, called only then.
    """
    structure = net.structure()
    if not all(p.has_value for p in structure.params + structure.states):
        net(*(inputs() if callable(inputs) else inputs))


def sample_specs(arrays: tuple, batch_size: int) -> tuple:
    """The shapes of one batch of ``arrays``, without slicing them (which costs a dispatch)."""
    return tuple(jax.ShapeDtypeStruct((min(batch_size, a.shape[0]), *a.shape[1:]), a.dtype)
                 for a in arrays)


def check_labels_once(loss_fn: Any, data: Any, label: Any, num_outputs: int) -> None:
    """Class-id labels are checked against the number of classes once per loader.

    Inside the compiled loop a label outside ``0..C-1`` cannot raise; here, on the host, the
    loss is called once on the distinct label values, where it checks them.
    """
    if not getattr(loss_fn, "sparse_label", False) or not callable(loss_fn):
        return
    seen = _labels_checked.setdefault(data, set()) if _weakable(data) else set()
    if num_outputs in seen:
        return
    values = np.unique(np.asarray(label))
    loss_fn(jnp.zeros((len(values), num_outputs), jnp.float32), jnp.asarray(values))
    seen.add(num_outputs)


def _weakable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


# Output shapes by (structure, input shapes): tracing the network for them costs milliseconds,
# as much as a whole small epoch, so each is computed once. Keys hold no network.
_out_specs: dict = {}
_traceable: dict = {}


def _out_spec(spec: Any, net: Block, inputs: tuple) -> Any:
    key = (spec.net, tuple((tuple(x.shape), str(x.dtype)) for x in inputs))
    return _memo(_out_specs, key, lambda: _trace_out_spec(spec, net, inputs))


def _memo(cache: dict, key: Any, compute: Callable[[], Any]) -> Any:
    """``cache[key]``, computed once; the cache is emptied when it grows past 512 entries."""
    if key not in cache:
        if len(cache) > 512:
            cache.clear()
        cache[key] = compute()
    return cache[key]


def _trace_out_spec(spec: Any, net: Block, inputs: tuple) -> Any:
    structure = net.structure()
    values = tuple(p.stored() for p in structure.params)
    states = tuple(p.stored() for p in structure.states)
    return jax.eval_shape(lambda v, s, x: P.run(spec.net, v, s, x, None, False)[0], values,
                          states, tuple(spec_of(x) for x in inputs))


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
    pred_spec = _out_spec(spec0, net, sample[:n_data])
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
    if stops and stops[0] < nfull:
        full = np.asarray(jax.device_get(full))  # slicing on the host costs no dispatch
    start, chunk = 0, 0
    for stop in [*[p for p in stops if p < nfull], None]:
        end = nfull if stop is None else stop + 1
        if end > start:
            carry = P.train_rows(spec, frozen, carry, arrays, n_data, full[start:end],
                                 jax.random.fold_in(key, chunk))
            chunk += 1
            start = end
        if stop is not None:
            carry = _report(net, opt, metrics, carry, on_point, stop)
    if rest.shape[0]:
        carry = P.train_rows(spec, frozen, carry, arrays, n_data, rest[None],
                             jax.random.fold_in(key, chunk))
        if nfull in stops:
            carry = _report(net, opt, metrics, carry, on_point, nfull)
    _commit(net, opt, carry)
    loss_sum, count, bad = _deliver_acc(metrics, carry[3])
    return EpochResult(loss_sum, count, bad, total)


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
            pred_spec = _out_spec(spec0, net, inputs)
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
        if self._skey is not structure.key:
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


def _stored(net: Block) -> tuple[tuple, tuple]:
    structure = net.structure()
    return (tuple(p.stored() for p in structure.params),
            tuple(p.stored() for p in structure.states))


def _score(net: Block, metrics: Sequence[Any], inputs: tuple, y: Any, scan: Any = None) -> None:
    """Adds the statistics of the batch ``inputs, y`` (or of the device loader's ``scan`` =
    ``(arrays, n_data, rows, tail)``) to the metrics, compiled where ``stats`` traces."""
    ensure_shapes(net, inputs)
    pred_spec = _out_spec(P.make_spec(net), net, inputs)
    label_spec = spec_of(y)
    compiled = [m for m in metrics if traceable(m, label_spec, pred_spec)]
    eager = [m for m in metrics if m not in compiled]
    values, states = _stored(net)
    if compiled:
        spec = P.make_spec(net, metrics=compiled)
        acc = zero_acc(spec, label_spec, pred_spec)[3]
        if scan is None:
            acc = P.eval_batch(spec, values, states, acc, inputs, y)
        else:
            arrays, n_data, rows, tail = scan
            for table in (rows, tail[None]):
                if table.size:
                    acc = P.eval_rows(spec, values, states, acc, arrays, n_data, table)
        deliver(compiled, jax.device_get(acc))
    if eager:  # a feval that needs NumPy values: outputs on the device, update on the host
        if scan is None:
            out, _ = P.run_compiled(net.structure().key, values, states, inputs, None, False)
            label = y
        else:
            out = predict_arrays(net, scan[0][: scan[1]], y.shape[0])
            label = scan[0][scan[1]]
        for m in eager:
            m.update([label], [out])


def evaluate(net: Block, data: Any, metrics: Sequence[Any]) -> None:
    """Adds the statistics of ``net`` (prediction mode) over every example of ``data``."""
    if isinstance(data, DeviceLoader):
        arrays, n_data = device_arrays(data, need_label=True)
        rows, tail = order_rows(int(arrays[0].shape[0]), data.batch_size)
        ensure_shapes(net, lambda: tuple(a[: data.batch_size] for a in arrays[:n_data]))
        sample = sample_specs(arrays, data.batch_size)
        _score(net, metrics, sample[:n_data], sample[n_data], (arrays, n_data, rows, tail))
        return
    seen = False
    for batch in iterate(data):
        inputs, y, pad = unpack_batch(batch)
        if y is None:
            raise missing_labels()
        seen = True
        if pad:
            inputs, y = tuple(x[: len(x) - pad] for x in inputs), y[: len(y) - pad]
        _score(net, metrics, tuple(jnp.asarray(x) for x in inputs), jnp.asarray(y))
    if not seen:
        raise ValueError(
            "The data yielded no batches. An MXNet-style iterator that was consumed must be "
            "reset() first; a DataLoader must not be empty."
        )


def predict_arrays(net: Block, arrays: tuple, batch_size: int) -> Any:
    """The outputs for device arrays of inputs, every example once, in order, batched."""
    ensure_shapes(net, lambda: tuple(a[:batch_size] for a in arrays))
    spec = P.make_spec(net)
    values, states = _stored(net)
    rows, tail = order_rows(int(arrays[0].shape[0]), batch_size)
    outputs = []
    if rows.size:
        out = P.predict_rows(spec, values, states, arrays, rows)
        outputs.append(jax.tree.map(lambda o: o.reshape(-1, *o.shape[2:]), out))
    if tail.size:
        out = P.predict_rows(spec, values, states, arrays, tail[None])
        outputs.append(jax.tree.map(lambda o: o[0], out))
    return _concat(outputs)


def predict(net: Block, data: Any) -> Any:
    """The outputs of ``net`` (prediction mode), one per example, in dataset order."""
    if isinstance(data, DeviceLoader):
        return predict_arrays(net, tuple(data.data_arrays), data.batch_size)
    batches = ([((jnp.asarray(data),), None, 0)] if isinstance(data, np.ndarray | jax.Array)
               else (unpack_batch(b) for b in iterate(data)))
    outputs = []
    for inputs, _, pad in batches:
        inputs = tuple(jnp.asarray(x) for x in inputs)
        ensure_shapes(net, inputs)
        values, states = _stored(net)
        out, _ = P.run_compiled(net.structure().key, values, states, inputs, None, False)
        keep = jax.tree.leaves(out)[0].shape[0] - pad
        outputs.append(jax.tree.map(lambda o, k=keep: o[:k], out) if pad else out)
    if not outputs:
        raise ValueError("The data yielded no batch; there is nothing to predict.")
    return _concat(outputs)


def _concat(outputs: list) -> Any:
    if len(outputs) == 1:
        return outputs[0]
    return jax.tree.map(lambda *parts: jnp.concatenate(parts), *outputs)
