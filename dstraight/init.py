"""Parameter initializers with gluon's names, built on ``jax.nn.initializers``.

Every initializer is a callable ``init(key, shape, dtype=jnp.float32) -> jax.Array``, the same
signature as the functions in ``jax.nn.initializers``, so the two can be used interchangeably: a
``dstraight`` initializer works in plain JAX code and a ``jax.nn.initializers`` function works
wherever ``dstraight`` expects an initializer. ``key`` is a ``jax.random`` key or an integer seed;
nothing here reads a global random state.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import init
    >>> init.Normal(sigma=0.01)(0, (2, 3)).shape
    (2, 3)
    >>> init.create("ones")(0, (2,)).tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "Initializer",
    "Normal",
    "Uniform",
    "Zero",
    "One",
    "Constant",
    "Xavier",
    "Orthogonal",
    "MSRAPrelu",
    "Bilinear",
    "Mixed",
    "Load",
    "create",
    "as_key",
]

#: What an initializer may be given as: an object with the ``(key, shape, dtype)`` signature or one
#: of the names accepted by :func:`create`.
InitializerLike = Callable[..., jax.Array] | str


def as_key(key: Any) -> jax.Array:
    """Turns an integer seed or a ``jax.random`` key into a ``jax.random`` key.

    Args:
        key: a non-negative Python/NumPy integer (used as a seed), a typed key from
            ``jax.random.key`` or a raw ``uint32[2]`` key from ``jax.random.PRNGKey``.

    Returns:
        A key that the ``jax.random`` functions accept.

    Raises:
        TypeError: if ``key`` is neither an integer nor a key.

    Examples:
        >>> import jax
        >>> k = as_key(0)
        >>> bool((jax.random.key_data(k) == jax.random.key_data(jax.random.key(0))).all())
        True
    """
    if isinstance(key, bool):
        raise TypeError(f"key must be an int seed or a jax.random key, got the bool {key!r}.")
    is_int_scalar = hasattr(key, "dtype") and jnp.ndim(key) == 0
    if isinstance(key, int) or (is_int_scalar and jnp.issubdtype(key.dtype, jnp.integer)):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array) and (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        or (key.dtype == jnp.uint32 and key.shape == (2,))
    ):
        return key
    raise TypeError(
        f"key must be an int seed or a jax.random key (jax.random.key(0)), got {key!r} of type "
        f"{type(key).__name__}."
    )


def _check_shape(shape: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of ints, got {shape!r}.") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"shape must not have negative dimensions, got {shape}.")
    return shape


class Initializer:
    """Base class: subclasses implement ``_init`` and get seed handling for free.

    Calling an initializer checks the arguments, turns an integer ``key`` into a ``jax.random``
    key and hands over to ``_init``.
    """

    def __call__(self, key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return self._init(as_key(key), _check_shape(shape), dtype)

    def _init(self, key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Normal(Initializer):
    """Draws from a normal distribution with mean 0 and standard deviation ``sigma``.

    Args:
        sigma: the standard deviation.

    Examples:
        >>> w = Normal(sigma=2.0)(0, (10_000,))
        >>> round(float(w.std()), 1)
        2.0
    """

    def __init__(self, sigma: float = 0.01):
        if not sigma >= 0:
            raise ValueError(f"Normal(sigma=...) must be >= 0, got {sigma!r}.")
        self.sigma = sigma

    def _init(self, key, shape, dtype):
        return jax.nn.initializers.normal(stddev=self.sigma)(key, shape, dtype)


class Uniform(Initializer):
    """Draws uniformly from ``[-scale, scale)`` (gluon's convention).

    ``jax.nn.initializers.uniform(scale)`` samples ``[0, scale)`` instead, hence a separate class.

    Args:
        scale: half the width of the interval, centred at 0.

    Examples:
        >>> w = Uniform(scale=0.5)(0, (1000,))
        >>> bool((w >= -0.5).all() and (w < 0.5).all() and (w < 0).any())
        True
    """

    def __init__(self, scale: float = 0.07):
        if not scale >= 0:
            raise ValueError(f"Uniform(scale=...) must be >= 0, got {scale!r}.")
        self.scale = scale

    def _init(self, key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, minval=-self.scale, maxval=self.scale)


class Zero(Initializer):
    """Fills with zeros (``jax.nn.initializers.zeros``).

    Examples:
        >>> Zero()(0, (2,)).tolist()
        [0.0, 0.0]
    """

    def _init(self, key, shape, dtype):
        return jax.nn.initializers.zeros(key, shape, dtype)


class One(Initializer):
    """Fills with ones (``jax.nn.initializers.ones``).

    Examples:
        >>> One()(0, (2,)).tolist()
        [1.0, 1.0]
    """

    def _init(self, key, shape, dtype):
        return jax.nn.initializers.ones(key, shape, dtype)


class Constant(Initializer):
    """Fills with a constant (``jax.nn.initializers.constant``).

    Args:
        value: the fill value (a scalar).

    Examples:
        >>> Constant(0.5)(0, (2,)).tolist()
        [0.5, 0.5]
    """

    def __init__(self, value: float):
        self.value = value

    def _init(self, key, shape, dtype):
        return jax.nn.initializers.constant(self.value, dtype)(key, shape, dtype)


class Xavier(Initializer):
    """Glorot/Xavier initialisation with MXNet's parametrisation.

    With ``n`` the fan chosen by ``factor_type`` (``'in'``, ``'out'`` or ``'avg'`` of the two),
    ``s = sqrt(magnitude / n)``; weights are drawn from ``U(-s, s)`` (``rnd_type='uniform'``) or
    ``N(0, s**2)`` (``rnd_type='gaussian'``). The defaults give Glorot's uniform initialisation.
    This is ``jax.nn.initializers.variance_scaling`` with the scale converted. Fans are read from
    the last two axes: ``(..., fan_in, fan_out)``, the layout of :class:`dstraight.nn.Dense`'s
    ``(in_units, units)`` weight.

    Args:
        rnd_type: ``'uniform'`` or ``'gaussian'``.
        factor_type: ``'avg'``, ``'in'`` or ``'out'``.
        magnitude: the scale factor.

    Examples:
        >>> w = Xavier()(0, (100, 200))
        >>> bool(abs(w).max() <= (3 / 150) ** 0.5)
        True
    """

    _MODES = {"avg": "fan_avg", "in": "fan_in", "out": "fan_out"}

    def __init__(self, rnd_type: str = "uniform", factor_type: str = "avg", magnitude: float = 3):
        if rnd_type not in ("uniform", "gaussian"):
            raise ValueError(
                f"Xavier(rnd_type=...) must be 'uniform' or 'gaussian', got {rnd_type!r}."
            )
        if factor_type not in self._MODES:
            raise ValueError(
                f"Xavier(factor_type=...) must be one of 'avg', 'in', 'out', got {factor_type!r}."
            )
        if not magnitude > 0:
            raise ValueError(f"Xavier(magnitude=...) must be > 0, got {magnitude!r}.")
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = magnitude

    def _init(self, key, shape, dtype):
        if len(shape) < 2:
            raise ValueError(
                f"Xavier needs a weight with at least 2 dimensions (fan_in, fan_out) to compute "
                f"its fans, got shape {shape}. Use it for weights and e.g. 'zeros' for biases."
            )
        if self.rnd_type == "uniform":
            # variance_scaling's uniform bound is sqrt(3 * scale / n), MXNet's sqrt(magnitude / n)
            scale, distribution = self.magnitude / 3, "uniform"
        else:
            scale, distribution = self.magnitude, "normal"
        mode = self._MODES[self.factor_type]
        return jax.nn.initializers.variance_scaling(scale, mode, distribution)(key, shape, dtype)


_NAMES: dict[str, Callable[[], Initializer]] = {
    "zeros": Zero,
    "zero": Zero,
    "ones": One,
    "one": One,
    "normal": Normal,
    "uniform": Uniform,
    "xavier": Xavier,
}


def create(init: InitializerLike) -> Callable[..., jax.Array]:
    """Returns the initializer that ``init`` names, or ``init`` itself if it is callable.

    Args:
        init: an initializer object, any ``(key, shape, dtype)`` callable such as
            ``jax.nn.initializers.lecun_normal()``, or one of the names ``'zeros'``, ``'ones'``,
            ``'normal'``, ``'uniform'``, ``'xavier'``, ``'orthogonal'``, ``'msraprelu'``,
            ``'bilinear'`` (each with its default arguments). :class:`Mixed` and
            :class:`Load` choose by parameter name and are not accepted: use their
            ``initialize(net)``.

    Returns:
        A callable ``(key, shape, dtype) -> jax.Array``.

    Raises:
        ValueError: for an unknown name.
        TypeError: for anything else that is not callable.

    Examples:
        >>> create("xavier")
        Xavier(rnd_type='uniform', factor_type='avg', magnitude=3)
    """
    if isinstance(init, str):
        try:
            return _NAMES[init.lower()]()
        except KeyError:
            raise ValueError(
                f"Unknown initializer name {init!r}; expected one of "
                f"{sorted(set(_NAMES) - {'zero', 'one'})} or an initializer object such as "
                f"dstraight.init.Normal(0.01)."
            ) from None
    if hasattr(init, "for_name"):  # Mixed, Load: they need the parameter's name
        init()  # raises the TypeError that says what to do instead
    if callable(init):
        return init
    raise TypeError(
        f"An initializer must be a name such as 'normal' or a callable (key, shape, dtype), "
        f"got {init!r} of type {type(init).__name__}."
    )


# Defined in a module of their own to keep this one short; imported last because they build on
# Initializer, Xavier and create above.
from ._init_more import Bilinear, Load, Mixed, MSRAPrelu, Orthogonal  # noqa: E402

_NAMES.update(orthogonal=Orthogonal, msraprelu=MSRAPrelu, bilinear=Bilinear)


def __getattr__(name: str):
    # MXNet initializers that this module lacks (InitDesc, LSTMBias) say what to use instead.
    from ._gluon_names import missing_name

    missing_name(__name__, name)
