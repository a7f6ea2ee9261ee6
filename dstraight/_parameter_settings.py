"""What a parameter's settings may be: shapes with unknown dimensions, devices, multipliers.

Shapes may hold ``None`` (gluon's ``0``) for dimensions the first forward pass infers; devices
are a ``jax.Device``, a sharding, or a mesh that replicates the value; ``lr_mult`` and
``wd_mult`` are numbers >= 0. Each is checked here when set, with a message that names the rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["GRAD_REQS", "Multiplier", "Shape", "check_device", "check_multiplier", "compatible",
           "format_shape", "normalize_shape", "placed_on"]

#: A shape whose dimensions may be unknown (``None``) until the first forward pass.
Shape = tuple[int | None, ...]
#: The accepted values of ``Parameter.grad_req``.
GRAD_REQS = ("write", "add", "null")


def format_shape(shape: Sequence[int | None]) -> str:
    """``(?, 2)`` for a shape with an unknown first dimension."""
    dims = ["?" if d is None else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


def normalize_shape(shape: Sequence[int | None]) -> Shape:
    """``shape`` as a tuple, unknown dimensions (``None`` or gluon's ``0``) as ``None``."""
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


def check_device(device: Any) -> jax.Device | jax.sharding.Sharding | None:
    """A device, or a mesh as the sharding that replicates a value on all its devices."""
    if device is None or isinstance(device, jax.Device | jax.sharding.Sharding):
        return device
    if isinstance(device, jax.sharding.Mesh):
        return jax.sharding.NamedSharding(device, jax.sharding.PartitionSpec())
    raise TypeError(
        f"device must be a jax.Device such as dstraight.cpu() or dstraight.gpu(0), a mesh "
        f"(dstraight.data_parallel()), or None for JAX's default device; got {device!r} of type "
        f"{type(device).__name__}."
    )


def placed_on(data: jax.Array, device: Any) -> bool:
    """Whether ``data`` already lives where ``device`` (a device or a sharding) puts values."""
    if isinstance(device, jax.Device):
        return data.devices() == {device}
    return data.sharding == device or data.sharding.is_equivalent_to(device, data.ndim)


def check_multiplier(value: Any, what: str, owner: str) -> float:
    """``value`` as a float if it is a finite number >= 0; else a ValueError naming ``owner``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer
                                             | np.floating):
        raise ValueError(f"Parameter '{owner}': {what} must be a number >= 0, got "
                         f"{value!r}.")
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(
            f"Parameter '{owner}': {what} must be finite and >= 0 (0 turns the "
            f"{'learning rate' if what == 'lr_mult' else 'weight decay'} off for it), "
            f"got {value!r}."
        )
    return value


class Multiplier:
    """``lr_mult`` / ``wd_mult``: a number >= 0, checked when set; trainers apply it."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.attr = name, "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        return self if obj is None else getattr(obj, self.attr)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(obj, self.attr, check_multiplier(value, self.name, obj.name))
