"""The block machinery: custom blocks, naming, sharing, hybridize, saving and loading."""

import gc
import os
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import Module, Trainer, autograd, data, init, loss, nn
from dstraight.nn.block import run_compiled


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def data_(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


# -- custom blocks -------------------------------------------------------------------------------


class MLP(nn.Block):
    """Children and a parameter of its own, all registered by attribute assignment."""

    def __init__(self, hidden=4, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.hidden = nn.Dense(hidden, activation="relu")
            self.out = nn.Dense(2)
        self.scale = self.params.get("scale", shape=(1,), init=init.Constant(2.0))

    def forward(self, x):
        return self.out(self.hidden(x)) * self.scale.data()


class Affine(nn.HybridBlock):
    """MXNet's style: ``hybrid_forward(F, x, weight, bias)``, weight stored (units, in_units)."""

    def __init__(self, units, in_units, **kwargs):
        super().__init__(**kwargs)
        self.weight = self.params.get("weight", shape=(units, in_units))
        self.bias = self.params.get("bias", shape=(units,), init="zeros")

    def hybrid_forward(self, F, x, weight, bias):
        return F.tanh(F.FullyConnected(x, weight, bias, num_hidden=weight.shape[0]))


def mlp_reference(p, x):
    h = jax.nn.relu(x @ p["hidden"]["weight"] + p["hidden"]["bias"])
    return (h @ p["out"]["weight"] + p["out"]["bias"]) * p["scale"]


@pytest.mark.parametrize("jit", [False, True])
def test_custom_block_with_forward(jit):
    net = MLP()
    net.initialize("ones")
    x = data_((5, 3))
    net(x)  # fixes the shapes; then values of our own (a random draw compiles per shape)
    shapes = jax.tree.map(jnp.shape, net.params)
    net.collect_params().set_tree(jax.tree.map(
        lambda s: data_(s, len(s)), shapes, is_leaf=lambda s: isinstance(s, tuple)))
    net.scale.set_data([2.0])
    y = net(x)
    assert jax.tree.map(jnp.shape, net.params) == {
        "scale": (1,), "hidden": {"weight": (3, 4), "bias": (4,)},
        "out": {"weight": (4, 2), "bias": (2,)}}
    assert list(net.collect_params()) == ["mlp0_scale", "mlp0_dense0_weight", "mlp0_dense0_bias",
                                          "mlp0_dense1_weight", "mlp0_dense1_bias"]
    np.testing.assert_allclose(net.params["scale"], [2.0])
    np.testing.assert_allclose(y, mlp_reference(net.params, x), rtol=1e-5, atol=1e-6)
    apply = jax.jit(net.apply) if jit else net.apply
    np.testing.assert_allclose(apply(net.params, x), y, rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda p: jnp.sum(net.apply(p, x) ** 2))
    got = (jax.jit(grad) if jit else grad)(net.params)
    want = jax.jit(jax.grad(lambda p: jnp.sum(mlp_reference(p, x) ** 2)))(net.params)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_custom_block_with_hybrid_forward(jit):
    net = Affine(3, 2)
    net.initialize(init.Normal(1.0), key=0)
    x = data_((4, 2))
    w, b = np.asarray(net.params["weight"], np.float64), np.asarray(net.params["bias"])
    np.testing.assert_allclose(net(x), np.tanh(np.asarray(x) @ w.T + b), rtol=1e-5, atol=1e-6)
    params = {"weight": data_((3, 2), 1), "bias": data_((3,), 2)}
    apply = jax.jit(net.apply) if jit else net.apply
    z = np.asarray(x, np.float64) @ np.asarray(params["weight"], np.float64).T + \
        np.asarray(params["bias"])
    np.testing.assert_allclose(apply(params, x), np.tanh(z), rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda p: jnp.sum(net.apply(p, x)))
    got = (jax.jit(grad) if jit else grad)(params)
    delta = 1 - np.tanh(z) ** 2
    np.testing.assert_allclose(got["weight"], delta.T @ np.asarray(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["bias"], delta.sum(axis=0), rtol=1e-5, atol=1e-5)


class Scaled(nn.Block):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter("free_w", shape=(2,), init="ones")
        self.layer = nn.Dense(1, in_units=2)
        self.not_a_block = [nn.Dense(5)]  # a list is a setting, not a child

    def forward(self, x):
        return self.layer(x * self.w.data())


def test_attribute_registration_of_parameters_and_blocks():
    net = Scaled()
    assert list(net.collect_params()) == ["free_w", "dense0_weight", "dense0_bias"]
    net.initialize("ones")
    assert jax.tree.map(jnp.shape, net.params) == {"w": (2,), "layer": {"weight": (2, 1),
                                                                          "bias": (1,)}}
    assert net(jnp.ones((1, 2))).tolist() == [[2.0]]
    net.w.set_data(jnp.array([3.0, 0.0]))
    assert net(jnp.ones((1, 2))).tolist() == [[3.0]]


def test_assigning_a_new_child_to_an_attribute_replaces_the_old_one():
    net = Scaled()
    net.initialize("ones")
    net.layer = nn.Dense(1, in_units=2, use_bias=False)  # the old child leaves the network
    net.layer.initialize("zeros")
    assert list(net.collect_params()) == ["free_w", "dense2_weight"]
    assert net(jnp.ones((1, 2))).tolist() == [[0.0]]


def test_name_scopes_prefixes_and_counters():
    a, b = MLP(), MLP()
    assert (a.name, b.name) == ("mlp0", "mlp1")
    assert list(b.collect_params())[1] == "mlp1_dense0_weight"  # counters per parent scope
    assert nn.Dense(1).name == "dense0"  # outside any scope: the global counter
    named = MLP(prefix="model_")
    assert named.prefix == "model_" and list(named.collect_params())[0] == "model_scale"
    outer = nn.Sequential()
    with outer.name_scope():
        inner = nn.Sequential()
        with inner.name_scope():
            inner.add(nn.Dense(2))
        outer.add(inner, nn.Dense(1))
    assert list(outer.collect_params()) == [
        "sequential0_sequential0_dense0_weight", "sequential0_sequential0_dense0_bias",
        "sequential0_dense0_weight", "sequential0_dense0_bias"]
    assert nn.Dense(1, name="head").name == "head"
    with pytest.raises(TypeError, match=r"A block name must be a non-empty str, got ''"):
        nn.Dense(1, name="")


def fill(net, seed=0):
    """Gives every parameter random values (NumPy draws: no compilation per shape)."""
    shapes = jax.tree.map(jnp.shape, net.params)
    net.collect_params().select(lambda p: p.kind == "param").set_tree(jax.tree.map(
        lambda s: data_(s, seed + len(s)), shapes, is_leaf=lambda s: isinstance(s, tuple)))


# -- sharing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_params_sharing_sums_the_gradients_of_a_shared_parameter(jit):
    first = nn.Dense(3, in_units=3, activation="tanh")
    tied = nn.Dense(3, in_units=3, activation="tanh", params=first.collect_params())
    net = nn.Sequential()
    net.add(first, tied)
    net.initialize("ones")
    fill(net)
    assert tied.weight is first.weight and tied.bias is first.bias
    assert list(net.collect_params()) == ["dense0_weight", "dense0_bias"]  # one entry each
    assert jax.tree.map(jnp.shape, net.params) == {"dense0": {"weight": (3, 3), "bias": (3,)}}
    x, cot = data_((4, 3)), data_((4, 3), 1)

    def reference(w, b):  # the same w and b used twice
        return jnp.tanh(jnp.tanh(x @ w + b) @ w + b)

    p = net.params["dense0"]
    np.testing.assert_allclose(net(x), reference(p["weight"], p["bias"]), rtol=1e-5, atol=1e-6)
    grad = jax.grad(lambda q: jnp.sum(net.apply(q, x) * cot))
    got = (jax.jit(grad) if jit else grad)(net.params)["dense0"]
    gw, gb = jax.jit(jax.grad(lambda w, b: jnp.sum(reference(w, b) * cot), argnums=(0, 1)))(
        p["weight"], p["bias"])
    np.testing.assert_allclose(got["weight"], gw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["bias"], gb, rtol=1e-5, atol=1e-5)
    # the sum of both uses: not the gradient through either use alone
    only_second = jax.grad(lambda w: jnp.sum(jnp.tanh(jnp.tanh(x @ p["weight"] + p["bias"]) @ w
                                                      + p["bias"]) * cot))(p["weight"])
    assert not np.allclose(gw, only_second, atol=1e-3)
    # a trainer updates the one shared parameter once per step, with the summed gradient
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    trainer.step({"dense0": {"weight": gw, "bias": gb}}, batch_size=1)
    np.testing.assert_allclose(tied.weight.data(), p["weight"] - 0.5 * gw, rtol=1e-6)


def test_params_sharing_needs_a_matching_parameter():
    with pytest.raises(ValueError, match=r"dense0: params= should hold exactly one parameter "
                                         r"named like '\*_weight' to share, found \[\]"):
        nn.Dense(2, params=nn.LayerNorm().collect_params())


def test_the_same_block_added_twice_is_one_layer_applied_twice():
    layer = nn.Dense(3, in_units=3)
    net = nn.Sequential()
    net.add(layer, layer)
    net.initialize("ones")
    fill(net)
    x = data_((2, 3))
    assert len(net) == 2 and net[0] is net[1]
    assert list(net.collect_params()) == ["dense0_weight", "dense0_bias"]
    w, b = net.params["dense0"]["weight"], net.params["dense0"]["bias"]
    np.testing.assert_allclose(net(x), (x @ w + b) @ w + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jax.jit(net.apply)(net.params, x), net(x), rtol=1e-6)


def test_a_slice_is_a_sequential_sharing_the_parameters():
    net = nn.HybridSequential()
    net.add(nn.Dense(4, activation="relu"), nn.Dense(5, activation="tanh"), nn.Dense(2),
            nn.Dense(1))
    net.initialize("ones")
    x = data_((3, 3))
    net(x)
    fill(net)
    part = net[1:3]
    assert type(part) is nn.HybridSequential and len(part) == 2
    assert part[0] is net[1] and part[1] is net[2]
    for name in ("dense1_weight", "dense2_bias"):
        assert part.collect_params()[name] is net.collect_params()[name]
    assert set(part.params) == {"dense1", "dense2"}
    h = net[0](x)
    np.testing.assert_allclose(part(h), net[2](net[1](h)), rtol=1e-6)
    net[2].bias.set_data(jnp.full(2, 7.0))  # one value, seen by both
    np.testing.assert_allclose(part(h), net[2](net[1](h)), rtol=1e-6)
    assert float(part(h)[0, 0]) != 0 and net[2].bias.data().tolist() == [7.0, 7.0]
    assert isinstance(net[-1], nn.Dense) and len(net[:0]) == 0


# -- hybridize -----------------------------------------------------------------------------------


def five_identical_nets(scoped=True, width=7):
    nets = []
    for seed in range(5):
        net = nn.Sequential()
        if scoped:
            with net.name_scope():  # children named dense0, dense1 in every network
                net.add(nn.Dense(11, activation="relu", in_units=width), nn.Dense(2, in_units=11))
        else:
            net.add(nn.Dense(11, activation="relu", in_units=width), nn.Dense(2, in_units=11))
        net.initialize(init.Normal(1.0), key=seed)
        net.hybridize()
        nets.append(net)
    return nets


@pytest.mark.parametrize("scoped", [True, False])
def test_hybridize_compiles_once_for_five_identical_nets(scoped):
    # names are not structure: unscoped networks have children dense0/dense1, dense2/dense3, ...
    width = 7 if scoped else 6  # a shape of its own: no program of the other case can be reused
    nets = five_identical_nets(scoped, width)
    x = data_((3, width))
    before = run_compiled._cache_size()
    outs = [net(x) for net in nets]
    assert run_compiled._cache_size() - before == 1
    for net, out in zip(nets, outs, strict=True):  # the values are arguments, not constants
        np.testing.assert_allclose(out, net.apply(net.params, x), rtol=1e-5, atol=1e-6)
    assert not np.allclose(outs[0], outs[1])
    nets[0](x)
    with autograd.record():  # training mode is another program
        nets[0](x)
    assert run_compiled._cache_size() - before == 2


def test_hybridize_holds_no_strong_reference_to_the_network():
    net = five_identical_nets()[0]
    net(data_((3, 7)))
    ref = weakref.ref(net)
    del net
    gc.collect()
    assert ref() is None


def test_a_changed_network_gets_a_new_program():
    net = nn.Sequential()
    net.add(nn.Dense(3, in_units=2))
    net.initialize("ones")
    net.hybridize()
    x = jnp.ones((1, 2))
    assert net(x).tolist() == [[2.0, 2.0, 2.0]]
    before = run_compiled._cache_size()
    net.add(nn.Lambda(lambda v: 10 * v))
    assert net(x).tolist() == [[20.0, 20.0, 20.0]]
    assert run_compiled._cache_size() - before == 1
    net[0].bias.set_data(jnp.ones(3))  # a new value: the same program
    assert net(x).tolist() == [[30.0, 30.0, 30.0]]
    assert run_compiled._cache_size() - before == 1


def test_calling_the_network_inside_jit_points_to_apply():
    net = nn.Dense(2, in_units=3)
    net.initialize()
    x = jnp.ones((1, 3))
    with pytest.raises(TypeError, match=r"dense0\(x\) was called on a traced value .* Use the pure "
                                        r"function instead, e\.g\. jax\.jit\(lambda params, x: "
                                        r"net\.apply\(params, x\)\)"):
        jax.jit(lambda v: net(v))(x)
    with pytest.raises(TypeError, match=r"net\.apply"):
        jax.grad(lambda v: net(v).sum())(x)


def test_summary_lists_layers_shapes_and_parameter_counts(capsys):
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="relu"), nn.Flatten(), nn.Dense(2))
    net.summary(jnp.ones((5, 3)))
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("dense")
            or line.startswith("flatten")}
    assert rows["dense0"][-1] == "16" and rows["dense1"][-1] == "10"  # 3*4+4, 4*2+2
    assert "(5, 4)" in " ".join(rows["dense0"]) and "(5, 2)" in " ".join(rows["dense1"])
    assert rows["flatten0"][-1] == "0"
    assert lines[-1] == "Total params: 26"


