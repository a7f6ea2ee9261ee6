"""Gluon-style layers on a pure JAX core.

Every block is a thin stateful shell around one pure function: ``net.apply(params, x, *,
key=None, training=False)`` runs the block's ``forward`` with the values in ``params``, so it can
be ``jax.jit``-ed and ``jax.grad``-ed directly. The shell adds what the gluon chapters teach:
named :class:`~dstraight.parameter.Parameter` objects, ``initialize()`` with deferred shapes
(a ``Dense`` layer learns its input size at the first call ``net(x)``), ``net.params`` (the
values, as the pytree ``apply`` takes), custom blocks with ``forward``, ``hybridize()`` and
saving. See :mod:`dstraight.nn.block` for the machinery.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import init, nn
    >>> net = nn.Sequential()
    >>> net.add(nn.Dense(4, activation="relu"), nn.Dense(1))
    >>> net.initialize(init.Normal(sigma=0.1), key=0)
    >>> net(jnp.ones((8, 3))).shape
    (8, 1)
"""

from ..parameter import DeferredInitializationError, Parameter
from ..parameter_dict import ParameterDict
from .basic import (
    ELU,
    GELU,
    SELU,
    Activation,
    Dense,
    Flatten,
    HybridLambda,
    HybridSequential,
    Lambda,
    LeakyReLU,
    PReLU,
    Sequential,
    Swish,
)
from .block import Block, HybridBlock
from .conv import AvgPool2D, Conv2D, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from .functional import F
from .naming import reset_name_counters
from .norm import BatchNorm, Dropout, LayerNorm

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "AvgPool2D",
    "BatchNorm",
    "Block",
    "Conv2D",
    "DeferredInitializationError",
    "Dense",
    "Dropout",
    "F",
    "Flatten",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "HybridBlock",
    "HybridLambda",
    "HybridSequential",
    "Lambda",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "Sequential",
    "Swish",
    "reset_name_counters",
]
