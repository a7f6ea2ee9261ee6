"""Parameters: named arrays whose shape may be known only after the first forward pass.

A :class:`Parameter` is the single place a value lives. Blocks read it with ``param.data()``; the
pure core (``Block.apply``) reads the same call, because while ``apply`` runs a
:class:`~dstraight.binding.Binding` maps every parameter to the value (possibly a ``jax.jit``
tracer) passed in. Moving between the objects and a pytree is one flatten/unflatten
(:meth:`~dstraight.parameter_dict.ParameterDict.tree` and ``set_tree``).

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

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from . import init as _init
from ._parameter_settings import (
    GRAD_REQS,
    Multiplier,
    Shape,
    check_device,
    compatible,
    format_shape,
    normalize_shape,
    placed_on,
)
from .binding import current_binding, structure_changed
from .device import put
from .init import InitializerLike

__all__ = ["DeferredInitializationError", "Parameter", "check_device", "compatible",
           "format_shape"]

_ArrayImpl = type(jnp.zeros(()))

#: A parameter pytree: nested dicts whose leaves are arrays.
Params = dict[str, Any]


class DeferredInitializationError(ValueError):
    """A parameter's value was requested before its shape was known.

    Layers such as ``Dense(10)`` learn their input size from the first batch they see, so their
    weights exist only after the first forward pass ``net(x)``.
    """


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
        lr_mult: this parameter's learning rate is the trainer's times ``lr_mult`` (MXNet's
            rule; 0 freezes it). Honoured by :class:`~dstraight.Trainer` on every path.
        wd_mult: its weight decay is the optimizer's ``wd`` times ``wd_mult`` (e.g. 0 for no
            decay on biases). Honoured by :class:`~dstraight.Trainer` on every path.

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
        self._shape = normalize_shape(shape)
        self.dtype = jnp.dtype(dtype)
        self.init = None if init is None else _init.create(init)
        self.kind = kind
        self.grad_req = "null" if kind == "state" else grad_req
        self.lr_mult, self.wd_mult = lr_mult, wd_mult  # validated by the setters
        self._data: jax.Array | None = None
        # (initializer, key) recorded by initialize() while the shape is still unknown
        self._pending: tuple[Callable[..., jax.Array], jax.Array] | None = None
        self._device: jax.Device | None = None

    lr_mult = Multiplier("The multiplier of the learning rate for this parameter.")
    wd_mult = Multiplier("The multiplier of the weight decay for this parameter.")

    @property
    def grad_req(self) -> str:
        """``'write'`` if trainers update this parameter, ``'null'`` if it is frozen."""
        return self._grad_req

    @grad_req.setter
    def grad_req(self, value: str) -> None:
        if value not in GRAD_REQS:
            raise ValueError(
                f"Parameter '{self.name}': grad_req must be one of {GRAD_REQS}, got {value!r}."
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
        self.start_init(_init.create(init), _init.as_key(key), check_device(device))

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
            value = put(value, self._device)
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
            return jax.device_put(value, check_device(device))
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
                and data.dtype == self.dtype
                and (self._device is None or (self._data is not None
                                              and data.sharding == self._data.sharding))):
            # the trainers' write-back of fresh device arrays, every step: nothing to check (the
            # current value is where the parameter's device puts values, so an equal sharding is)
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
            and (self._device is None or placed_on(data, self._device))
        )
        value = data if already_placed else jnp.asarray(data, self.dtype)
        if not compatible(self._shape, value.shape):
            raise ValueError(
                f"Parameter '{self.name}' has shape {format_shape(self._shape)} but set_data got "
                f"an array of shape {value.shape}."
            )
        if self._device is not None and not already_placed:
            value = put(value, self._device)
        if value.shape != self._shape:
            self._shape = value.shape
            structure_changed()
        self._data, self._pending = value, None

    def reset_device(self, device: jax.Device) -> None:
        """Moves the value to ``device`` (gluon's ``reset_ctx``)."""
        self._device = check_device(device)
        if self._data is not None:
            self._data = put(self._data, self._device)

    def zero_grad(self) -> None:
        """A no-op kept for gluon code: gradients are return values here, never stored."""

    def grad(self) -> None:
        raise AttributeError(
            f"Parameter '{self.name}' stores no gradient: in JAX gradients are return values. "
            f"Use grads = jax.grad(lambda p: loss(net.apply(p, X), y).sum())(net.params), then "
            f"trainer.step(grads, batch_size)."
        )
