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

__all__ = ["KERNEL_LAYOUT", "NHWC_CONVS", "Conv", "conv_xla"]

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


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_hybrid(x, w, cfg: Conv):
    return conv_taps(x, w, cfg) if w.shape[2] == 1 else conv_xla(x, w, cfg)


def _hybrid_fwd(x, w, cfg: Conv):
    return conv_hybrid(x, w, cfg), (x, w)


def _hybrid_bwd(cfg: Conv, residuals, dy):
    # Each gradient from the lowering measured fastest for it (bench/conv_lowerings.py): with one
    # input channel per group, the patches' transpose for dx and XLA's for dw; otherwise XLA's
    # transposed convolution for dx and one product per tap for dw.
    x, w = residuals
    if w.shape[2] == 1:
        dx = jax.vjp(lambda x: conv_patches(x, w, cfg), x)[1](dy)[0]
        dw = jax.vjp(lambda w: conv_xla(x, w, cfg), w)[1](dy)[0]
    else:
        dx = jax.vjp(lambda x: conv_xla(x, w, cfg), x)[1](dy)[0]
        dw = weight_grad_taps(x, dy, w.shape, cfg)
    return dx, dw


conv_hybrid.defvjp(_hybrid_fwd, _hybrid_bwd)
NHWC_CONVS = {"patches": conv_patches, "taps": conv_taps, "hybrid": conv_hybrid}
