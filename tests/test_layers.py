"""The layers of dstraight.nn against closed forms and hand-written JAX references.

Every layer is checked eagerly and under ``jax.jit``, values and gradients. Convolution and
pooling are compared with ``lax.conv_general_dilated`` / ``lax.reduce_window`` in both layouts.
The training paths of BatchNorm and Dropout (trainers, Module) are in test_layer_training.py.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax
from scipy.special import erf

from dstraight import autograd, nn


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def data(shape, seed=0):
    # NumPy draws: a jax.random draw would compile a program for every new shape
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def maybe_jit(f, jit):
    return jax.jit(f) if jit else f


def with_grads(f, cot):
    """``(f(p, x), gradient of <f(p, x), cot> in p and x)`` from one forward pass."""
    def run(p, x):
        out, pullback = jax.vjp(f, p, x)
        return out, pullback(cot)

    return run


def assert_trees_close(got, want, rtol, atol):
    got_leaves, want_leaves = jax.tree.leaves(got), jax.tree.leaves(want)
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def check_against(f, ref, params, x, cot, jit, rtol=1e-5, atol=1e-5, grad_atol=1e-4):
    """Compares ``f`` with the JAX reference ``ref``: values and gradients (params and input).

    Under ``jit`` both run in one compiled program (one compilation per case keeps the file
    fast); eagerly, ``f`` runs op by op and the reference compiled.
    """
    if jit:
        got, want = jax.jit(lambda p, v: (with_grads(f, cot)(p, v),
                                          with_grads(ref, cot)(p, v)))(params, x)
    else:
        got, want = with_grads(f, cot)(params, x), jax.jit(with_grads(ref, cot))(params, x)
    assert_trees_close(got[0], want[0], rtol=rtol, atol=atol)
    assert_trees_close(got[1], want[1], rtol=10 * rtol, atol=grad_atol)
    return got


# -- activations: values and derivatives against closed forms ----------------------------------

SELU_SCALE, SELU_ALPHA = 1.0507009873554804934193349852946, 1.6732632423543772848170429916717
C = math.sqrt(2 / math.pi)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def phi(z):
    return np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def gelu_erf(z):
    return 0.5 * z * (1 + erf(z / math.sqrt(2)))


def gelu_erf_grad(z):
    return 0.5 * (1 + erf(z / math.sqrt(2))) + z * phi(z)


def gelu_tanh(z):
    return 0.5 * z * (1 + np.tanh(C * (z + 0.044715 * z**3)))


def gelu_tanh_grad(z):
    t = np.tanh(C * (z + 0.044715 * z**3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * C * (1 + 3 * 0.044715 * z * z)


def activations():
    """(layer, f, f') with f and f' written out in NumPy."""
    return [
        (nn.LeakyReLU(0.1), lambda z: np.where(z > 0, z, 0.1 * z),
         lambda z: np.where(z > 0, 1.0, 0.1)),
        (nn.ELU(0.7), lambda z: np.where(z > 0, z, 0.7 * np.expm1(z)),
         lambda z: np.where(z > 0, 1.0, 0.7 * np.exp(z))),
        (nn.SELU(), lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
         lambda z: SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(z))),
        (nn.GELU(), gelu_erf, gelu_erf_grad),
        (nn.GELU(approximation="tanh"), gelu_tanh, gelu_tanh_grad),
        (nn.Swish(beta=1.5), lambda z: z * sigmoid(1.5 * z),
         lambda z: sigmoid(1.5 * z) + 1.5 * z * sigmoid(1.5 * z) * (1 - sigmoid(1.5 * z))),
        (nn.Activation("gelu"), gelu_erf, gelu_erf_grad),
        (nn.Activation("elu"), lambda z: np.where(z > 0, z, np.expm1(z)),
         lambda z: np.where(z > 0, 1.0, np.exp(z))),
        (nn.Activation("selu"), lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
         lambda z: SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(z))),
        (nn.Activation("swish"), lambda z: z * sigmoid(z),
         lambda z: sigmoid(z) + z * sigmoid(z) * (1 - sigmoid(z))),
    ]


@pytest.mark.parametrize("jit", [False, True])
def test_activation_values_and_gradients(jit):
    cases = activations()
    x = data((4, 5)) * 2
    z = np.asarray(x, np.float64)
    ones = jnp.ones_like(x)
    everything = maybe_jit(lambda v: [with_grads(lambda p, u, a=layer: a.apply(p, u), ones)({}, v)
                                      for layer, _, _ in cases], jit)(x)
    for (layer, f, df), (y, (_, g)) in zip(cases, everything, strict=True):
        np.testing.assert_allclose(y, f(z), rtol=2e-5, atol=2e-6, err_msg=repr(layer))
        np.testing.assert_allclose(g, df(z), rtol=2e-5, atol=2e-6, err_msg=repr(layer))
    # the shell (outside any training context) computes the same
    np.testing.assert_allclose(cases[3][0](x), everything[3][0], rtol=1e-6, atol=1e-7)


def test_a_failed_construction_does_not_use_up_a_name():
    # Names identify parameters in saved files: a typo fixed in a notebook must not shift them.
    for bad in (lambda: nn.BatchNorm(momentum=2), lambda: nn.LayerNorm(epsilon=0),
                lambda: nn.Dropout(1.5), lambda: nn.Conv2D(4, 0), lambda: nn.Conv2D(4, 3, groups=3),
                lambda: nn.MaxPool2D(layout="x"), lambda: nn.GlobalAvgPool2D(layout="x"),
                lambda: nn.Dense(0), lambda: nn.GELU("x"), lambda: nn.PReLU(in_channels=-1)):
        with pytest.raises(ValueError):
            bad()
    names = [nn.BatchNorm(), nn.LayerNorm(), nn.Dropout(0.5), nn.Conv2D(4, 3), nn.MaxPool2D(),
             nn.GlobalAvgPool2D(), nn.Dense(1), nn.GELU(), nn.PReLU()]
    assert [b.name for b in names] == ["batchnorm0", "layernorm0", "dropout0", "conv2d0",
                                       "maxpool2d0", "globalavgpool2d0", "dense0", "gelu0",
                                       "prelu0"]


def test_activation_arguments_are_checked():
    with pytest.raises(ValueError, match=r"GELU\(approximation=...\) must be 'erf' or 'tanh', "
                                         r"got 'fast'"):
        nn.GELU(approximation="fast")
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'; expected one of"):
        nn.Activation("swishy")
    with pytest.raises(ValueError, match=r"PReLU\(in_channels=...\) must be a positive int, "
                                         r"got 0"):
        nn.PReLU(in_channels=0)


@pytest.mark.parametrize(("shape", "jit"), [((6, 3), False), ((6, 3), True), ((2, 4, 4, 3), True)])
def test_prelu_per_channel_values_and_gradients(shape, jit):
    layer = nn.PReLU(in_channels=3)
    layer.initialize()
    np.testing.assert_allclose(layer.params["alpha"], [0.25] * 3)  # gluon's default slope
    params = {"alpha": jnp.array([0.1, -0.5, 2.0])}
    x, cot = data(shape, seed=1), data(shape, seed=2)
    z, a, c = (np.asarray(v, np.float64) for v in (x, params["alpha"], cot))
    y, (galpha, gx) = maybe_jit(with_grads(layer.apply, cot), jit)(params, x)
    np.testing.assert_allclose(y, np.where(z >= 0, z, a * z), rtol=1e-6)
    np.testing.assert_allclose(gx, c * np.where(z >= 0, 1.0, a), rtol=1e-6)
    axes = tuple(range(len(shape) - 1))
    np.testing.assert_allclose(galpha["alpha"], np.sum(c * np.minimum(z, 0), axis=axes),
                               rtol=1e-5, atol=1e-5)


# -- Dense(flatten=False) ------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_dense_without_flatten_acts_on_the_last_axis(jit):
    layer = nn.Dense(4, flatten=False, activation="tanh")
    layer.initialize("ones")
    x = data((2, 3, 5))
    assert layer(x).shape == (2, 3, 4)
    assert layer.weight.shape == (5, 4)  # inferred from the last axis, not from 3 * 5
    params = {"weight": data((5, 4), 1), "bias": data((4,), 2)}
    cot = data((2, 3, 4), 3)
    w, b, z, c = (np.asarray(v, np.float64) for v in (params["weight"], params["bias"], x, cot))
    pre = np.einsum("ijk,kl->ijl", z, w) + b
    y, (grads, gx) = maybe_jit(with_grads(layer.apply, cot), jit)(params, x)
    np.testing.assert_allclose(y, np.tanh(pre), rtol=1e-5, atol=1e-6)
    delta = c * (1 - np.tanh(pre) ** 2)
    np.testing.assert_allclose(gx, delta @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grads["weight"], np.einsum("ijk,ijl->kl", z, delta), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(grads["bias"], delta.sum(axis=(0, 1)), rtol=1e-5, atol=1e-5)


def test_dense_without_flatten_reports_the_last_axis():
    layer = nn.Dense(4, flatten=False, in_units=5)
    layer.initialize()
    with pytest.raises(ValueError, match=r"expects 5 input features but got an input of shape "
                                         r"\(2, 5, 6\), i\.e\. 6 features on the last axis "
                                         r"\(flatten=False\)"):
        layer(jnp.ones((2, 5, 6)))


# -- Lambda and HybridLambda -----------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_lambda_blocks_compute_their_function(jit):
    x = data((3, 4))
    cases = [
        (nn.Lambda(lambda v: v * v), lambda z: z * z, lambda z: 2 * z),
        (nn.Lambda("tanh"), np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        (nn.Lambda("relu"), lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
        (nn.HybridLambda(lambda F, v: F.exp(v) + F.relu(v)), lambda z: np.exp(z) + np.maximum(z, 0),
         lambda z: np.exp(z) + (z > 0)),
        (nn.HybridLambda(lambda v: -v), lambda z: -z, lambda z: -np.ones_like(z)),
    ]
    z = np.asarray(x, np.float64)
    ones = jnp.ones_like(x)
    results = maybe_jit(lambda v: [with_grads(lambda p, u, b=block: b.apply(p, u), ones)({}, v)
                                   for block, _, _ in cases], jit)(x)
    for (block, f, df), (y, (_, g)) in zip(cases, results, strict=True):
        np.testing.assert_allclose(y, f(z), rtol=1e-5, atol=1e-6, err_msg=repr(block))
        np.testing.assert_allclose(g, df(z), rtol=1e-5, atol=1e-6, err_msg=repr(block))
        assert block.params == {}


def test_lambda_takes_several_inputs_and_sits_in_a_sequential():
    both = nn.HybridLambda(lambda F, a, b: F.concatenate([a, b], axis=1))
    assert both(jnp.ones((2, 1)), jnp.zeros((2, 2))).tolist() == [[1, 0, 0], [1, 0, 0]]
    net = nn.Sequential()
    net.add(nn.Lambda(lambda v: v.reshape(len(v), -1)), nn.Dense(2))
    net.initialize("ones")
    assert net(jnp.ones((3, 2, 2))).shape == (3, 2)
    assert jax.tree.map(jnp.shape, net.params) == {"dense0": {"weight": (4, 2), "bias": (2,)}}


def test_lambda_arguments_are_checked():
    with pytest.raises(ValueError, match=r"Lambda\('no_such_fn'\): no function of that name in "
                                         r"jax.numpy or jax.nn"):
        nn.Lambda("no_such_fn")
    with pytest.raises(TypeError, match=r"Lambda needs a function or a function name, got 3"):
        nn.Lambda(3)


# -- Dropout ---------------------------------------------------------------------------------------


def test_dropout_rate_is_checked():
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"Dropout\(rate=...\) must be in \[0, 1\)"):
            nn.Dropout(bad)
    with pytest.raises(TypeError, match=r"Dropout\(rate=...\) must be a number, got 'half'"):
        nn.Dropout("half")


@pytest.mark.parametrize("jit", [False, True])
def test_dropout_is_the_identity_in_prediction(jit):
    drop = nn.Dropout(0.5)
    x = data((50, 8))
    np.testing.assert_array_equal(maybe_jit(lambda v: drop.apply({}, v), jit)(x), x)
    np.testing.assert_array_equal(maybe_jit(lambda v: drop.apply({}, v, key=1), jit)(x), x)
    np.testing.assert_array_equal(drop(x), x)  # the shell outside record()
    with autograd.record(), autograd.predict_mode():
        np.testing.assert_array_equal(drop(x), x)
    with autograd.record(), autograd.pause():
        np.testing.assert_array_equal(drop(x), x)


@pytest.mark.parametrize("jit", [False, True])
def test_dropout_mask_keep_rate_scaling_and_gradient(jit):
    rate, n = 0.3, 10_000
    drop = nn.Dropout(rate)
    x = jnp.linspace(1.0, 2.0, n).reshape(100, 100)  # no zeros: a zero output means dropped
    train = maybe_jit(lambda v, k: drop.apply({}, v, key=k, training=True), jit)
    y = np.asarray(train(x, jax.random.key(7)))
    kept = y != 0
    # keep rate: binomial with sd sqrt(p(1-p)/n) = 0.0046; 5 sd is an honest bound
    assert abs(kept.mean() - (1 - rate)) < 5 * math.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / (1 - rate), rtol=1e-6)
    # the same key gives the same mask, eagerly and compiled; another key another one
    np.testing.assert_array_equal(train(x, jax.random.key(7)), y)
    np.testing.assert_array_equal(drop.apply({}, x, key=jax.random.key(7), training=True), y)
    other = np.asarray(train(x, jax.random.key(8))) != 0
    assert 0.4 < (other == kept).mean() < 0.8  # independent masks agree on p^2+(1-p)^2 = 0.58
    # int seeds are keys too
    np.testing.assert_array_equal(drop.apply({}, x, key=7, training=True), y)
    grad = maybe_jit(jax.grad(lambda v: jnp.sum(drop.apply({}, v, key=jax.random.key(7),
                                                           training=True))), jit)(x)
    np.testing.assert_allclose(grad, kept / (1 - rate), rtol=1e-6)


def test_dropout_in_training_needs_a_key():
    with pytest.raises(ValueError, match=r"dropout0 \(Dropout\) draws random numbers in training "
                                         r"mode and needs a key: pass key=..."):
        nn.Dropout(0.5).apply({}, jnp.ones(3), training=True)


def test_dropout_shares_masks_along_axes_and_rate_zero_keeps_everything():
    drop = nn.Dropout(0.5, axes=(1, 2))  # whole channels of (N, H, W, C) images
    y = np.asarray(drop.apply({}, jnp.ones((4, 3, 3, 16)), key=0, training=True))
    assert set(np.unique(y)) == {0.0, 2.0}
    assert (y == y[:, :1, :1, :]).all()
    assert 0 < (y[:, 0, 0, :] == 0).mean() < 1
    x = data((5, 5))
    np.testing.assert_array_equal(nn.Dropout(0.0).apply({}, x, key=0, training=True), x)


def test_two_dropout_layers_in_one_pass_draw_different_masks():
    class Twice(nn.Block):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = nn.Dropout(0.5), nn.Dropout(0.5)

        def forward(self, x):
            return self.a(x), self.b(x)

    a, b = Twice().apply({}, jnp.ones((100, 40)), key=0, training=True)
    assert 0.35 < (np.asarray(a) == np.asarray(b)).mean() < 0.65  # independent: 0.5 agree


@pytest.mark.parametrize("hybridize", [False, True])
def test_dropout_in_shell_calls_under_record(hybridize):
    def masks(seed, calls=2):
        net = nn.Sequential()
        net.add(nn.Dropout(0.5))
        net.initialize(key=seed)
        net.hybridize(hybridize)
        with autograd.record():
            return [np.asarray(net(jnp.ones((100, 40)))) for _ in range(calls)]

    first, second = masks(3)
    assert set(np.unique(first)) == {0.0, 2.0}
    assert 0.4 < (first == 0).mean() < 0.6
    assert 0.35 < (first == second).mean() < 0.65  # a new mask at every call
    again = masks(3)  # initialize(key=...) seeds the stream: reproducible
    np.testing.assert_array_equal(again[0], first)
    np.testing.assert_array_equal(again[1], second)
    assert (masks(4)[0] != first).any()


# -- BatchNorm -------------------------------------------------------------------------------------


def bn_reference(x, gamma, beta, axis, eps=1e-5):
    reduce = tuple(a for a in range(x.ndim) if a != axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    mean = jnp.mean(x, axis=reduce)
    var = jnp.mean((x - mean.reshape(shape)) ** 2, axis=reduce)
    y = (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + eps)
    return y * gamma.reshape(shape) + beta.reshape(shape), mean, var


@pytest.mark.parametrize(("shape", "axis", "jit"), [
    ((8, 3), -1, False), ((4, 5, 5, 3), -1, True), ((4, 3, 5, 5), 1, True)])
def test_batchnorm_training_values_gradients_and_state(shape, axis, jit):
    bn = nn.BatchNorm(axis=axis, momentum=0.9)
    x = data(shape) * 3 + 1
    assert bn.param_shapes(shape)[1] == {"gamma": (3,), "beta": (3,)}
    params = {"gamma": data((3,), 1), "beta": data((3,), 2)}
    state = {"running_mean": jnp.array([0.5, -1.0, 2.0]), "running_var": jnp.array([1., 2., 3.])}
    cot = data(shape, 3)
    ax = axis % len(shape)

    def train(p, v):
        return bn.apply(p, v, training=True, state=state, return_state=True)

    def with_state(p, v):  # the pair (output, new state) of one training pass
        out, new = train(p, v)
        return out, (new["running_mean"], new["running_var"])

    def ref_with_state(p, v):
        out, mean, var = bn_reference(v, p["gamma"], p["beta"], ax)
        return out, (0.9 * state["running_mean"] + 0.1 * mean,
                     0.9 * state["running_var"] + 0.1 * var)

    zero = jnp.zeros(3)  # the statistics carry no gradient; only the output's cotangent counts
    check_against(with_state, ref_with_state, params, x, (cot, (zero, zero)), jit,
                  grad_atol=1e-4)
    # the pure function stores nothing: the shell's statistics stay at their initial values
    bn.initialize()
    bn(x)
    train(params, x)
    np.testing.assert_array_equal(bn.state["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(bn.state["running_var"], np.ones(3))


@pytest.mark.parametrize("jit", [False, True])
def test_batchnorm_prediction_uses_running_statistics(jit):
    bn = nn.BatchNorm(in_channels=2, epsilon=1e-3)
    bn.initialize()
    bn.running_mean.set_data([1.0, -2.0])
    bn.running_var.set_data([4.0, 0.25])
    params = {"gamma": jnp.array([2.0, 3.0]), "beta": jnp.array([0.5, -0.5])}
    x = data((6, 2))
    want = (x - jnp.array([1.0, -2.0])) / jnp.sqrt(jnp.array([4.0, 0.25]) + 1e-3) \
        * params["gamma"] + params["beta"]
    y, st = maybe_jit(lambda p, v: bn.apply(p, v, return_state=True), jit)(params, x)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(st["running_mean"], [1.0, -2.0])  # unchanged in prediction
    # use_global_stats: the running statistics in training too, and they stay put
    frozen = nn.BatchNorm(in_channels=2, epsilon=1e-3, use_global_stats=True)
    frozen.initialize()
    frozen.collect_params().select(lambda p: p.kind == "state").set_tree(bn.state)
    y, st = frozen.apply(params, x, training=True, return_state=True)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(st["running_var"], [4.0, 0.25])


def test_batchnorm_state_is_not_trainable_and_scale_center_can_be_frozen():
    bn = nn.BatchNorm(center=False, scale=False, in_channels=3)
    bn.initialize()
    kinds = {n: (p.kind, p.grad_req) for n, p in bn.collect_params().items()}
    assert kinds == {"batchnorm0_gamma": ("param", "null"), "batchnorm0_beta": ("param", "null"),
                     "batchnorm0_running_mean": ("state", "null"),
                     "batchnorm0_running_var": ("state", "null")}
    assert set(bn.params) == {"gamma", "beta"} and set(bn.state) == {"running_mean",
                                                                     "running_var"}
    x = data((8, 3))
    grads = jax.grad(lambda p: jnp.sum(bn.apply(p, x, training=True) * x))(bn.params)
    np.testing.assert_array_equal(grads["gamma"], np.zeros(3))
    np.testing.assert_array_equal(grads["beta"], np.zeros(3))
    with pytest.raises(ValueError, match=r"is state updated by the forward pass .* cannot be "
                                         r"trained"):
        bn.running_mean.grad_req = "write"


def test_batchnorm_arguments_are_checked():
    with pytest.raises(ValueError, match=r"BatchNorm\(momentum=...\) must be in \[0, 1\], got 1.5"):
        nn.BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match=r"BatchNorm\(epsilon=...\) must be positive and "
                                         r"finite, got 0"):
        nn.BatchNorm(epsilon=0)
    with pytest.raises(TypeError, match=r"BatchNorm\(epsilon=...\) must be a number, got 'x'"):
        nn.BatchNorm(epsilon="x")
    with pytest.raises(ValueError, match=r"LayerNorm\(epsilon=...\) must be positive"):
        nn.LayerNorm(epsilon=-1e-5)
    bn = nn.BatchNorm(axis=3)
    bn.initialize()
    with pytest.raises(ValueError, match=r"batchnorm0: BatchNorm\(axis=3\) needs an input with "
                                         r"that axis and a batch axis, got shape \(4, 2\)"):
        bn(jnp.ones((4, 2)))
    bn = nn.BatchNorm(in_channels=3)
    bn.initialize()
    with pytest.raises(ValueError, match=r"batchnorm1_gamma' has shape \(3,\) but this input "
                                         r"needs shape \(2,\)"):
        bn(jnp.ones((4, 2)))


# -- LayerNorm -------------------------------------------------------------------------------------


def ln_reference(x, gamma, beta, axis, eps=1e-5):
    mean = jnp.mean(x, axis=axis, keepdims=True)
    var = jnp.mean((x - mean) ** 2, axis=axis, keepdims=True)
    shape = [1] * x.ndim
    shape[axis] = -1
    return (x - mean) / jnp.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize(("shape", "axis", "jit"), [((5, 4), -1, False), ((3, 4, 6), 1, True)])
def test_layernorm_values_and_gradients(shape, axis, jit):
    ln = nn.LayerNorm(axis=axis)
    ax, channels = axis % len(shape), shape[axis]
    x = data(shape) * 2 - 1
    assert ln.param_shapes(shape) == (shape, {"gamma": (channels,), "beta": (channels,)})
    params = {"gamma": data((channels,), 1), "beta": data((channels,), 2)}
    cot = data(shape, 3)
    # no batch statistics: both modes compute the same
    check_against(lambda p, v: (ln.apply(p, v), ln.apply(p, v, training=True)),
                  lambda p, v: (ln_reference(v, p["gamma"], p["beta"], ax),) * 2,
                  params, x, (cot, cot), jit)


def test_layernorm_shell_initializes_ones_and_zeros():
    ln = nn.LayerNorm()
    ln.initialize()
    x = data((3, 4))
    y = ln(x)
    assert jax.tree.map(jnp.shape, ln.params) == {"gamma": (4,), "beta": (4,)}
    np.testing.assert_allclose(y, jax.jit(ln_reference, static_argnums=3)(
        x, jnp.ones(4), jnp.zeros(4), 1), rtol=1e-5, atol=1e-5)


# -- Conv2D ----------------------------------------------------------------------------------------

CONVS = [  # (kwargs, input shape in NHWC)
    (dict(channels=4, kernel_size=3), (2, 7, 6, 3)),
    (dict(channels=6, kernel_size=(3, 2), strides=(2, 1), padding=(1, 2)), (2, 7, 6, 3)),
    (dict(channels=4, kernel_size=3, dilation=2, padding=2), (1, 8, 8, 2)),
    (dict(channels=6, kernel_size=3, groups=3, strides=2, padding=1), (2, 6, 6, 3)),
]


def to_layout(x_nhwc, layout):
    return x_nhwc if layout == "NHWC" else jnp.transpose(x_nhwc, (0, 3, 1, 2))


def conv_reference(x, w, b, kw, layout):
    ph, pw = pair(kw.get("padding", 0))
    dn = ("NHWC", "HWIO", "NHWC") if layout == "NHWC" else ("NCHW", "OIHW", "NCHW")
    y = lax.conv_general_dilated(x, w, pair(kw.get("strides", 1)), [(ph, ph), (pw, pw)],
                                 rhs_dilation=pair(kw.get("dilation", 1)), dimension_numbers=dn,
                                 feature_group_count=kw.get("groups", 1),
                                 precision=lax.Precision.HIGHEST)
    return y + (b if layout == "NHWC" else b.reshape(1, -1, 1, 1))


def out_size(n, k, s, p, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# Every case compiled; a few also eagerly (an eager op compiles a program per shape: slow on CPU)
CONV_CASES = [(CONVS[0], "NHWC", True), (CONVS[0], "NCHW", True), (CONVS[1], "NHWC", True),
              (CONVS[1], "NCHW", False), (CONVS[2], "NHWC", True), (CONVS[3], "NCHW", True),
              (CONVS[3], "NHWC", False)]


@pytest.mark.parametrize(("case", "layout", "jit"), CONV_CASES)
def test_conv2d_matches_lax_in_both_layouts(case, layout, jit):
    kwargs, shape = case
    conv = nn.Conv2D(layout=layout, **kwargs)
    x = to_layout(data(shape), layout)
    (kh, kwid), (sh, sw) = pair(kwargs["kernel_size"]), pair(kwargs.get("strides", 1))
    (ph, pw), (dh, dw) = pair(kwargs.get("padding", 0)), pair(kwargs.get("dilation", 1))
    ho, wo = out_size(shape[1], kh, sh, ph, dh), out_size(shape[2], kwid, sw, pw, dw)
    cout, cin = kwargs["channels"], shape[3] // kwargs.get("groups", 1)
    out_shape, shapes = conv.param_shapes(x.shape)
    assert out_shape == ((shape[0], ho, wo, cout) if layout == "NHWC"
                         else (shape[0], cout, ho, wo))
    w_shape = (kh, kwid, cin, cout) if layout == "NHWC" else (cout, cin, kh, kwid)
    assert shapes == {"weight": w_shape, "bias": (cout,)}
    params = {"weight": data(w_shape, 1), "bias": data((cout,), 2)}
    cot = data(out_shape, 3)
    check_against(conv.apply,
                  lambda p, v: conv_reference(v, p["weight"], p["bias"], kwargs, layout),
                  params, x, cot, jit, rtol=1e-4, atol=1e-4, grad_atol=1e-3)


def test_conv2d_layouts_agree_and_match_a_numpy_loop():
    x = data((2, 5, 5, 2))
    w_hwio = data((3, 3, 2, 3), 1)
    b = data((3,), 2)
    nhwc = nn.Conv2D(3, 3, padding=1, activation="relu")
    nchw = nn.Conv2D(3, 3, padding=1, activation="relu", layout="NCHW")
    y1 = nhwc.apply({"weight": w_hwio, "bias": b}, x)
    y2 = nchw.apply({"weight": jnp.transpose(w_hwio, (3, 2, 0, 1)), "bias": b},
                    jnp.transpose(x, (0, 3, 1, 2)))
    np.testing.assert_allclose(jnp.transpose(y2, (0, 2, 3, 1)), y1, rtol=1e-5, atol=1e-5)
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    loop = np.zeros((2, 5, 5, 3))
    for i in range(3):
        for j in range(3):
            loop += xp[:, i:i + 5, j:j + 5, :] @ np.asarray(w_hwio, np.float64)[i, j]
    np.testing.assert_allclose(y1, np.maximum(loop + np.asarray(b), 0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(channels=0, kernel_size=3), r"Conv2D\(channels=...\) must be a positive int, got 0"),
    (dict(channels=2, kernel_size=(3,)), r"Conv2D\(kernel_size=...\) must be an int or a pair"),
    (dict(channels=2, kernel_size=0), r"Conv2D\(kernel_size=...\) must be an int >= 1"),
    (dict(channels=2, kernel_size=3, strides=0), r"Conv2D\(strides=...\) must be an int >= 1"),
    (dict(channels=2, kernel_size=3, padding=-1), r"Conv2D\(padding=...\) must be an int >= 0"),
    (dict(channels=2, kernel_size=3, dilation=(1, 0)), r"Conv2D\(dilation=...\) must be an int"),
    (dict(channels=4, kernel_size=3, groups=3), r"Conv2D\(groups=...\) must be a positive int "
                                                r"dividing channels=4, got 3"),
    (dict(channels=4, kernel_size=3, layout="NWHC"), r"Conv2D\(layout=...\) must be 'NHWC' .* "
                                                     r"or 'NCHW' .*, got 'NWHC'"),
])
def test_conv2d_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2D(**kwargs)


def test_conv2d_input_checks():
    conv = nn.Conv2D(4, 3)
    conv.initialize("zeros")
    with pytest.raises(ValueError, match=r"conv2d0: expected a batch of images of shape "
                                         r"\(N, H, W, C\), got shape \(8, 8, 3\)\. A single "
                                         r"image needs a batch axis"):
        conv(jnp.ones((8, 8, 3)))
    conv(jnp.ones((1, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"conv2d0: Conv2D was built for 3 input channels per "
                                         r"group, got an input of shape \(1, 8, 8, 2\) \(NHWC\) "
                                         r"with 2 channels"):
        conv(jnp.ones((1, 8, 8, 2)))
    grouped = nn.Conv2D(4, 3, groups=2, layout="NCHW")
    grouped.initialize("zeros")
    with pytest.raises(ValueError, match=r"conv2d1: 3 input channels cannot be split into "
                                         r"groups=2"):
        grouped(jnp.ones((1, 3, 8, 8)))


# -- pooling ---------------------------------------------------------------------------------------


def pool_reference(x, kind, size, strides, padding, layout, extra=(0, 0), include_pad=True):
    """lax.reduce_window; ``extra`` pads the bottom/right further (ceil mode).

    The average counts the zero padding when ``include_pad`` (gluon's default), never the
    ``extra`` rows and columns beyond it.
    """
    spatial = (1, 2) if layout == "NHWC" else (2, 3)
    win, st, pad = [1] * 4, [1] * 4, [(0, 0)] * 4
    for i, a in enumerate(spatial):
        win[a], st[a], pad[a] = size[i], strides[i], (padding[i], padding[i] + extra[i])
    if kind == "max":
        return lax.reduce_window(x, -jnp.inf, lax.max, win, st, pad)
    total = lax.reduce_window(x, 0.0, lax.add, win, st, pad)
    if include_pad:
        padded = jnp.ones([n + 2 * p for n, (p, _) in zip(x.shape, pad, strict=True)])
        count = lax.reduce_window(padded, 0.0, lax.add, win, st, [(0, e - p) for p, e in pad])
    else:
        count = lax.reduce_window(jnp.ones(x.shape), 0.0, lax.add, win, st, pad)
    return total / count


POOLS = [  # (pool_size, strides, padding, NHWC shape)
    ((2, 2), None, (0, 0), (2, 6, 8, 3)),
    ((3, 3), (2, 2), (1, 1), (2, 7, 7, 2)),
    ((3, 2), (1, 2), (1, 0), (1, 5, 6, 2)),
]
POOL_CASES = [(POOLS[0], "NHWC", True), (POOLS[1], "NCHW", True), (POOLS[1], "NHWC", False),
              (POOLS[2], "NCHW", True), (POOLS[2], "NHWC", True)]


@pytest.mark.parametrize(("case", "layout", "jit"), POOL_CASES)
def test_pooling_matches_reduce_window(case, layout, jit):
    size, strides, padding, shape = case
    top = nn.MaxPool2D(pool_size=size, strides=strides, padding=padding, layout=layout)
    avg = nn.AvgPool2D(pool_size=size, strides=strides, padding=padding, layout=layout)
    x = to_layout(data(shape), layout)
    strides = size if strides is None else strides
    ho, wo = (out_size(shape[1 + i], size[i], strides[i], padding[i]) for i in range(2))
    out_shape = (shape[0], ho, wo, shape[3]) if layout == "NHWC" else \
        (shape[0], shape[3], ho, wo)
    assert top.param_shapes(x.shape) == avg.param_shapes(x.shape) == (out_shape, {})
    cot = (data(out_shape, 1), data(out_shape, 2))
    got = check_against(
        lambda p, v: (top.apply(p, v), avg.apply(p, v)),
        lambda p, v: tuple(pool_reference(v, kind, size, strides, padding, layout)
                           for kind in ("max", "avg")), {}, x, cot, jit, atol=1e-6)
    assert got[0][0].shape == got[0][1].shape == out_shape


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_avg_pool_without_counting_padding(layout):
    pool = nn.AvgPool2D(pool_size=3, strides=2, padding=1, layout=layout, count_include_pad=False)
    x = to_layout(data((2, 5, 5, 2)), layout)
    y = jax.jit(lambda v: pool.apply({}, v))(x)
    want = pool_reference(x, "avg", (3, 3), (2, 2), (1, 1), layout, include_pad=False)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
    # the corner window holds 4 real values of 9
    corner = x[0, :2, :2, 0] if layout == "NHWC" else x[0, 0, :2, :2]
    np.testing.assert_allclose(y[0, 0, 0, 0], jnp.mean(corner), rtol=1e-5)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_pooling_ceil_mode_keeps_the_partial_last_window(kind, layout):
    cls = nn.MaxPool2D if kind == "max" else nn.AvgPool2D
    x = to_layout(data((1, 5, 7, 2)), layout)
    spatial = (1, 2) if layout == "NHWC" else (2, 3)
    floor, _ = cls(pool_size=2, layout=layout).param_shapes(x.shape)
    assert tuple(floor[a] for a in spatial) == (2, 3)
    ceil = jax.jit(lambda v: cls(pool_size=2, layout=layout, ceil_mode=True).apply({}, v))(x)
    assert tuple(ceil.shape[a] for a in spatial) == (3, 4)
    # the last windows hold the real values only (1 row and/or 1 column of them)
    want = pool_reference(x, kind, (2, 2), (2, 2), (0, 0), layout, extra=(1, 1),
                          include_pad=False)
    np.testing.assert_allclose(ceil, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_global_pools(layout, jit):
    x = to_layout(data((2, 4, 3, 5)), layout)
    axes = (1, 2) if layout == "NHWC" else (2, 3)
    avg, top = nn.GlobalAvgPool2D(layout=layout), nn.GlobalMaxPool2D(layout=layout)
    out_shape = (2, 1, 1, 5) if layout == "NHWC" else (2, 5, 1, 1)
    assert avg.param_shapes(x.shape) == top.param_shapes(x.shape) == (out_shape, {})
    cot = (data(out_shape, 1), data(out_shape, 2))
    check_against(lambda p, v: (avg.apply(p, v), top.apply(p, v)),
                  lambda p, v: (jnp.mean(v, axis=axes, keepdims=True),
                                jnp.max(v, axis=axes, keepdims=True)), {}, x, cot, jit)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: nn.MaxPool2D(pool_size=0), r"MaxPool2D\(pool_size=...\) must be an int >= 1"),
    (lambda: nn.AvgPool2D(strides=(1,)), r"AvgPool2D\(strides=...\) must be an int or a pair"),
    (lambda: nn.MaxPool2D(padding=-1), r"MaxPool2D\(padding=...\) must be an int >= 0"),
    (lambda: nn.AvgPool2D(layout="CHW"), r"AvgPool2D\(layout=...\) must be 'NHWC'"),
    (lambda: nn.GlobalMaxPool2D(layout="NC"), r"GlobalMaxPool2D\(layout=...\) must be 'NHWC'"),
])
def test_pooling_arguments_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_pooling_input_must_be_a_batch_of_images():
    with pytest.raises(ValueError, match=r"maxpool2d0: expected a batch of images of shape "
                                         r"\(N, C, H, W\), got shape \(3, 8, 8\)"):
        nn.MaxPool2D(layout="NCHW")(jnp.ones((3, 8, 8)))
    with pytest.raises(ValueError, match=r"globalavgpool2d0: expected a batch of images"):
        nn.GlobalAvgPool2D()(jnp.ones((8, 8)))


def test_shapes_flow_through_a_small_cnn_in_training_mode():
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, padding=1, activation="relu"), nn.BatchNorm(),
            nn.MaxPool2D(2), nn.Dropout(0.25), nn.Flatten(), nn.Dense(3))
    x = data((4, 6, 6, 1))
    out_shape, shapes = net.param_shapes(x.shape)
    assert out_shape == (4, 3)
    assert shapes == {"conv2d0": {"weight": (3, 3, 1, 4), "bias": (4,)},
                      "batchnorm0": {"gamma": (4,), "beta": (4,)},
                      "dense0": {"weight": (36, 3), "bias": (3,)}}
    params = jax.tree.map(lambda s: data(s, len(s)), shapes, is_leaf=lambda s: isinstance(s, tuple))
    state = {"batchnorm0": {"running_mean": jnp.zeros(4), "running_var": jnp.ones(4)}}
    y, new_state = jax.jit(lambda p: net.apply(p, x, key=0, training=True, state=state,
                                               return_state=True))(params)
    assert y.shape == (4, 3) and bool(jnp.all(jnp.isfinite(y)))
    assert float(jnp.abs(new_state["batchnorm0"]["running_mean"]).sum()) > 0
