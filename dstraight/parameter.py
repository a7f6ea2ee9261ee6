"""Parameters: named arrays whose shape may be known only after the first forward pass.

A :class:`Parameter` is the single place a value lives. Blocks read it with ``param.data()``; the
pure core (``Block.apply``) reads the same call, because while ``apply`` runs a :class:`Binding`
maps every parameter to the value (possibly a ``jax.jit`` tracer) passed in. Moving between the
objects and a pytree is one flatten/unflatten (:meth:`ParameterDict.tree` /
:meth:`ParameterDict.set_tree`).

Two kinds of parameters exist, as in gluon: trainable ones (``grad_req='write'``) and auxiliary
*state* such as BatchNorm's running statistics (``grad_req='null'``, ``kind='state'``), which the
forward pass updates in training mode instead of an optimizer.

Examples:
    >>> p = Parameter("w", shape=(None, 2))
    >>> p
    Parameter w (shape=(?, 2), dtype=float32)
    >>> p.set_data(jnp.ones((3, 2)))
    >>> p.shape
    (3, 2)
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import init as _init
from .init import InitializerLike

__all__ = [
    "Binding",
    "DeferredInitializationError",
    "Parameter",
    "ParameterDict",
    "current_binding",
    "flatten_tree",
    "nest",
    "structure_changed",
]

_ArrayImpl = type(jnp.zeros(()))

#: A shape whose dimensions may be unknown (``None``) until the first forward pass.
Shape = tuple[int | None, ...]
#: A parameter pytree: nested dicts whose leaves are arrays.
Params = dict[str, Any]

_GRAD_REQS = ("write", "add", "null")


class DeferredInitializationError(ValueError):
    """A parameter's value was requested before its shape was known.

    Layers such as ``Dense(10)`` learn their input size from the first batch they see, so their
    weights exist only after the first forward pass ``net(x)``.
    """


def format_shape(shape: Sequence[int | None]) -> str:
    """``(?, 2)`` for a shape with an unknown first dimension."""
    dims = ["?" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def _normalize_shape(shape: Sequence[int | None]) -> Shape:
    # gluon writes unknown dimensions as 0; we accept that and store None, which prints as "?".
    if isinstance(shape, int):
        shape = (shape,)
    try:
        return tuple(None if d is None or d == 0 else int(d) for d in shape)
    except TypeError:
        raise TypeError(f"A parameter shape must be a tuple of ints, got {shape!r}.") from None


def compatible(known: Shape, shape: Sequence[int]) -> bool:
    """Whether ``shape`` fills in the unknown dimensions of ``known`` without contradicting it."""
    if len(known) != len(shape):
        return False
    return all(k is None or k == d for k, d in zip(known, shape, strict=True))


def _check_device(device: Any) -> jax.Device | None:
    if device is None or isinstance(device, jax.Device):
        return device
    raise TypeError(
        f"device must be a jax.Device such as dstraight.cpu() or dstraight.gpu(0), or None for "
        f"JAX's default device; got {device!r} of type {type(device).__name__}."
    )


# --------------------------------------------------------------------------------------------
# Bindings: which value each parameter has while a forward pass runs.

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

    def __init__(self, values: dict[int, Any], params: Sequence[Parameter], training: bool,
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

    def value(self, param: Parameter) -> Any:
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
                raise DeferredInitializationError(
                    f"Parameter '{param.name}' has shape {format_shape(shape)}, and the layer "
                    f"read it before inferring the unknown dimensions."
                )
            return jnp.zeros(shape, param.dtype)
        raise ValueError(
            f"Parameter '{param.name}' is used by the forward pass but is not one of the "
            f"network's parameters, so apply() was not given a value for it. Register it on a "
            f"block of the network (self.params.get(...) or an attribute) instead of using a "
            f"parameter of another network."
        )

    def write(self, param: Parameter, value: Any) -> None:
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


# --------------------------------------------------------------------------------------------


class Parameter:
    """A named array whose shape may only be known after the first forward pass.

    Args:
        name: the full name, e.g. ``'dense0_weight'``.
        shape: the shape; ``None`` (or gluon's ``0``) marks a dimension inferred later.
        dtype: the dtype of the values.
        init: this parameter's own initializer (it takes precedence over the one passed to
            ``Block.initialize``), or ``None`` to use that one.
        grad_req: ``'write'`` (trained) or ``'null'`` (frozen: no trainer updates it).
        kind: ``'param'`` for weights, ``'state'`` for statistics the forward pass updates itself
            (BatchNorm's running mean and variance); state is never trained.
        allow_deferred_init: accepted for gluon compatibility (deferral is always allowed).

    Examples:
        >>> p = Parameter("b", shape=(2,))
        >>> p.initialize("ones")
        >>> p.data().tolist()
        [1.0, 1.0]
    """

    def __init__(
        self,
        name: str,
        shape: Sequence[int | None] = (),
        dtype: Any = jnp.float32,
        init: InitializerLike | None = None,
        grad_req: str = "write",
        kind: str = "param",
        allow_deferred_init: bool = True,
        lr_mult: float = 1.0,
        wd_mult: float = 1.0,
    ):
        if kind not in ("param", "state"):
            raise ValueError(f"Parameter kind must be 'param' or 'state', got {kind!r}.")
        self.name = name
        self._shape = _normalize_shape(shape)
        self.dtype = jnp.dtype(dtype)
        self.init = None if init is None else _init.create(init)
        self.kind = kind
        self.grad_req = "null" if kind == "state" else grad_req
        self.lr_mult, self.wd_mult = float(lr_mult), float(wd_mult)
        self._data: jax.Array | None = None
        # (initializer, key) recorded by initialize() while the shape is still unknown
        self._pending: tuple[Callable[..., jax.Array], jax.Array] | None = None
        self._device: jax.Device | None = None

    @property
    def grad_req(self) -> str:
        """``'write'`` if trainers update this parameter, ``'null'`` if it is frozen."""
        return self._grad_req

    @grad_req.setter
    def grad_req(self, value: str) -> None:
        if value not in _GRAD_REQS:
            raise ValueError(
                f"Parameter '{self.name}': grad_req must be one of {_GRAD_REQS}, got {value!r}."
            )
        if self.kind == "state" and value != "null":
            raise ValueError(
                f"Parameter '{self.name}' is state updated by the forward pass (e.g. a running "
                f"mean); it cannot be trained (grad_req={value!r})."
            )
        self._grad_req = value

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

    @property
    def has_value(self) -> bool:
        """Whether the value exists (initialized and every dimension known)."""
        return self._data is not None

    def __repr__(self) -> str:
        return f"Parameter {self.name} (shape={format_shape(self._shape)}, dtype={self.dtype})"

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
        ``default_init`` (gluon's precedence, except that state keeps its own initializer).

        Args:
            init: initializer that overrides everything else.
            key: ``jax.random`` key or integer seed.
            device: where the value lives; ``None`` is JAX's default device.
            force_reinit: draw again even if already initialized (otherwise that case only warns).
            default_init: initializer used when neither ``init`` nor the parameter's own is set.
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
        self.start_init(_init.create(init), _init.as_key(key), _check_device(device))

    def start_init(self, initializer: Callable[..., jax.Array], key: jax.Array,
                   device: jax.Device | None) -> None:
        """Records ``initializer`` and ``key``; draws at once if the shape is fully known."""
        self._device = device
        self._data = None
        self._pending = (initializer, key)
        if None not in self._shape:
            self._materialize()

    def _materialize(self) -> None:
        initializer, key = self._pending
        # Drawn concretely even when the first call happens while tracing (inside jax.jit):
        # a tracer stored here would leak out of the trace.
        with jax.ensure_compile_time_eval():
            value = jnp.asarray(initializer(key, self._shape, self.dtype), self.dtype)
        if value.shape != self._shape:
            raise ValueError(
                f"The initializer {initializer!r} of parameter '{self.name}' returned shape "
                f"{value.shape}, expected {self._shape}."
            )
        if self._device is not None:
            value = jax.device_put(value, self._device)
        self._data, self._pending = value, None

    def infer_shape(self, shape: Sequence[int]) -> None:
        """Fixes the unknown dimensions (called by a layer at its first forward pass)."""
        shape = tuple(int(d) for d in shape)
        if not compatible(self._shape, shape):
            raise ValueError(
                f"Shape inference gave parameter '{self.name}' the shape {shape}, which "
                f"contradicts its known shape {format_shape(self._shape)}."
            )
        if shape != self._shape:
            self._shape = shape
            structure_changed()
        if self._pending is not None:
            self._materialize()

    def resolve(self, shape: Sequence[int]) -> Any:
        """The value, for a layer that now knows the full shape from its input.

        In a call ``net(x)`` this is where deferred initialization happens; inside ``apply`` it
        checks that the value given has the shape the input implies.
        """
        binding = current_binding()
        shape = tuple(int(d) for d in shape)
        if binding is not None and binding.mode != "shell":
            if binding.mode == "shapes" and id(self) not in binding.values:
                if not compatible(self._shape, shape):
                    raise ValueError(
                        f"Shape inference gave parameter '{self.name}' the shape {shape}, which "
                        f"contradicts its known shape {format_shape(self._shape)}."
                    )
                binding.shapes[id(self)] = shape
            value = binding.value(self)
            if tuple(jnp.shape(value)) != shape:
                raise ValueError(
                    f"Parameter '{self.name}' was given a value of shape {tuple(jnp.shape(value))}"
                    f" but this input needs shape {shape}."
                )
            return value
        if self._data is None:
            if self._pending is None:
                raise ValueError(self._uninitialized_message())
            self.infer_shape(shape)
        elif self._data.shape != shape:
            raise ValueError(
                f"Parameter '{self.name}' has shape {self._data.shape} but this input needs "
                f"shape {shape}."
            )
        return self.data()

    def _uninitialized_message(self) -> str:
        return (
            f"Parameter '{self.name}' has not been initialized. Call net.initialize() (or "
            f"net.collect_params().initialize()) before using the network."
        )

    def stored(self) -> jax.Array:
        """The stored value, ignoring any binding (what ``data()`` returns outside a pass)."""
        if self._data is None:
            if self._pending is not None:
                raise DeferredInitializationError(
                    f"Parameter '{self.name}' has shape {format_shape(self._shape)} with "
                    f"unknown dimensions: its layer infers them from the input at the first "
                    f"forward pass (deferred initialization), so no value exists yet. Run the "
                    f"network once, e.g. net(X), before reading parameters or creating what "
                    f"needs their values, or give the input size up front, e.g. "
                    f"Dense(units, in_units=...)."
                )
            raise ValueError(self._uninitialized_message())
        return self._data

    def data(self, device: jax.Device | None = None) -> jax.Array:
        """Returns the value (a copy on ``device`` if one is given).

        Inside a forward pass (``Block.apply``) this is the value the pass was given.

        Raises:
            DeferredInitializationError: if the shape is not known yet (before the first call).
            ValueError: if the parameter was never initialized.

        Examples:
            >>> p = Parameter("w", shape=(None, 1))
            >>> p.initialize()
            >>> p.data()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            dstraight.parameter.DeferredInitializationError: Parameter 'w' has shape (?, 1) ...
        """
        binding = current_binding()
        value = binding.value(self) if binding is not None else self.stored()
        if device is not None:
            return jax.device_put(value, _check_device(device))
        return value

    def set_data(self, data: Any) -> None:
        """Replaces the value; the shape must agree with the known dimensions.

        The value is cast to the parameter's dtype and moved to its device. Setting a value on a
        parameter whose shape was still unknown fixes the shape. Inside a forward pass, state
        (``kind='state'``) is written to the pass's updates instead, so ``apply`` stays pure.

        Raises:
            ValueError: if the shape does not match.
            TypeError: if ``data`` is a traced value outside a forward pass.

        Examples:
            >>> p = Parameter("b", shape=(2,))
            >>> p.set_data([1, 2])
            >>> p.data().tolist()
            [1.0, 2.0]
        """
        binding = current_binding()
        if (binding is None and type(data) is _ArrayImpl and data.shape == self._shape
                and data.dtype == self.dtype and self._device is None):
            # the trainers' write-back of fresh device arrays, every step: nothing to check
            self._data, self._pending = data, None
            return
        if binding is not None and (id(self) in binding.values or binding.mode != "apply"):
            if tuple(jnp.shape(data)) != tuple(jnp.shape(binding.value(self))):
                raise ValueError(
                    f"set_data on '{self.name}' inside a forward pass got shape "
                    f"{tuple(jnp.shape(data))}, expected {tuple(jnp.shape(binding.value(self)))}."
                )
            binding.write(self, jnp.asarray(data, self.dtype))
            return
        if isinstance(data, jax.core.Tracer):
            raise TypeError(
                f"set_data on '{self.name}' got a traced value. Parameters hold concrete arrays: "
                f"return new values from the jitted function and call set_data outside it."
            )
        # Trainers write back fresh device arrays every step: take those as they are, since
        # jnp.asarray and device_put cost as much per call as a small compiled training step.
        already_placed = (
            isinstance(data, jax.Array)
            and data.dtype == self.dtype
            and (self._device is None or data.devices() == {self._device})
        )
        value = data if already_placed else jnp.asarray(data, self.dtype)
        if not compatible(self._shape, value.shape):
            raise ValueError(
                f"Parameter '{self.name}' has shape {format_shape(self._shape)} but set_data got "
                f"an array of shape {value.shape}."
            )
        if self._device is not None and not already_placed:
            value = jax.device_put(value, self._device)
        if value.shape != self._shape:
            self._shape = value.shape
            structure_changed()
        self._data, self._pending = value, None

    def reset_device(self, device: jax.Device) -> None:
        """Moves the value to ``device`` (gluon's ``reset_ctx``)."""
        self._device = _check_device(device)
        if self._data is not None:
            self._data = jax.device_put(self._data, self._device)

    def zero_grad(self) -> None:
        """A no-op kept for gluon code: gradients are return values here, never stored."""

    def grad(self) -> None:
        raise AttributeError(
            f"Parameter '{self.name}' stores no gradient: in JAX gradients are return values. "
            f"Use grads = jax.grad(lambda p: loss(net.apply(p, X), y).sum())(net.params), then "
            f"trainer.step(grads, batch_size)."
        )


# --------------------------------------------------------------------------------------------
# Trees


def flatten_tree(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yields ``(path, leaf)`` for a nested dict, paths as tuples of keys."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from flatten_tree(v, (*path, str(k)))
    else:
        yield path, tree


def nest(items: Iterable[tuple[tuple[str, ...], Any]]) -> Params:
    """The inverse of :func:`flatten_tree`."""
    tree: Params = {}
    for path, value in items:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def path_str(path: tuple[str, ...]) -> str:
    return "/".join(path) or "<root>"


class ParameterDict(Mapping[str, Parameter]):
    """An ordered mapping from full names (``'dense0_weight'``) to :class:`Parameter` objects.

    Returned by :meth:`Block.collect_params`. Besides the mapping interface it initializes all
    its parameters at once and converts to and from the pytree that ``Block.apply`` takes.

    Args:
        entries: pairs ``(path, parameter)``, where ``path`` is the position of the parameter in
            the pytree, e.g. ``('dense0', 'weight')``; a parameter listed twice (shared) is kept
            once, at its first path.
        prefix: the name printed in the header (the owning block's name).

    Examples:
        >>> from dstraight import nn
        >>> nn.reset_name_counters()
        >>> net = nn.Dense(1)
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
            self._add(path, param)

    def _add(self, path: tuple[str, ...], param: Parameter) -> None:
        existing = self._params.get(param.name)
        if existing is param:
            return
        if existing is not None:
            raise ValueError(
                f"Two different parameters are named '{param.name}' (at "
                f"{path_str(self._paths[param.name])} and {path_str(path)}). Names identify "
                f"parameters when saving and loading: give one of the blocks another name, or "
                f"create the blocks inside the parent's name_scope()."
            )
        self._params[param.name] = param
        self._paths[param.name] = path

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

    def select(self, predicate: Callable[[Parameter], bool]) -> ParameterDict:
        """The parameters for which ``predicate(param)`` holds, with their paths."""
        return ParameterDict(
            ((self._paths[n], p) for n, p in self._params.items() if predicate(p)), self.prefix
        )

    def get(self, name: str, default: Any = None, **kwargs: Any) -> Any:
        """``self.params.get('weight', shape=...)`` as in gluon, or a plain mapping ``get``.

        With keyword arguments (``shape``, ``init``, ``dtype``, ...) this is gluon's way of
        declaring a parameter inside a block; see ``Block.params``.
        """
        if kwargs:
            raise TypeError(
                "ParameterDict.get(name, shape=...) declares parameters only on a block's own "
                "dict: use self.params.get(...) inside a Block's __init__."
            )
        return self._params.get(name, default)

    def setattr(self, name: str, value: Any) -> None:
        """Sets an attribute on every parameter, e.g. ``setattr('grad_req', 'null')`` to freeze."""
        for p in self._params.values():
            setattr(p, name, value)

    def initialize(
        self,
        init: InitializerLike | None = None,
        key: Any = 0,
        force_reinit: bool = False,
        device: jax.Device | None = None,
        ctx: Any = None,
    ) -> None:
        """Initializes every parameter (deferring those whose shape is not known yet).

        Args:
            init: initializer for parameters without their own (e.g. Dense weights, but not
                their biases, which have ``bias_initializer='zeros'``); default
                ``init.Uniform()``, as in gluon.
            key: ``jax.random`` key or integer seed; each parameter gets its own subkey.
            force_reinit: draw again parameters that were already initialized.
            device: where the parameters live; ``None`` is JAX's default device.
            ctx: MXNet's name for ``device``.

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(2, in_units=3)
            >>> net.collect_params().initialize("ones", key=0)
            >>> net.weight.data().tolist()
            [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
        """
        if ctx is not None:
            if device is not None:
                raise TypeError("Pass device= or MXNet's ctx=, not both.")
            device = ctx[0] if isinstance(ctx, list | tuple) and len(ctx) == 1 else ctx
        default = _init.create(init if init is not None else _init.Uniform())
        key = _init.as_key(key)
        device = _check_device(device)
        skipped = []
        for i, param in enumerate(self._params.values()):
            if param.is_initialized and not force_reinit:
                skipped.append(param.name)
                continue
            chosen = param.init if param.init is not None else default
            # fold_in, unlike split(key, n), does not depend on how many parameters there are
            # (adding a layer leaves the others' values alone)
            param.start_init(chosen, jax.random.fold_in(key, i), device)
        if skipped:
            warnings.warn(
                f"Parameters {skipped} are already initialized; ignoring them. Pass "
                f"force_reinit=True to draw new values.",
                stacklevel=2,
            )

    def reset_device(self, device: jax.Device) -> None:
        """Moves every value to ``device`` (gluon's ``reset_ctx``)."""
        for p in self._params.values():
            p.reset_device(device)

    reset_ctx = reset_device

    def zero_grad(self) -> None:
        """A no-op kept for gluon code: gradients are return values here, never stored."""

    def tree(self) -> Params:
        """Returns the values as a nested dict, the pytree ``Block.apply`` takes.

        Raises:
            DeferredInitializationError: before the first forward pass fixed the shapes.

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(1, in_units=2)
            >>> net.initialize("zeros")
            >>> {name: value.shape for name, value in net.collect_params().tree().items()}
            {'weight': (2, 1), 'bias': (1,)}
        """
        return nest((self._paths[name], p.stored()) for name, p in self._params.items())

    def set_tree(self, tree: Mapping[str, Any]) -> None:
        """Writes the values of a pytree shaped like :meth:`tree` back into the parameters.

        Nothing is written unless the whole tree matches.

        Raises:
            ValueError: if the tree has missing or extra entries or a shape differs.
        """
        flat = dict(flatten_tree(tree))
        expected = {path: name for name, path in self._paths.items()}
        missing = [path_str(p) for p in expected if p not in flat]
        extra = [path_str(p) for p in flat if p not in expected]
        if missing or extra:
            raise ValueError(
                f"set_tree got a tree whose entries do not match the parameters: missing "
                f"{missing}, unexpected {extra}. Pass a tree shaped like net.params."
            )
        for path, name in expected.items():
            shape = jnp.shape(flat[path])
            if not compatible(self._params[name].shape, shape):
                raise ValueError(
                    f"set_tree: parameter '{name}' has shape "
                    f"{format_shape(self._params[name].shape)} but the tree holds shape "
                    f"{tuple(shape)} at {path_str(path)}."
                )
        for path, name in expected.items():
            self._params[name].set_data(flat[path])

    # -- gluon's file methods, for a ParameterDict on its own ----------------------------------

    def save(self, filename: str, strip_prefix: str = "") -> None:
        """Saves the values by name to an ``.npz`` file (see ``Block.save_parameters``)."""
        from .checkpoint import save_arrays

        arrays = {}
        for name, p in self._params.items():
            if strip_prefix and not name.startswith(strip_prefix):
                raise ValueError(
                    f"Parameter '{name}' does not start with strip_prefix={strip_prefix!r}."
                )
            arrays[name[len(strip_prefix):]] = np.asarray(p.stored())
        save_arrays(filename, arrays)

    def load(self, filename: str, allow_missing: bool = False, ignore_extra: bool = False,
             restore_prefix: str = "") -> None:
        """Loads values saved by :meth:`save`; mismatched names or shapes raise ``ValueError``."""
        from .checkpoint import load_arrays, match_arrays

        arrays = {restore_prefix + k: v for k, v in load_arrays(filename).items()}
        match_arrays(self, arrays, filename, allow_missing, ignore_extra)


def match(select: str | None, names: Iterable[str]) -> list[str]:
    """The names that ``re.match`` the regular expression ``select`` (all if None)."""
    if select is None:
        return list(names)
    pattern = re.compile(select)
    return [n for n in names if pattern.match(n)]
