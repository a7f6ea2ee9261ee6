"""dstraight.ops: every lowering against lax and NumPy, in value and gradient, eager and jitted."""

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from dstraight import ops

# float32 sums of up to ~50 products of unit normals: errors near 1e-5 are rounding, 1e-3 a bug.
TOL = {"rtol": 1e-4, "atol": 1e-4}

# kernel, strides, padding, dilation, groups, in-channels per group, (H, W)
CONV_CASES = {
    "plain": ((3, 3), 1, 0, 1, 1, 3, (7, 9)),
    "padded": ((3, 2), 1, (2, 1), 1, 1, 2, (6, 5)),  # hybrid's dx by col2im, uneven padding
    "lenet1": ((5, 5), 1, 2, 1, 1, 1, (9, 7)),  # one input channel: the taps path
    "mixed": ((3, 2), (2, 1), (1, 2), (1, 2), 2, 3, (9, 11)),
    "depthwise": ((3, 3), 2, 1, 1, 4, 1, (8, 7)),
    "dilated": ((2, 3), 3, 0, 2, 1, 2, (11, 10)),
}


def normal(shape, seed):
    return jax.random.normal(jax.random.key(seed), shape)


@functools.cache
def conv_case(name, layout):
    """x, weight, bias and a cotangent for the named case, in the given layout."""
    kernel, strides, padding, dilation, groups, cg, (h, w) = CONV_CASES[name]
    c_out = 2 * groups
    x, wt = normal((2, h, w, cg * groups), 0), normal((*kernel, cg, c_out), 1)
    if layout == "NCHW":
        x, wt = x.transpose(0, 3, 1, 2), wt.transpose(3, 2, 0, 1)
    kwargs = {"strides": strides, "padding": padding, "dilation": dilation, "groups": groups}
    b = normal((c_out,), 2)
    ct = normal(lax_conv(x, wt, b, layout, **kwargs).shape, 3)
    return x, wt, b, ct, kwargs


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def lax_conv(x, w, b, layout, *, strides, padding, dilation, groups):
    """The reference, written against lax directly."""
    dn = ("NHWC", "HWIO", "NHWC") if layout == "NHWC" else ("NCHW", "OIHW", "NCHW")
    y = lax.conv_general_dilated(x, w, pair(strides), [(p, p) for p in pair(padding)],
                                 rhs_dilation=pair(dilation), dimension_numbers=dn,
                                 feature_group_count=groups)
    return y + (b if layout == "NHWC" else b.reshape(-1, 1, 1))


def numpy_conv(x, w, b, layout, *, strides, padding, dilation, groups):
    """Cross-correlation in float64 NumPy, one kernel tap and one group at a time."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    if layout == "NCHW":
        x, w = x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0)
    (sh, sw), (ph, pw), (dh, dw) = pair(strides), pair(padding), pair(dilation)
    kh, kw, cg, o = w.shape
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    ho = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = np.zeros((x.shape[0], ho, wo, o)) + np.asarray(b, np.float64)
    for i in range(kh):
        for j in range(kw):
            win = xp[:, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
            for g in range(groups):
                y[..., g * og:(g + 1) * og] += (win[..., g * cg:(g + 1) * cg]
                                                @ w[i, j, :, g * og:(g + 1) * og])
    return y if layout == "NHWC" else y.transpose(0, 3, 1, 2)


# Every case in NHWC; in NCHW (a transpose around the same code, or lax's own NCHW) two that
# between them reach every branch: one input channel, and groups with strides and dilation.
CONV_LAYOUTS = [(case, "NHWC") for case in CONV_CASES] + [("lenet1", "NCHW"), ("mixed", "NCHW")]

# -- conv2d: values and gradients -------------------------------------------------------------


@pytest.mark.parametrize(("case", "layout"), CONV_LAYOUTS)
def test_lax_reference_matches_numpy(case, layout):
    x, w, b, _, kwargs = conv_case(case, layout)
    np.testing.assert_allclose(lax_conv(x, w, b, layout, **kwargs),
                               numpy_conv(x, w, b, layout, **kwargs), **TOL)


def output_and_grads(conv, ct):
    """``conv``'s output and the gradients of ``sum(conv(x, w, b) * ct)``, in one program."""
    def both(x, w, b):
        y, vjp = jax.vjp(conv, x, w, b)
        return y, vjp(ct)
    return both


