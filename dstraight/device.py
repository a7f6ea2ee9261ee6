"""Devices by gluon's names: ``cpu()``, ``gpu(i)``, ``try_gpu()`` and ``num_gpus()``, and
``data_parallel()``, a mesh of several devices.

The first four return ``jax.Device`` objects, which is what ``jax.device_put``,
``Block.initialize(device=...)`` and ``DataLoader(device=...)`` accept. ``data_parallel()``
returns a ``jax.sharding.Mesh``, which the same ``device=`` arguments accept too: parameters are
then replicated on every device of the mesh and each batch is split along its first axis.
Nothing here changes JAX's default device.

Examples:
    >>> from dstraight import cpu, try_gpu
    >>> cpu().platform
    'cpu'
    >>> try_gpu().platform in ("cpu", "gpu")
    True
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

__all__ = ["cpu", "gpu", "try_gpu", "num_gpus", "data_parallel"]


def _index(i: object) -> int:
    try:
        i = operator.index(i)
    except TypeError:
        raise TypeError(f"The device index must be an int, got {i!r}.") from None
    if i < 0:
        raise ValueError(f"The device index must be >= 0, got {i}.")
    return i


def _available() -> str:
    # jax.devices() lists only the default backend's devices; name the CPU as well
    devices = list(jax.devices())
    devices += [d for d in _devices("cpu") if d not in devices]
    return ", ".join(f"{d.platform}:{d.id}" for d in devices) or "none"


def _devices(platform: str) -> list[jax.Device]:
    # jax.devices raises RuntimeError when no backend of that platform is present (e.g. a CPU-only
    # jaxlib, or JAX_PLATFORMS=cpu); for our purposes that simply means "no such device".
    try:
        return list(jax.devices(platform))
    except RuntimeError:
        return []


def num_gpus() -> int:
    """Returns the number of GPUs JAX can use (0 on a CPU-only installation).

    Examples:
        >>> num_gpus() >= 0
        True
    """
    return len(_devices("gpu"))


def cpu(i: int = 0) -> jax.Device:
    """Returns the ``i``-th CPU device.

    Args:
        i: index among the CPU devices (JAX normally exposes one).

    Raises:
        ValueError: if there is no such CPU device.

    Examples:
        >>> cpu()
        CpuDevice(id=0)
    """
    i = _index(i)
    devices = _devices("cpu")
    if i >= len(devices):
        raise ValueError(
            f"cpu({i}) requested but JAX has {len(devices)} CPU device(s). Available devices: "
            f"{_available()}. (JAX_PLATFORMS, if set, must include 'cpu' for the CPU to be usable.)"
        )
    return devices[i]


def gpu(i: int = 0) -> jax.Device:
    """Returns the ``i``-th GPU device.

    Args:
        i: index among the GPUs.

    Raises:
        ValueError: if JAX sees fewer than ``i + 1`` GPUs; the message lists the devices that are
            available. Use :func:`try_gpu` to fall back to the CPU instead.

    Examples:
        >>> device = gpu(0) if num_gpus() > 0 else cpu()
        >>> device.platform in ("gpu", "cpu")
        True
    """
    i = _index(i)
    devices = _devices("gpu")
    if i >= len(devices):
        if devices:
            hint = f"valid indices are 0 to {len(devices) - 1}"
        else:
            hint = "install a CUDA-enabled jax (pip install 'jax[cuda12]') on a machine with a GPU"
        raise ValueError(
            f"gpu({i}) requested but JAX sees {len(devices)} GPU(s). Available devices: "
            f"{_available()}. Either {hint}, or use try_gpu() to fall back to the CPU."
        )
    return devices[i]


def try_gpu(i: int = 0) -> jax.Device:
    """Returns ``gpu(i)`` if it exists, else ``cpu()``.

    Args:
        i: index among the GPUs.

    Examples:
        >>> try_gpu().platform in ("cpu", "gpu")
        True
    """
    i = _index(i)
    devices = _devices("gpu")
    return devices[i] if i < len(devices) else cpu()


def data_parallel(devices: Sequence[jax.Device] | None = None, axis: str = "data") -> Mesh:
    """A one-axis ``jax.sharding.Mesh`` for data-parallel training.

    Pass it as ``device=`` to ``net.initialize`` (the parameters are replicated on every device)
    and to ``DataLoader``/``NDArrayIter`` (every batch is split along its first axis, one equal
    part per device). Compiled steps then run on all devices at once, and XLA inserts the
    all-reduce that sums the gradients.

    Args:
        devices: the devices, in order; None means all of them (``jax.devices()``, which in a
            multi-process run spans every process).
        axis: the name of the mesh axis.

    Raises:
        ValueError: if ``devices`` is empty or names a device twice.

    Examples:
        >>> mesh = data_parallel()
        >>> mesh.axis_names, mesh.size == len(jax.devices())
        (('data',), True)
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("data_parallel needs at least one device, got an empty list.")
    for d in devices:
        if not isinstance(d, jax.Device):
            raise TypeError(f"data_parallel: expected jax.Device objects, got {d!r}.")
    if len(set(devices)) != len(devices):
        raise ValueError(f"data_parallel: a device appears twice in {devices}.")
    if not isinstance(axis, str) or not axis:
        raise TypeError(f"data_parallel: axis must be a non-empty string, got {axis!r}.")
    return Mesh(np.array(devices, dtype=object), (axis,))


def put(value: Any, device: Any) -> jax.Array:
    """``value`` placed on ``device`` (a device or a sharding, possibly spanning processes).

    A sharding with devices of other processes is filled from this process's copy of the value,
    which every process must hold alike (parameters drawn from the same key are).
    """
    if isinstance(device, jax.sharding.Sharding) and not device.is_fully_addressable:
        host = np.asarray(value)
        return jax.make_array_from_callback(host.shape, device, lambda index: host[index])
    return jax.device_put(value, device)
