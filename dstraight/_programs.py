"""The compiled programs of the engine (:mod:`dstraight._engine` drives them from the host).

Every program runs the network through :func:`dstraight.nn.block.run`, the one pure forward
pass. A training step carries BatchNorm's running statistics, folds a dropout key per step, and
skips a step whose loss or gradient is not finite (the parameters keep their last finite values;
the step is counted). Programs are cached by a :class:`Spec`: the network's structure key (never
the network itself), the loss and metrics by their settings, the optimizer by its configuration.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from .nn.block import Block
from .nn.structure import StructureKey, run, run_compiled

__all__ = [
    "Spec",
    "Static",
    "apply_grads",
    "eval_batch",
    "eval_row",
    "eval_rows",
    "make_spec",
    "predict_row",
    "predict_rows",
    "run_compiled",
    "slow_in_loops",
    "train_batch",
    "train_row",
    "train_rows",
]

# Batches per iteration of the compiled loops (``jax.lax.scan``'s ``unroll``). Measured on linear
# and softmax regression (H100; 2 CPU cores): on a GPU 8 batches per iteration cut an epoch by
# 20-50%; on a CPU 2 gives most of what more unrolling gives and compiles about as fast as 1.
SCAN_UNROLL: int | None = None

# Primitives that XLA runs several times slower inside a compiled loop (``lax.scan`` becomes a
# while loop) than in a program of its own, per backend. On a CPU that is the convolution (JAX
# issue 12868): a LeNet-5 training step took 82 ms inside a scan and 21 ms called from Python
# (2-core Intel Xeon, jax 0.10.2), while steps without one (dense layers, the patches
# convolution) run as fast or faster in the scan. Where a step contains one, the engine calls the
# compiled step once per batch instead (:func:`slow_in_loops`). Module state on purpose, like
# ``ops.AUTO_CONV``: ``_programs.SLOW_IN_LOOPS["cpu"] = frozenset()`` scans everything.
SLOW_IN_LOOPS: dict[str, frozenset[str]] = {"cpu": frozenset({"conv_general_dilated"})}

_traces = [0]
_slow_cache: dict[Any, bool] = {}


def trace_count() -> int:
    """How many times the engine's programs were traced (compiled) in this process."""
    return _traces[0]


def _unroll(num_batches: int) -> int:
    unroll = SCAN_UNROLL if SCAN_UNROLL is not None else (
        2 if jax.default_backend() == "cpu" else 8)
    return max(1, min(unroll, num_batches))


class Static:
    """Wraps an object for ``jax.jit``'s static arguments: equal when the keys are equal."""

    __slots__ = ("obj", "key", "_hash")

    def __init__(self, obj: Any, key: Any):
        self.obj, self.key, self._hash = obj, key, hash(key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Static) and self.key == other.key


def loss_key(loss_fn: Callable) -> Any:
    """dstraight's losses are described by their settings, so ``L2Loss()`` made anew for every
    epoch shares one program; any other function is keyed by identity (the key holds it, so the
    id is not reused while the entry lives)."""
    from .loss import Loss

    if isinstance(loss_fn, Loss):
        try:
            key = (type(loss_fn), tuple(sorted(vars(loss_fn).items())))
            hash(key)
            return key
        except TypeError:
            pass
    return ("id", id(loss_fn), loss_fn)