@functools.cache
def conv_reference(case, layout):
    """lax's output and gradients for the case, computed once for all lowerings."""
    x, w, b, ct, kwargs = conv_case(case, layout)
    ref = functools.partial(lax_conv, layout=layout, **kwargs)
    return jax.jit(output_and_grads(ref, ct))(x, w, b)


# Under jit every case and layout above; eagerly (op by op: slow to run) the grouped, strided,
# dilated case, whose code paths include the others'.
CONV_GRID = [(*cl, True) for cl in CONV_LAYOUTS] + [("mixed", "NHWC", False)]


@pytest.mark.parametrize(("case", "layout", "jit"), CONV_GRID)
@pytest.mark.parametrize("impl", ops.CONV_IMPLS)
def test_conv2d_matches_lax_in_value_and_gradient(impl, case, layout, jit):
    x, w, b, ct, kwargs = conv_case(case, layout)
    ours = output_and_grads(
        functools.partial(ops.conv2d, layout=layout, impl=impl, **kwargs), ct)
    y, grads = (jax.jit(ours) if jit else ours)(x, w, b)
    ref_y, ref_grads = conv_reference(case, layout)
    np.testing.assert_allclose(y, ref_y, **TOL)
    for name, g, r in zip(("x", "weight", "bias"), grads, ref_grads, strict=True):
        assert g.shape == r.shape, name
        np.testing.assert_allclose(g, r, **TOL, err_msg=f"d/d{name}")


@pytest.mark.parametrize("impl", ops.CONV_IMPLS)
def test_conv2d_without_bias(impl):
    x, w, b, _, kwargs = conv_case("mixed", "NHWC")
    conv = jax.jit(functools.partial(ops.conv2d, impl=impl, **kwargs))
    np.testing.assert_allclose(conv(x, w), numpy_conv(x, w, 0 * b, "NHWC", **kwargs), **TOL)


@pytest.mark.parametrize("limit", [0, None])
def test_hybrid_input_gradient_by_col2im_or_xla_by_size(monkeypatch, limit):
    # small products take col2im (one matmul, no convolution op); above the limit, XLA's
    # transposed convolution; the gradients agree either way
    from dstraight import _conv_lowerings

    if limit is not None:
        monkeypatch.setattr(_conv_lowerings, "COL2IM_MAX", limit)
    x, w, b, ct, kwargs = conv_case("padded", "NHWC")
    ours = output_and_grads(functools.partial(ops.conv2d, impl="hybrid", **kwargs), ct)
    hlo = jax.jit(ours).lower(x, w, b).as_text()
    assert hlo.count("stablehlo.convolution") == (2 if limit == 0 else 1)
    _, grads = jax.jit(ours)(x, w, b)
    _, ref_grads = conv_reference("padded", "NHWC")
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, **TOL)


def test_hybrid_rejects_forward_mode_as_documented():
    x, w, _, _, _ = conv_case("plain", "NHWC")
    with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
        jax.jvp(lambda w: ops.conv2d(x, w, impl="hybrid"), (w,), (w,))
    y, _ = jax.jvp(lambda w: ops.conv2d(x, w, impl="xla"), (w,), (w,))
    np.testing.assert_allclose(y, ops.conv2d(x, w, impl="hybrid"), **TOL)


# -- choosing the lowering --------------------------------------------------------------------


def test_auto_means_hybrid_on_cpu_and_xla_elsewhere():
    assert ops.resolve_impl("auto", backend="cpu") == "hybrid"
    assert ops.resolve_impl("auto", backend="gpu") == "xla"
    assert ops.resolve_impl("auto", op="pool", backend="cpu") == "reshape"
    assert ops.resolve_impl("auto", op="pool", backend="tpu") == "xla"
    assert ops.resolve_impl("taps", backend="gpu") == "taps"


