"""Convolution and pooling layers with gluon's arguments, on :mod:`dstraight.ops`.

The default layout is ``'NHWC'``, the layout of ``dstraight``'s image tensors (Fashion-MNIST
batches are ``(N, 28, 28, 1)``), with weights ``(KH, KW, C_in, C_out)``. ``layout='NCHW'`` takes
MXNet's layout and weights ``(C_out, C_in, KH, KW)``, for code ported from MXNet. The array
functions choose the fastest correct lowering for the platform (see :mod:`dstraight.ops`).

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import nn
    >>> conv = nn.Conv2D(channels=6, kernel_size=5, padding=2)
    >>> conv.initialize()
    >>> conv(jnp.zeros((2, 28, 28, 1))).shape
    (2, 28, 28, 6)
    >>> nn.MaxPool2D(pool_size=2)(jnp.zeros((2, 28, 28, 6))).shape
    (2, 14, 14, 6)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import ops
from .activations import activation_function
from .block import HybridBlock

__all__ = [
    "AvgPool2D",
    "Conv2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "MaxPool2D",
]

_LAYOUTS = ("NHWC", "NCHW")


def _pair(value: Any, what: str, minimum: int) -> tuple[int, int]:
    items = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        a, b = items
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}.") from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError(f"{what} must be an int >= {minimum} or a pair of them, got "
                             f"{value!r}.")
    return a, b


def _layout(layout: str, owner: str) -> str:
    if layout not in _LAYOUTS:
        raise ValueError(f"{owner}(layout=...) must be 'NHWC' (dstraight's images) or 'NCHW' "
                         f"(MXNet's), got {layout!r}.")
    return layout


def _check_input(x: jax.Array, name: str, layout: str) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{name}: expected a batch of images of shape {layout_shape(layout)}, got shape "
            f"{tuple(x.shape)}. A single image needs a batch axis (x[None]); a grayscale batch "
            f"(N, H, W) needs a channel axis, e.g. x[..., None] for NHWC."
        )


def layout_shape(layout: str) -> str:
    return "(N, H, W, C)" if layout == "NHWC" else "(N, C, H, W)"


class Conv2D(HybridBlock):
    """A 2-D convolution: ``activation(conv(x, weight) + bias)``.

    Args:
        channels: number of output channels.
        kernel_size: an int or ``(kh, kw)``.
        strides: an int or a pair.
        padding: zero padding on each side, an int or a pair.
        dilation: an int or a pair.
        groups: split the channels into this many independent groups.
        layout: ``'NHWC'`` (default) or ``'NCHW'``.
        activation: ``None`` or an activation name or function, as in ``Dense``.
        use_bias: whether to add a bias.
        weight_initializer, bias_initializer: as in ``Dense``.
        in_channels: input channels, or 0 to infer them at the first call.
    """

    def __init__(self, channels: int, kernel_size: Any, strides: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, layout: str = "NHWC",
                 activation: Any = None, use_bias: bool = True, weight_initializer: Any = None,
                 bias_initializer: Any = "zeros", in_channels: int = 0, **kwargs: Any):
        if isinstance(channels, bool) or not isinstance(channels, int) or channels <= 0:
            raise ValueError(f"Conv2D(channels=...) must be a positive int, got {channels!r}.")
        # every argument is checked before the block takes a name ('conv2d0'), so a failed
        # call leaves the numbering of the following layers alone
        sizes = (_pair(kernel_size, "Conv2D(kernel_size=...)", 1),
                 _pair(strides, "Conv2D(strides=...)", 1),
                 _pair(padding, "Conv2D(padding=...)", 0),
                 _pair(dilation, "Conv2D(dilation=...)", 1))
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or \
                channels % groups:
            raise ValueError(f"Conv2D(groups=...) must be a positive int dividing channels="
                             f"{channels}, got {groups!r}.")
        layout = _layout(layout, "Conv2D")
        act = None if activation is None else activation_function(activation)
        super().__init__(**kwargs)
        self.channels = channels
        self.kernel_size, self.strides, self.padding, self.dilation = sizes
        self.groups = groups
        self.layout = layout
        self.activation = activation
        self._act = act
        cin = in_channels // groups if in_channels else 0
        kh, kw = self.kernel_size
        shape = (kh, kw, cin, channels) if self.layout == "NHWC" else (channels, cin, kh, kw)
        self.weight = self.params.get("weight", shape=shape, init=weight_initializer)
        self.bias = (self.params.get("bias", shape=(channels,), init=bias_initializer)
                     if use_bias else None)

    def __repr__(self) -> str:
        shape = self.weight.shape
        cin = shape[2] if self.layout == "NHWC" else shape[1]
        cin = "?" if cin is None else cin * self.groups
        extra = "" if self.activation is None else f", Activation({self.activation})"
        return (f"Conv2D({cin} -> {self.channels}, kernel_size={self.kernel_size}, "
                f"stride={self.strides}, padding={self.padding}{extra})")

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        _check_input(x, self.name, self.layout)
        cin = x.shape[3] if self.layout == "NHWC" else x.shape[1]
        if cin % self.groups:
            raise ValueError(f"{self.name}: {cin} input channels cannot be split into "
                             f"groups={self.groups}.")
        kh, kw = self.kernel_size
        per_group = cin // self.groups
        shape = ((kh, kw, per_group, self.channels) if self.layout == "NHWC"
                 else (self.channels, per_group, kh, kw))
        known = self.weight.shape
        if None not in known and tuple(known) != shape:
            raise ValueError(
                f"{self.name}: Conv2D was built for {known[2 if self.layout == 'NHWC' else 1]} "
                f"input channels per group, got an input of shape {tuple(x.shape)} "
                f"({self.layout}) with {cin} channels."
            )
        w = self.weight.resolve(shape)
        b = None if self.bias is None else self.bias.data()
        y = ops.conv2d(x, w, b, strides=self.strides, padding=self.padding,
                       dilation=self.dilation, groups=self.groups, layout=self.layout)
        return y if self._act is None else self._act(y)


class _Pool(HybridBlock):
    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 layout: str = "NHWC", ceil_mode: bool = False, **kwargs: Any):
        owner = type(self).__name__
        size = _pair(pool_size, f"{owner}(pool_size=...)", 1)
        step = size if strides is None else _pair(strides, f"{owner}(strides=...)", 1)
        pad = _pair(padding, f"{owner}(padding=...)", 0)
        layout = _layout(layout, owner)
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = size, step, pad
        self.layout = layout
        self.ceil_mode = bool(ceil_mode)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.pool_size}, stride={self.strides}, "
                f"padding={self.padding}, ceil_mode={self.ceil_mode})")


class MaxPool2D(_Pool):
    """The maximum over each ``pool_size`` window (``strides`` default: the window size)."""

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        _check_input(x, self.name, self.layout)
        return ops.max_pool2d(x, self.pool_size, self.strides, self.padding,
                              layout=self.layout, ceil_mode=self.ceil_mode)


class AvgPool2D(_Pool):
    """The mean over each window; ``count_include_pad`` counts the zero padding (gluon)."""

    def __init__(self, pool_size: Any = 2, strides: Any = None, padding: Any = 0,
                 layout: str = "NHWC", ceil_mode: bool = False, count_include_pad: bool = True,
                 **kwargs: Any):
        super().__init__(pool_size, strides, padding, layout, ceil_mode, **kwargs)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        _check_input(x, self.name, self.layout)
        return ops.avg_pool2d(x, self.pool_size, self.strides, self.padding,
                              layout=self.layout, ceil_mode=self.ceil_mode,
                              count_include_pad=self.count_include_pad)


class GlobalAvgPool2D(HybridBlock):
    """The mean over all spatial positions; the output keeps 1x1 spatial axes (as gluon)."""

    def __init__(self, layout: str = "NHWC", **kwargs: Any):
        layout = _layout(layout, type(self).__name__)
        super().__init__(**kwargs)
        self.layout = layout

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        _check_input(x, self.name, self.layout)
        return ops.global_avg_pool2d(x, layout=self.layout)


class GlobalMaxPool2D(GlobalAvgPool2D):
    """The maximum over all spatial positions; the output keeps 1x1 spatial axes."""

    def forward(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        _check_input(x, self.name, self.layout)
        return ops.global_max_pool2d(x, layout=self.layout)
