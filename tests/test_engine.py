"""The one training engine: regression tests for the bugs the second edition fixed.

Each test names the fault it guards against, as reported against the first edition.
"""

import gc
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dstraight
from dstraight import Module, Trainer, data, init, loss, metric, nn


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def _regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], np.float32) + 0.3).astype(np.float32)
    return X, y


def _mlp(key=0):
    net = nn.Sequential()
    net.add(nn.Dense(4, activation="tanh"), nn.Dense(1))
    net.initialize(init.Normal(0.5), key=key)
    net(jnp.zeros((1, 3)))
    return net


def _grads(net, X, y):
    return jax.grad(lambda p: loss.L2Loss()(net.apply(p, X), y).sum())(net.params)


# -- a Trainer over a subset trains that subset, in every path --------------------------------


@pytest.mark.parametrize("path", ["step", "fused_step", "fit_epoch", "fit_epoch_iterated"])
def test_trainer_over_the_weights_leaves_the_biases_frozen(path):
    X, y = _regression()
    net = _mlp()
    before = net.params
    trainer = Trainer(net.collect_params(".*weight"), "sgd", {"learning_rate": 0.1})
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=16)
    if path == "step":
        trainer.step(_grads(net, X, y), batch_size=len(X))  # full gradients are accepted
    elif path == "fused_step":
        trainer.fused_step(net, loss.L2Loss())(X, y)
    elif path == "fit_epoch":
        trainer.fit_epoch(net, loss.L2Loss(), loader)
    else:
        trainer.fit_epoch(net, loss.L2Loss(), list(loader))
    for layer in ("dense0", "dense1"):
        np.testing.assert_array_equal(net.params[layer]["bias"], before[layer]["bias"])
        assert not np.allclose(net.params[layer]["weight"], before[layer]["weight"])


def test_frozen_by_grad_req_and_trainer_from_a_list_of_parameters():
    X, y = _regression()
    net = _mlp()
    net[0].collect_params().setattr("grad_req", "null")
    before = net.params
    Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}).fit_epoch(
        net, loss.L2Loss(), data.DataLoader(data.ArrayDataset(X, y), batch_size=16))
    np.testing.assert_array_equal(net.params["dense0"]["weight"], before["dense0"]["weight"])
    assert not np.allclose(net.params["dense1"]["weight"], before["dense1"]["weight"])
    other = _mlp(key=1)
    trainer = Trainer([other[1].weight], "sgd", {"learning_rate": 0.1})
    trainer.step({"dense3_weight": jnp.ones((4, 1))}, batch_size=1)  # by name
    np.testing.assert_allclose(other[1].weight.data(), before_weight(other) - 0.1, rtol=1e-6)


def before_weight(net):
    # the values _mlp(key=1) draws, recomputed from the same key
    fresh = _mlp(key=1)
    return np.asarray(fresh[1].weight.data())


def test_a_trainer_for_another_network_is_refused():
    a, b = _mlp(), _mlp(key=1)
    X, y = _regression()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=16)
    with pytest.raises(ValueError, match=r"updates parameters that sequential\d does not use"):
        Trainer(a.collect_params(), "sgd").fit_epoch(b, loss.L2Loss(), loader)


# -- one compiled program per structure, no strong reference to a network ---------------------


def test_identical_networks_share_one_compilation_and_are_not_kept_alive():
    X, y = _regression()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=16)
    first = _mlp()
    Trainer(first, "sgd", {"learning_rate": 0.1}).fit_epoch(first, loss.L2Loss(), loader)
    traced = dstraight.Trainer(first, "sgd").trace_count
    refs = []
    for k in range(5):
        net = _mlp(key=k + 1)
        Trainer(net, "sgd", {"learning_rate": 0.1}).fit_epoch(net, loss.L2Loss(), loader)
        refs.append(weakref.ref(net))
    assert dstraight.Trainer(first, "sgd").trace_count == traced  # no new compilation
    del net
    gc.collect()
    assert all(r() is None for r in refs)  # the caches hold no network