def test_auto_pools_by_reshape_where_windows_tile_and_by_slices_elsewhere(monkeypatch):
    monkeypatch.setitem(ops.AUTO_POOL, jax.default_backend(), "reshape")
    x = jax.random.normal(jax.random.key(0), (2, 7, 6, 3))
    tiled = str(jax.make_jaxpr(lambda x: ops.max_pool2d(x, 2))(x))
    assert "reshape" in tiled and "slice" in tiled  # the row no window covers is cut off first
    for kwargs in ({"strides": 1}, {"padding": 1}, {"ceil_mode": True}):
        y = ops.max_pool2d(x, 2, **kwargs)  # "reshape" alone would refuse these windows
        np.testing.assert_allclose(y, ops.max_pool2d(x, 2, impl="xla", **kwargs), **TOL)
    with pytest.raises(ValueError, match="impl='reshape' needs strides == pool_size"):
        ops.max_pool2d(x, 2, strides=1, impl="reshape")


@pytest.mark.parametrize(("choice", "expected"), [("xla", True), ("taps", False)])
def test_overriding_auto_changes_the_lowering(monkeypatch, choice, expected):
    monkeypatch.setitem(ops.AUTO_CONV, jax.default_backend(), choice)
    x, w, _, _, _ = conv_case("plain", "NHWC")
    jaxpr = str(jax.make_jaxpr(lambda x, w: ops.conv2d(x, w))(x, w))
    assert ("conv_general_dilated" in jaxpr) is expected


def test_unknown_impl_is_rejected():
    with pytest.raises(ValueError, match=r"impl must be 'auto' or one of .*'patches'.*got 'fast'"):
        ops.conv2d(jnp.ones((1, 4, 4, 1)), jnp.ones((2, 2, 1, 1)), impl="fast")
    with pytest.raises(ValueError, match="impl must be .* for pool, got 'taps'"):
        ops.max_pool2d(jnp.ones((1, 4, 4, 1)), impl="taps")
    with pytest.raises(ValueError, match="op must be 'conv' or 'pool', got 'dense'"):
        ops.resolve_impl("auto", op="dense")


# -- conv2d: errors and shapes ----------------------------------------------------------------


@pytest.mark.parametrize(("x_shape", "w_shape", "kwargs", "match"), [
    ((4, 4, 1), (2, 2, 1, 1), {}, r"4-d x \(N, H, W, C\) for layout='NHWC', got shape \(4, 4, 1\)"),
    ((1, 4, 4, 1), (2, 1, 1), {}, r"4-d weight HWIO for layout='NHWC', got shape \(2, 1, 1\)"),
    ((1, 1, 4, 4), (2, 2, 1, 1), {"layout": "NCHW"},
     r"4-d weight OIHW .*NCHW.*\(2, 2, 1, 1\)|x of shape \(1, 1, 4, 4\) \(NCHW\)"),
    ((1, 4, 4, 3), (2, 2, 1, 4), {},
     r"x of shape \(1, 4, 4, 3\) \(NHWC\) has 3 channels, but weight of shape \(2, 2, 1, 4\) "
     r"\(HWIO\) expects 1 per group x groups=1 = 1.*layout='NCHW'"),
    ((1, 4, 4, 4), (2, 2, 2, 3), {"groups": 2}, r"3 output channels divisible by groups"),
    ((1, 4, 4, 1), (2, 2, 1, 1), {"groups": 0}, r"groups must be a positive int, got 0"),
    ((1, 4, 4, 1), (5, 5, 1, 1), {}, r"too small for kernel_size=\(5, 5\).*-0 rows|too small"),
    ((1, 4, 4, 1), (2, 2, 1, 1), {"layout": "NHCW"}, r"layout must be 'NHWC' or 'NCHW'"),
    ((1, 4, 4, 1), (2, 2, 1, 1), {"padding": -1}, r"padding must be >= 0 in each dimension"),
    ((1, 4, 4, 1), (2, 2, 1, 1), {"strides": 0}, r"strides must be >= 1 in each dimension"),
])
def test_conv2d_errors(x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ops.conv2d(jnp.ones(x_shape), jnp.ones(w_shape), **kwargs)


def test_conv2d_type_and_bias_errors():
    x, w = jnp.ones((1, 4, 4, 1)), jnp.ones((2, 2, 1, 3))
    with pytest.raises(TypeError, match=r"dilation must be an int or a pair of ints, got 1.5"):
        ops.conv2d(x, w, dilation=1.5)
    with pytest.raises(TypeError, match=r"strides must be an int or a pair .* got \(1, 1, 1\)"):
        ops.conv2d(x, w, strides=(1, 1, 1))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) .* got \(1, 3\)"):
        ops.conv2d(x, w, jnp.ones((1, 3)))


