"""The MXNet gluon layers added late: Identity, Concurrent, Embedding, SiLU, InstanceNorm,
GroupNorm and SyncBatchNorm, against closed forms and hand-written jax.numpy references.

Values and gradients are checked eagerly and under ``jax.jit``; shapes are inferred from the
first batch; bad inputs raise errors that say what was wrong. SyncBatchNorm's claim (BatchNorm
on a mesh already uses the statistics of the global batch) is checked on 8 simulated devices
in a subprocess, as tests/test_mesh.py does, since JAX fixes its device count per process.
"""

import doctest
import importlib
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import Trainer, autograd, init, loss, nn

EPS = 1e-5


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def data(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def with_grads(f, cot):
    """``(f(p, x), gradient of <f(p, x), cot> in p and x)`` from one forward pass."""
    def run(p, x):
        out, pullback = jax.vjp(f, p, x)
        return out, pullback(cot)

    return run


def assert_trees_close(got, want, rtol=1e-5, atol=1e-5):
    got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
    assert len(got_leaves) == len(want_leaves) > 0
    for g, w in zip(got_leaves, want_leaves, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def check_against(f, ref, params, x, atol=1e-5, grad_atol=1e-4):
    """``f`` against the reference: values eagerly, values and gradients under ``jax.jit``.

    (Gradients eagerly would compile every primitive of the backward pass on its own, and
    trace the same JAX operations: slower, and no more telling.)
    """
    cot = data(np.shape(ref(params, x)), seed=99)
    got, want = jax.jit(lambda p, v: (with_grads(f, cot)(p, v),
                                      with_grads(ref, cot)(p, v)))(params, x)
    assert_trees_close(got[0], want[0], atol=atol)
    assert_trees_close(got[1], want[1], rtol=1e-4, atol=grad_atol)
    assert_trees_close(f(params, x), want[0], atol=atol)


@pytest.mark.parametrize("module", ["dstraight.nn.embedding", "dstraight.nn.group_norm"])
def test_doctests_of_the_new_modules(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# -- Identity, SiLU ------------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_identity_and_silu_against_closed_forms(jit):
    x = data((3, 4)) * 3
    z = np.asarray(x, np.float64)
    s = 1 / (1 + np.exp(-z))
    for layer, f, df in [(nn.Identity(), z, np.ones_like(z)),
                         (nn.SiLU(), z * s, s + z * s * (1 - s))]:
        y, grad = (jax.jit if jit else (lambda g: g))(
            jax.value_and_grad(lambda v, a=layer: a.apply({}, v).sum()))(x)
        np.testing.assert_allclose(layer.apply({}, x), f, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(y, f.sum(), rtol=1e-5)
        np.testing.assert_allclose(grad, df, rtol=2e-5, atol=2e-6)
    np.testing.assert_array_equal(nn.SiLU()(x), nn.Swish(beta=1.0)(x))
    assert repr(nn.Identity()) == "Identity" and repr(nn.SiLU()) == "SiLU()"


# -- Concurrent ----------------------------------------------------------------------------------


def test_concurrent_concatenates_the_children_outputs():
    net = nn.Concurrent()
    net.add(nn.Dense(3), nn.Identity(), nn.Activation("tanh"))
    net.initialize(init.Normal(0.5), key=1)
    x = data((5, 4))
    assert net(x).shape == (5, 3 + 4 + 4)
    assert net[0].weight.shape == (4, 3)  # in_units inferred from the shared input

    def ref(p, v):
        d = p["dense0"]
        return jnp.concatenate([v @ d["weight"] + d["bias"], v, jnp.tanh(v)], axis=-1)

    check_against(net.apply, ref, net.params, x)
    hybrid = nn.HybridConcurrent(axis=-1)
    hybrid.add(*net)
    hybrid.hybridize()
    np.testing.assert_allclose(hybrid(x), ref(net.params, x), rtol=1e-6)
    assert isinstance(hybrid, nn.HybridSequential) and len(hybrid) == 3


def test_concurrent_on_images_along_another_axis_and_its_slices():
    net = nn.HybridConcurrent(axis=1)
    net.add(nn.Identity(), nn.Lambda(lambda v: 2 * v), nn.Lambda(lambda v: -v))
    x = data((2, 3, 4, 5))
    np.testing.assert_array_equal(net(x), jnp.concatenate([x, 2 * x, -x], axis=1))
    head = net[1:]
    assert type(head) is nn.HybridConcurrent and head.axis == 1 and len(head) == 2
    np.testing.assert_array_equal(head(x), jnp.concatenate([2 * x, -x], axis=1))
    assert net[2] is list(net)[2]
    assert repr(net).startswith("HybridConcurrent(\n  (0): Identity\n")


def test_concurrent_reports_outputs_that_cannot_be_joined():
    net = nn.Concurrent()
    net.add(nn.Identity(), nn.Dense(3))
    net.initialize()
    with pytest.raises(ValueError, match=r"concurrent0: Concurrent\(axis=-1\) cannot join "
                                         r"outputs of shapes \[\(2, 2, 4\), \(2, 3\)\]"):
        net(jnp.ones((2, 2, 4)))
    other = nn.Concurrent(axis=0)
    other.add(nn.Identity(), nn.Dense(3))
    other.initialize()
    with pytest.raises(ValueError, match=r"needs outputs that agree on every other axis, got "
                                         r"shapes \[\(2, 4\), \(2, 3\)\]"):
        other(jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="has no children to run; add some"):
        nn.Concurrent()(jnp.ones(2))
    with pytest.raises(TypeError, match=r"Concurrent\(axis=...\) must be an int, got 'c'"):
        nn.Concurrent(axis="c")


# -- Embedding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_embedding_rows_and_gradient(jit):
    emb = nn.Embedding(6, 3)
    emb.initialize(init.Normal(1.0), key=2)
    idx = jnp.array([[0, 5, 2], [2, 2, 1]])
    w = emb.params["weight"]
    assert w.shape == (6, 3) and emb(idx).shape == (2, 3, 3)
    cot = data((2, 3, 3), seed=4)

    def f(p, v):
        out, pullback = jax.vjp(lambda q: emb.apply(q, v), p)
        return out, pullback(cot)[0]["weight"]

    y, g = (jax.jit(f) if jit else f)(emb.params, idx)
    want_g = np.zeros((6, 3))
    np.add.at(want_g, np.asarray(idx), np.asarray(cot))  # repeated rows add up
    np.testing.assert_array_equal(y, np.asarray(w)[np.asarray(idx)])
    np.testing.assert_allclose(g, want_g, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(emb(idx.astype(jnp.float32)), y)  # MXNet's float tokens


def test_embedding_settings_dtype_and_sparse_grad():
    plain = nn.Embedding(4, 2, weight_initializer=init.Constant(0.25))
    sparse = nn.Embedding(4, 2, dtype="float16", sparse_grad=True)
    plain.initialize("ones")
    sparse.initialize("ones")
    assert repr(sparse) == "Embedding(4 -> 2, float16)"
    np.testing.assert_array_equal(plain(jnp.array([3])), [[0.25, 0.25]])  # its own initializer
    out = sparse(jnp.array([1, 3]))
    assert out.dtype == jnp.float16 and out.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    grad = jax.grad(lambda p: sparse.apply(p, jnp.array([1, 1])).astype(jnp.float32).sum())(
        sparse.params)["weight"]
    np.testing.assert_array_equal(grad, [[0, 0], [2, 2], [0, 0], [0, 0]])  # dense, not sparse
    assert sparse.param_shapes((7, 5)) == ((7, 5, 2), {"weight": (4, 2)})


@pytest.mark.parametrize(("bad", "shown"), [([[0, 4]], r"index 4 at position \(0, 1\)"),
                                            ([[-1, 0]], r"index -1 at position \(0, 0\)"),
                                            ([[0.0, 1.5]], r"index 1.5 at position \(0, 1\)")])
def test_embedding_rejects_bad_indices_eagerly(bad, shown):
    emb = nn.Embedding(4, 2)
    emb.initialize()
    x = jnp.asarray(bad)
    message = (r"embedding0: Embedding\(input_dim=4\) got " + shown + r" of an input of shape "
               r"\(1, 2\); indices must be whole numbers in 0..3 \(1 of 2 are not\)")
    with pytest.raises(ValueError, match=message):
        emb(x)
    with pytest.raises(ValueError, match=message):
        emb.apply(emb.params, x)  # the pure function, run eagerly, sees the values too


def test_embedding_marks_bad_indices_with_nan_under_jit():
    emb = nn.Embedding(4, 2)
    emb.initialize("ones")
    y = jax.jit(emb.apply)(emb.params, jnp.array([[0, 4, -1], [3, 2, 7]]))
    bad = np.array([[False, True, True], [False, False, True]])
    assert np.isnan(y[bad]).all()  # not clamped to row 3, not wrapped around to row -1
    np.testing.assert_array_equal(y[~bad], np.ones((3, 2)))
    emb.hybridize()
    assert np.isnan(emb(jnp.array([1, 9]))[1]).all()


def test_embedding_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Embedding\(input_dim=...\) must be a positive int, "
                                         r"got 0"):
        nn.Embedding(0, 2)
    with pytest.raises(ValueError, match=r"Embedding\(output_dim=...\) must be a positive int"):
        nn.Embedding(3, 2.5)
    with pytest.raises(TypeError, match=r"Embedding\(dtype=...\) must be a floating dtype such "
                                        r"as 'float32', got 'int32'"):
        nn.Embedding(3, 2, dtype="int32")
    emb = nn.Embedding(3, 2)
    emb.initialize()
    with pytest.raises(TypeError, match=r"embedding0: Embedding takes integer indices .* got an "
                                        r"input of dtype bool"):
        emb(jnp.array([True, False]))


# -- InstanceNorm and GroupNorm ------------------------------------------------------------------


def instance_norm_ref(p, x):
    """NHWC: statistics over H and W for each example and channel."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(1, 2), keepdims=True)
    return (x - mean) / jnp.sqrt(var + EPS) * p["gamma"] + p["beta"]


def group_norm_ref(p, x, groups):
    """NHWC, one group at a time: statistics over H, W and the group's consecutive channels."""
    size = x.shape[-1] // groups
    parts = []
    for g in range(groups):
        xs = x[..., g * size:(g + 1) * size]
        mean = xs.mean(axis=(1, 2, 3), keepdims=True)
        var = ((xs - mean) ** 2).mean(axis=(1, 2, 3), keepdims=True)
        parts.append((xs - mean) / jnp.sqrt(var + EPS) * p["gamma"][g] + p["beta"][g])
    return jnp.concatenate(parts, axis=-1)


def test_instance_norm_values_gradients_and_inferred_channels():
    layer = nn.InstanceNorm(scale=True)
    layer.initialize()
    x = data((2, 3, 4, 5)) * 2 + 1
    layer(x)
    assert layer.gamma.shape == (5,) and repr(layer).endswith("in_channels=5)")
    params = {"gamma": data((5,), 1), "beta": data((5,), 2)}
    check_against(layer.apply, instance_norm_ref, params, x)
    nchw = nn.InstanceNorm(axis=1, in_channels=5, scale=True)
    got = nchw.apply(params, x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(got.transpose(0, 2, 3, 1), instance_norm_ref(params, x), atol=1e-5)


def test_instance_norm_defaults_keep_gamma_fixed():
    layer = nn.InstanceNorm()  # MXNet's default: scale=False, center=True
    layer.initialize()
    x = data((2, 3, 3, 2))
    layer(x)
    grads = jax.grad(lambda p: (layer.apply(p, x) * x).sum())(layer.params)
    np.testing.assert_array_equal(grads["gamma"], [0.0, 0.0])  # frozen: no gradient
    assert float(jnp.abs(grads["beta"] - x.sum(axis=(0, 1, 2))).max()) < 1e-4


def test_group_norm_values_and_gradients():
    layer = nn.GroupNorm(num_groups=3)
    x = data((2, 3, 2, 6)) * 3 - 1
    assert layer.param_shapes(x.shape) == (x.shape, {"gamma": (3,), "beta": (3,)})
    params = {"gamma": data((3,), 1), "beta": data((3,), 2)}
    check_against(layer.apply, lambda p, v: group_norm_ref(p, v, 3), params, x)


def test_group_norm_layouts_channel_counts_and_instance_norm():
    x = data((2, 3, 2, 8))
    params = {"gamma": data((2,), 1), "beta": data((2,), 2)}
    nchw = nn.GroupNorm(num_groups=2, axis=1)
    got, want = jax.jit(lambda p, v: (nchw.apply(p, v.transpose(0, 3, 1, 2)),
                                      group_norm_ref(p, v, 2)))(params, x)
    np.testing.assert_allclose(got.transpose(0, 2, 3, 1), want, atol=1e-5)
    layer = nn.GroupNorm(num_groups=2)  # no parameter depends on the channel count
    layer.initialize()
    for channels in (2, 4, 8):
        assert layer(data((1, 2, 2, channels))).shape == (1, 2, 2, channels)
    per_channel = {"gamma": data((8,), 3), "beta": data((8,), 4)}
    every = nn.GroupNorm(num_groups=8)
    got, want = jax.jit(lambda p, v: (every.apply(p, v), instance_norm_ref(p, v)))(per_channel, x)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # MXNet's own example: (N, C, W) = (2, 3, 4), one group, each example normalised whole
    mx = nn.GroupNorm(axis=1)
    mx.initialize()
    out = mx(jnp.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_allclose(out[1, 2], [0.7242065, 1.0138891, 1.3035717, 1.5932543], rtol=1e-5)


def test_norms_report_bad_inputs_and_arguments():
    group = nn.GroupNorm(num_groups=4)
    group.initialize()
    with pytest.raises(ValueError, match=r"groupnorm0: GroupNorm\(num_groups=4\) splits the "
                                         r"channel axis 3 into equal groups, but the input of "
                                         r"shape \(2, 3, 3, 6\) has 6 channels"):
        group(jnp.ones((2, 3, 3, 6)))
    with pytest.raises(ValueError, match=r"GroupNorm\(axis=-1\) needs an input of at least 2 "
                                         r"axes.*got shape \(8,\)"):
        group(jnp.ones(8))
    inst = nn.InstanceNorm()
    inst.initialize()
    with pytest.raises(ValueError, match=r"instancenorm0: InstanceNorm\(axis=-1\) needs an "
                                         r"input of at least 3 axes.*got shape \(4, 5\)"):
        inst(jnp.ones((4, 5)))
    with pytest.raises(ValueError, match=r"InstanceNorm\(axis=0\) .* not the batch axis 0"):
        nn.InstanceNorm(axis=0).apply({"gamma": jnp.ones(2), "beta": jnp.ones(2)},
                                      jnp.ones((2, 3, 4)))
    for bad, message in [(lambda: nn.GroupNorm(num_groups=0), r"num_groups=...\) must be a "
                                                              r"positive int, got 0"),
                         (lambda: nn.GroupNorm(epsilon=0), r"epsilon=...\) must be positive"),
                         (lambda: nn.InstanceNorm(in_channels=-2), r"must be a non-negative")]:
        with pytest.raises(ValueError, match=message):
            bad()
    assert nn.GroupNorm().name == "groupnorm1"  # failed constructions took no name


# -- training through Trainer --------------------------------------------------------------------


def test_one_trainer_step_through_embedding_and_group_norm():
    net = nn.Sequential()
    net.add(nn.Embedding(12, 4), nn.GroupNorm(num_groups=2, scale=True), nn.Dense(1, in_units=12))
    net.initialize(init.Normal(0.5), key=3)
    X = jnp.array([[1, 2, 3], [4, 5, 9], [0, 0, 7], [8, 6, 1]])
    y = jnp.array([1.0, -1.0, 0.5, 2.0])
    l2 = loss.L2Loss()
    before = net.params
    grads = jax.jit(jax.grad(lambda p: l2(net.apply(p, X, training=True), y).sum()))(before)
    step = Trainer(net, "sgd", {"learning_rate": 0.1}).fused_step(net, l2)
    first = float(step(X, y))
    want = jax.tree.map(lambda p, g: p - 0.1 * g / len(X), before, grads)
    assert_trees_close(net.params, want, rtol=1e-5, atol=1e-6)
    emb_grad = grads["embedding0"]["weight"]
    assert float(jnp.abs(emb_grad[:10]).min()) > 0  # the rows looked up, and only those
    np.testing.assert_array_equal(emb_grad[10:], 0)
    np.testing.assert_array_equal(net.params["embedding0"]["weight"][10:],
                                  before["embedding0"]["weight"][10:])
    assert float(step(X, y)) < first
    # an index out of range under jit: a NaN loss, so the step is refused, not taken
    kept = net.params
    try:
        bad_loss = float(step(X.at[0, 0].set(12), y))
    except FloatingPointError:
        bad_loss = float("nan")
    assert np.isnan(bad_loss)
    assert_trees_close(net.params, kept, rtol=0, atol=0)


# -- SyncBatchNorm -------------------------------------------------------------------------------


def test_sync_batch_norm_is_batch_norm_with_mxnet_arguments():
    sync = nn.SyncBatchNorm(3, num_devices=4, key="bn", momentum=0.8)
    plain = nn.BatchNorm(momentum=0.8, in_channels=3)
    assert isinstance(sync, nn.BatchNorm) and sync.name == "syncbatchnorm0"
    assert repr(sync) == "SyncBatchNorm(axis=-1, eps=1e-05, momentum=0.8, in_channels=3)"
    sync.initialize()
    plain.initialize()
    x = data((6, 3)) * 2 + 1
    with autograd.record():
        np.testing.assert_allclose(sync(x), plain(x), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sync.running_mean.data(), 0.2 * np.asarray(x).mean(0), rtol=1e-5)
    assert_trees_close(sync.state, plain.state, rtol=1e-6, atol=0)


SYNC_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    from jax.sharding import NamedSharding, PartitionSpec
    import dstraight
    from dstraight import nn
    assert jax.device_count() == 8, jax.devices()
    mesh = dstraight.data_parallel()
    net = nn.SyncBatchNorm(in_channels=2, num_devices=8)
    net.initialize(device=mesh)
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((16, 2)) + np.arange(16)[:, None]).astype(np.float32)
    xs = jax.device_put(x, NamedSharding(mesh, PartitionSpec("data")))
    run = jax.jit(lambda p, s, v: net.apply(p, v, training=True, state=s, return_state=True))
    y, state = run(net.params, net.state, xs)
    assert len(y.sharding.device_set) == 8 and not y.sharding.is_fully_replicated
    want = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)   # the statistics of the global batch
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(state["running_mean"], 0.1 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(state["running_var"], 0.9 + 0.1 * x.var(0), rtol=1e-5)
    local = x.reshape(8, 2, 2)   # what one BatchNorm per device would have used instead
    assert np.abs(local.mean(1) - x.mean(0)).max() > 1
    print("global statistics on", jax.device_count(), "devices")
""")


def test_sync_batch_norm_uses_global_statistics_on_8_devices():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        " --xla_force_host_platform_device_count=8").strip()
    proc = subprocess.run([sys.executable, "-c", SYNC_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "global statistics on 8 devices" in proc.stdout