# -- saving and loading --------------------------------------------------------------------------


def bn_net(width=4, extra=False, seed=0):
    nn.reset_name_counters()
    net = nn.Sequential()
    net.add(nn.Dense(width), nn.BatchNorm(), nn.Dense(2))
    if extra:
        net.add(nn.Dense(1))
    net.initialize(init.Normal(1.0), key=seed)
    net(jnp.ones((2, 3)))
    return net


def trained_bn_net():
    net = bn_net()
    with autograd.record():
        net(data_((6, 3)))  # the running statistics move away from 0 and 1
    assert float(jnp.abs(net.state["batchnorm0"]["running_mean"]).sum()) > 0
    return net


def values(net):
    return {n: np.asarray(p.data()) for n, p in net.collect_params().items()}


def test_save_and_load_parameters_round_trip_with_batchnorm_state(tmp_path):
    net = trained_bn_net()
    path = tmp_path / "net.params"
    net.save_parameters(str(path))
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(net.collect_params())
    copy = bn_net(seed=1)
    assert not np.allclose(values(copy)["dense0_weight"], values(net)["dense0_weight"])
    copy.load_parameters(str(path))
    for name, value in values(net).items():
        np.testing.assert_array_equal(values(copy)[name], value, err_msg=name)
    x = data_((3, 3), 2)
    np.testing.assert_array_equal(copy(x), net(x))
    assert [f for f in os.listdir(tmp_path)] == ["net.params"]  # no temporary file left