def metric_key(metric: Any) -> Any:
    """Metrics with equal ``cache_key()`` compute the same statistics and share programs."""
    cache_key = getattr(metric, "cache_key", None)
    return cache_key() if callable(cache_key) else ("id", id(metric), metric)


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything a compiled program depends on besides array shapes; hashable, static.

    ``place[i]`` is, for the network's ``i``-th parameter, its index among the trainer's
    trainable values, or None when it is frozen (not trained by this trainer).
    """

    net: StructureKey
    loss: Static | None = None
    metrics: tuple[Static, ...] = ()
    tx: Static | None = None
    place: tuple[int | None, ...] = ()


def make_spec(net: Block, loss_fn: Any = None, metrics: Sequence[Any] = (), tx: Any = None,
              tx_key: Any = None, trainable: Sequence[Any] = ()) -> Spec:
    structure = net.structure()
    index = {id(p): j for j, p in enumerate(trainable)}
    place = tuple(index.get(id(p)) for p in structure.params)
    if trainable:
        unused = [p.name for p in trainable if id(p) not in {id(q) for q in structure.params}]
        if unused:
            raise ValueError(
                f"The Trainer updates parameters that {net.name} does not use: {unused}. Build "
                f"the Trainer from this network's parameters, e.g. Trainer(net.collect_params(), "
                f"...) or a selection of them such as net.collect_params('.*weight')."
            )
    return Spec(
        net=structure.key,
        loss=None if loss_fn is None else Static(loss_fn, loss_key(loss_fn)),
        metrics=tuple(Static(m, metric_key(m)) for m in metrics),
        tx=None if tx is None else Static(tx, tx_key if tx_key is not None else ("id", id(tx))),
        place=place,
    )


def _values(spec: Spec, trainable: tuple, frozen: tuple) -> tuple:
    it = iter(frozen)
    return tuple(trainable[j] if j is not None else next(it) for j in spec.place)


def split_values(spec: Spec, values: tuple) -> tuple:
    """The frozen values of the network (those the spec's trainer does not train)."""
    return tuple(v for v, j in zip(values, spec.place, strict=True) if j is None)


def _metric_stats(spec: Spec, acc: tuple, label: Any, pred: Any) -> tuple:
    return tuple(jax.tree.map(lambda a, b: a + jnp.asarray(b, jnp.float32), st,
                              m.obj.stats(label, pred))
                 for m, st in zip(spec.metrics, acc, strict=True))


def _check_losses(losses: Any, n: int) -> None:
    if jnp.ndim(losses) == 0 or jnp.shape(losses)[0] != n:
        raise ValueError(
            f"loss_fn must return one loss per example, shape ({n},) for this batch, got shape "
            f"{jnp.shape(losses)}. Return the per-example losses (e.g. loss.L2Loss()(y_hat, y)), "
            "not their mean: the trainer divides their sum by the batch size."
        )


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)
              if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _keep_if(ok: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)


def _train_step(spec: Spec, frozen: tuple, carry: tuple, inputs: tuple, y: Any, key: Any):
    trainable, states, opt_state, acc = carry
    n = jax.tree.leaves(inputs)[0].shape[0]

    def objective(tr):
        out, new_states = run(spec.net, _values(spec, tr, frozen), states, inputs, key, True)
        losses = spec.loss.obj(out, y)
        _check_losses(losses, n)
        return jnp.sum(losses) / n, (out, new_states)

    (mean_loss, (out, new_states)), grads = jax.value_and_grad(objective, has_aux=True)(
        trainable)
    updates, new_opt = spec.tx.obj.update(grads, opt_state, trainable)
    new_trainable = optax.apply_updates(trainable, updates)
    ok = jnp.isfinite(mean_loss) & _all_finite(grads)
    # A step that went non-finite is skipped, so no NaN reaches the parameters; it is counted.
    new_trainable, new_opt = _keep_if(ok, (new_trainable, new_opt), (trainable, opt_state))
    new_states = _keep_if(ok, new_states, states)
    loss_sum, count, bad, metric_acc = acc
    mean_loss = mean_loss.astype(jnp.float32)
    acc = (loss_sum + jnp.where(ok, mean_loss, 0.0) * n, count + jnp.where(ok, n, 0.0),
           bad + (~ok).astype(jnp.float32), _metric_stats(spec, metric_acc, y, out))
    return (new_trainable, new_states, new_opt, acc), out, mean_loss


