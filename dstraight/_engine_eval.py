"""Evaluation and prediction for the engine (:mod:`dstraight._engine`): every example once, in
dataset order, whatever the loader's shuffling or last-batch mode.

A device loader is evaluated by compiled programs over its index table (one ``lax.scan``, or one
call per batch where the forward pass holds an operation that loops slowly, see
:func:`dstraight._programs.slow_in_loops`); any other iterable, one compiled call per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _programs as P
from ._engine_host import (
    deliver,
    device_arrays,
    ensure_shapes,
    iterate,
    missing_labels,
    order_rows,
    out_spec,
    sample_specs,
    spec_of,
    traceable,
    unpack_batch,
    zero_acc,
)
from .data.protocol import DeviceLoader
from .nn.block import Block

__all__ = ["evaluate", "predict", "predict_arrays"]


def _stored(net: Block) -> tuple[tuple, tuple]:
    structure = net.structure()
    return (tuple(p.stored() for p in structure.params),
            tuple(p.stored() for p in structure.states))


def _score(net: Block, metrics: Sequence[Any], inputs: tuple, y: Any, scan: Any = None) -> None:
    """Adds the statistics of the batch ``inputs, y`` (or of the device loader's ``scan`` =
    ``(arrays, n_data, rows, tail)``) to the metrics, compiled where ``stats`` traces."""
    ensure_shapes(net, inputs)
    pred_spec = out_spec(P.make_spec(net), net, inputs)
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
            if P.slow_in_loops("eval", spec, values, states, inputs):
                for idx in [*rows, tail] if tail.size else rows:
                    acc = P.eval_row(spec, values, states, acc, arrays, n_data, idx)
            else:
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
    if rows.size and P.slow_in_loops("eval", spec, values, states,
                                     sample_specs(arrays, batch_size)):
        outputs += [P.predict_row(spec, values, states, arrays, idx) for idx in rows]
    elif rows.size:
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