def test_load_names_every_mismatched_parameter_and_writes_nothing(tmp_path):
    path = str(tmp_path / "net.params")
    trained_bn_net().save_parameters(path)
    wide = bn_net(width=5)
    before = values(wide)
    with pytest.raises(ValueError, match=r"Cannot load .*net\.params: the parameters do not "
                                         r"match") as err:
        wide.load_parameters(path)
    message = str(err.value)
    for name, net_shape, file_shape in [
            ("dense0_weight", "(3, 5)", "(3, 4)"), ("dense0_bias", "(5,)", "(4,)"),
            ("batchnorm0_gamma", "(5,)", "(4,)"), ("batchnorm0_running_var", "(5,)", "(4,)"),
            ("dense1_weight", "(5, 2)", "(4, 2)")]:
        assert f"'{name}': the network has shape {net_shape}, the file {file_shape}" in message
    assert "dense1_bias" not in message  # it fits
    for name, value in values(wide).items():  # nothing was written, not even what fits
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_missing_and_extra_parameters(tmp_path):
    path = str(tmp_path / "net.params")
    saved = trained_bn_net()
    saved.save_parameters(path)
    longer = bn_net(extra=True, seed=3)
    kept = values(longer)["dense2_weight"]
    with pytest.raises(ValueError, match=r"missing from the file: \['dense2_weight', "
                                         r"'dense2_bias'\] \(pass allow_missing=True"):
        longer.load_parameters(path)
    longer.load_parameters(path, allow_missing=True)
    np.testing.assert_array_equal(values(longer)["dense2_weight"], kept)
    np.testing.assert_array_equal(values(longer)["dense0_weight"], values(saved)["dense0_weight"])

    longer.save_parameters(path)
    shorter = bn_net(seed=4)
    with pytest.raises(ValueError, match=r"in the file but not in the network: \['dense2_weight', "
                                         r"'dense2_bias'\] \(pass ignore_extra=True"):
        shorter.load_parameters(path)
    shorter.load_parameters(path, ignore_extra=True)
    np.testing.assert_array_equal(values(shorter)["batchnorm0_running_mean"],
                                  values(saved)["batchnorm0_running_mean"])