def test_a_different_learning_rate_or_structure_does_compile_anew():
    X, y = _regression()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=16)
    net = _mlp()
    Trainer(net, "sgd", {"learning_rate": 0.1}).fit_epoch(net, loss.L2Loss(), loader)
    traced = Trainer(net, "sgd").trace_count
    wide = nn.Sequential()
    wide.add(nn.Dense(5, activation="tanh"), nn.Dense(1))
    wide.initialize()
    Trainer(wide, "sgd", {"learning_rate": 0.1}).fit_epoch(wide, loss.L2Loss(), loader)
    assert Trainer(net, "sgd").trace_count > traced


# -- optimizer state ------------------------------------------------------------------------------


def test_opt_state_handed_out_survives_the_next_steps():
    X, y = _regression()
    net = _mlp()
    trainer = Trainer(net, "adam", {"learning_rate": 0.01})
    trainer.step(_grads(net, X, y), len(X))
    state = trainer.opt_state
    for _ in range(3):
        trainer.step(_grads(net, X, y), len(X))
        trainer.fit_epoch(net, loss.L2Loss(), data.DataLoader(data.ArrayDataset(X, y), 16))
    assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree.leaves(state))


def test_step_and_fit_epoch_share_one_optimizer_state():
    X, y = _regression()
    a, b = _mlp(), _mlp()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=64)  # one batch per epoch
    ta = Trainer(a, "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    tb = Trainer(b, "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    for _ in range(3):
        ta.step(_grads(a, jnp.asarray(X), jnp.asarray(y)), len(X))
        tb.fit_epoch(b, loss.L2Loss(), loader)
    for pa, pb in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)


# -- nothing silently wrong -----------------------------------------------------------------------


def test_nan_gradients_never_reach_the_parameters():
    net = _mlp()
    trainer = Trainer(net, "sgd", {"learning_rate": 0.1})
    before = net.params
    nan = jax.tree.map(lambda a: jnp.full_like(a, jnp.nan), before)
    with pytest.raises(FloatingPointError, match=r"not finite.*skipped.*learning rate too large"):
        for _ in range(16):  # reported at once, or within 16 steps on a slow device
            trainer.step(nan, batch_size=1)
    for layer in ("dense0", "dense1"):
        np.testing.assert_array_equal(net.params[layer]["weight"], before[layer]["weight"])


def test_a_diverging_manual_loop_raises_and_keeps_finite_weights():
    X, y = _regression()
    net = _mlp()
    trainer = Trainer(net, "sgd", {"learning_rate": 10.0})
    grad_fn = jax.jit(jax.grad(lambda p, X, y: loss.L2Loss()(net.apply(p, X), y).sum()))
    with pytest.raises(FloatingPointError, match=r"\(now 10\)"):
        for _ in range(200):
            trainer.step(grad_fn(net.params, X, y), batch_size=len(X))
    assert all(np.all(np.isfinite(np.asarray(v))) for v in jax.tree.leaves(net.params))


def test_labels_outside_the_classes_are_caught_before_training():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    net = nn.Dense(3)
    net.initialize()
    trainer = Trainer(net, "sgd")
    for bad in (-1, 3):
        y = np.zeros(40, np.int32)
        y[7] = bad
        loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)
        with pytest.raises(ValueError, match=str(bad)):
            trainer.fit_epoch(net, loss.SoftmaxCrossEntropyLoss(), loader)


def test_loader_without_labels_cannot_train():
    X, _ = _regression()
    it = data.NDArrayIter([X, X], batch_size=8)  # two inputs, no label
    net = _mlp()
    with pytest.raises(ValueError, match="needs labels"):
        Trainer(net, "sgd").fit_epoch(net, loss.L2Loss(), it)


# -- Module ----------------------------------------------------------------------------------------


def _classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int32)
    return X, y


def test_module_fit_defaults_to_accuracy_for_classification(capsys):
    X, y = _classification()
    it = data.NDArrayIter(X, y, batch_size=20)
    Module(nn.Dense(2), loss=loss.SoftmaxCrossEntropyLoss()).fit(
        it, optimizer_params={"learning_rate": 0.5}, num_epoch=1)
    assert "Train-accuracy=" in capsys.readouterr().out


