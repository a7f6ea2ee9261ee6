"""Bindings: which value each parameter has while a forward pass runs.

``Block.apply`` opens a :class:`Binding` that maps every parameter of the network to the value it
was given (an array, or a tracer inside ``jax.jit``/``jax.grad``); ``param.data()`` returns the
bound value, so a block's ``forward`` reads its weights the same way everywhere. Writes of state
during the pass are collected in the binding instead of changing the parameter.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Binding", "bind", "current_binding", "structure_changed", "structure_epoch"]

_local = threading.local()

# Bumped whenever a block or a parameter changes in a way that can change a compiled program
# (a child added, a setting assigned, a shape inferred), so cached structures are cheap to check.
_epoch = [0]


def structure_changed() -> None:
    """Invalidates the cached structures of all networks (a block or a shape changed)."""
    _epoch[0] += 1


def structure_epoch() -> int:
    """A number that changes whenever :func:`structure_changed` is called."""
    return _epoch[0]


class Binding:
    """The values of parameters during one forward pass, and what the pass writes back.

    ``Block.apply`` opens a binding that maps every parameter of the network to the value it was
    given; ``param.data()`` then returns that value, so a block's ``forward`` reads its weights the
    same way whether it runs eagerly, under ``jax.grad`` or inside ``jax.jit``. State written with
    ``param.set_data`` during the pass (BatchNorm's running statistics) is collected in
    :attr:`updates` instead of changing the parameter, which keeps ``apply`` pure.

    Args:
        values: ``{id(param): value}`` for the parameters of the pass.
        params: the parameters themselves (for error messages).
        training: whether layers behave as in training (dropout on, batch statistics).
        key: a ``jax.random`` key for the layers that draw random numbers, or None.
        mode: ``'apply'`` (values given), ``'shell'`` (a call ``net(x)`` on the stored values,
            where deferred shapes are inferred) or ``'shapes'`` (abstract values only, for shape
            inference without side effects).
    """

    def __init__(self, values: dict[int, Any], params: Sequence[Any], training: bool,
                 key: jax.Array | None, mode: str = "apply"):
        self.values = values
        self.params = {id(p): p for p in params}
        self.training = bool(training)
        self.key = key
        self.mode = mode
        self.updates: dict[int, Any] = {}
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.record: list | None = None
        self._draws = 0

    def value(self, param: Any) -> Any:
        pid = id(param)
        if pid in self.updates:
            return self.updates[pid]
        if pid in self.values:
            return self.values[pid]
        if self.mode == "shell":
            return param.stored()
        if self.mode == "shapes" and pid in self.params:
            shape = self.shapes.get(pid, param.shape)
            if None in shape:
                raise ValueError(
                    f"Parameter '{param.name}' has shape {shape} with unknown dimensions, and "
                    f"the layer read it before inferring them."
                )
            return jnp.zeros(shape, param.dtype)
        raise ValueError(
            f"Parameter '{param.name}' is used by the forward pass but is not one of the "
            f"network's parameters, so apply() was not given a value for it. Register it on a "
            f"block of the network (self.params.get(...) or an attribute) instead of using a "
            f"parameter of another network."
        )

    def write(self, param: Any, value: Any) -> None:
        self.updates[id(param)] = value

    def next_key(self, who: str) -> jax.Array:
        """A fresh key for the ``i``-th random draw of this pass (the same on every run)."""
        if self.key is None:
            raise ValueError(
                f"{who} draws random numbers in training mode and needs a key: pass key=... to "
                f"net.apply(params, x, key=key, training=True) (a jax.random key or an int seed)."
            )
        self._draws += 1
        return jax.random.fold_in(self.key, self._draws)


def current_binding() -> Binding | None:
    """The binding of the forward pass running now, or None outside one."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


@contextlib.contextmanager
def bind(binding: Binding) -> Iterator[Binding]:
    """Makes ``binding`` current for the duration of the ``with`` block."""
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(binding)
    try:
        yield binding
    finally:
        stack.pop()
