"""The host side of the engine: what runs in Python, where values are concrete.

Reading batches and loaders (MXNet ``DataBatch``es, ``(X, y)`` pairs, the
:class:`dstraight.data.DeviceLoader` protocol), output shapes found by tracing once, labels
checked against the number of classes once per loader, metric statistics carried in and out of
the compiled programs, and the message for steps that were not finite. :mod:`dstraight._engine`
runs the loops; :mod:`dstraight._programs` holds what they compile.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _programs as P
from .data.protocol import DeviceLoader
from .nn.block import Block


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


def out_spec(spec: Any, net: Block, inputs: tuple) -> Any:
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
