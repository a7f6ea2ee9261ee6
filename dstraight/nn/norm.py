"""Layers that behave differently in training and in prediction: Dropout, BatchNorm, LayerNorm.

Training mode is explicit: ``net.apply(params, x, key=key, training=True)`` in the pure core, and
``with autograd.record():`` (or ``autograd.train_mode()``) around a call ``net(x)``. The trainers
train in training mode and evaluate in prediction mode by themselves.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import nn
    >>> drop = nn.Dropout(0.5)
    >>> drop.apply({}, jnp.ones(4)).tolist()                      # prediction: the identity
    [1.0, 1.0, 1.0, 1.0]
    >>> y = drop.apply({}, jnp.ones(1000), key=0, training=True)  # training: zeros or 2s
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from ..binding import current_binding
from ._checks import positive_number
from .block import HybridBlock

__all__ = ["BatchNorm", "Dropout", "LayerNorm", "SyncBatchNorm"]


def _training() -> bool:
    binding = current_binding()
    return binding is not None and binding.training


def _fraction(value: Any, what: str, high_ok: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}.") from None
    if not (0.0 <= value < 1.0 or (high_ok and value == 1.0)) or math.isnan(value):
        raise ValueError(f"{what} must be in [0, 1{']' if high_ok else ')'}, got {value}.")
    return value


class Dropout(HybridBlock):
    """Zeroes each input with probability ``rate`` in training mode and scales the rest.

    The kept values are divided by ``1 - rate`` so that the expected output equals the input;
    in prediction mode the layer is the identity.

    Args:
        rate: the probability of dropping an entry, in ``[0, 1)``.
        axes: axes along which the same mask is shared (e.g. ``(1, 2)`` drops whole channels of
            ``(N, H, W, C)`` images).
    """

    def __init__(self, rate: float, axes: tuple[int, ...] = (), **kwargs: Any):
        # checked before the block takes a name, so a failed call does not use up 'dropout0'
        rate = _fraction(rate, "Dropout(rate=...)")
        super().__init__(**kwargs)
        self.rate = rate
        self.axes = tuple(int(a) for a in axes)

    def __repr__(self) -> str:
        axes = f", axes={self.axes}" if self.axes else ""
        return f"Dropout(p = {self.rate}{axes})"

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if not _training() or self.rate == 0.0:
            return x
        key = current_binding().next_key(f"{self.name} (Dropout)")
        shape = list(x.shape)
        for a in self.axes:
            shape[a] = 1
        keep = jax.random.bernoulli(key, 1.0 - self.rate, tuple(shape))
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros((), x.dtype))


class BatchNorm(HybridBlock):
    """Normalises each channel by batch statistics in training, by running ones in prediction.

    In training mode the output is ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with the
    mean and (biased) variance of the batch over every axis but ``axis``, and the running
    statistics move towards them: ``running = momentum * running + (1 - momentum) * batch``. In
    prediction mode the running statistics are used. The running statistics are *state*
    (``net.state``), not trained parameters.

    Args:
        axis: the channel axis. The default ``-1`` fits ``dstraight``'s ``(N, H, W, C)`` images and
            ``(N, features)`` batches; MXNet's default is ``1`` (``NCHW``).
        momentum: how much of the old running statistics to keep at each training step.
        epsilon: added to the variance.
        center: learn the offset ``beta``.
        scale: learn the factor ``gamma``.
        use_global_stats: normalise by the running statistics in training too.
        in_channels: number of channels, or 0 to infer it.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.9, epsilon: float = 1e-5,
                 center: bool = True, scale: bool = True, use_global_stats: bool = False,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 running_mean_initializer: Any = "zeros",
                 running_variance_initializer: Any = "ones", in_channels: int = 0,
                 **kwargs: Any):
        momentum = _fraction(momentum, "BatchNorm(momentum=...)", high_ok=True)
        epsilon = positive_number(epsilon, "BatchNorm(epsilon=...)")
        super().__init__(**kwargs)
        self.axis = int(axis)
        self.momentum = momentum
        self.epsilon = epsilon
        self.center, self.scale = bool(center), bool(scale)
        self.use_global_stats = bool(use_global_stats)
        shape = (in_channels,)
        self.gamma = self.params.get("gamma", shape=shape, init=gamma_initializer,
                                     grad_req="write" if scale else "null")
        self.beta = self.params.get("beta", shape=shape, init=beta_initializer,
                                    grad_req="write" if center else "null")
        self.running_mean = self.params.get("running_mean", shape=shape, kind="state",
                                            init=running_mean_initializer)
        self.running_var = self.params.get("running_var", shape=shape, kind="state",
                                           init=running_variance_initializer)

    def __repr__(self) -> str:
        channels = self.gamma.shape[0]
        return (f"BatchNorm(axis={self.axis}, eps={self.epsilon}, momentum={self.momentum}, "
                f"in_channels={channels if channels is not None else '?'})")

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 2 or not -x.ndim <= self.axis < x.ndim:
            raise ValueError(
                f"{self.name}: BatchNorm(axis={self.axis}) needs an input with that axis and a "
                f"batch axis, got shape {tuple(x.shape)}."
            )
        axis = self.axis % x.ndim
        channels = x.shape[axis]
        gamma = self.gamma.resolve((channels,))
        beta = self.beta.resolve((channels,))
        running_mean = self.running_mean.resolve((channels,))
        running_var = self.running_var.resolve((channels,))
        reduce = tuple(a for a in range(x.ndim) if a != axis)
        shape = [1] * x.ndim
        shape[axis] = channels
        if _training() and not self.use_global_stats:
            mean = jnp.mean(x, axis=reduce)
            var = jnp.mean(jnp.square(x - mean.reshape(shape)), axis=reduce)
            m = self.momentum
            # the statistics carry no gradient: they are bookkeeping, not part of the loss
            self.running_mean.set_data(
                m * running_mean + (1 - m) * jax.lax.stop_gradient(mean))
            self.running_var.set_data(m * running_var + (1 - m) * jax.lax.stop_gradient(var))
        else:
            mean, var = running_mean, running_var
        if not self.scale:
            gamma = jax.lax.stop_gradient(gamma)
        if not self.center:
            beta = jax.lax.stop_gradient(beta)
        inv = gamma * jax.lax.rsqrt(var + self.epsilon)
        return (x - mean.reshape(shape)) * inv.reshape(shape) + beta.reshape(shape)


