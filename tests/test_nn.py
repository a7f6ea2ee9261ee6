"""dstraight.nn: the pure core against NumPy, and the gluon-style shell around it."""

import doctest
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from dstraight import init, nn


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def data(shape, seed=0):
    return jax.random.normal(jax.random.key(seed), shape)


def mlp():
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(2))
    return net


# -- Dense: forward pass ------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_dense_apply_matches_numpy(jit):
    net = nn.Dense(3, in_units=5)
    net.initialize(init.Normal(1.0), key=1)
    X = data((4, 5))
    apply = jax.jit(net.apply) if jit else net.apply
    W, b = np.asarray(net.weight.data()), np.asarray(net.bias.data())
    np.testing.assert_allclose(apply(net.params, X), np.asarray(X) @ W + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net(X), np.asarray(X) @ W + b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_dense_flattens_inputs_with_more_than_two_axes(jit):
    net = nn.Dense(3)
    net.initialize(init.Normal(1.0), key=0)
    X = data((4, 2, 3, 1))
    call = jax.jit(net.apply) if jit else net.apply
    y = net(X)
    assert net.weight.shape == (6, 3)
    expected = np.asarray(X).reshape(4, 6) @ np.asarray(net.weight.data())
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(call(net.params, X), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu", lambda z: np.maximum(z, 0)),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
        ("tanh", np.tanh),
        ("softmax", lambda z: np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)),
        ("softrelu", lambda z: np.log1p(np.exp(z))),
        ("softsign", lambda z: z / (1 + np.abs(z))),
    ],
)
@pytest.mark.parametrize("jit", [False, True])
def test_activations_match_numpy(name, reference, jit):
    net = nn.Dense(3, activation=name, in_units=2)
    net.initialize(init.Normal(1.0), key=0)
    X = data((5, 2))
    z = np.asarray(X) @ np.asarray(net.weight.data())
    apply = jax.jit(net.apply) if jit else net.apply
    np.testing.assert_allclose(apply(net.params, X), reference(z), rtol=1e-5, atol=1e-6)
    act = nn.Activation(name)
    act_apply = jax.jit(act.apply) if jit else act.apply
    np.testing.assert_allclose(act_apply({}, z), reference(z), rtol=1e-5, atol=1e-6)


def test_activation_accepts_functions_and_rejects_unknown_names():
    np.testing.assert_allclose(nn.Activation(jnp.abs)(jnp.array([[-2.0]])), [[2.0]])
    with pytest.raises(ValueError, match=r"Unknown activation 'gelux'; expected one of \["):
        nn.Dense(2, activation="gelux")
    with pytest.raises(ValueError, match=r"Unknown activation 'swishy'"):
        nn.Activation("swishy")


def test_dense_without_bias():
    net = nn.Dense(2, use_bias=False)
    net.initialize(init.One())
    assert list(net.collect_params()) == ["dense0_weight"]
    np.testing.assert_allclose(net(jnp.ones((1, 3))), [[3.0, 3.0]])
    assert net.bias is None


# -- deferred initialization ----------------------------------------------------------------------


def test_shapes_are_unknown_until_the_first_call():
    net = nn.Dense(2)
    net.initialize(init.Normal(1.0), key=0)
    assert net.weight.shape == (None, 2)
    assert repr(net.weight) == "Parameter dense0_weight (shape=(?, 2), dtype=float32)"
    with pytest.raises(nn.DeferredInitializationError,
                       match=r"'dense0_weight' has shape \(\?, 2\).*first forward pass.*net\(X\)"):
        net.weight.data()
    with pytest.raises(ValueError, match="deferred initialization"):
        net.params  # noqa: B018 - the property access is what raises
    net(jnp.ones((3, 7)))
    assert net.weight.shape == (7, 2)
    assert net.in_units == 7
    assert jax.tree.map(jnp.shape, net.params) == {"weight": (7, 2), "bias": (2,)}


