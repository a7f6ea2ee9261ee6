"""Basic layers: Dense, activations, Flatten, Lambda, and the Sequential containers.

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

from .. import init as _init
from .block import Block, HybridBlock

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "Activation",
    "Dense",
    "Flatten",
    "HybridLambda",
    "HybridSequential",
    "Lambda",
    "LeakyReLU",
    "PReLU",
    "Sequential",
    "Swish",
    "activation_function",
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


def _activation_name(fn: Any) -> str:
    return fn if isinstance(fn, str) else getattr(fn, "__name__", repr(fn))


def _positive_int(value: Any, what: str, allow_zero: bool = False) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and (
        value > 0 or (allow_zero and value == 0))
    if not ok:
        rule = "a non-negative int (0: infer it from the first batch)" if allow_zero else \
            "a positive int"
        raise ValueError(f"{what} must be {rule}, got {value!r}.")
    return value


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
        _positive_int(units, "Dense(units=...)")
        _positive_int(in_units, "Dense(in_units=...)", allow_zero=True)
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
            f"Activation({_activation_name(self.activation)})"
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
        return f"Activation({_activation_name(self.activation)})"

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


class PReLU(HybridBlock):
    """A leaky ReLU whose slope ``alpha`` is learned (one per channel with ``in_channels``).

    Args:
        alpha_initializer: the slope's initializer (0.25, as in gluon).
        in_channels: number of slopes, one per entry of the last axis (1: one shared slope).
    """

    def __init__(self, alpha_initializer: Any = None, in_channels: int = 1, **kwargs: Any):
        _positive_int(in_channels, "PReLU(in_channels=...)")
        super().__init__(**kwargs)
        init = alpha_initializer if alpha_initializer is not None else _init.Constant(0.25)
        self.alpha = self.params.get("alpha", shape=(in_channels,), init=init)

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        alpha = self.alpha.data()
        return jnp.where(x >= 0, x, alpha * x)


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
        return f"{type(self).__name__}({_activation_name(self.function)})"

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

    _keys_in_signature = False

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