class LayerNorm(HybridBlock):
    """Normalises each example over ``axis`` (the last by default), then scales and shifts."""

    def __init__(self, axis: int = -1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", in_channels: int = 0, **kwargs: Any):
        epsilon = positive_number(epsilon, "LayerNorm(epsilon=...)")
        super().__init__(**kwargs)
        self.axis, self.epsilon = int(axis), epsilon
        self.gamma = self.params.get("gamma", shape=(in_channels,), init=gamma_initializer,
                                     grad_req="write" if scale else "null")
        self.beta = self.params.get("beta", shape=(in_channels,), init=beta_initializer,
                                    grad_req="write" if center else "null")

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        axis = self.axis % x.ndim
        channels = x.shape[axis]
        gamma, beta = self.gamma.resolve((channels,)), self.beta.resolve((channels,))
        mean = jnp.mean(x, axis=axis, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axis, keepdims=True)
        shape = [1] * x.ndim
        shape[axis] = channels
        y = (x - mean) * jax.lax.rsqrt(var + self.epsilon)
        return y * gamma.reshape(shape) + beta.reshape(shape)


class SyncBatchNorm(BatchNorm):
    """MXNet's cross-device BatchNorm; here it is :class:`BatchNorm`, which is synchronised.

    MXNet runs one copy of the network per GPU, so its ``BatchNorm`` sees only that GPU's slice
    of the batch, and ``SyncBatchNorm`` exchanges the statistics between the copies. In
    ``dstraight`` a network over several devices (``initialize(device=dstraight.data_parallel())``)
    is one program over the whole batch, split across the devices: the mean and variance of
    :class:`BatchNorm` are already those of the global batch, and XLA inserts the reductions
    across devices. So this class adds only MXNet's signature (``in_channels`` first); the
    arguments not listed below (``momentum``, ``epsilon``, ``center``, ``scale``,
    ``use_global_stats``, the four initializers) are those of :class:`BatchNorm`.

    Args:
        in_channels: number of channels, or 0 to infer it.
        num_devices: MXNet's number of copies that share statistics; accepted and ignored (the
            mesh defines the devices).
        key: MXNet's name tying the copies' statistics together (it defaults to the layer's
            prefix there); accepted and ignored. It is not a random key.
        axis: the channel axis, ``-1`` by default as in :class:`BatchNorm` (MXNet fixes ``1``).
    """

    def __init__(self, in_channels: int = 0, num_devices: int | None = None,
                 momentum: float = 0.9, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, use_global_stats: bool = False,
                 beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 running_mean_initializer: Any = "zeros",
                 running_variance_initializer: Any = "ones", key: Any = None, axis: int = -1,
                 **kwargs: Any):
        del num_devices, key  # see the docstring: nothing to synchronise by hand
        super().__init__(axis=axis, momentum=momentum, epsilon=epsilon, center=center,
                         scale=scale, use_global_stats=use_global_stats,
                         beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                         running_mean_initializer=running_mean_initializer,
                         running_variance_initializer=running_variance_initializer,
                         in_channels=in_channels, **kwargs)

    def __repr__(self) -> str:
        return f"Sync{super().__repr__()}"
