"""Normalisation within each example: InstanceNorm (per channel) and GroupNorm (per group).

Unlike BatchNorm they use no batch statistics, so they behave the same in training and in
prediction and keep no running state. The channel axis is the last by default (``axis=-1``),
which fits ``dstraight``'s ``(N, H, W, C)`` images; MXNet's ``NCHW`` layers use ``axis=1``.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import nn
    >>> x = jnp.arange(24.0).reshape(2, 3, 4)          # (N, W, C) with C = 4
    >>> norm = nn.GroupNorm(num_groups=2)
    >>> norm.initialize()
    >>> y = norm(x)
    >>> y.shape, norm.params["gamma"].shape          # MXNet 1.x: one gamma per group
    ((2, 3, 4), (2,))
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ._checks import positive_int, positive_number
from .block import HybridBlock

__all__ = ["GroupNorm", "InstanceNorm"]


def _channel_axis(layer: Any, x: jax.Array, min_ndim: int, layout: str) -> int:
    """The channel axis of ``x`` as a non-negative int, or a ValueError naming the layer."""
    if x.ndim < min_ndim or not -x.ndim <= layer.axis < x.ndim or layer.axis % x.ndim == 0:
        raise ValueError(
            f"{layer.name}: {type(layer).__name__}(axis={layer.axis}) needs an input of at least "
            f"{min_ndim} axes, {layout}, with the channel axis not the batch axis 0; got shape "
            f"{tuple(x.shape)}. A single example needs a leading batch axis (x[None]).")
    return layer.axis % x.ndim


def _normalise(x: jax.Array, reduce: tuple[int, ...], epsilon: float) -> jax.Array:
    mean = jnp.mean(x, axis=reduce, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=reduce, keepdims=True)  # biased, as in MXNet
    return (x - mean) * jax.lax.rsqrt(var + epsilon)


class _Affine(HybridBlock):
    """Declares ``gamma`` and ``beta``; a disabled one keeps its initial value, untrained."""

    def _declare_affine(self, shape: tuple[int, ...], center: bool, scale: bool,
                        beta_initializer: Any, gamma_initializer: Any) -> None:
        self.center, self.scale = bool(center), bool(scale)
        self.gamma = self.params.get("gamma", shape=shape, init=gamma_initializer,
                                     grad_req="write" if scale else "null")
        self.beta = self.params.get("beta", shape=shape, init=beta_initializer,
                                    grad_req="write" if center else "null")

    def _affine(self, gamma: jax.Array, beta: jax.Array) -> tuple[jax.Array, jax.Array]:
        # as in MXNet, a disabled gamma (beta) still multiplies (adds) but is never trained
        if not self.scale:
            gamma = jax.lax.stop_gradient(gamma)
        if not self.center:
            beta = jax.lax.stop_gradient(beta)
        return gamma, beta


class InstanceNorm(_Affine):
    """Normalises each example and channel over the remaining (spatial) axes.

    For an input ``(N, H, W, C)`` and ``axis=-1`` the mean and (biased) variance are taken over
    ``H`` and ``W`` separately for every example and channel; the output is
    ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` with one ``gamma`` and ``beta`` per
    channel. (MXNet's docstring writes ``sqrt(var) + epsilon``; its operator adds ``epsilon``
    inside the root, as here.)

    Args:
        axis: the channel axis, excluded from the statistics together with the batch axis 0.
            Default ``-1`` (``NHWC``); MXNet's default is ``1`` (``NCHW``).
        epsilon: added to the variance.
        center: learn the offset ``beta``.
        scale: learn the factor ``gamma`` (off by default, as in MXNet). A disabled parameter
            keeps its initial value (zeros for ``beta``, ones for ``gamma``) and gets no updates.
        beta_initializer, gamma_initializer: initializers of ``beta`` and ``gamma``.
        in_channels: number of channels, or 0 to infer it at the first call.
        prefix, params, name: see :class:`Block`.

    Examples:
        >>> import jax.numpy as jnp
        >>> norm = InstanceNorm(axis=1)     # MXNet's own example, NCW with C = 1
        >>> norm.initialize()
        >>> norm(jnp.array([[[1.1, 2.2]], [[3.3, 4.4]]])).round(4).tolist()
        [[[-1.0, 1.0]], [[-1.0, 1.0]]]
    """

    def __init__(self, axis: int = -1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = False, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", in_channels: int = 0, **kwargs: Any):
        epsilon = positive_number(epsilon, "InstanceNorm(epsilon=...)")
        positive_int(in_channels, "InstanceNorm(in_channels=...)", allow_zero=True)
        super().__init__(**kwargs)
        self.axis, self.epsilon = int(axis), epsilon
        self._declare_affine((in_channels,), center, scale, beta_initializer, gamma_initializer)

    def __repr__(self) -> str:
        channels = self.gamma.shape[0]
        return (f"InstanceNorm(axis={self.axis}, eps={self.epsilon}, center={self.center}, "
                f"scale={self.scale}, in_channels={channels if channels is not None else '?'})")

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        axis = _channel_axis(self, x, 3, "(batch, ..., channels)")
        channels = x.shape[axis]
        gamma, beta = self._affine(self.gamma.resolve((channels,)),
                                   self.beta.resolve((channels,)))
        y = _normalise(x, tuple(a for a in range(1, x.ndim) if a != axis), self.epsilon)
        shape = [1] * x.ndim
        shape[axis] = channels
        return y * gamma.reshape(shape) + beta.reshape(shape)


class GroupNorm(_Affine):
    """Splits the channels into ``num_groups`` groups and normalises each group of each example.

    The ``C`` channels are cut into ``num_groups`` consecutive groups of ``C // num_groups``;
    the mean and (biased) variance are taken over a group's channels and every non-batch axis,
    and the output is ``gamma * (x - mean) / sqrt(var + epsilon) + beta``.
    ``num_groups=1`` normalises each example as a whole; ``num_groups=C`` is
    :class:`InstanceNorm`.

    ``gamma`` and ``beta`` have shape ``(num_groups,)``, one value per *group*, because that is
    what MXNet 1.x's ``GroupNorm`` declares and its operator broadcasts (so parameters saved by
    an MXNet 1.x model fit). PyTorch's ``GroupNorm``, the paper, and MXNet 2.0 (after
    apache/mxnet#18199) use one per *channel* instead; with ``num_groups=C`` the two agree.
    Since no parameter depends on ``C``, one layer accepts any channel count that
    ``num_groups`` divides.

    Args:
        num_groups: the number of groups; it must divide the number of channels.
        epsilon: added to the variance.
        center: learn the offset ``beta``.
        scale: learn the factor ``gamma``. A disabled parameter keeps its initial value
            (zeros for ``beta``, ones for ``gamma``) and gets no updates.
        beta_initializer, gamma_initializer: initializers of ``beta`` and ``gamma``.
        axis: the channel axis (not in MXNet 1.x, whose layer assumes ``NCHW``, i.e. 1).
            Default ``-1`` (``NHWC``).
        prefix, params, name: see :class:`Block`.

    Examples:
        >>> import jax.numpy as jnp
        >>> norm = GroupNorm(axis=1)       # MXNet's own example: (N, C, W) = (2, 3, 4)
        >>> norm.initialize()
        >>> [round(v, 4) for v in norm(jnp.arange(24.0).reshape(2, 3, 4))[0, 0].tolist()]
        [-1.5933, -1.3036, -1.0139, -0.7242]
        >>> pairs = GroupNorm(num_groups=2)
        >>> pairs.initialize()
        >>> pairs(jnp.ones((2, 3, 5)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: groupnorm...: GroupNorm(num_groups=2) splits the channel axis 2 into ...
    """

    def __init__(self, num_groups: int = 1, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", axis: int = -1, **kwargs: Any):
        positive_int(num_groups, "GroupNorm(num_groups=...)")
        epsilon = positive_number(epsilon, "GroupNorm(epsilon=...)")
        super().__init__(**kwargs)
        self.num_groups, self.axis, self.epsilon = num_groups, int(axis), epsilon
        self._declare_affine((num_groups,), center, scale, beta_initializer, gamma_initializer)

    def __repr__(self) -> str:
        return (f"GroupNorm(num_groups={self.num_groups}, axis={self.axis}, eps={self.epsilon}, "
                f"center={self.center}, scale={self.scale})")

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        axis = _channel_axis(self, x, 2, "(batch, ..., channels)")
        channels, groups = x.shape[axis], self.num_groups
        if channels % groups:
            raise ValueError(
                f"{self.name}: GroupNorm(num_groups={groups}) splits the channel axis {axis} "
                f"into equal groups, but the input of shape {tuple(x.shape)} has {channels} "
                f"channels there, which {groups} does not divide. Choose num_groups among the "
                f"divisors of {channels}, or check axis=... (channels last is -1).")
        gamma, beta = self._affine(self.gamma.resolve((groups,)), self.beta.resolve((groups,)))
        grouped = x.reshape(*x.shape[:axis], groups, channels // groups, *x.shape[axis + 1:])
        y = _normalise(grouped, tuple(a for a in range(1, grouped.ndim) if a != axis),
                       self.epsilon)
        shape = [1] * grouped.ndim
        shape[axis] = groups
        y = y * gamma.reshape(shape) + beta.reshape(shape)
        return y.reshape(x.shape)