def test_saving_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "net.params"
    net = trained_bn_net()
    net.save_parameters(str(path))
    good = path.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left on device"):
        bn_net(seed=5).save_parameters(str(path))
    with pytest.raises(OSError, match="No space left on device"):
        net.save_parameters(str(tmp_path / "new.params"))
    assert path.read_bytes() == good  # the earlier file is untouched
    assert os.listdir(tmp_path) == ["net.params"]  # no partial file, no temporary file


UNPICKLED = []


def _unpickled(tag):
    UNPICKLED.append(tag)
    return tag


class Trap:
    """Unpickling this object would call ``_unpickled``: proof that a loader ran pickle."""

    def __reduce__(self):
        return (_unpickled, ("unpickled",))


def test_loading_never_unpickles(tmp_path):
    path = tmp_path / "evil.params"
    np.savez(path.open("wb"), dense0_weight=np.array([Trap()], dtype=object))
    net = bn_net()
    with pytest.raises(ValueError, match=r"evil\.params contains pickled objects; dstraight "
                                         r"reads only plain arrays and never unpickles"):
        net.load_parameters(str(path))
    assert UNPICKLED == []
    with pytest.raises(FileNotFoundError, match=r"No parameter file at"):
        net.load_parameters(str(tmp_path / "absent.params"))