def test_bias_with_known_shape_exists_right_after_initialize():
    net = nn.Dense(2)
    net.initialize(init.Normal(1.0), key=0)
    np.testing.assert_array_equal(net.bias.data(), [0.0, 0.0])


def test_uninitialized_network_says_so():
    net = mlp()
    with pytest.raises(ValueError, match=r"Parameters \['dense0_weight', .*\] of sequential0 "
                                         r"have not been initialized\. Call net.initialize\(\)"):
        net(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"'dense1_bias' has not been initialized"):
        net[1].bias.data()


def test_calling_the_shell_under_jit_refuses_to_bake_in_parameters():
    X = data((3, 5))
    net = nn.Dense(2)
    net.initialize(init.Normal(1.0), key=4)
    net(X)
    with pytest.raises(TypeError, match=r"dense0\(x\) was called on a traced value.*net\.apply"):
        jax.jit(lambda x: net(x))(X)
    with pytest.raises(TypeError, match="traced value"):
        jax.grad(lambda x: net(x).sum())(X)
    # the pure function is the way: it sees new parameter values, nothing is baked in
    f = jax.jit(lambda p, x: net.apply(p, x))
    np.testing.assert_allclose(f(net.params, X), net(X), rtol=1e-6)
    doubled = jax.tree.map(lambda a: 2 * a, net.params)
    np.testing.assert_allclose(f(doubled, X), 2 * net(X), rtol=1e-5, atol=1e-6)


def test_hybridized_first_call_stores_concrete_values():
    X = data((3, 5))
    eager = nn.Dense(2)
    eager.initialize(init.Normal(1.0), key=4)
    expected = eager(X)
    hybrid = nn.Dense(2)
    hybrid.initialize(init.Normal(1.0), key=4)
    hybrid.hybridize()
    np.testing.assert_allclose(hybrid(X), expected, rtol=1e-6)
    np.testing.assert_allclose(hybrid(X), expected, rtol=1e-6)  # the compiled call
    for leaf in jax.tree.leaves(hybrid.params):
        assert not isinstance(leaf, jax.core.Tracer)
    np.testing.assert_array_equal(hybrid.weight.data(), eager.weight.data())


def test_init_params_is_pure_and_agrees_with_the_shell():
    net = mlp()
    out_shape, params = net.init_params(5, (6, 3), init=init.Normal(1.0))
    assert out_shape == (6, 2)
    assert net.collect_params()["dense0_weight"].shape == (None, 4)  # shell untouched
    net.initialize(init.Normal(1.0), key=5)
    net(jnp.ones((6, 3)))
    jax.tree.map(np.testing.assert_array_equal, params, net.params)


def test_keys_make_initialization_reproducible():
    a, b, c = mlp(), mlp(), mlp()
    X = jnp.ones((2, 3))
    for net, key in ((a, 0), (b, jax.random.key(0)), (c, 1)):
        net.initialize(init.Normal(1.0), key=key)
        net(X)
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(u, v)  # same values, although the layer names differ
    assert not np.array_equal(a[0].weight.data(), c[0].weight.data())
    # each parameter gets its own subkey
    assert not np.array_equal(a[0].weight.data()[:, 0], a[1].weight.data()[:, 0])


def test_default_initializer_is_uniform_and_biases_stay_zero():
    net = nn.Dense(50, in_units=40)
    net.initialize()
    w = np.asarray(net.weight.data())
    assert np.abs(w).max() < 0.07 and w.std() > 0.03  # Uniform(0.07) has std 0.040
    np.testing.assert_array_equal(net.bias.data(), np.zeros(50))
    net2 = nn.Dense(5, in_units=4, weight_initializer="ones", bias_initializer=init.Constant(2))
    net2.initialize(init.Normal(1.0))  # the layer's own initializers take precedence
    np.testing.assert_array_equal(net2.weight.data(), np.ones((4, 5)))
    np.testing.assert_array_equal(net2.bias.data(), np.full(5, 2.0))