@pytest.mark.parametrize(("case", "layout"), CONV_LAYOUTS)
def test_conv2d_output_shape_matches_the_output(case, layout):
    x, w, b, _, kwargs = conv_case(case, layout)
    c_out = len(b)
    kernel = CONV_CASES[case][0]
    groups = kwargs.pop("groups")
    shape = ops.conv2d_output_shape(x.shape, c_out, kernel, layout=layout, **kwargs)
    assert shape == ops.conv2d(x, w, groups=groups, layout=layout, **kwargs).shape
    unknown_batch = ops.conv2d_output_shape((None, *x.shape[1:]), c_out, kernel, layout=layout,
                                            **kwargs)
    assert unknown_batch == (None, *shape[1:])


# -- pooling ----------------------------------------------------------------------------------

# pool_size, strides, padding, ceil_mode, (H, W)
POOL_CASES = {
    "lenet": (2, None, 0, False, (8, 10)),
    "odd_floor": (2, None, 0, False, (7, 9)),
    "overlap": (3, 2, 1, False, (7, 9)),
    "overlap_ceil": (3, 2, 1, True, (8, 9)),
    "rect_ceil": ((2, 3), (2, 1), (1, 0), True, (7, 9)),
    "ceil_drops_window": (2, 2, 1, True, (5, 5)),  # a 4th window would start in the padding
    "stride1": (3, 1, 1, False, (5, 6)),
}


def reshape_applies(case):
    k, s, p, ceil, (h, w) = POOL_CASES[case]
    k = pair(k)
    return s is None and p == 0 and (not ceil or (h % k[0] == 0 and w % k[1] == 0))


def torch_style_out(size, k, s, p, ceil):
    span = size + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    return out - 1 if ceil and (out - 1) * s >= size + p else out


def numpy_pool(x, kind, case, layout, count_include_pad=True):
    """Window by window in float64: padding never wins the max; the mean's divisor (kind
    "count") counts the padding (count_include_pad) or only the input, never what a ceil-mode
    window reaches past the padding."""
    k, s, p, ceil, _ = POOL_CASES[case]
    k, p = pair(k), pair(p)
    s = k if s is None else pair(s)
    x = np.asarray(x, np.float64)
    if layout == "NCHW":
        x = x.transpose(0, 2, 3, 1)
    n, h, w, c = x.shape
    ho, wo = (torch_style_out(d, k[i], s[i], p[i], ceil) for i, d in enumerate((h, w)))
    y = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * s[0] - p[0], j * s[1] - p[1]
            r1, c1 = r0 + k[0], c0 + k[1]
            block = x[:, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if count_include_pad:
                count = (min(r1, h + p[0]) - r0) * (min(c1, w + p[1]) - c0)
            else:
                count = block.shape[1] * block.shape[2]
            if kind == "max":
                y[:, i, j] = block.max(axis=(1, 2))
            elif kind == "count":
                y[:, i, j] = count
            else:
                y[:, i, j] = block.sum(axis=(1, 2)) / count
    return y if layout == "NHWC" else y.transpose(0, 3, 1, 2)


def lax_pool(x, kind, case, layout, count_include_pad=True):
    """The gradient reference: lax.reduce_window with the padding the window geometry needs."""
    k, s, p, ceil, _ = POOL_CASES[case]
    k, p = pair(k), pair(p)
    s = k if s is None else pair(s)
    axes = (1, 2) if layout == "NHWC" else (2, 3)
    window, step, pads = [1] * 4, [1] * 4, [(0, 0)] * 4
    for i, ax in enumerate(axes):
        out = torch_style_out(x.shape[ax], k[i], s[i], p[i], ceil)
        extra = max((out - 1) * s[i] + k[i] - (x.shape[ax] + 2 * p[i]), 0)
        window[ax], step[ax], pads[ax] = k[i], s[i], (p[i], p[i] + extra)
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, window, step, pads)
    total = lax.reduce_window(x, 0.0, lax.add, window, step, pads)
    counts = numpy_pool(np.zeros(x.shape), "count", case, layout, count_include_pad)
    return total / counts.astype(np.float32)


