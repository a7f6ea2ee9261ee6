"""``F``, the array namespace that ``hybrid_forward(self, F, x, ...)`` receives.

MXNet hands ``hybrid_forward`` either ``mx.nd`` or ``mx.sym``; here it is one namespace over
``jax.nn`` and ``jax.numpy``, with a few MXNet spellings (``F.FullyConnected``,
``F.Activation``, ``F.broadcast_add``) mapped onto them.

Examples:
    >>> import jax.numpy as jnp
    >>> F.relu(jnp.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["F"]


class _F:
    """``jax.nn`` and ``jax.numpy`` by name, with MXNet's spellings of a few operators."""

    _aliases: dict[str, Callable] = {
        "Activation": lambda x, act_type: _activation_fn(act_type)(x),
        "FullyConnected": lambda x, weight, bias=None, num_hidden=None, no_bias=False,
        flatten=True: _fully_connected(x, weight, bias, flatten),
        "broadcast_add": jnp.add,
        "broadcast_sub": jnp.subtract,
        "broadcast_mul": jnp.multiply,
        "broadcast_div": jnp.divide,
        "softrelu": jax.nn.softplus,
        "flatten": lambda x: x.reshape(x.shape[0], -1),
        "Flatten": lambda x: x.reshape(x.shape[0], -1),
    }

    def __getattr__(self, name: str) -> Any:
        if name in self._aliases:
            return self._aliases[name]
        for namespace in (jax.nn, jnp):
            if hasattr(namespace, name):
                return getattr(namespace, name)
        raise AttributeError(
            f"F.{name} is not available: F holds jax.numpy and jax.nn functions (e.g. F.dot, "
            f"F.relu, F.tanh); write the operation with those."
        )


def _fully_connected(x: Any, weight: Any, bias: Any, flatten: bool) -> Any:
    # MXNet's FullyConnected stores the weight as (units, in_units)
    x = x.reshape(x.shape[0], -1) if flatten else x
    y = x @ weight.T
    return y if bias is None else y + bias


def _activation_fn(name: str) -> Callable:
    from .activations import activation_function

    return activation_function(name)


#: The array namespace handed to ``hybrid_forward``.
F = _F()
