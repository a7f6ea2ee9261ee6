"""Basic layers: Dense, Flatten, Identity, Lambda, and the Sequential and Concurrent containers.

The activations live in :mod:`dstraight.nn.activations` and are offered here too.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import init, nn
    >>> nn.reset_name_counters()
    >>> net = nn.Sequential()
    >>> net.add(nn.Dense(4, activation="relu"), nn.Dense(1))
    >>> net.initialize(init.Normal(sigma=0.1), key=0)
    >>> X = jnp.ones((8, 3))
    >>> net(X).shape                       # the first call fixes the input size: 3
    (8, 1)
    >>> jax.tree.map(jnp.shape, net.params)
    {'dense0': {'bias': (4,), 'weight': (3, 4)}, 'dense1': {'bias': (1,), 'weight': (4, 1)}}
    >>> grads = jax.grad(lambda p: net.apply(p, X).sum())(net.params)   # the pure core
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp

from ._checks import positive_int
from .activations import (
    ELU,
    GELU,
    SELU,
    Activation,
    LeakyReLU,
    PReLU,
    SiLU,
    Swish,
    activation_function,
    activation_name,
)
from .block import Block, HybridBlock

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "Concurrent",
    "Dense",
    "Flatten",
    "HybridConcurrent",
    "HybridLambda",
    "HybridSequential",
    "Identity",
    "Lambda",
    "LeakyReLU",
    "PReLU",
    "Sequential",
    "SiLU",
    "Swish",
    "activation_function",
]


class Dense(HybridBlock):
    """A fully connected layer: ``activation(x @ weight + bias)``.

    The weight is stored as ``(in_units, units)``, so the forward pass is the ``X @ w + b`` of the
    from-scratch chapters. (MXNet stores the transpose, ``(units, in_units)``.) With
    ``flatten=True`` inputs with more than two axes are flattened to ``(batch, -1)`` first; with
    ``flatten=False`` the layer acts on the last axis and keeps the others. With ``in_units=0``
    the input size is inferred at the first call (deferred initialization).

    Args:
        units: number of outputs.
        activation: ``None`` (linear), a name (``'relu'``, ``'sigmoid'``, ``'tanh'``,
            ``'softmax'``, ``'softrelu'``, ``'softsign'``, ...) or a function.
        use_bias: whether to add a bias.
        flatten: flatten all axes but the first (gluon's default) or act on the last axis only.
        in_units: number of input features, or 0 to infer it from the first batch.
        weight_initializer: the weight's own initializer; ``None`` uses the one given to
            ``initialize``.
        bias_initializer: the bias's own initializer (zeros, as in gluon).
        dtype: parameter dtype.
        prefix, params, name: see :class:`Block`.

    Examples:
        >>> from dstraight import nn
        >>> nn.reset_name_counters()
        >>> net = Dense(2, in_units=3)
        >>> net
        Dense(3 -> 2, linear)
        >>> net.initialize("ones")
        >>> net(jnp.ones((4, 3))).tolist()[0]
        [3.0, 3.0]
        >>> net(jnp.ones((4, 5)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: dense0: Dense(units=2) expects 3 input features but got ... (4, 5), ...
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 flatten: bool = True, dtype: Any = jnp.float32,
                 weight_initializer: Any = None, bias_initializer: Any = "zeros",
                 in_units: int = 0, **kwargs: Any):
        positive_int(units, "Dense(units=...)")
        positive_int(in_units, "Dense(in_units=...)", allow_zero=True)
        super().__init__(**kwargs)
        self.units = units
        self.activation = activation
        self._act = None if activation is None else activation_function(activation)
        self.use_bias = bool(use_bias)
        self.flatten = bool(flatten)
        self.weight = self.params.get("weight", shape=(in_units, units),
                                      init=weight_initializer, dtype=dtype)
        self.bias = (self.params.get("bias", shape=(units,), init=bias_initializer, dtype=dtype)
                     if use_bias else None)

    @property
    def in_units(self) -> int:
        """The number of input features, 0 while not yet inferred."""
        return self.weight.shape[0] or 0

    def __repr__(self) -> str:
        act = "linear" if self.activation is None else \
            f"Activation({activation_name(self.activation)})"
        in_units = self.weight.shape[0]
        return f"Dense({'?' if in_units is None else in_units} -> {self.units}, {act})"

    def _mismatch(self, expected: int, shape: tuple[int, ...]) -> ValueError:
        if self.flatten:
            got = math.prod(shape[1:])
            how = "after flattening to (batch, -1)"
        else:
            got, how = shape[-1], "on the last axis (flatten=False)"
        return ValueError(
            f"{self.name}: Dense(units={self.units}) expects {expected} input features but got "
            f"an input of shape {tuple(shape)}, i.e. {got} features {how}. Inputs are read as "
            f"(batch, features...): a single example needs a leading batch axis (x[None]), and "
            f"images must be passed whole, e.g. x.reshape(len(x), -1) of shape "
            f"(batch, {expected})."
        )

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 2:
            raise ValueError(
                f"{self.name}: Dense expects inputs of shape (batch, features...), got shape "
                f"{tuple(x.shape)}. Add a feature axis, e.g. x.reshape(-1, 1), or a batch axis, "
                f"e.g. x[None]."
            )
        features = math.prod(x.shape[1:]) if self.flatten else x.shape[-1]
        known = self.weight.shape[0]
        if known is not None and known != features:
            raise self._mismatch(known, x.shape)
        w = self.weight.resolve((features, self.units))
        if self.flatten and x.ndim > 2:
            x = x.reshape(x.shape[0], features)
        y = x @ w
        if self.bias is not None:
            y = y + self.bias.data()
        return y if self._act is None else self._act(y)


class Flatten(HybridBlock):
    """Reshapes ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``.

    Examples:
        >>> Flatten()(jnp.zeros((2, 28, 28, 1))).shape
        (2, 784)
    """

    def __repr__(self) -> str:
        return "Flatten"

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 0:
            raise ValueError(f"{self.name}: Flatten needs a batch axis, got a scalar.")
        return x.reshape(x.shape[0], -1)


class Identity(HybridBlock):
    """Returns its input unchanged: a placeholder branch of a :class:`Concurrent`, for example.

    Examples:
        >>> Identity()(jnp.arange(3)).tolist()
        [0, 1, 2]
    """

    def __repr__(self) -> str:
        return "Identity"

    def forward(self, x: Any) -> Any:
        return x


class Lambda(HybridBlock):
    """Wraps a function of arrays as a block: a name in ``jax.numpy``/``jax.nn`` or a callable.

    Examples:
        >>> Lambda(lambda x: 2 * x)(jnp.ones(2)).tolist()
        [2.0, 2.0]
        >>> Lambda("tanh")(jnp.zeros(1)).tolist()
        [0.0]
    """

    def __init__(self, function: Any, **kwargs: Any):
        if isinstance(function, str):
            namespace = jax.nn if hasattr(jax.nn, function) else jnp
            if not hasattr(namespace, function):
                raise ValueError(
                    f"Lambda({function!r}): no function of that name in jax.numpy or jax.nn."
                )
            function = getattr(namespace, function)
        if not callable(function):
            raise TypeError(f"Lambda needs a function or a function name, got {function!r}.")
        super().__init__(**kwargs)
        self.function = function

    def __repr__(self) -> str:
        return f"{type(self).__name__}({activation_name(self.function)})"

    def forward(self, *inputs: Any) -> Any:
        return self.function(*inputs)


class HybridLambda(Lambda):
    """gluon's compiled ``Lambda``; here every block compiles, so this is :class:`Lambda`.

    A function written for MXNet's ``HybridLambda`` takes ``F`` first: pass it as
    ``HybridLambda(lambda F, x: F.relu(x))`` and it receives ``dstraight.nn.F``.
    """

    def __init__(self, function: Any, **kwargs: Any):
        if callable(function) and _takes_f(function):
            from .functional import F

            fn = function
            function = lambda *xs: fn(F, *xs)  # noqa: E731
            function.__name__ = getattr(fn, "__name__", "hybrid_lambda")
        super().__init__(function, **kwargs)


def _takes_f(function: Callable) -> bool:
    import inspect

    try:
        params = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "F"


class Sequential(HybridBlock):
    """Chains blocks: the output of each is the input of the next.

    ``params`` is keyed by child name: ``{'dense0': {...}, 'dense1': {...}}`` (children without
    parameters, such as ``Flatten``, have no entry). The same block added twice is one layer
    applied twice: its parameters are shared. ``net[1:3]`` is a new ``Sequential`` of the same
    layers (sharing their parameters).

    Examples:
        >>> from dstraight import nn
        >>> nn.reset_name_counters()
        >>> net = Sequential()
        >>> net.add(Flatten(), Dense(8, activation="relu"), Dense(2))
        >>> net
        Sequential(
          (0): Flatten
          (1): Dense(? -> 8, Activation(relu))
          (2): Dense(? -> 2, linear)
        )
        >>> net.param_shapes((5, 4, 4))  # doctest: +NORMALIZE_WHITESPACE
        ((5, 2), {'dense0': {'weight': (16, 8), 'bias': (8,)},
                  'dense1': {'weight': (8, 2), 'bias': (2,)}})
    """

    keys_in_signature = False

    def add(self, *blocks: Block) -> None:
        """Appends blocks in order.

        Raises:
            TypeError: if an argument is not a Block.
            ValueError: if a different child of the same name is already present.
        """
        for block in blocks:
            self.register_child(block)

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            sub = type(self)(prefix=f"{self._local_name}_slice_")
            sub.add(*self._order[i])
            return sub
        return self._order[i]

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[Block]:
        return iter(list(self._order))

    def __repr__(self) -> str:
        lines = [f"  ({i}): {child!r}".replace("\n", "\n  ") for i, child in enumerate(self)]
        return "\n".join([f"{type(self).__name__}(", *lines, ")"])

    def forward(self, x: Any) -> Any:
        for child in self._order:
            x = child(x)
        return x


class HybridSequential(Sequential):
    """gluon's ``HybridSequential``: :class:`Sequential`, compiled by ``hybridize()``."""


class Concurrent(Sequential):
    """Runs every child on the same input and concatenates their outputs along ``axis``.

    The default ``axis=-1`` joins the channels of ``dstraight``'s ``(N, H, W, C)`` images and the
    features of ``(N, features)`` batches (MXNet's default is -1 too; with its ``NCHW`` images
    one passes ``axis=1``). The outputs must agree on every other axis. Adding, indexing,
    slicing (a slice keeps ``axis``) and ``len`` work as for :class:`Sequential`.

    Examples:
        >>> from dstraight import nn
        >>> net = Concurrent()
        >>> net.add(Dense(3), Identity())
        >>> net.initialize()
        >>> net(jnp.ones((2, 4))).shape       # 3 features from Dense, 4 passed through
        (2, 7)
    """

    def __init__(self, axis: int = -1, **kwargs: Any):
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"{type(self).__name__}(axis=...) must be an int, got {axis!r}.")
        super().__init__(**kwargs)
        self.axis = axis

    def __getitem__(self, i: int | slice) -> Any:
        sub = super().__getitem__(i)
        if isinstance(i, slice):
            sub.axis = self.axis
        return sub

    def forward(self, x: Any) -> Any:
        if not self._order:
            raise ValueError(f"{self.name}: {type(self).__name__} has no children to run; "
                             f"add some with net.add(...).")
        outs = [jnp.asarray(child(x)) for child in self._order]
        ndim = outs[0].ndim
        shapes = [tuple(o.shape) for o in outs]
        if not -ndim <= self.axis < ndim or any(o.ndim != ndim for o in outs):
            raise ValueError(
                f"{self.name}: {type(self).__name__}(axis={self.axis}) cannot join outputs of "
                f"shapes {shapes}: they need the same number of axes, and that axis.")
        axis = self.axis % ndim
        rest = {s[:axis] + s[axis + 1:] for s in shapes}
        if len(rest) > 1:
            raise ValueError(
                f"{self.name}: {type(self).__name__}(axis={self.axis}) needs outputs that agree "
                f"on every other axis, got shapes {shapes}.")
        return jnp.concatenate(outs, axis=axis)


class HybridConcurrent(Concurrent, HybridSequential):
    """gluon's ``HybridConcurrent``: :class:`Concurrent`, compiled by ``hybridize()``."""