def test_a_truncated_or_foreign_file_is_reported_as_unreadable(tmp_path):
    net = trained_bn_net()
    net.save_parameters(str(tmp_path / "net.params"))
    whole = (tmp_path / "net.params").read_bytes()
    (tmp_path / "cut.params").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "text.params").write_bytes(b"weights: 1 2 3\n")  # neither zip nor pickle
    for name in ("cut.params", "text.params"):
        with pytest.raises(ValueError, match=r"is not a readable \.npz file of named arrays"):
            net.load_parameters(str(tmp_path / name))


# -- checkpoints of training ------------------------------------------------------------------

X = np.random.default_rng(7).standard_normal((12, 3)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)


def train_loader():
    return data.DataLoader(data.ArrayDataset(X, Y), batch_size=4, shuffle=False)


def regression_net(seed=0):
    nn.reset_name_counters()
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="tanh", in_units=3), nn.BatchNorm(in_channels=4),
            nn.Dense(1, in_units=4))
    net.initialize(init.Normal(0.5), key=seed)
    return net


ADAM = {"learning_rate": 0.05}


def test_module_checkpoint_and_load_continue_identically(tmp_path):
    prefix = str(tmp_path / "reg")
    module = Module(regression_net(), loss=loss.L2Loss())
    module.fit(train_loader(), optimizer="adam", optimizer_params=ADAM, num_epoch=2)
    module.save_checkpoint(prefix, 2, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["reg-0002.params", "reg-0002.states"]
    loaded = Module.load(prefix, 2, net=regression_net(seed=9), load_optimizer_states=True,
                         optimizer="adam", optimizer_params=ADAM, loss=loss.L2Loss())
    np.testing.assert_array_equal(loaded.predict(X), module.predict(X))
    fresh = Module.load(prefix, 2, net=regression_net(seed=9), loss=loss.L2Loss())
    for m in (module, loaded, fresh):
        m.fit(train_loader(), optimizer="adam", optimizer_params=ADAM, begin_epoch=2,
              num_epoch=3)
    np.testing.assert_allclose(loaded.predict(X), module.predict(X), rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(loaded.net.state), jax.tree.leaves(module.net.state),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # without the optimizer state Adam starts over: a different continuation
    assert not np.allclose(fresh.predict(X), module.predict(X), rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match=r"Module\.load needs the network"):
        Module.load(prefix, 2)


def test_trainer_states_round_trip_continues_training_identically(tmp_path):
    def steps(net, trainer, n):
        step = trainer.fused_step(net, loss.L2Loss())
        for i in range(n):
            rows = slice(4 * (i % 3), 4 * (i % 3) + 4)
            step(X[rows], Y[rows])

    net = regression_net()
    trainer = Trainer(net, "adam", ADAM)
    with pytest.raises(ValueError, match=r"The trainer has made no update yet"):
        trainer.save_states(str(tmp_path / "t.states"))
    steps(net, trainer, 3)
    net.save_parameters(str(tmp_path / "t.params"))
    trainer.save_states(str(tmp_path / "t.states"))
    steps(net, trainer, 3)

    copy = regression_net(seed=5)
    copy.load_parameters(str(tmp_path / "t.params"))
    resumed = Trainer(copy, "adam", ADAM)
    resumed.load_states(str(tmp_path / "t.states"))
    steps(copy, resumed, 3)
    for a, b in zip(jax.tree.leaves((copy.params, copy.state)),
                    jax.tree.leaves((net.params, net.state)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)

    restarted = regression_net(seed=5)
    restarted.load_parameters(str(tmp_path / "t.params"))
    steps(restarted, Trainer(restarted, "adam", ADAM), 3)  # no state: Adam's steps differ
    assert not np.allclose(restarted.params["dense0"]["weight"], net.params["dense0"]["weight"],
                           rtol=1e-4, atol=1e-5)


def test_set_state_writes_back_what_apply_returned():
    net = nn.Sequential()
    net.add(nn.Dense(3), nn.BatchNorm())
    net.initialize()
    X = jnp.arange(8.0).reshape(4, 2)
    net(X)
    _, state = net.apply(net.params, X, training=True, return_state=True)
    net.set_state(state)
    for a, b in zip(jax.tree.leaves(net.state), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(net.state[net[1].local_name]["running_var"], 1.0)