def test_a_second_fit_continues_instead_of_reinitialising():
    X, y = _classification()
    it = data.NDArrayIter(X, y, batch_size=20)
    model = Module(nn.Dense(2), loss=loss.SoftmaxCrossEntropyLoss())
    model.fit(it, optimizer="sgd", optimizer_params={"learning_rate": 0.5, "momentum": 0.9},
              num_epoch=1, initializer=init.Normal(0.1))
    after_one = model.net.params
    state = model.trainer.opt_state
    with pytest.warns(UserWarning, match="already initialized and force_init=False"):
        model.fit(it, optimizer="sgd",
                  optimizer_params={"learning_rate": 0.5, "momentum": 0.9}, num_epoch=1,
                  initializer=init.Normal(0.1))
    # it went on from where it was (the weights moved, not re-drawn) with its momentum
    assert model.trainer.opt_state is not None
    reference = Module(nn.Dense(2), loss=loss.SoftmaxCrossEntropyLoss())
    reference.fit(it, optimizer="sgd",
                  optimizer_params={"learning_rate": 0.5, "momentum": 0.9}, num_epoch=2,
                  initializer=init.Normal(0.1))
    np.testing.assert_allclose(model.net.params["weight"], reference.net.params["weight"],
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.net.params["weight"], after_one["weight"])
    assert jax.tree.structure(state) == jax.tree.structure(model.trainer.opt_state)
    model.fit(it, num_epoch=1, force_init=True, initializer=init.Normal(0.1),
              optimizer_params={"learning_rate": 0.5, "momentum": 0.9})
    fresh = Module(nn.Dense(2), loss=loss.SoftmaxCrossEntropyLoss())
    fresh.fit(it, num_epoch=1, initializer=init.Normal(0.1),
              optimizer_params={"learning_rate": 0.5, "momentum": 0.9})
    np.testing.assert_allclose(model.net.params["weight"], fresh.net.params["weight"],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["pad", "discard", "roll_over"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_predict_gives_one_output_per_example_in_dataset_order(mode, shuffle):
    X = np.arange(23, dtype=np.float32).reshape(-1, 1)
    net = nn.Dense(1, in_units=1)
    net.initialize("ones")
    it = data.NDArrayIter(X, batch_size=5, shuffle=shuffle, last_batch_handle=mode)
    np.testing.assert_allclose(Module(net).predict(it)[:, 0], X[:, 0])
    loader = data.DataLoader(data.ArrayDataset(X), batch_size=5, shuffle=shuffle,
                             last_batch="discard")
    np.testing.assert_allclose(Module(net).predict(loader)[:, 0], X[:, 0])


def test_score_counts_every_example_once():
    X, y = _classification(n=23)
    net = nn.Dense(2, in_units=4)
    net.initialize(init.Normal(1.0), key=3)
    expected = np.mean(np.argmax(np.asarray(net(X)), axis=1) == y)
    for mode in ("pad", "discard", "roll_over"):
        it = data.NDArrayIter(X, y, batch_size=5, shuffle=True, last_batch_handle=mode)
        assert Module(net).score(it, "acc")[0][1] == pytest.approx(expected)
    assert metric.evaluate(net, data.DataLoader(data.ArrayDataset(X, y), 5, shuffle=True,
                                                last_batch="discard"), "acc") == \
        pytest.approx(expected)


def test_mxnet_style_calls_name_the_dstraight_way():
    net = _mlp()
    trainer = Trainer(net, "sgd")
    with pytest.raises(TypeError, match=r"trainer\.step\(64\) is MXNet's form.*jax\.grad"):
        trainer.step(64)
    with pytest.raises(TypeError, match=r"trainer\.update\(batch_size\).*trainer\.step\(grads"):
        trainer.update(64)
    with pytest.raises(AttributeError, match=r"stores no gradient.*jax\.grad"):
        net[0].weight.grad()
    with pytest.raises(NotImplementedError, match=r"no backward\(\) in JAX.*jax\.grad"):
        dstraight.autograd.backward()
    net.collect_params().zero_grad()  # a no-op kept for gluon loops
    net.collect_params().initialize(ctx=dstraight.cpu(), force_reinit=True)  # MXNet's ctx=
    assert net[0].weight.device == dstraight.cpu()