@functools.cache
def pool_case(case, layout):
    h, w = POOL_CASES[case][4]
    x = normal((2, h, w, 3), 4)  # continuous values: no ties for the max
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    k, s, p, ceil, _ = POOL_CASES[case]
    return x, {"pool_size": k, "strides": s, "padding": p, "ceil_mode": ceil}


POOL_PARAMS = [(impl, case) for impl in ops.POOL_IMPLS for case in POOL_CASES
               if impl != "reshape" or reshape_applies(case)]


POOL_KINDS = (("max", True), ("avg", True), ("avg", False))  # (kind, count_include_pad)


def pool_output_and_grad(pool, ct):
    def both(x):
        y, vjp = jax.vjp(pool, x)
        return y, vjp(ct)[0]
    return both


@functools.cache
def pool_reference(case, layout):
    """Per kind: the NumPy output and lax's gradient, computed once for all lowerings."""
    x, _ = pool_case(case, layout)
    ct = normal(numpy_pool(x, "max", case, layout).shape, 5)
    refs = {}
    for kind, include_pad in POOL_KINDS:
        ref = functools.partial(lax_pool, kind=kind, case=case, layout=layout,
                                count_include_pad=include_pad)
        refs[kind, include_pad] = (numpy_pool(x, kind, case, layout, include_pad),
                                   jax.jit(pool_output_and_grad(ref, ct))(x)[1])
    return ct, refs


# Under jit every lowering and case in NHWC, and in NCHW the cases with padding and ceil_mode;
# eagerly, each lowering on the LeNet case.
POOL_GRID = ([(impl, case, "NHWC", True) for impl, case in POOL_PARAMS]
             + [(impl, case, "NCHW", True) for impl, case in POOL_PARAMS
                if case in ("lenet", "rect_ceil", "ceil_drops_window")]
             + [(impl, "lenet", "NHWC", False) for impl in ops.POOL_IMPLS])


@pytest.mark.parametrize(("impl", "case", "layout", "jit"), POOL_GRID)
def test_pools_match_numpy_and_lax_gradient(impl, case, layout, jit):
    x, kwargs = pool_case(case, layout)
    ct, refs = pool_reference(case, layout)
    for (kind, include_pad), (ref_y, ref_grad) in refs.items():
        if kind == "max":
            pool = functools.partial(ops.max_pool2d, layout=layout, impl=impl, **kwargs)
        else:
            pool = functools.partial(ops.avg_pool2d, layout=layout, impl=impl,
                                     count_include_pad=include_pad, **kwargs)
        both = pool_output_and_grad(pool, ct)
        y, grad = (jax.jit(both) if jit else both)(x)
        where = f"{kind}, count_include_pad={include_pad}"
        np.testing.assert_allclose(y, ref_y, **TOL, err_msg=where)
        np.testing.assert_allclose(grad, ref_grad, **TOL, err_msg=where)


@pytest.mark.parametrize("case", ["overlap_ceil", "rect_ceil", "ceil_drops_window", "stride1"])
def test_pools_match_torch_where_installed(case):
    torch = pytest.importorskip("torch")
    x, kwargs = pool_case(case, "NCHW")
    k, s, p, ceil = (kwargs[n] for n in ("pool_size", "strides", "padding", "ceil_mode"))
    tx = torch.from_numpy(np.array(x))
    expected = torch.nn.functional.max_pool2d(tx, k, s, p, ceil_mode=ceil)
    np.testing.assert_allclose(ops.max_pool2d(x, layout="NCHW", **kwargs), expected, **TOL)
    for include_pad in (True, False):
        expected = torch.nn.functional.avg_pool2d(tx, k, s, p, ceil_mode=ceil,
                                                  count_include_pad=include_pad)
        ours = ops.avg_pool2d(x, layout="NCHW", count_include_pad=include_pad, **kwargs)
        np.testing.assert_allclose(ours, expected, **TOL)


