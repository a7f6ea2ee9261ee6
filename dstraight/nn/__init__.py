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
    Concurrent,
    Dense,
    Flatten,
    HybridConcurrent,
    HybridLambda,
    HybridSequential,
    Identity,
    Lambda,
    LeakyReLU,
    PReLU,
    Sequential,
    SiLU,
    Swish,
)
from .block import Block, HybridBlock
from .conv import AvgPool2D, Conv2D, GlobalAvgPool2D, GlobalMaxPool2D, MaxPool2D
from .embedding import Embedding
from .functional import F
from .group_norm import GroupNorm, InstanceNorm
from .naming import reset_name_counters
from .norm import BatchNorm, Dropout, LayerNorm, SyncBatchNorm

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "AvgPool2D",
    "BatchNorm",
    "Block",
    "Concurrent",
    "Conv2D",
    "DeferredInitializationError",
    "Dense",
    "Dropout",
    "Embedding",
    "F",
    "Flatten",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GroupNorm",
    "HybridBlock",
    "HybridConcurrent",
    "HybridLambda",
    "HybridSequential",
    "Identity",
    "InstanceNorm",
    "Lambda",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2D",
    "PReLU",
    "Parameter",
    "ParameterDict",
    "Sequential",
    "SiLU",
    "Swish",
    "SyncBatchNorm",
    "reset_name_counters",
]


def __getattr__(name: str):
    # MXNet's layers that this package lacks (SymbolBlock, Conv1D, ...) say what to use instead.
    from .._gluon_names import missing_name

    missing_name(__name__, name)
