"""The "reshape" max-pool's own gradient (first maximum of each window) and the fusion barrier
that it and the hybrid convolution use; tests/test_ops.py checks values and gradients against
NumPy, lax and PyTorch."""

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import _fusion_barrier, ops


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_reshape_max_pool_sends_a_tie_to_the_first_maximum_as_xla_does(layout):
    # windows of 3x2 over a 7x5 input (the last row and column uncovered), with ties of two,
    # three, four and six entries, a window whose maximum is unique, and one holding two NaNs
    rows = np.array([[1, 1, 0, 2, 9], [0, 1, 2, 2, 9], [1, 0, 2, 0, 9],
                     [5, 5, 3, 3, 9], [5, 5, 3, 3, 9], [5, 5, 3, 4, 9], [9, 9, 9, 9, 9]],
                    np.float32)
    x = np.stack([rows, -rows, np.zeros_like(rows)])[None].transpose(0, 2, 3, 1)  # 3 channels
    x[0, 4, 0, 1] = np.nan  # channel 1's window (1, 0): its second and later entries
    x[0, 5, 1, 1] = np.nan
    nhwc = (lambda a: a) if layout == "NHWC" else (lambda a: np.asarray(a).transpose(0, 2, 3, 1))
    x = jnp.asarray(x if layout == "NHWC" else x.transpose(0, 3, 1, 2))
    ct = jax.random.normal(jax.random.key(6), ops.max_pool2d(x, (3, 2), layout=layout).shape)
    grads = {}
    for impl in ("xla", "reshape"):
        pool = functools.partial(ops.max_pool2d, pool_size=(3, 2), layout=layout, impl=impl)
        y, vjp = jax.vjp(pool, x)
        grads[impl] = np.asarray(nhwc(vjp(ct)[0]))
    g, c = grads["reshape"], np.asarray(nhwc(ct))
    np.testing.assert_array_equal(g[..., ::2], grads["xla"][..., ::2])  # channels without NaN
    assert g[0, 0, 0, 0] == c[0, 0, 0, 0] and g[0, :3, :2, 0].sum() == c[0, 0, 0, 0]  # 1: (0, 0)
    assert g[0, 0, 3, 0] == c[0, 0, 1, 0] and g[0, 1:3, 2:4, 0].sum() == 0  # 2: (0, 3) first
    assert g[0, 0, 0, 2] == c[0, 0, 0, 2] and np.count_nonzero(g[0, :3, :2, 2]) == 1  # all zeros
    assert g[0, 5, 3, 0] == c[0, 1, 1, 0]  # the unique 4
    assert g[0, 4, 0, 1] == c[0, 1, 0, 1] and g[0, 5, 1, 1] == 0  # the first NaN (xla: any)
    assert np.isnan(y).sum() == 1
    assert not g[0, 6].any() and not g[0, :, 4].any()  # rows and columns no window covers


def test_reshape_max_pool_keeps_integers_and_refuses_forward_mode():
    x = jnp.arange(16, dtype=jnp.int32).reshape(1, 4, 4, 1)
    y = ops.max_pool2d(x, impl="reshape")
    assert y.dtype == jnp.int32
    np.testing.assert_array_equal(y[0, :, :, 0], [[5, 7], [13, 15]])
    xf = x.astype(jnp.float32)
    with pytest.raises(TypeError, match="custom_vjp"):
        jax.jvp(lambda a: ops.max_pool2d(a, impl="reshape"), (xf,), (xf,))
    _, tangent = jax.jvp(lambda a: ops.max_pool2d(a, impl="slices"), (xf,), (xf,))
    np.testing.assert_array_equal(tangent[0, :, :, 0], [[5, 7], [13, 15]])


def test_reshape_max_pool_gradient_under_vmap_and_jit():
    x = jax.random.normal(jax.random.key(0), (3, 2, 6, 6, 4))  # a batch of NHWC inputs

    def loss(a, impl):
        return (ops.max_pool2d(a, impl=impl) ** 2).sum()

    for transform in (jax.vmap, lambda f: jax.jit(jax.vmap(f))):
        ours = transform(jax.grad(functools.partial(loss, impl="reshape")))(x)
        ref = transform(jax.grad(functools.partial(loss, impl="xla")))(x)
        np.testing.assert_array_equal(ours, ref)


def test_materialized_is_the_identity_behind_a_conditional():
    # any value passes unchanged (NaN and infinities too: the predicate is true for all of
    # them), eagerly, under jit and vmap, and empty arrays too; the compiled CPU program keeps
    # the conditional that stops XLA's fusion
    x = jnp.array([[np.nan, 1.0, -np.inf], [0.0, -0.0, np.inf]])
    m = _fusion_barrier.materialized
    for f in (m, jax.jit(m), jax.vmap(m)):
        y = f(x)
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(np.signbit(y), np.signbit(x))
    assert m(jnp.zeros((0, 3))).shape == (0, 3)
    hlo = jax.jit(lambda a: m(a * 2.0) + 1.0).lower(x).compile().as_text()
    assert "conditional" in hlo
    # only for a CPU: lowered for a GPU, the value passes straight through (no predicate)
    for platform, barrier in (("cpu", True), ("cuda", False)):
        module = jax.export.export(jax.jit(m), platforms=[platform])(x).mlir_module()
        assert ("stablehlo.compare" in module) == barrier, platform


def test_hybrid_one_channel_output_passes_the_barrier_and_gradients_stay_right():
    # the one-channel convolution's output is materialized when differentiated, so that the
    # pool's and the ReLU's gradients read it rather than sum its taps again; the pool here is
    # "xla", which has no barrier, so the conditional can only be the convolution's
    x = jax.random.normal(jax.random.key(1), (8, 28, 28, 1))
    w = jax.random.normal(jax.random.key(2), (5, 5, 1, 6))

    def loss(w):
        y = jax.nn.relu(ops.conv2d(x, w, padding=2, impl="hybrid"))
        return (ops.max_pool2d(y, impl="xla") ** 2).sum()

    hlo = jax.jit(jax.grad(loss)).lower(w).compile().as_text()
    assert "conditional" in hlo
    np.testing.assert_allclose(
        jax.grad(loss)(w),
        jax.grad(lambda w: (ops.max_pool2d(jax.nn.relu(ops.conv2d(x, w, padding=2, impl="xla")),
                                           impl="xla") ** 2).sum())(w),
        rtol=1e-4, atol=1e-3)


def test_doctests():
    result = doctest.testmod(_fusion_barrier, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
