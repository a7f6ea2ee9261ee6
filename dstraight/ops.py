"""Convolution and pooling as pure array functions, each with a lowering chosen per platform.

These are the functions behind ``nn.Conv2D``, ``nn.MaxPool2D``, ``nn.AvgPool2D`` and the global
pools; they take gluon's arguments (``strides``, ``padding``, ``dilation``, ``groups``,
``ceil_mode``, ``count_include_pad``) and work on plain arrays, so they can be ``jax.jit``-ed and
``jax.grad``-ed directly.

Why more than one lowering: XLA's CPU convolution is slow for the small networks of the book
(LeNet's first layer, with one input channel, and the gradients of all its layers), while on a GPU
``lax.conv_general_dilated`` runs on cuDNN and is the fastest. ``impl="auto"`` therefore means
:data:`AUTO_CONV` / :data:`AUTO_POOL` of ``jax.default_backend()`` (``"xla"`` where a backend is
not listed). The candidates, all equal in value and gradient:

- ``"xla"``: ``lax.conv_general_dilated`` / ``lax.reduce_window``, differentiated by JAX.
- ``"patches"``: the shifted input windows concatenated along the channels, then one matrix
  product (im2col).
- ``"taps"``: one product per kernel tap, summed; with one input channel per group each product
  is an elementwise multiply, and XLA fuses the whole sum into one loop.
- ``"hybrid"``: the CPU choice. Its forward pass is ``"taps"`` when there is one input channel
  per group and ``"xla"`` otherwise; its backward pass (a ``jax.custom_vjp``) takes the input
  gradient and the weight gradient each from the lowering measured fastest for it (for a
  stride-1 convolution with several input channels and a small enough ``dy @ w^T``, the input
  gradient is col2im: that one product, its tap blocks added at their offsets). Being a
  custom VJP it supports reverse-mode autodiff (``grad``, ``vjp``) but not ``jvp``/``jacfwd``;
  use ``impl="xla"`` for forward mode.
- pooling ``"slices"``: the max (or sum) of the ``pool_size`` shifted, strided slices;
  ``"reshape"``: a reshape and a max/mean, only when ``strides == pool_size`` and no padding;
  its max sends the gradient to each window's first maximum (``dstraight/_pool_lowerings.py``
  says why).

``bench/conv_lowerings.py`` measures them; the numbers behind the defaults are in its docstring.

Examples:
    >>> import jax.numpy as jnp
    >>> x = jnp.ones((2, 8, 8, 3))                 # NHWC
    >>> w = jnp.ones((3, 3, 3, 4))                 # HWIO: 3x3 kernel, 3 -> 4 channels
    >>> conv2d(x, w, padding=1).shape
    (2, 8, 8, 4)
    >>> max_pool2d(conv2d(x, w), pool_size=2).shape
    (2, 3, 3, 4)
    >>> conv2d(x, w, impl="xla")[0, 0, 0, 0].item()  # 3*3*3 ones
    27.0
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._conv_lowerings import KERNEL_LAYOUT, NHWC_CONVS, Conv, conv_xla
from ._pool_lowerings import Tiles, tiles_max, tiles_sum

__all__ = [
    "AUTO_CONV",
    "AUTO_POOL",
    "CONV_IMPLS",
    "POOL_IMPLS",
    "avg_pool2d",
    "conv2d",
    "conv2d_output_shape",
    "global_avg_pool2d",
    "global_max_pool2d",
    "max_pool2d",
    "pool2d_output_shape",
    "resolve_impl",
]

CONV_IMPLS = ("xla", "patches", "taps", "hybrid")
POOL_IMPLS = ("xla", "slices", "reshape")
#: What ``impl="auto"`` means for ``conv2d`` per backend (others: ``"xla"``). Module state on
#: purpose, so that a reader can switch every layer at once: ``ops.AUTO_CONV["cpu"] = "xla"``.
AUTO_CONV: dict[str, str] = {"cpu": "hybrid"}
#: What ``impl="auto"`` means for the pools per backend (others: ``"xla"``). ``"reshape"`` stands
#: for ``"slices"`` where the windows do not tile the input (overlapping, padded, ``ceil_mode``).
AUTO_POOL: dict[str, str] = {"cpu": "reshape"}

IntOrPair = int | Sequence[int]
_LAYOUTS = {"NHWC": (1, 2, 3), "NCHW": (2, 3, 1)}  # layout -> (H axis, W axis, C axis)


def resolve_impl(impl: str = "auto", op: str = "conv", backend: str | None = None) -> str:
    """The lowering that ``impl`` stands for: ``"auto"`` becomes this backend's choice.

    Args:
        impl: ``"auto"`` or one of :data:`CONV_IMPLS` (``op="conv"``) / :data:`POOL_IMPLS`.
        op: ``"conv"`` or ``"pool"``.
        backend: ``"cpu"``, ``"gpu"``, ...; ``None`` for ``jax.default_backend()``.

    Examples:
        >>> resolve_impl("auto", backend="cpu"), resolve_impl("auto", backend="gpu")
        ('hybrid', 'xla')
        >>> resolve_impl("auto", op="pool", backend="cpu")  # "slices" where windows overlap
        'reshape'
    """
    table, choices = (AUTO_CONV, CONV_IMPLS) if op == "conv" else (AUTO_POOL, POOL_IMPLS)
    if op not in ("conv", "pool"):
        raise ValueError(f"op must be 'conv' or 'pool', got {op!r}.")
    if impl == "auto":
        impl = table.get(backend or jax.default_backend(), "xla")
    if impl not in choices:
        raise ValueError(f"impl must be 'auto' or one of {choices} for {op}, got {impl!r}.")
    return impl


def _pair(value: IntOrPair, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, int | np.integer):
        pair = (value, value)
    else:
        try:
            pair = tuple(value)
        except TypeError:
            pair = ()
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                                 for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}.")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in each dimension, got {value!r}.")
    return int(pair[0]), int(pair[1])


def _check_layout(layout: str) -> tuple[int, int, int]:
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be 'NHWC' or 'NCHW', got {layout!r}.")
    return _LAYOUTS[layout]


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv2d_output_shape(
    in_shape: Sequence[int | None], channels: int, kernel_size: IntOrPair,
    strides: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1,
    layout: str = "NHWC",
) -> tuple[int | None, ...]:
    """The shape of ``conv2d``'s output, from shapes alone (``None`` dimensions pass through).

    Examples:
        >>> conv2d_output_shape((None, 28, 28, 1), 6, 5, padding=2)
        (None, 28, 28, 6)
        >>> conv2d_output_shape((128, 1, 28, 28), 6, 5, strides=2, layout="NCHW")
        (128, 6, 12, 12)
    """
    h_ax, w_ax, c_ax = _check_layout(layout)
    if len(in_shape) != 4:
        raise ValueError(f"conv2d expects a 4-d input ({layout}), got shape {tuple(in_shape)}.")
    ks, st = _pair(kernel_size, "kernel_size", 1), _pair(strides, "strides", 1)
    pd, dl = _pair(padding, "padding", 0), _pair(dilation, "dilation", 1)
    out = list(in_shape)
    out[c_ax] = channels
    for i, ax in enumerate((h_ax, w_ax)):
        if in_shape[ax] is not None:
            out[ax] = _out_size(in_shape[ax], ks[i], st[i], pd[i], dl[i])
            if out[ax] < 1:
                raise ValueError(
                    f"conv2d: input of shape {tuple(in_shape)} ({layout}) is too small for "
                    f"kernel_size={ks}, dilation={dl} and padding={pd}: the output would have "
                    f"{out[ax]} rows or columns. Pad the input or use a smaller kernel.")
    return tuple(out)


def conv2d(
    x: jax.Array, weight: jax.Array, bias: jax.Array | None = None, *,
    strides: IntOrPair = 1, padding: IntOrPair = 0, dilation: IntOrPair = 1, groups: int = 1,
    layout: str = "NHWC", impl: str = "auto",
) -> jax.Array:
    """A 2-d convolution (cross-correlation, as in every deep-learning library), gluon's arguments.

    Args:
        x: the input, ``(N, H, W, C)`` for ``layout="NHWC"`` or ``(N, C, H, W)`` for ``"NCHW"``.
        weight: ``(KH, KW, C/groups, C_out)`` (HWIO) for NHWC, ``(C_out, C/groups, KH, KW)``
            (OIHW, MXNet's) for NCHW.
        bias: ``(C_out,)`` or ``None``.
        strides, padding, dilation: an int or an (H, W) pair each; ``padding`` is symmetric zero
            padding of each spatial dimension.
        groups: the input and output channels are split into this many groups, each convolved
            with its own slice of the weight (``groups == C`` is a depthwise convolution).
        layout: ``"NHWC"`` or ``"NCHW"``; the output has the same layout.
        impl: ``"auto"`` or one of :data:`CONV_IMPLS` (see the module docstring).

    Returns:
        The output, ``(N, H_out, W_out, C_out)`` or ``(N, C_out, H_out, W_out)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 1, 4, 4)          # NCHW
        >>> w = jnp.ones((1, 1, 2, 2))                        # OIHW: sum of 2x2 windows
        >>> conv2d(x, w, strides=2, layout="NCHW")[0, 0].tolist()
        [[10.0, 18.0], [42.0, 50.0]]
    """
    h_ax, w_ax, c_ax = _check_layout(layout)
    impl = resolve_impl(impl, "conv")
    for name, a in (("x", x), ("weight", weight)):
        if jnp.ndim(a) != 4:
            dims = "(N, H, W, C)" if name == "x" else KERNEL_LAYOUT[layout]
            raise ValueError(f"conv2d expects a 4-d {name} {dims} for layout={layout!r}, got "
                             f"shape {jnp.shape(a)}.")
    if not isinstance(groups, int | np.integer) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}.")
    kh, kw, cg, c_out = (weight.shape if layout == "NHWC"
                         else (weight.shape[2], weight.shape[3], *weight.shape[1::-1]))
    c_in = x.shape[c_ax]
    if c_in % groups or c_out % groups or cg * groups != c_in:
        raise ValueError(
            f"conv2d: x of shape {x.shape} ({layout}) has {c_in} channels, but weight of shape "
            f"{weight.shape} ({KERNEL_LAYOUT[layout]}) expects {cg} per group x groups={groups} = "
            f"{cg * groups} and {c_out} output channels divisible by groups. Check the layout "
            f"(NCHW data needs layout='NCHW') or the weight's in_channels.")
    if bias is not None and jnp.shape(bias) != (c_out,):
        raise ValueError(f"conv2d: bias must have shape ({c_out},) for weight of shape "
                         f"{weight.shape}, got {jnp.shape(bias)}.")
    cfg = Conv(_pair(strides, "strides", 1), _pair(padding, "padding", 0),
                _pair(dilation, "dilation", 1), int(groups))
    conv2d_output_shape(x.shape, c_out, (kh, kw), cfg.strides, cfg.padding, cfg.dilation, layout)
    if impl == "xla":
        y = conv_xla(x, weight, cfg, layout)
    elif layout == "NHWC":
        y = NHWC_CONVS[impl](x, weight, cfg)
    else:  # the other lowerings are written for NHWC, the layout XLA's CPU code prefers
        y = NHWC_CONVS[impl](x.transpose(0, 2, 3, 1), weight.transpose(2, 3, 1, 0), cfg)
        y = y.transpose(0, 3, 1, 2)
    if bias is not None:
        y = y + (bias if layout == "NHWC" else bias.reshape(-1, 1, 1))
    return y


def _pool_geometry(size: int, k: int, s: int, p: int, ceil_mode: bool) -> tuple[int, int]:
    """Output length and the extra high-side padding that ``ceil_mode`` windows reach into."""
    span = size + 2 * p - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:  # as PyTorch: no window starts in the padding
        out -= 1
    return out, max((out - 1) * s + k - (size + 2 * p), 0)


def _pool_setup(shape, pool_size, strides, padding, ceil_mode, layout, name):
    h_ax, w_ax, _ = _check_layout(layout)
    if len(shape) != 4:
        raise ValueError(f"{name} expects a 4-d input ({layout}), got shape {tuple(shape)}.")
    k = _pair(pool_size, "pool_size", 1)
    s = k if strides is None else _pair(strides, "strides", 1)
    p = _pair(padding, "padding", 0)
    if p[0] >= k[0] or p[1] >= k[1]:
        raise ValueError(f"{name}: padding={p} must be smaller than pool_size={k}, or some "
                         f"windows would hold padding only.")
    axes, outs, extras = (h_ax, w_ax), [], []
    for i, ax in enumerate(axes):
        if shape[ax] is not None and shape[ax] + 2 * p[i] < k[i]:
            raise ValueError(f"{name}: input of shape {tuple(shape)} ({layout}) is smaller than "
                             f"pool_size={k} even with padding={p}.")
        out, extra = (None, 0) if shape[ax] is None else _pool_geometry(
            shape[ax], k[i], s[i], p[i], ceil_mode)
        outs.append(out)
        extras.append(extra)
    return axes, k, s, p, outs, extras


def pool2d_output_shape(
    in_shape: Sequence[int | None], pool_size: IntOrPair = 2, strides: IntOrPair | None = None,
    padding: IntOrPair = 0, ceil_mode: bool = False, layout: str = "NHWC",
) -> tuple[int | None, ...]:
    """The shape of ``max_pool2d``'s or ``avg_pool2d``'s output (``None`` dimensions pass through).

    Examples:
        >>> pool2d_output_shape((None, 28, 28, 6), 2)
        (None, 14, 14, 6)
        >>> pool2d_output_shape((1, 3, 5, 5), 2, layout="NCHW", ceil_mode=True)
        (1, 3, 3, 3)
    """
    axes, *_, outs, _ = _pool_setup(in_shape, pool_size, strides, padding, ceil_mode, layout,
                                    "pool2d_output_shape")
    out = list(in_shape)
    for ax, o in zip(axes, outs, strict=True):
        out[ax] = o
    return tuple(out)


def _pool(x, reducer: str, pool_size, strides, padding, ceil_mode, layout, impl, name):
    axes, k, s, p, outs, extras = _pool_setup(jnp.shape(x), pool_size, strides, padding,
                                              ceil_mode, layout, name)
    auto, impl = impl == "auto", resolve_impl(impl, "pool")
    tiles = s == k and p == (0, 0) and not any(extras)
    if auto and impl == "reshape" and not tiles:
        impl = "slices"
    if impl == "reshape" and not tiles:
        raise ValueError(f"{name}: impl='reshape' needs strides == pool_size and no padding (nor "
                         f"ceil_mode windows past the edge); got pool_size={k}, strides={s}, "
                         f"padding={p}. Use impl='auto'.")
    if reducer == "max":
        dtype = jnp.result_type(x)
        init = -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min
        combine = jnp.maximum
    else:
        init, combine = 0, jnp.add
    # a NumPy scalar, not a traced one: lax differentiates reduce_window only for known inits
    init = np.array(init, jnp.result_type(x))
    widths = [(0, 0)] * 4
    for i, ax in enumerate(axes):
        widths[ax] = (p[i], p[i] + extras[i])
    if impl == "xla":
        window, step = [1] * 4, [1] * 4
        for i, ax in enumerate(axes):
            window[ax], step[ax] = k[i], s[i]
        return lax.reduce_window(x, init, lax.max if reducer == "max" else lax.add,
                                 window, step, widths)
    if impl == "reshape":
        t = Tiles(tuple(x.shape), tuple(axes), tuple(k), tuple(outs))
        return tiles_max(x, t) if reducer == "max" else tiles_sum(x, t)
    xp = lax.pad(x, init, [(lo, hi, 0) for lo, hi in widths])
    slices = []
    for i in range(k[0]):
        for j in range(k[1]):
            start, limit, step = [0] * 4, list(xp.shape), [1] * 4
            for ax, off, n, st in zip(axes, (i, j), outs, s, strict=True):
                start[ax], limit[ax], step[ax] = off, off + (n - 1) * st + 1, st
            slices.append(lax.slice(xp, start, limit, step))
    return functools.reduce(combine, slices)


def _counts(size: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    lo, hi = (0, size + 2 * p) if include_pad else (p, p + size)
    starts = np.arange(out) * s
    return np.clip(np.minimum(starts + k, hi) - np.maximum(starts, lo), 0, None)


def max_pool2d(
    x: jax.Array, pool_size: IntOrPair = 2, strides: IntOrPair | None = None,
    padding: IntOrPair = 0, *, layout: str = "NHWC", ceil_mode: bool = False,
    impl: str = "auto",
) -> jax.Array:
    """The maximum over each ``pool_size`` window, gluon's ``MaxPool2D`` as a function.

    Args:
        x: ``(N, H, W, C)`` or, with ``layout="NCHW"``, ``(N, C, H, W)``.
        pool_size, strides, padding: an int or an (H, W) pair each; ``strides=None`` means
            ``pool_size``. Padding never wins the max.
        ceil_mode: round the output size up, so that a last, partial window is kept.
        impl: ``"auto"`` or one of :data:`POOL_IMPLS`. Where several entries of a window tie
            for the max, ``"xla"`` and ``"reshape"`` send the gradient to the first (row-major,
            as MXNet and PyTorch do); ``"slices"`` splits it among them unevenly, as a chain of
            pairwise maxima does (the last tied entry gets half). ``"reshape"``'s max is
            a custom VJP (reverse mode only: use ``"slices"`` under ``jax.jvp``/``jacfwd``).

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
        >>> max_pool2d(x)[0, ..., 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
        >>> max_pool2d(x, 3, strides=2, padding=1)[0, ..., 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """
    return _pool(x, "max", pool_size, strides, padding, ceil_mode, layout, impl, "max_pool2d")


def avg_pool2d(
    x: jax.Array, pool_size: IntOrPair = 2, strides: IntOrPair | None = None,
    padding: IntOrPair = 0, *, layout: str = "NHWC", ceil_mode: bool = False,
    count_include_pad: bool = True, impl: str = "auto",
) -> jax.Array:
    """The mean over each ``pool_size`` window, gluon's ``AvgPool2D`` as a function.

    Args:
        x: a floating-point ``(N, H, W, C)`` or, with ``layout="NCHW"``, ``(N, C, H, W)``.
        pool_size, strides, padding, ceil_mode, impl: as for :func:`max_pool2d`.
        count_include_pad: divide by the window's size including the zero padding (gluon's
            default), or by the number of input entries in it. The part of a ``ceil_mode``
            window past the padding is never counted.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.ones((1, 3, 3, 1))
        >>> avg_pool2d(x, 2, strides=1, padding=1)[0, 0, :, 0].tolist()
        [0.25, 0.5, 0.5, 0.25]
        >>> avg_pool2d(x, 2, strides=1, padding=1, count_include_pad=False)[0, 0, :, 0].tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    if not jnp.issubdtype(jnp.result_type(x), jnp.floating):
        raise TypeError(f"avg_pool2d expects a floating-point input, got {jnp.result_type(x)}; "
                        f"convert first, e.g. x.astype(jnp.float32).")
    total = _pool(x, "sum", pool_size, strides, padding, ceil_mode, layout, impl, "avg_pool2d")
    axes, k, s, p, outs, _ = _pool_setup(x.shape, pool_size, strides, padding, ceil_mode, layout,
                                         "avg_pool2d")
    rows, cols = (_counts(x.shape[ax], k[i], s[i], p[i], outs[i], count_include_pad)
                  for i, ax in enumerate(axes))
    shape = [1] * 4
    shape[axes[0]], shape[axes[1]] = outs
    divisor = np.outer(rows, cols).reshape(shape).astype(total.dtype)
    return total / divisor


def _global(x, layout: str, name: str):
    h_ax, w_ax, _ = _check_layout(layout)
    if jnp.ndim(x) != 4:
        raise ValueError(f"{name} expects a 4-d input ({layout}), got shape {jnp.shape(x)}.")
    return h_ax, w_ax


def global_avg_pool2d(x: jax.Array, *, layout: str = "NHWC") -> jax.Array:
    """The mean over all of H and W; the output keeps them as 1 x 1, as gluon's does.

    Examples:
        >>> import jax.numpy as jnp
        >>> global_avg_pool2d(jnp.ones((2, 3, 4, 5)), layout="NCHW").shape
        (2, 3, 1, 1)
    """
    return jnp.mean(x, axis=_global(x, layout, "global_avg_pool2d"), keepdims=True)


def global_max_pool2d(x: jax.Array, *, layout: str = "NHWC") -> jax.Array:
    """The maximum over all of H and W; the output keeps them as 1 x 1, as gluon's does.

    Examples:
        >>> import jax.numpy as jnp
        >>> global_max_pool2d(jnp.arange(8.0).reshape(1, 2, 2, 2))[0, 0, 0].tolist()
        [6.0, 7.0]
    """
    return jnp.max(x, axis=_global(x, layout, "global_max_pool2d"), keepdims=True)
