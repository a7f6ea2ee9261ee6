"""Activations: the table of MXNet's activation names, and the activation layers.

``Activation('relu')`` and the ``activation=`` argument of ``Dense`` and ``Conv2D`` take a name
from one table (:func:`activation_function`); the layers with settings (``LeakyReLU(alpha)``,
``ELU``, ``SELU``, ``GELU``, ``Swish``, ``SiLU``) and the learned ``PReLU`` are blocks of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import init as _init
from ._checks import positive_int
from .block import HybridBlock

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "LeakyReLU",
    "PReLU",
    "SiLU",
    "Swish",
    "activation_function",
    "activation_name",
]

_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softmax": jax.nn.softmax,
    "softrelu": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "selu": jax.nn.selu,
    "elu": jax.nn.elu,
    "swish": jax.nn.swish,
}


def activation_function(name: Any) -> Callable[[jax.Array], jax.Array]:
    """The function of an activation name (MXNet's ``act_type``), or ``name`` if callable."""
    if callable(name):
        return name
    if isinstance(name, str) and name in _ACTIVATIONS:
        return _ACTIVATIONS[name]
    raise ValueError(
        f"Unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)} or a function "
        f"such as jax.nn.gelu."
    )


def activation_name(fn: Any) -> str:
    """How a repr names an activation: the name, or the function's ``__name__``."""
    return fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))


class Activation(HybridBlock):
    """Applies an activation function elementwise (``softmax``: along the last axis).

    Examples:
        >>> Activation("relu")(jnp.array([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, activation: Any, **kwargs: Any):
        self._fn = activation_function(activation)
        self.activation = activation
        super().__init__(**kwargs)

    def _default_prefix(self) -> str:
        return self.activation if isinstance(self.activation, str) else "activation"

    def __repr__(self) -> str:
        return f"Activation({activation_name(self.activation)})"

    def forward(self, x: Any) -> jax.Array:
        return self._fn(jnp.asarray(x))


class _Elementwise(HybridBlock):
    """An activation with settings; subclasses define ``_apply(x)``."""

    def forward(self, x: Any) -> jax.Array:
        return self._apply(jnp.asarray(x))

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"


class LeakyReLU(_Elementwise):
    """``x`` for positive inputs, ``alpha * x`` otherwise.

    Examples:
        >>> LeakyReLU(0.1)(jnp.array([-2.0, 3.0])).tolist()
        [-0.20000000298023224, 3.0]
    """

    def __init__(self, alpha: float = 0.01, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _apply(self, x):
        return jax.nn.leaky_relu(x, self.alpha)


class ELU(_Elementwise):
    """``x`` for positive inputs, ``alpha * (exp(x) - 1)`` otherwise."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _apply(self, x):
        return jax.nn.elu(x, self.alpha)


class SELU(_Elementwise):
    """The self-normalizing ELU of Klambauer et al. (fixed scale and alpha)."""

    def _apply(self, x):
        return jax.nn.selu(x)


class GELU(_Elementwise):
    """``x * Phi(x)`` with the normal CDF ``Phi``; ``approximation='tanh'`` for the fast form."""

    def __init__(self, approximation: str = "erf", **kwargs: Any):
        if approximation not in ("erf", "tanh"):
            raise ValueError(f"GELU(approximation=...) must be 'erf' or 'tanh', got "
                             f"{approximation!r}.")
        super().__init__(**kwargs)
        self.approximation = approximation

    def _apply(self, x):
        return jax.nn.gelu(x, approximate=self.approximation == "tanh")


class Swish(_Elementwise):
    """``x * sigmoid(beta * x)``."""

    def __init__(self, beta: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.beta = float(beta)

    def _apply(self, x):
        return x * jax.nn.sigmoid(self.beta * x)


class SiLU(_Elementwise):
    """The sigmoid linear unit ``x * sigmoid(x)``: :class:`Swish` with ``beta=1``.

    Examples:
        >>> [round(v, 4) for v in SiLU()(jnp.array([0.0, 2.0])).tolist()]
        [0.0, 1.7616]
    """

    def _apply(self, x):
        return jax.nn.silu(x)


class PReLU(HybridBlock):
    """A leaky ReLU whose slope ``alpha`` is learned (one per channel with ``in_channels``).

    Args:
        alpha_initializer: the slope's initializer (0.25, as in gluon).
        in_channels: number of slopes, one per entry of the last axis (1: one shared slope).
    """

    def __init__(self, alpha_initializer: Any = None, in_channels: int = 1, **kwargs: Any):
        positive_int(in_channels, "PReLU(in_channels=...)")
        super().__init__(**kwargs)
        init = alpha_initializer if alpha_initializer is not None else _init.Constant(0.25)
        self.alpha = self.params.get("alpha", shape=(in_channels,), init=init)

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        alpha = self.alpha.data()
        return jnp.where(x >= 0, x, alpha * x)