def test_initialize_twice_warns_and_force_reinit_redraws():
    net = nn.Dense(2, in_units=3)
    net.initialize(init.Normal(1.0), key=0)
    before = net.weight.data()
    with pytest.warns(UserWarning, match=r"\['dense0_weight', 'dense0_bias'\] are already "
                                         r"initialized; .*force_reinit=True"):
        net.initialize(init.Normal(1.0), key=1)
    np.testing.assert_array_equal(net.weight.data(), before)
    net.collect_params().initialize(init.Normal(1.0), key=1, force_reinit=True)
    assert not np.array_equal(net.weight.data(), before)


# -- errors of the forward pass -------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_feature_size_mismatch(jit):
    net = nn.Dense(2)
    net.initialize()
    net(jnp.ones((4, 3)))
    message = (r"dense0: Dense\(units=2\) expects 3 input features but got an input of shape "
               r"\(4, 5\), i\.e\. 5 features .*x\[None\].*x\.reshape\(len\(x\), -1\)")
    with pytest.raises(ValueError, match=message):
        net(jnp.ones((4, 5)))
    apply = jax.jit(net.apply) if jit else net.apply
    with pytest.raises(ValueError, match=message):
        apply(net.params, jnp.ones((4, 5)))


def test_feature_size_mismatch_with_in_units_and_a_single_image():
    net = nn.Dense(10, in_units=784)
    net.initialize()
    with pytest.raises(ValueError, match=r"expects 784 input features .* shape \(28, 28, 1\), "
                                         r"i\.e\. 28 features"):
        net(jnp.ones((28, 28, 1)))


def test_inputs_need_a_batch_and_a_feature_axis():
    net = nn.Dense(2)
    net.initialize()
    with pytest.raises(ValueError, match=r"Dense expects inputs of shape \(batch, features...\), "
                                         r"got shape \(5,\)\. .*x\.reshape\(-1, 1\)"):
        net(jnp.ones(5))
    with pytest.raises(ValueError, match="Flatten needs a batch axis, got a scalar"):
        nn.Flatten()(jnp.ones(()))