def _primitives(jaxpr: Any) -> Iterator[str]:
    """The names of the primitives of ``jaxpr`` and of every jaxpr nested in its equations."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else (value,):
                inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr holds its Jaxpr
                if hasattr(inner, "eqns"):
                    yield from _primitives(inner)


def slow_in_loops(kind: str, spec: Spec, *args: Any) -> bool:
    """Whether one step of ``kind`` (``"train"``: ``_train_step(spec, *args)``; ``"eval"``:
    the forward pass ``run(spec.net, *args)``) contains a primitive of :data:`SLOW_IN_LOOPS`.

    Traced once per kind, spec and argument shapes (tracing does not compile).
    """
    slow = SLOW_IN_LOOPS.get(jax.default_backend())
    if not slow:
        return False
    leaves, tree = jax.tree.flatten(args)
    key = (kind, spec, tree, tuple((jnp.shape(a), jnp.result_type(a)) for a in leaves), slow)
    if key not in _slow_cache:
        if kind == "train":
            jaxpr = jax.make_jaxpr(lambda *a: _train_step(spec, *a))(*args)
        else:
            jaxpr = jax.make_jaxpr(lambda *a: run(spec.net, *a, None, False))(*args)
        if len(_slow_cache) >= 512:  # one entry per network shape and configuration
            _slow_cache.clear()
        _slow_cache[key] = not slow.isdisjoint(_primitives(jaxpr.jaxpr))
    return _slow_cache[key]


def _gather(arrays: tuple, idx: jax.Array) -> list:
    # Indices come from the loader's own tables and are in range.
    return [a.at[idx].get(mode="promise_in_bounds") for a in arrays]


def _split(arrays: list, n_data: int) -> tuple[tuple, Any]:
    return tuple(arrays[:n_data]), (arrays[n_data] if len(arrays) > n_data else None)


def _train_rows(spec, frozen, carry, arrays, n_data, rows, key):
    _traces[0] += 1  # runs while tracing only

    def body(carry, xs):
        idx, i = xs
        inputs, y = _split(_gather(arrays, idx), n_data)
        carry, _, _ = _train_step(spec, frozen, carry, inputs, y, jax.random.fold_in(key, i))
        return carry, None

    steps = jnp.arange(rows.shape[0], dtype=jnp.uint32)
    carry, _ = jax.lax.scan(body, carry, (rows, steps), unroll=_unroll(rows.shape[0]))
    return carry


def _train_row(spec, frozen, carry, arrays, n_data, idx, key, step):
    """One step on the batch of rows ``idx``, gathered on the device: no loop in the program
    (XLA keeps even a one-trip while loop, and with it the slowness of :data:`SLOW_IN_LOOPS`)."""
    _traces[0] += 1
    inputs, y = _split(_gather(arrays, idx), n_data)
    carry, _, _ = _train_step(spec, frozen, carry, inputs, y, jax.random.fold_in(key, step))
    return carry


def _train_batch(spec, frozen, carry, inputs, y, key, step):
    _traces[0] += 1
    return _train_step(spec, frozen, carry, inputs, y, jax.random.fold_in(key, step))


# Nothing is donated: users may hold earlier net.params or trainer.opt_state, and at these sizes
# reusing buffers saved nothing measurable.
train_rows = jax.jit(_train_rows, static_argnums=(0, 4))
train_row = jax.jit(_train_row, static_argnums=(0, 4))
train_batch = jax.jit(_train_batch, static_argnums=(0,))


def _eval_rows(spec, values, states, acc, arrays, n_data, rows):
    _traces[0] += 1

    def body(acc, idx):
        inputs, y = _split(_gather(arrays, idx), n_data)
        out, _ = run(spec.net, values, states, inputs, None, False)
        return _metric_stats(spec, acc, y, out), None

    acc, _ = jax.lax.scan(body, acc, rows, unroll=_unroll(rows.shape[0]))
    return acc


def _eval_row(spec, values, states, acc, arrays, n_data, idx):
    _traces[0] += 1
    inputs, y = _split(_gather(arrays, idx), n_data)
    out, _ = run(spec.net, values, states, inputs, None, False)
    return _metric_stats(spec, acc, y, out)


def _predict_row(spec, values, states, arrays, idx):
    _traces[0] += 1
    out, _ = run(spec.net, values, states, tuple(_gather(arrays, idx)), None, False)
    return out


def _eval_batch(spec, values, states, acc, inputs, y):
    _traces[0] += 1
    out, _ = run(spec.net, values, states, inputs, None, False)
    return _metric_stats(spec, acc, y, out)


def _predict_rows(spec, values, states, arrays, rows):
    _traces[0] += 1

    def body(carry, idx):
        out, _ = run(spec.net, values, states, tuple(_gather(arrays, idx)), None, False)
        return carry, out

    _, out = jax.lax.scan(body, None, rows, unroll=_unroll(rows.shape[0]))
    return out


eval_rows = jax.jit(_eval_rows, static_argnums=(0, 5))
eval_batch = jax.jit(_eval_batch, static_argnums=(0,))
eval_row = jax.jit(_eval_row, static_argnums=(0, 5))
predict_rows = jax.jit(_predict_rows, static_argnums=(0,))
predict_row = jax.jit(_predict_row, static_argnums=(0,))


def _apply_grads(tx, trainable, opt_state, grads, scale, bad):
    _traces[0] += 1
    grads = jax.tree.map(lambda g: g * scale.astype(jnp.result_type(g)), grads)
    updates, new_opt = tx.obj.update(grads, opt_state, trainable)
    new = optax.apply_updates(trainable, updates)
    ok = _all_finite(grads)
    new, new_opt = _keep_if(ok, (new, new_opt), (trainable, opt_state))
    return new, new_opt, bad + (~ok).astype(jnp.float32)


apply_grads = jax.jit(_apply_grads, static_argnums=(0,))
