"""The lowerings of :func:`dstraight.ops.conv2d` other than a plain call: how each computes a
convolution (NHWC input, HWIO weight), and the ``"hybrid"`` one's custom gradient.

``bench/conv_lowerings.py`` measures them; :mod:`dstraight.ops` explains the choice per platform.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._fusion_barrier import materialized

__all__ = ["COL2IM_MAX", "KERNEL_LAYOUT", "NHWC_CONVS", "Conv", "conv_xla", "input_grad_cols"]

KERNEL_LAYOUT = {"NHWC": "HWIO", "NCHW": "OIHW"}  # the weight layout that goes with each layout


class Conv(NamedTuple):  # the static configuration, hashable for custom_vjp's nondiff args
    strides: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


def conv_xla(x, w, cfg: Conv, layout: str = "NHWC"):
    return lax.conv_general_dilated(
        x, w, cfg.strides, [(p, p) for p in cfg.padding], rhs_dilation=cfg.dilation,
        dimension_numbers=(layout, KERNEL_LAYOUT[layout], layout), feature_group_count=cfg.groups)


def windows(x, kernel: tuple[int, int], cfg: Conv) -> list[jax.Array]:
    """The shifted, strided views of padded NHWC ``x``, one per kernel tap (row-major)."""
    (ph, pw), (sh, sw), (dh, dw) = cfg.padding, cfg.strides, cfg.dilation
    x = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    n, hp, wp, c = x.shape
    ho, wo = (hp - dh * (kernel[0] - 1) - 1) // sh + 1, (wp - dw * (kernel[1] - 1) - 1) // sw + 1
    return [lax.slice(x, (0, i * dh, j * dw, 0),
                      (n, i * dh + (ho - 1) * sh + 1, j * dw + (wo - 1) * sw + 1, c),
                      (1, sh, sw, 1))
            for i in range(kernel[0]) for j in range(kernel[1])]


def conv_patches(x, w, cfg: Conv):
    kh, kw, cg, o = w.shape
    g, taps = cfg.groups, kh * kw
    p = jnp.concatenate(windows(x, (kh, kw), cfg), axis=-1)  # channels ordered (tap, C)
    if g == 1:
        return p @ w.reshape(taps * cg, o)
    p = p.reshape(*p.shape[:3], taps, g, cg)
    y = jnp.einsum("nhwtgc,tcgo->nhwgo", p, w.reshape(taps, cg, g, o // g))
    return y.reshape(*y.shape[:3], o)


def tap_product(s, wt, groups: int):
    """One tap's contribution: window ``s`` (N, Ho, Wo, C) times ``wt`` (C/groups, O)."""
    cg, o = wt.shape
    if groups == 1:  # with C == 1, XLA makes this an elementwise product fused across the taps
        return s @ wt
    if cg == 1:  # depthwise: the same elementwise product, one per group
        s = s.reshape(*s.shape[:3], groups, 1)
        return (s * wt.reshape(groups, o // groups)).reshape(*s.shape[:3], o)
    s = s.reshape(*s.shape[:3], groups, cg)
    y = jnp.einsum("nhwgc,cgo->nhwgo", s, wt.reshape(cg, groups, o // groups))
    return y.reshape(*y.shape[:3], o)


def conv_taps(x, w, cfg: Conv):
    kh, kw = w.shape[:2]
    wins = windows(x, (kh, kw), cfg)
    return sum(tap_product(s, w[t // kw, t % kw], cfg.groups) for t, s in enumerate(wins))


def weight_grad_taps(x, dy, w_shape, cfg: Conv):
    """d(loss)/d(weight) as one (M x C/g)^T (M x O/g) product per tap, M = N*Ho*Wo."""
    kh, kw, cg, o = w_shape
    g = cfg.groups
    wins = windows(x, (kh, kw), cfg)
    if g == 1:
        d = dy.reshape(-1, o)
        per_tap = [s.reshape(-1, cg).T @ d for s in wins]
    else:
        d = dy.reshape(-1, g, o // g)
        per_tap = [jnp.einsum("mgc,mgo->cgo", s.reshape(-1, g, cg), d).reshape(cg, o)
                   for s in wins]
    return jnp.stack(per_tap).reshape(w_shape)


#: The most entries of ``w @ dy^T`` (N*Ho*Wo * KH*KW*C) for which :func:`input_grad_cols` beats
#: XLA's transposed convolution on a 2-core CPU (measured on an AMD EPYC: 0.36-0.86x of XLA's
#: time from 1.4M to 2.7M entries, 1.08x at 3.6M, 1.2-3.4x from 5M up; LeNet's conv2 is 1.9M).
COL2IM_MAX = 3_000_000


def input_grad_cols(dy, w, cfg: Conv):
    """d(loss)/d(x) of a stride-1, undilated, ungrouped convolution, as col2im.

    One matrix product ``w (KH*KW*C x O) @ dy^T (O x M)`` gives every tap's contribution to
    the input at once, tap-major, so that each tap's block is a contiguous slice; each block
    is added into the padded input at its offset (channels first), the padding is cropped off,
    and the channels go back last.
    """
    kh, kw, c, o = w.shape
    n, ho, wo, _ = dy.shape
    (ph, pw), taps = cfg.padding, kh * kw
    cols = (w.reshape(taps * c, o) @ dy.reshape(-1, o).T).reshape(taps, c, n, ho, wo)
    hp, wp = ho + kh - 1, wo + kw - 1  # the padded input's height and width
    zero = jnp.zeros((), dy.dtype)
    dx = sum(lax.pad(cols[t], zero, [(0, 0, 0), (0, 0, 0), (t // kw, hp - ho - t // kw, 0),
                                     (t % kw, wp - wo - t % kw, 0)])
             for t in range(taps))
    return dx[:, :, ph:hp - ph, pw:wp - pw].transpose(1, 2, 3, 0)


def _cols_apply(dy, w, cfg: Conv) -> bool:
    simple = cfg.strides == (1, 1) and cfg.dilation == (1, 1) and cfg.groups == 1
    return simple and dy.size // dy.shape[-1] * w.shape[0] * w.shape[1] * w.shape[2] <= COL2IM_MAX


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_hybrid(x, w, cfg: Conv):
    return conv_taps(x, w, cfg) if w.shape[2] == 1 else conv_xla(x, w, cfg)


def _hybrid_fwd(x, w, cfg: Conv):
    y = conv_hybrid(x, w, cfg)
    if w.shape[2] == 1:  # the taps' sum, once: else the gradients after it recompute it
        y = materialized(y)
    return y, (x, w)


def _hybrid_bwd(cfg: Conv, residuals, dy):
    # Each gradient from the lowering measured fastest for it (bench/conv_lowerings.py): with one
    # input channel per group, the patches' transpose for dx and XLA's for dw; otherwise col2im
    # for dx where its product is small enough (else XLA's transposed convolution) and one
    # product per tap for dw.
    x, w = residuals
    if w.shape[2] == 1:
        dx = jax.vjp(lambda x: conv_patches(x, w, cfg), x)[1](dy)[0]
        dw = jax.vjp(lambda w: conv_xla(x, w, cfg), w)[1](dy)[0]
    else:
        if _cols_apply(dy, w, cfg):
            dx = input_grad_cols(dy, w, cfg)
        else:
            dx = jax.vjp(lambda x: conv_xla(x, w, cfg), x)[1](dy)[0]
        dw = weight_grad_taps(x, dy, w.shape, cfg)
    return dx, dw


conv_hybrid.defvjp(_hybrid_fwd, _hybrid_bwd)
NHWC_CONVS = {"patches": conv_patches, "taps": conv_taps, "hybrid": conv_hybrid}
