"""Gluon-style layers on a pure JAX core.

Each layer is a thin stateful shell around pure functions, in the manner of
``jax.example_libraries.stax``:

- ``param_shapes(in_shape) -> (out_shape, shapes)`` infers the output shape and the shape of every
  parameter from the input shape, and ``init_params(key, in_shape) -> (out_shape, params)`` draws
  a fresh parameter pytree from it;
- ``apply(params, x) -> y`` is the forward pass: a pure function of a nested dict of arrays that
  can be ``jax.jit``-ed and ``jax.grad``-ed directly.

The shell adds what the gluon chapters teach: named :class:`Parameter` objects collected in a
:class:`ParameterDict`, ``initialize()`` with *deferred* initialization (a ``Dense`` layer learns
its input size at the first call ``net(x)``), and ``net.params``, the current values as the same
pytree that ``apply`` takes.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import init, nn
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
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import init as _init
from .init import InitializerLike

__all__ = [
    "Activation",
    "Block",
    "Dense",
    "DeferredInitializationError",
    "Flatten",
    "Parameter",
    "ParameterDict",
    "Sequential",
    "reset_name_counters",
]

#: A shape whose dimensions may be unknown (``None``) until the first forward pass.
Shape = tuple[int | None, ...]
#: A parameter pytree: nested dicts whose leaves are arrays.
Params = dict[str, Any]


class DeferredInitializationError(ValueError):
    """A parameter's value was requested before its shape was known.

    Layers such as ``Dense(10)`` learn their input size from the first batch they see, so their
    weights exist only after the first forward pass ``net(x)``.
    """


# Per-prefix counters behind the default names dense0, dense1, ... (gluon numbers layers the same
# way). Module state, but only names depend on it, never numbers.
_name_counters: dict[str, int] = {}


def reset_name_counters() -> None:
    """Restarts the default layer names at ``dense0``, ``sequential0``, ...

    Examples:
        >>> reset_name_counters()
        >>> Dense(1).name
        'dense0'
    """
    _name_counters.clear()


def _next_name(prefix: str) -> str:
    count = _name_counters.get(prefix, 0)
    _name_counters[prefix] = count + 1
    return f"{prefix}{count}"


def _format_shape(shape: Sequence[int | None]) -> str:
    dims = ["?" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def _normalize_shape(shape: Sequence[int | None]) -> Shape:
    # gluon writes unknown dimensions as 0; we accept that and store None, which prints as "?".
    try:
        return tuple(None if d is None or d == 0 else int(d) for d in shape)
    except TypeError:
        raise TypeError(f"A parameter shape must be a tuple of ints, got {shape!r}.") from None


def _compatible(known: Shape, shape: Sequence[int]) -> bool:
    if len(known) != len(shape):
        return False
    return all(k is None or k == d for k, d in zip(known, shape, strict=True))


def _subkey(key: jax.Array, i: int) -> jax.Array:
    # the i-th parameter's key: fold_in, unlike split(key, n), does not depend on how many
    # parameters there are (adding a layer leaves the others' values alone) and compiles once
    return jax.random.fold_in(key, i)


def _check_device(device: Any) -> jax.Device | None:
    if device is None or isinstance(device, jax.Device):
        return device
    raise TypeError(
        f"device must be a jax.Device such as dstraight.cpu() or dstraight.gpu(0), or None for "
        f"JAX's default device; got {device!r} of type {type(device).__name__}."
    )


class Parameter:
    """A named array whose shape may only be known after the first forward pass.

    Args:
        name: the full name, e.g. ``'dense0_weight'``.
        shape: the shape; ``None`` (or gluon's ``0``) marks a dimension inferred later.
        dtype: the dtype of the values.
        init: this parameter's own initializer (it takes precedence over the one passed to
            ``Block.initialize``), or ``None`` to use that one.

    Examples:
        >>> p = Parameter("w", shape=(None, 2))
        >>> p
        Parameter w (shape=(?, 2), dtype=float32)
        >>> p.set_data(jnp.ones((3, 2)))
        >>> p.shape, p.data().sum().item()
        ((3, 2), 6.0)
    """

    def __init__(
        self,
        name: str,
        shape: Sequence[int | None],
        dtype: Any = jnp.float32,
        init: InitializerLike | None = None,
    ):
        self.name = name
        self._shape = _normalize_shape(shape)
        self.dtype = jnp.dtype(dtype)
        self.init = None if init is None else _init.create(init)
        self._data: jax.Array | None = None
        # (initializer, key) recorded by initialize() while the shape is still unknown
        self._pending: tuple[Callable[..., jax.Array], jax.Array] | None = None
        self._device: jax.Device | None = None

    @property
    def shape(self) -> Shape:
        """The shape, with ``None`` for dimensions not yet inferred."""
        return self._shape

    @property
    def device(self) -> jax.Device | None:
        """The device the value lives on (``None`` before it exists and no device was chosen)."""
        if self._data is not None:
            return next(iter(self._data.devices()))
        return self._device

    @property
    def is_initialized(self) -> bool:
        """Whether ``initialize`` or ``set_data`` was called (the value may still be pending)."""
        return self._data is not None or self._pending is not None

    def __repr__(self) -> str:
        return f"Parameter {self.name} (shape={_format_shape(self._shape)}, dtype={self.dtype})"

    def initialize(
        self,
        init: InitializerLike | None = None,
        key: Any = 0,
        device: jax.Device | None = None,
        force_reinit: bool = False,
        default_init: InitializerLike = "uniform",
    ) -> None:
        """Draws the value, or records how to draw it once the shape is known.

        The initializer used is ``init`` if given, else this parameter's own ``init``, else
        ``default_init`` (gluon's precedence).

        Args:
            init: initializer that overrides everything else.
            key: ``jax.random`` key or integer seed.
            device: where the value lives; ``None`` is JAX's default device.
            force_reinit: draw again even if already initialized (otherwise that case only warns).
            default_init: initializer used when neither ``init`` nor the parameter's own is set.

        Examples:
            >>> p = Parameter("b", shape=(2,))
            >>> p.initialize("ones")
            >>> p.data().tolist()
            [1.0, 1.0]
        """
        if self.is_initialized and not force_reinit:
            warnings.warn(
                f"Parameter '{self.name}' is already initialized; ignoring initialize(). Pass "
                f"force_reinit=True to draw new values.",
                stacklevel=2,
            )
            return
        if init is None:
            init = self.init if self.init is not None else default_init
        self._start_init(_init.create(init), _init.as_key(key), _check_device(device))

    def _start_init(self, initializer: Callable[..., jax.Array], key: jax.Array,
                    device: jax.Device | None) -> None:
        self._device = device
        self._data = None
        self._pending = (initializer, key)
        if None not in self._shape:
            self._materialize()

    def _materialize(self) -> None:
        initializer, key = self._pending
        value = jnp.asarray(initializer(key, self._shape, self.dtype), self.dtype)
        if value.shape != self._shape:
            raise ValueError(
                f"The initializer {initializer!r} of parameter '{self.name}' returned shape "
                f"{value.shape}, expected {self._shape}."
            )
        if self._device is not None:
            value = jax.device_put(value, self._device)
        self._data, self._pending = value, None

    def _infer_shape(self, shape: Sequence[int]) -> None:
        # Called by the block's shape inference at the first forward pass.
        shape = tuple(int(d) for d in shape)
        if not _compatible(self._shape, shape):
            raise ValueError(
                f"Shape inference gave parameter '{self.name}' the shape {shape}, which "
                f"contradicts its known shape {_format_shape(self._shape)}."
            )
        self._shape = shape
        if self._pending is not None:
            self._materialize()

    def data(self, device: jax.Device | None = None) -> jax.Array:
        """Returns the value (a copy on ``device`` if one is given).

        Raises:
            DeferredInitializationError: if the shape is not known yet (before the first call).
            ValueError: if the parameter was never initialized.

        Examples:
            >>> p = Parameter("w", shape=(None, 1))
            >>> p.initialize()
            >>> p.data()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            dstraight.nn.DeferredInitializationError: Parameter 'w' has shape (?, 1) ...
        """
        if self._data is None:
            if self._pending is not None:
                raise DeferredInitializationError(
                    f"Parameter '{self.name}' has shape {_format_shape(self._shape)} with "
                    f"unknown dimensions: its layer infers them from the input at the first "
                    f"forward pass (deferred initialization), so no value exists yet. Run the "
                    f"network once, e.g. net(X), before reading parameters or creating what "
                    f"needs their values, or give the input size up front, e.g. "
                    f"Dense(units, in_units=...)."
                )
            raise ValueError(
                f"Parameter '{self.name}' has not been initialized. Call net.initialize() (or "
                f"net.collect_params().initialize()) before using the network."
            )
        if device is not None:
            return jax.device_put(self._data, _check_device(device))
        return self._data

    def set_data(self, data: Any) -> None:
        """Replaces the value; the shape must agree with the known dimensions.

        The value is cast to the parameter's dtype and moved to its device. Setting a value on a
        parameter whose shape was still unknown fixes the shape.

        Raises:
            ValueError: if the shape does not match.
            TypeError: if ``data`` is a traced value (``set_data`` belongs outside ``jax.jit``).

        Examples:
            >>> p = Parameter("b", shape=(2,))
            >>> p.set_data([1, 2])
            >>> p.data().tolist()
            [1.0, 2.0]
        """
        if isinstance(data, jax.core.Tracer):
            raise TypeError(
                f"set_data on '{self.name}' got a traced value. Parameters hold concrete arrays: "
                f"return new values from the jitted function and call set_data outside it."
            )
        # The trainer writes back fresh device arrays every step: take those as they are, since
        # jnp.asarray and device_put cost as much per call as a small compiled training step.
        already_placed = (
            isinstance(data, jax.Array)
            and data.dtype == self.dtype
            and (self._device is None or data.devices() == {self._device})
        )
        value = data if already_placed else jnp.asarray(data, self.dtype)
        if not _compatible(self._shape, value.shape):
            raise ValueError(
                f"Parameter '{self.name}' has shape {_format_shape(self._shape)} but set_data got "
                f"an array of shape {value.shape}."
            )
        if self._device is not None and not already_placed:
            value = jax.device_put(value, self._device)
        self._shape = value.shape
        self._data, self._pending = value, None


def _path_str(path: tuple[str, ...]) -> str:
    return "/".join(path) or "<root>"


def _flatten_tree(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _flatten_tree(v, (*path, str(k)))
    else:
        yield path, tree


def _nest(items: Iterable[tuple[tuple[str, ...], Any]]) -> Params:
    tree: Params = {}
    for path, value in items:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


class ParameterDict(Mapping[str, Parameter]):
    """An ordered mapping from full names (``'dense0_weight'``) to :class:`Parameter` objects.

    Returned by :meth:`Block.collect_params`. Besides the mapping interface it initializes all
    its parameters at once and converts to and from the pytree that ``Block.apply`` takes.

    Args:
        entries: pairs ``(path, parameter)``, where ``path`` is the position of the parameter in
            the pytree, e.g. ``('dense0', 'weight')``.
        prefix: the name printed in the header (the owning block's name).

    Examples:
        >>> reset_name_counters()
        >>> net = Dense(1)
        >>> net.collect_params()
        dense0 (
          Parameter dense0_weight (shape=(?, 1), dtype=float32)
          Parameter dense0_bias (shape=(1,), dtype=float32)
        )
    """

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], Parameter]] = (), prefix: str = ""):
        self.prefix = prefix
        self._params: dict[str, Parameter] = {}
        self._paths: dict[str, tuple[str, ...]] = {}
        for path, param in entries:
            if param.name in self._params and self._params[param.name] is not param:
                raise ValueError(
                    f"Two different parameters are named '{param.name}' (at "
                    f"{_path_str(self._paths[param.name])} and {_path_str(path)}); give the "
                    f"layers distinct names."
                )
            self._params[param.name] = param
            self._paths[param.name] = tuple(path)

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(
                f"No parameter named {name!r}; the parameters are {list(self._params)}."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        lines = [f"{self.prefix} ("] + [f"  {p!r}" for p in self._params.values()] + [")"]
        return "\n".join(lines)

    def path(self, name: str) -> tuple[str, ...]:
        """Where the parameter ``name`` sits in :meth:`tree`, e.g. ``('dense0', 'weight')``."""
        self[name]  # a KeyError that lists the names
        return self._paths[name]

    def initialize(
        self,
        init: InitializerLike | None = None,
        key: Any = 0,
        force_reinit: bool = False,
        device: jax.Device | None = None,
    ) -> None:
        """Initializes every parameter (deferring those whose shape is not known yet).

        Args:
            init: initializer for parameters without their own (e.g. Dense weights, but not
                their biases, which have ``bias_initializer='zeros'``); default
                ``init.Uniform()``, as in gluon.
            key: ``jax.random`` key or integer seed; each parameter gets its own subkey.
            force_reinit: draw again parameters that were already initialized.
            device: where the parameters live; ``None`` is JAX's default device.

        Examples:
            >>> net = Dense(2, in_units=3)
            >>> net.collect_params().initialize("ones", key=0)
            >>> net.weight.data().tolist()
            [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
        """
        default = _init.create(init if init is not None else _init.Uniform())
        key = _init.as_key(key)
        device = _check_device(device)
        params = list(self._params.values())
        skipped = []
        for i, param in enumerate(params):
            if param.is_initialized and not force_reinit:
                skipped.append(param.name)
                continue
            chosen = param.init if param.init is not None else default
            param._start_init(chosen, _subkey(key, i), device)
        if skipped:
            warnings.warn(
                f"Parameters {skipped} are already initialized; ignoring them. Pass "
                f"force_reinit=True to draw new values.",
                stacklevel=2,
            )

    def tree(self) -> Params:
        """Returns the values as a nested dict, the pytree ``Block.apply`` takes.

        Raises:
            DeferredInitializationError: before the first forward pass fixed the shapes.

        Examples:
            >>> net = Dense(1, in_units=2)
            >>> net.initialize("zeros")
            >>> {name: value.shape for name, value in net.collect_params().tree().items()}
            {'weight': (2, 1), 'bias': (1,)}
        """
        return _nest((self._paths[name], p.data()) for name, p in self._params.items())

    def set_tree(self, tree: Mapping[str, Any]) -> None:
        """Writes the values of a pytree shaped like :meth:`tree` back into the parameters.

        Nothing is written unless the whole tree matches.

        Raises:
            ValueError: if the tree has missing or extra entries or a shape differs.

        Examples:
            >>> net = Dense(1, in_units=2)
            >>> net.initialize()
            >>> net.collect_params().set_tree({"weight": jnp.ones((2, 1)), "bias": jnp.zeros(1)})
            >>> net.weight.data().ravel().tolist()
            [1.0, 1.0]
        """
        flat = dict(_flatten_tree(tree))
        expected = {path: name for name, path in self._paths.items()}
        missing = [_path_str(p) for p in expected if p not in flat]
        extra = [_path_str(p) for p in flat if p not in expected]
        if missing or extra:
            raise ValueError(
                f"set_tree got a tree whose entries do not match the parameters: missing "
                f"{missing}, unexpected {extra}. Pass a tree shaped like net.params."
            )
        for path, name in expected.items():
            shape = jnp.shape(flat[path])
            if not _compatible(self._params[name].shape, shape):
                raise ValueError(
                    f"set_tree: parameter '{name}' has shape "
                    f"{_format_shape(self._params[name].shape)} but the tree holds shape "
                    f"{tuple(shape)} at {_path_str(path)}."
                )
        for path, name in expected.items():
            self._params[name].set_data(flat[path])


class Block:
    """Base class of all layers: a stateful shell around pure ``param_shapes``/``apply``.

    A subclass declares its parameters with ``_param`` and its sub-blocks with
    ``_child`` in ``__init__``, and implements :meth:`param_shapes` (unless it has no
    parameters) and :meth:`apply`.

    Args:
        name: the block's name; by default the lower-cased class name and a counter
            (``dense0``, ``dense1``, ...). Parameter names are ``f"{name}_{local name}"``.
    """

    def __init__(self, name: str | None = None):
        if name is None:
            name = _next_name(self._default_prefix())
        if not isinstance(name, str) or not name:
            raise TypeError(f"A block name must be a non-empty str, got {name!r}.")
        self._name = name
        self._params: dict[str, Parameter] = {}
        self._children: dict[str, Block] = {}
        self._jitted_apply: Callable[[Params, jax.Array], jax.Array] | None = None

    def _default_prefix(self) -> str:
        return type(self).__name__.lower()

    @property
    def name(self) -> str:
        """The block's name, used as its key in a parent's parameter tree."""
        return self._name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- declaring structure ------------------------------------------------------------------

    def _param(self, local_name: str, shape: Sequence[int | None], init=None,
               dtype: Any = jnp.float32) -> Parameter:
        param = Parameter(f"{self.name}_{local_name}", shape, dtype=dtype, init=init)
        self._params[local_name] = param
        return param

    def _child(self, block: Block) -> Block:
        if not isinstance(block, Block):
            raise TypeError(
                f"{type(self).__name__} can only hold Blocks (e.g. nn.Dense(10)), got {block!r} "
                f"of type {type(block).__name__}."
            )
        if block.name in self._children or block.name in self._params:
            raise ValueError(
                f"{self.name} already has a child named '{block.name}'; children are keyed by "
                f"name in the parameter tree, so give the new block another name (name=...)."
            )
        self._children[block.name] = block
        return block

    def _entries(self, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Parameter]]:
        for local_name, param in self._params.items():
            yield (*path, local_name), param
        for name, child in self._children.items():
            yield from child._entries((*path, name))

    def _has_params(self) -> bool:
        return next(self._entries(), None) is not None

    # -- the stateful shell -------------------------------------------------------------------

    def collect_params(self, select: str | None = None) -> ParameterDict:
        """Returns this block's parameters and those of its children, in order.

        Args:
            select: optional regular expression; only parameters whose full name matches it
                (``re.match``) are returned, e.g. ``'.*weight'``.

        Examples:
            >>> reset_name_counters()
            >>> net = Sequential()
            >>> net.add(Dense(3), Dense(1))
            >>> list(net.collect_params(".*weight"))
            ['dense0_weight', 'dense1_weight']
        """
        entries = self._entries()
        if select is not None:
            pattern = re.compile(select)
            entries = ((path, p) for path, p in entries if pattern.match(p.name))
        return ParameterDict(entries, prefix=self.name)

    @property
    def params(self) -> Params:
        """The current parameter values as a pytree (``collect_params().tree()``).

        Raises:
            DeferredInitializationError: before the first forward pass fixed the shapes.
        """
        return self.collect_params().tree()

    def initialize(
        self,
        init: InitializerLike | None = None,
        key: Any = 0,
        force_reinit: bool = False,
        device: jax.Device | None = None,
    ) -> None:
        """Initializes all parameters; see :meth:`ParameterDict.initialize`.

        Parameters whose shape depends on the input are drawn at the first call ``net(x)``, with
        the key assigned here, so the result does not depend on when that call happens.

        Examples:
            >>> from dstraight import init
            >>> net = Dense(1)
            >>> net.initialize(init.Normal(sigma=0.01), key=0)
        """
        self.collect_params().initialize(init, key=key, force_reinit=force_reinit, device=device)

    def hybridize(self, active: bool = True) -> None:
        """Compiles the forward pass of ``net(x)`` with ``jax.jit`` (gluon's ``hybridize``).

        Examples:
            >>> net = Dense(1)
            >>> net.initialize()
            >>> net.hybridize()
            >>> net(jnp.ones((2, 3))).shape
            (2, 1)
        """
        self._jitted_apply = jax.jit(self.apply) if active else None

    def __call__(self, x: Any) -> jax.Array:
        """Runs the forward pass with the current parameters, inferring shapes the first time.

        Args:
            x: a batch, e.g. ``(batch_size, features)``; NumPy arrays are accepted.

        Returns:
            ``self.apply(self.params, x)``.
        """
        x = jnp.asarray(x)
        params = self.collect_params()
        if any(p._data is None for p in params.values()):
            if isinstance(x, jax.core.Tracer):
                # first call inside jax.jit: draw concrete values, not tracers that would leak
                # out of the trace into the parameters
                with jax.ensure_compile_time_eval():
                    self._infer_shapes(x.shape, params)
            else:
                self._infer_shapes(x.shape, params)
        # only a device chosen in initialize() moves the batch; None leaves JAX's default alone
        device = next((p._device for p in params.values() if p._device is not None), None)
        if device is not None and not isinstance(x, jax.core.Tracer):
            x = jax.device_put(x, device)
        apply = self._jitted_apply if self._jitted_apply is not None else self.apply
        return apply(params.tree(), x)

    def _infer_shapes(self, in_shape: tuple[int, ...], params: ParameterDict) -> None:
        uninitialized = [p.name for p in params.values() if not p.is_initialized]
        if uninitialized:
            raise ValueError(
                f"Parameters {uninitialized} of {self.name} have not been initialized. Call "
                f"net.initialize() (or net.collect_params().initialize()) before the first "
                f"forward pass."
            )
        _, shapes = self.param_shapes(in_shape)
        flat = dict(_flatten_tree(shapes))
        for name, param in params.items():
            param._infer_shape(flat[params.path(name)])

    # -- the pure core --------------------------------------------------------------------------

    def param_shapes(self, in_shape: Sequence[int]) -> tuple[tuple[int, ...], dict[str, Any]]:
        """Infers the output shape and the parameter shapes for an input of shape ``in_shape``.

        Pure: it reads only the block's configuration. The default, for blocks without
        parameters, traces :meth:`apply` abstractly with ``jax.eval_shape``.

        Returns:
            ``(out_shape, shapes)``, ``shapes`` a pytree like ``params`` with shape tuples.
        """
        if self._has_params():
            raise NotImplementedError(
                f"{type(self).__name__} has parameters, so it must implement param_shapes()."
            )
        x = jax.ShapeDtypeStruct(tuple(in_shape), jnp.float32)
        return tuple(jax.eval_shape(lambda x: self.apply({}, x), x).shape), {}

    def init_params(self, key: Any, in_shape: Sequence[int],
                    init: InitializerLike | None = None) -> tuple[tuple[int, ...], Params]:
        """Draws a fresh parameter pytree for inputs of shape ``in_shape`` (stax's ``init_fun``).

        Pure: the block's stored parameters are neither read nor changed. With the same ``key``
        and ``init`` it gives the values that ``initialize`` and a first call ``net(x)`` give.

        Args:
            key: ``jax.random`` key or integer seed.
            in_shape: input shape including the batch axis.
            init: initializer for parameters without their own; default ``init.Uniform()``.

        Returns:
            ``(out_shape, params)``.

        Examples:
            >>> net = Dense(4)
            >>> out_shape, params = net.init_params(0, (2, 3), init="normal")
            >>> out_shape, params["weight"].shape
            ((2, 4), (3, 4))
        """
        default = _init.create(init if init is not None else _init.Uniform())
        out_shape, shapes = self.param_shapes(in_shape)
        flat = dict(_flatten_tree(shapes))
        key = _init.as_key(key)
        values = []
        for i, (path, param) in enumerate(self._entries()):
            initializer = param.init if param.init is not None else default
            value = initializer(_subkey(key, i), flat[path], param.dtype)
            values.append((path, jnp.asarray(value, param.dtype)))
        return out_shape, _nest(values)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """The forward pass as a pure function of ``params`` (a pytree like ``self.params``)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(params, x).")


def _subtree(block: Block, params: Any, key: str) -> Any:
    if not isinstance(params, Mapping) or key not in params:
        got = list(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(
            f"{block.name}: params has no entry {key!r} (got {got}). Pass a pytree shaped like "
            f"net.params."
        )
    return params[key]


_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softmax": jax.nn.softmax,
    "softrelu": jax.nn.softplus,
    "softsign": jax.nn.soft_sign,
}


def _activation(name: Any) -> Callable[[jax.Array], jax.Array]:
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


class Dense(Block):
    """A fully connected layer: ``activation(x @ weight + bias)``.

    The weight is stored as ``(in_units, units)``, so the forward pass is the ``X @ w + b`` of the
    from-scratch chapters. (MXNet stores the transpose, ``(units, in_units)``.) Inputs with more
    than two axes are flattened to ``(batch, -1)`` first, like gluon's ``flatten=True``. With
    ``in_units=0`` the input size is inferred at the first call (deferred initialization).

    Args:
        units: number of outputs.
        activation: ``None`` (linear), a name (``'relu'``, ``'sigmoid'``, ``'tanh'``,
            ``'softmax'``, ``'softrelu'``, ``'softsign'``) or a function.
        use_bias: whether to add a bias.
        in_units: number of input features, or 0 to infer it from the first batch.
        weight_initializer: the weight's own initializer; ``None`` uses the one given to
            ``initialize``.
        bias_initializer: the bias's own initializer (zeros, as in gluon).
        dtype: parameter dtype.
        name: the layer's name (default ``dense0``, ``dense1``, ...).

    Examples:
        >>> reset_name_counters()
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

    def __init__(
        self,
        units: int,
        activation: str | Callable[[jax.Array], jax.Array] | None = None,
        use_bias: bool = True,
        in_units: int = 0,
        weight_initializer: InitializerLike | None = None,
        bias_initializer: InitializerLike | None = "zeros",
        dtype: Any = jnp.float32,
        name: str | None = None,
    ):
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense(units=...) must be a positive int, got {units!r}.")
        if isinstance(in_units, bool) or not isinstance(in_units, int) or in_units < 0:
            raise ValueError(
                f"Dense(in_units=...) must be a non-negative int (0: infer it from the first "
                f"batch), got {in_units!r}."
            )
        super().__init__(name)
        self.units = units
        self.activation = activation
        self._act = None if activation is None else _activation(activation)
        self.use_bias = use_bias
        self.weight = self._param("weight", (in_units, units), init=weight_initializer, dtype=dtype)
        self.bias = (
            self._param("bias", (units,), init=bias_initializer, dtype=dtype) if use_bias else None
        )

    @property
    def in_units(self) -> int:
        """The number of input features, 0 while not yet inferred."""
        return self.weight.shape[0] or 0

    def __repr__(self) -> str:
        if self.activation is None:
            act = "linear"
        else:
            act = f"Activation({_activation_name(self.activation)})"
        in_units = self.weight.shape[0]
        return f"Dense({'?' if in_units is None else in_units} -> {self.units}, {act})"

    def _mismatch(self, expected: int, shape: tuple[int, ...]) -> ValueError:
        got = math.prod(shape[1:])
        return ValueError(
            f"{self.name}: Dense(units={self.units}) expects {expected} input features but got "
            f"an input of shape {tuple(shape)}, i.e. {got} features after flattening to "
            f"(batch, -1). Inputs are read as (batch, features...): a single example needs a "
            f"leading batch axis (x[None]), and images must be passed whole, e.g. "
            f"x.reshape(len(x), -1) of shape (batch, {expected})."
        )

    def _check_rank(self, shape: tuple[int, ...]) -> None:
        if len(shape) < 2:
            raise ValueError(
                f"{self.name}: Dense expects inputs of shape (batch, features...), got shape "
                f"{tuple(shape)}. Add a feature axis, e.g. x.reshape(-1, 1), or a batch axis, "
                f"e.g. x[None]."
            )

    def param_shapes(self, in_shape: Sequence[int]) -> tuple[tuple[int, ...], dict[str, Any]]:
        in_shape = tuple(int(d) for d in in_shape)
        self._check_rank(in_shape)
        features = math.prod(in_shape[1:])
        known = self.weight.shape[0]
        if known is not None and known != features:
            raise self._mismatch(known, in_shape)
        shapes: dict[str, Any] = {"weight": (features, self.units)}
        if self.use_bias:
            shapes["bias"] = (self.units,)
        return (in_shape[0], self.units), shapes

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """``activation(flatten(x) @ params['weight'] + params['bias'])``; pure and jittable."""
        x = jnp.asarray(x)
        self._check_rank(x.shape)
        w = _subtree(self, params, "weight")
        features = math.prod(x.shape[1:])
        if features != w.shape[0]:
            raise self._mismatch(w.shape[0], x.shape)
        if x.ndim > 2:
            x = x.reshape(x.shape[0], features)
        y = x @ w
        if self.use_bias:
            y = y + _subtree(self, params, "bias")
        return y if self._act is None else self._act(y)


class Activation(Block):
    """Applies an activation function elementwise (``softmax``: along the last axis).

    Args:
        activation: ``'relu'``, ``'sigmoid'``, ``'tanh'``, ``'softmax'``, ``'softrelu'``,
            ``'softsign'`` or a function.
        name: default: the activation's name and a counter, e.g. ``relu0``.

    Examples:
        >>> Activation("relu").apply({}, jnp.array([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def __init__(self, activation: str | Callable[[jax.Array], jax.Array],
                 name: str | None = None):
        self._fn = _activation(activation)
        self.activation = activation
        super().__init__(name)

    def _default_prefix(self) -> str:
        return self.activation if isinstance(self.activation, str) else "activation"

    def __repr__(self) -> str:
        return f"Activation({_activation_name(self.activation)})"

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        return self._fn(jnp.asarray(x))


class Flatten(Block):
    """Reshapes ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``.

    Examples:
        >>> Flatten().apply({}, jnp.zeros((2, 28, 28, 1))).shape
        (2, 784)
    """

    def __repr__(self) -> str:
        return "Flatten"

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim == 0:
            raise ValueError(f"{self.name}: Flatten needs a batch axis, got a scalar.")
        return x.reshape(x.shape[0], -1)


class Sequential(Block):
    """Chains blocks: the output of each is the input of the next.

    ``params`` is keyed by child name: ``{'dense0': {...}, 'dense1': {...}}`` (children without
    parameters, such as ``Flatten``, have no entry).

    Examples:
        >>> reset_name_counters()
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

    def add(self, *blocks: Block) -> None:
        """Appends blocks in order.

        Raises:
            TypeError: if an argument is not a Block.
            ValueError: if a child of the same name is already present.
        """
        for block in blocks:
            self._child(block)

    def __getitem__(self, i: int) -> Block:
        return list(self._children.values())[i]

    def __len__(self) -> int:
        return len(self._children)

    def __iter__(self) -> Iterator[Block]:
        return iter(list(self._children.values()))

    def __repr__(self) -> str:
        lines = [f"  ({i}): {child!r}".replace("\n", "\n  ") for i, child in enumerate(self)]
        return "\n".join([f"{type(self).__name__}(", *lines, ")"])

    def param_shapes(self, in_shape: Sequence[int]) -> tuple[tuple[int, ...], dict[str, Any]]:
        shape, shapes = tuple(in_shape), {}
        for child in self:
            shape, child_shapes = child.param_shapes(shape)
            if child._has_params():
                shapes[child.name] = child_shapes
        return tuple(shape), shapes

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        for child in self:
            child_params = _subtree(self, params, child.name) if child._has_params() else {}
            # the scope names the layer in jaxprs and compiled code (dstraight.viz uses it)
            with jax.named_scope(child.name):
                x = child.apply(child_params, x)
        return x