def test_max_pool_tie_gradients_sum_to_the_cotangent():
    # Every lowering sends each window's gradient to its maxima; "xla" and "reshape" to the
    # first, "slices" splits it. Either way a window's gradient adds up to its cotangent.
    x = jnp.zeros((1, 4, 4, 1))
    for impl in ops.POOL_IMPLS:
        grad = jax.grad(lambda x, impl=impl: ops.max_pool2d(x, impl=impl).sum())(x)
        window_sums = grad.reshape(2, 2, 2, 2).sum(axis=(1, 3))
        np.testing.assert_allclose(window_sums, np.ones((2, 2)), err_msg=impl)


def test_max_pool_integers_pad_with_the_smallest_integer():
    x = -jnp.arange(9, dtype=jnp.int32).reshape(1, 3, 3, 1)
    for impl in ("xla", "slices"):
        y = ops.max_pool2d(x, 2, strides=1, padding=1, impl=impl)
        assert y.dtype == jnp.int32
        expected = [[0, 0, -1, -2], [0, 0, -1, -2], [-3, -3, -4, -5], [-6, -6, -7, -8]]
        np.testing.assert_array_equal(y[0, :, :, 0], expected)


@pytest.mark.parametrize("case", list(POOL_CASES))
def test_pool2d_output_shape_matches_the_output(case):
    x, kwargs = pool_case(case, "NCHW")
    shape = ops.pool2d_output_shape(x.shape, layout="NCHW", **kwargs)
    assert shape == ops.max_pool2d(x, layout="NCHW", **kwargs).shape
    assert ops.pool2d_output_shape((None, *x.shape[1:]), layout="NCHW", **kwargs)[1:] == shape[1:]


def test_pool_errors():
    x = jnp.ones((1, 5, 5, 2))
    with pytest.raises(ValueError, match=r"max_pool2d expects a 4-d input \(NHWC\), got shape"):
        ops.max_pool2d(x[0])
    with pytest.raises(ValueError, match=r"padding=\(2, 2\) must be smaller than pool_size"):
        ops.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"smaller than pool_size=\(7, 7\) even with padding"):
        ops.avg_pool2d(x, 7, padding=0)
    with pytest.raises(ValueError, match="impl='reshape' needs strides == pool_size"):
        ops.max_pool2d(x, 3, strides=2, impl="reshape")
    with pytest.raises(ValueError, match="impl='reshape' needs .* ceil_mode windows"):
        ops.avg_pool2d(x, 2, ceil_mode=True, impl="reshape")
    with pytest.raises(TypeError, match="avg_pool2d expects a floating-point input, got int32"):
        ops.avg_pool2d(jnp.ones((1, 4, 4, 1), jnp.int32))
    with pytest.raises(TypeError, match="pool_size must be an int or a pair of ints"):
        ops.max_pool2d(x, "2")
    with pytest.raises(ValueError, match="layout must be 'NHWC' or 'NCHW', got 'HWC'"):
        ops.max_pool2d(x, layout="HWC")


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_global_pools_keep_one_by_one(layout, jit):
    x = normal((2, 5, 7, 3), 6)
    if layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    axes = (1, 2) if layout == "NHWC" else (2, 3)
    for fn, ref in ((ops.global_avg_pool2d, np.mean), (ops.global_max_pool2d, np.max)):
        f = jax.jit(functools.partial(fn, layout=layout)) if jit else functools.partial(
            fn, layout=layout)
        y = f(x)
        assert y.shape == tuple(1 if a in axes else d for a, d in enumerate(x.shape))
        np.testing.assert_allclose(y, ref(np.asarray(x), axis=axes, keepdims=True), **TOL)
    with pytest.raises(ValueError, match=r"global_max_pool2d expects a 4-d input \(NHWC\)"):
        ops.global_max_pool2d(jnp.ones((2, 3)))


def test_doctests():
    result = doctest.testmod(ops, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