def test_apply_with_a_wrong_tree():
    net = mlp()
    net.initialize()
    net(jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"sequential0\.apply: params does not match.*missing "
                                         r"\['dense1/weight', 'dense1/bias'\], unexpected \[\]"):
        net.apply({"dense0": net.params["dense0"]}, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"dense0\.apply: params.*missing \['bias'\]"):
        net[0].apply({"weight": net[0].weight.data()}, jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        net[0].apply({**net[0].params, "extra": jnp.zeros(1)}, jnp.ones((1, 3)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"units": 0}, r"Dense\(units=...\) must be a positive int, got 0"),
        ({"units": 2.0}, r"Dense\(units=...\) must be a positive int, got 2.0"),
        ({"units": 2, "in_units": -1}, r"Dense\(in_units=...\) must be a non-negative int"),
    ],
)
def test_dense_argument_checks(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Dense(**kwargs)


# -- gradients ------------------------------------------------------------------------------------


def test_check_grads_dense_apply():
    net = nn.Dense(3, activation="tanh", in_units=4)
    net.initialize(init.Normal(0.5), key=0)
    X = data((5, 4))
    check_grads(net.apply, (net.params, X), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("jit", [False, True])
def test_gradient_of_squared_loss_matches_closed_form(jit):
    net = nn.Dense(1, in_units=3)
    net.initialize(init.Normal(1.0), key=0)
    X, y = data((8, 3), 1), data((8, 1), 2)

    def loss(params):
        return 0.5 * jnp.mean((net.apply(params, X) - y) ** 2)

    grads = (jax.jit(jax.grad(loss)) if jit else jax.grad(loss))(net.params)
    Xn, yn = np.asarray(X, np.float64), np.asarray(y, np.float64)
    residual = Xn @ np.asarray(net.weight.data()) + np.asarray(net.bias.data()) - yn
    np.testing.assert_allclose(grads["weight"], Xn.T @ residual / 8, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads["bias"], residual.mean(axis=0), rtol=1e-4, atol=1e-6)


# -- Sequential -----------------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_sequential_matches_numpy(jit):
    net = nn.Sequential()
    net.add(nn.Flatten(), nn.Dense(4, activation="relu"), nn.Activation("tanh"), nn.Dense(2))
    net.initialize(init.Normal(1.0), key=0)
    X = data((3, 2, 2))
    y = net(X)
    p = jax.tree.map(np.asarray, net.params)
    assert list(p) == ["dense0", "dense1"]  # parameter-free children have no entry
    h = np.tanh(np.maximum(np.asarray(X).reshape(3, 4) @ p["dense0"]["weight"]
                           + p["dense0"]["bias"], 0))
    expected = h @ p["dense1"]["weight"] + p["dense1"]["bias"]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    apply = jax.jit(net.apply) if jit else net.apply
    np.testing.assert_allclose(apply(net.params, X), expected, rtol=1e-5, atol=1e-6)


def test_sequential_naming_indexing_and_repr():
    net = mlp()
    assert net.name == "sequential0"
    assert [b.name for b in net] == ["dense0", "dense1"]
    assert len(net) == 2 and net[-1] is list(net)[1]
    assert repr(net) == ("Sequential(\n  (0): Dense(? -> 4, Activation(relu))\n"
                         "  (1): Dense(? -> 2, linear)\n)")
    assert nn.Dense(1).name == "dense2" and nn.Sequential().name == "sequential1"
    assert nn.Activation("relu").name == "relu0" and nn.Flatten().name == "flatten0"
    assert nn.Dense(1, name="out").name == "out"


def test_nested_sequential_tree():
    inner = nn.Sequential()
    inner.add(nn.Dense(3))
    net = nn.Sequential()
    net.add(inner, nn.Dense(1))
    net.initialize()
    net(jnp.ones((2, 5)))
    assert jax.tree.map(jnp.shape, net.params) == {
        "sequential0": {"dense0": {"weight": (5, 3), "bias": (3,)}},
        "dense1": {"weight": (3, 1), "bias": (1,)},
    }
    assert net.collect_params().path("dense0_bias") == ("sequential0", "dense0", "bias")


def test_sequential_rejects_duplicates_and_non_blocks():
    net = nn.Sequential()
    net.add(nn.Dense(1, name="out"))
    with pytest.raises(ValueError, match=r"sequential0 already has a child named 'out'.*name="):
        net.add(nn.Dense(2, name="out"))
    with pytest.raises(TypeError, match=r"can only hold Blocks .* got 3 of type int"):
        net.add(3)


def test_hybridize_compiles_the_same_function():
    net = mlp()
    net.initialize(init.Normal(1.0))
    X = data((4, 3))
    eager = net(X)
    net.hybridize()
    np.testing.assert_allclose(net(X), eager, rtol=1e-6)
    net.hybridize(False)
    np.testing.assert_allclose(net(X), eager, rtol=1e-6)


def test_custom_parameter_free_block_infers_its_shape():
    class Double(nn.Block):
        def forward(self, x):
            return jnp.concatenate([x, x], axis=1)

    net = nn.Sequential()
    net.add(Double(), nn.Dense(1))
    net.initialize()
    net(jnp.ones((2, 3)))
    assert net[1].weight.shape == (6, 1)
    assert net[0].name == "double0"


# -- ParameterDict --------------------------------------------------------------------------------


def test_collect_params_prints_like_gluon():
    net = mlp()
    params = net.collect_params()
    assert list(params) == ["dense0_weight", "dense0_bias", "dense1_weight", "dense1_bias"]
    assert repr(params) == (
        "sequential0 (\n"
        "  Parameter dense0_weight (shape=(?, 4), dtype=float32)\n"
        "  Parameter dense0_bias (shape=(4,), dtype=float32)\n"
        "  Parameter dense1_weight (shape=(?, 2), dtype=float32)\n"
        "  Parameter dense1_bias (shape=(2,), dtype=float32)\n"
        ")"
    )
    params.initialize(key=0)  # forwards to every parameter, like net.initialize
    net(jnp.ones((1, 3)))
    assert "Parameter dense0_weight (shape=(3, 4), dtype=float32)" in repr(net.collect_params())
    assert list(net.collect_params(".*bias")) == ["dense0_bias", "dense1_bias"]
    with pytest.raises(KeyError, match=r"No parameter named 'dense9_weight'; the parameters are"):
        params["dense9_weight"]


def test_tree_and_set_tree_round_trip():
    net = mlp()
    net.initialize(key=0)
    net(jnp.ones((2, 3)))
    params = net.collect_params()
    new = jax.tree.map(lambda v: v + 1.0, params.tree())
    params.set_tree(new)
    jax.tree.map(np.testing.assert_array_equal, net.params, new)
    assert net[0].weight.data() is new["dense0"]["weight"]  # no copy on the same device


def test_set_tree_rejects_other_structures_and_shapes_without_writing():
    net = mlp()
    net.initialize(key=0)
    net(jnp.ones((2, 3)))
    params = net.collect_params()
    before = params.tree()
    bad = jax.tree.map(jnp.zeros_like, before)
    del bad["dense1"]["bias"]
    bad["dense1"]["b"] = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"missing \['dense1/bias'\], unexpected \['dense1/b'\]"):
        params.set_tree(bad)
    bad = jax.tree.map(jnp.zeros_like, before)
    bad["dense1"]["weight"] = jnp.zeros((5, 2))
    with pytest.raises(ValueError, match=r"'dense1_weight' has shape \(4, 2\) but the tree holds "
                                         r"shape \(5, 2\) at dense1/weight"):
        params.set_tree(bad)
    jax.tree.map(np.testing.assert_array_equal, net.params, before)  # dense0 was not written


def test_parameter_set_data_and_data_on_a_device():
    p = nn.Parameter("w", shape=(None, 2))
    p.set_data(np.arange(6).reshape(3, 2))
    assert p.shape == (3, 2) and p.data().dtype == jnp.float32
    with pytest.raises(ValueError, match=r"'w' has shape \(3, 2\) but set_data got an array of "
                                         r"shape \(2, 3\)"):
        p.set_data(jnp.zeros((2, 3)))
    cpu = jax.devices("cpu")[0]
    assert p.data(cpu).devices() == {cpu}


def test_set_data_refuses_tracers():
    p = nn.Parameter("w", shape=(2,))

    def leak(v):
        p.set_data(v)
        return v

    with pytest.raises(TypeError, match=re.escape("set_data on 'w' got a traced value")):
        jax.jit(leak)(jnp.zeros(2))


def test_two_parameters_with_one_name():
    net = nn.Sequential()
    inner = nn.Sequential()
    inner.add(nn.Dense(1, name="out"))
    net.add(inner, nn.Dense(1, name="out"))
    with pytest.raises(ValueError, match=r"Two different parameters are named 'out_weight'"):
        net.collect_params()


@pytest.mark.parametrize("module", ["dstraight.nn", "dstraight.nn.block", "dstraight.nn.basic",
                                    "dstraight.nn.activations",
                                    "dstraight.nn.conv", "dstraight.nn.norm",
                                    "dstraight.nn.embedding", "dstraight.nn.group_norm",
                                    "dstraight.nn.functional", "dstraight.nn.naming",
                                    "dstraight.parameter", "dstraight.parameter_dict",
                                    "dstraight.autograd", "dstraight.checkpoint"])
def test_doctests(module):
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if module not in ("dstraight.nn.functional",):
        assert result.attempted > 0
