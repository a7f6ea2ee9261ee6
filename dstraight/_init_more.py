"""More of gluon's initializers: ``Orthogonal``, ``MSRAPrelu``, ``Bilinear``, ``Mixed``, ``Load``.

Re-exported by :mod:`dstraight.init`, which is where to import them from. The first three are
``(key, shape, dtype)`` initializers like the others. ``Mixed`` and ``Load`` choose by parameter
*name*, which dstraight's initializers are never told (a ``Parameter`` calls its initializer
with the key, the shape and the dtype only), so they are used through their own
``initialize(net, key=...)``, which picks an initializer for each parameter and then calls
``net.initialize`` as usual; ``for_name(name)`` returns the initializer they would pick.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .init import Initializer, InitializerLike, Xavier, create

__all__ = ["Orthogonal", "MSRAPrelu", "Bilinear", "Mixed", "Load"]


class Orthogonal(Initializer):
    """A (scaled) matrix with orthonormal columns or rows, from the SVD of a random matrix.

    The weight is read as a matrix ``M`` of shape ``(prod(shape[:-1]), shape[-1])``: fan-in
    rows by fan-out columns, dstraight's ``Dense`` ``(in_units, units)`` and conv ``HWIO``
    layouts. ``M`` is ``scale`` times the factor ``U`` (if it has at least as many rows as
    columns: ``M.T @ M = scale**2 I``) or ``V^T`` (otherwise: ``M @ M.T = scale**2 I``) of the SVD
    of a matrix drawn from ``U(-1, 1)`` (``rand_type='uniform'``) or ``N(0, 1)``
    (``'normal'``). MXNet does the same on its ``(out, in * kh * kw)`` layout, the transpose.

    Args:
        scale: the factor (gluon's default 1.414, about ``sqrt(2)`` for ReLU networks).
        rand_type: ``'uniform'`` or ``'normal'``.

    Examples:
        >>> w = Orthogonal(scale=1.0)(0, (5, 3))
        >>> bool(jnp.allclose(w.T @ w, jnp.eye(3), atol=1e-5))
        True
    """

    def __init__(self, scale: float = 1.414, rand_type: str = "uniform"):
        if rand_type not in ("uniform", "normal"):
            raise ValueError(
                f"Orthogonal(rand_type=...) must be 'uniform' or 'normal', got {rand_type!r}."
            )
        self.scale = scale
        self.rand_type = rand_type

    def _init(self, key, shape, dtype):
        if len(shape) == 0 or 0 in shape:
            raise ValueError(
                f"Orthogonal needs a weight with at least one axis and no empty one, got shape "
                f"{shape}."
            )
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        if self.rand_type == "uniform":
            draw = jax.random.uniform(key, (rows, cols), jnp.float32, -1.0, 1.0)
        else:
            draw = jax.random.normal(key, (rows, cols), jnp.float32)
        u, _, vt = jnp.linalg.svd(draw, full_matrices=False)
        factor = u if rows >= cols else vt
        return (self.scale * factor).reshape(shape).astype(dtype)


class MSRAPrelu(Xavier):
    """He/MSRA initialisation for (P)ReLU networks: Gaussian Xavier, magnitude ``2/(1+slope^2)``.

    Weights are drawn from ``N(0, 2 / ((1 + slope**2) n))`` with ``n`` the fan chosen by
    ``factor_type``, exactly MXNet's ``MSRAPrelu``, a ``Xavier(rnd_type='gaussian')``. Fans are
    read from the last two axes as for :class:`Xavier`. ``slope=0`` gives He et al.'s ReLU
    initialisation (variance ``2/n``, with ``factor_type='in'``).

    Args:
        factor_type: ``'avg'`` (gluon's default), ``'in'`` or ``'out'``.
        slope: the negative slope of the PReLU/LeakyReLU that follows.

    Examples:
        >>> MSRAPrelu(slope=0.0).magnitude
        2.0
    """

    def __init__(self, factor_type: str = "avg", slope: float = 0.25):
        super().__init__("gaussian", factor_type, 2.0 / (1 + slope**2))
        self.slope = slope

    def __repr__(self) -> str:
        return f"MSRAPrelu(factor_type={self.factor_type!r}, slope={self.slope!r})"


class Bilinear(Initializer):
    """The bilinear-interpolation kernel of upsampling deconvolutions (FCN, gluon's Bilinear).

    For a weight of shape ``(kh, kw, ...)`` (spatial axes first: dstraight's ``HWIO``), every
    channel pair gets the same kernel ``(1 - |x/fw - cw|) * (1 - |y/fh - ch|)`` at row ``y``,
    column ``x``, where ``f = ceil(k / 2)`` and ``c = (2f - 1 - f % 2) / (2f)`` per axis. The
    kernel is copied to all input/output channel pairs, as in MXNet (so the order of the
    channel axes does not matter); MXNet takes ``f`` from the width for both axes, which is the
    same for the square kernels this is meant for.

    Examples:
        >>> Bilinear()(0, (4, 4, 1, 1))[:, :, 0, 0][0].tolist()
        [0.0625, 0.1875, 0.1875, 0.0625]
    """

    def _init(self, key, shape, dtype):
        if len(shape) < 3:
            raise ValueError(
                f"Bilinear needs a convolution weight (kh, kw, in_channels, out_channels), got "
                f"shape {shape}."
            )

        def profile(k: int) -> np.ndarray:
            f = np.ceil(k / 2.0)
            c = (2 * f - 1 - f % 2) / (2.0 * f)
            return 1 - np.abs(np.arange(k) / f - c)

        kernel = np.outer(profile(shape[0]), profile(shape[1]))
        kernel = kernel.reshape(shape[:2] + (1,) * (len(shape) - 2))
        return jnp.broadcast_to(jnp.asarray(kernel, dtype), shape)


def _whole_net(net: Any) -> Any:
    if not (hasattr(net, "collect_params") or hasattr(net, "initialize")):
        raise TypeError(
            f"initialize() takes a block (anything with collect_params()) or a ParameterDict, "
            f"got {type(net).__name__}."
        )
    return net


class _ByName:
    """Shared shell of the initializers that choose by parameter name."""

    def for_name(self, name: str) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> jax.Array:
        raise TypeError(
            f"{type(self).__name__} chooses an initializer by parameter name, which a "
            "(key, shape, dtype) call does not carry. Use "
            f"{type(self).__name__.lower()}.initialize(net, key=...) instead of "
            "net.initialize(...), or for_name(name) for one parameter."
        )

    def initialize(self, net: Any, key: Any = 0, force_reinit: bool = False,
                   device: Any = None) -> None:
        """Initializes ``net`` (a block or a ``ParameterDict``) choosing by parameter name.

        Parameters with their own initializer (e.g. biases, ``bias_initializer='zeros'``) keep
        it, as with ``net.initialize`` (gluon's precedence), except those that :class:`Load`
        holds a value for; the others get ``for_name(name)``. Then
        ``net.initialize(key=key, ...)`` draws as usual, so keys, deferred shapes and devices
        behave exactly as there.
        """
        net = _whole_net(net)
        params = net.collect_params() if hasattr(net, "collect_params") else net
        chosen = {name: self.for_name(name) for name, p in params.items()
                  if p.init is None or self._claims(name)}
        own = {name: params[name].init for name in chosen}
        try:
            for name, init in chosen.items():
                params[name].init = init
            net.initialize(key=key, force_reinit=force_reinit, device=device)
        finally:  # the choice lives on in the drawn (or pending) values, not in the parameter
            for name, init in own.items():
                params[name].init = init

    def _claims(self, name: str) -> bool:
        """Whether ``name`` overrides the parameter's own initializer."""
        return False

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Mixed(_ByName):
    """Initializers chosen by regular expressions on the parameter name (gluon's ``Mixed``).

    The first pattern that matches the name *from its start* (``re.match``, as in MXNet: use
    ``'.*bias'`` for names ending in ``bias``) gives the initializer. A name no pattern matches
    raises a ``ValueError``; end with ``'.*'`` for a default.

    Args:
        patterns: regular expressions.
        initializers: as many initializers (objects or names such as ``'zeros'``).

    Examples:
        >>> from dstraight import nn
        >>> net = nn.Dense(2, in_units=3)
        >>> Mixed([".*weight", ".*"], ["ones", "zeros"]).initialize(net, key=0)
        >>> net.weight.data().tolist()[0]
        [1.0, 1.0]
    """

    def __init__(self, patterns: Sequence[str], initializers: Sequence[InitializerLike]):
        patterns, initializers = list(patterns), list(initializers)
        if len(patterns) != len(initializers):
            raise ValueError(
                f"Mixed needs one initializer per pattern, got {len(patterns)} patterns and "
                f"{len(initializers)} initializers."
            )
        self.patterns = patterns
        self.initializers = [i if isinstance(i, _ByName) else create(i) for i in initializers]
        self._compiled = [re.compile(p) for p in patterns]

    def for_name(self, name: str) -> Any:
        for prog, init in zip(self._compiled, self.initializers, strict=True):
            if prog.match(name):
                return init.for_name(name) if isinstance(init, _ByName) else init
        raise ValueError(
            f"Mixed: parameter name {name!r} matches none of the patterns {self.patterns} "
            "(matched from the start of the name). Add a final '.*' pattern with a default "
            "initializer."
        )

    def __repr__(self) -> str:
        return f"Mixed(patterns={self.patterns!r}, initializers={self.initializers!r})"


class Load(_ByName):
    """Initial values from a dict of name -> array (gluon's ``Load``, without file names).

    Keys starting with MXNet's ``'arg:'`` or ``'aux:'`` lose that prefix. A stored value wins
    over the parameter's own initializer (gluon would keep a bias's ``'zeros'``: a loaded bias
    is meant to be used). A parameter whose name is missing gets ``default_init`` (or keeps
    its own initializer); without either that raises a ``ValueError``, as does a stored array
    of another shape. (To load a saved file, use ``net.load_parameters``.)

    Args:
        param: mapping from parameter names to arrays.
        default_init: initializer for the names ``param`` lacks, or ``None``.
        verbose: log (``logging.info``) where each parameter's value came from.

    Examples:
        >>> from dstraight import nn
        >>> net = nn.Dense(1, in_units=2)
        >>> name = net.weight.name                   # e.g. 'dense0_weight'
        >>> Load({"arg:" + name: jnp.array([[2.0], [3.0]])}).initialize(net)
        >>> net.weight.data().ravel().tolist(), net.bias.data().tolist()
        ([2.0, 3.0], [0.0])
    """

    def __init__(self, param: Mapping[str, Any], default_init: InitializerLike | None = None,
                 verbose: bool = False):
        if not isinstance(param, Mapping):
            raise TypeError(
                f"Load(param=...) must be a dict of name -> array, got {type(param).__name__}. "
                "To read a file saved with save_parameters use net.load_parameters(filename)."
            )
        self.param = {(k[4:] if k.startswith(("arg:", "aux:")) else k): np.asarray(v)
                      for k, v in param.items()}
        self.default_init = None if default_init is None else create(default_init)
        self.verbose = verbose

    def for_name(self, name: str) -> Any:
        if name not in self.param:
            if self.default_init is None:
                raise ValueError(
                    f"Load: parameter {name!r} is not among the loaded names "
                    f"{sorted(self.param)[:8]} and no default_init was given."
                )
            if self.verbose:
                logging.info("Load: %s initialized by default", name)
            return self.default_init
        value = self.param[name]

        def stored(key: Any, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
            if tuple(shape) != value.shape:
                raise ValueError(
                    f"Load: parameter {name!r} has shape {tuple(shape)} but the loaded array "
                    f"has shape {value.shape}."
                )
            if self.verbose:
                logging.info("Load: %s initialized by loading", name)
            return jnp.asarray(value, dtype)

        return stored

    def _claims(self, name: str) -> bool:
        return name in self.param

    def __repr__(self) -> str:
        return f"Load(param=<{len(self.param)} arrays>, default_init={self.default_init!r})"
