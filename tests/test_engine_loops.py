"""Where the engine scans and where it calls one compiled step per batch.

XLA's CPU convolution is several times slower inside a compiled loop than in a program of its
own, so on a CPU a network with a convolution trains, evaluates and predicts batch by batch
(``dstraight._programs.SLOW_IN_LOOPS``). Both ways must compute the same thing.
"""

import jax
import numpy as np
import pytest

from dstraight import Module, Trainer, _programs, data, init, loss, metric, nn


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def _images(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 10, 10, 1)).astype(np.float32)
    y = rng.integers(0, 5, n).astype(np.int32)
    return X, y


def _convnet():
    net = nn.Sequential()
    net.add(nn.Conv2D(4, 3, padding=1), nn.BatchNorm(), nn.Activation("relu"),
            nn.MaxPool2D(2), nn.Conv2D(6, 3, activation="relu"), nn.Flatten(), nn.Dense(5))
    net.initialize(init.Xavier(), key=3)
    return net


def _densenet():
    net = nn.Sequential()
    net.add(nn.Flatten(), nn.Dense(8, activation="relu"), nn.Dense(5))
    net.initialize(init.Xavier(), key=3)
    return net


def _loader(X, y, batch_size=32, shuffle=True):
    return data.DataLoader(data.ArrayDataset(X, y), batch_size, shuffle=shuffle, seed=0,
                           device=jax.devices()[0])


def _calls(monkeypatch):
    """Records each training call of the engine: ("scan", batches) or ("step", examples)."""
    seen = []

    def counting(program, kind):
        def counted(*args):
            seen.append((kind, int(np.shape(args[5])[0])))
            return program(*args)
        return counted

    for name, kind in (("train_rows", "scan"), ("train_row", "step")):
        monkeypatch.setattr(_programs, name, counting(getattr(_programs, name), kind))
    return seen


def _train(make_net, epochs=2, points=(), on_point=None):
    X, y = _images()
    nn.reset_name_counters()  # the same parameter names in every run
    net = make_net()
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    losses = [trainer.train_epoch(net, loss.SoftmaxCrossEntropyLoss(), _loader(X, y),
                                  points=points, on_point=on_point).mean_loss
              for _ in range(epochs)]
    states = {k: np.asarray(v.data()) for k, v in net.collect_params().items()}
    return net, losses, states


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the rule is for XLA's CPU backend")
def test_a_convolution_is_found_in_the_training_step_and_the_forward_pass(monkeypatch):
    net, X = _convnet(), _images()[0]
    net(X[:2])
    spec = _programs.make_spec(net)
    values = tuple(p.stored() for p in net.structure().params)
    states = tuple(p.stored() for p in net.structure().states)
    assert _programs.slow_in_loops("eval", spec, values, states, (X[:4],))
    dense = _densenet()
    dense(X[:2])
    dspec = _programs.make_spec(dense)
    dvalues = tuple(p.stored() for p in dense.structure().params)
    assert not _programs.slow_in_loops("eval", dspec, dvalues, (), (X[:4],))
    monkeypatch.setitem(_programs.SLOW_IN_LOOPS, "cpu", frozenset())
    assert not _programs.slow_in_loops("eval", spec, values, states, (X[:4],))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="the rule is for XLA's CPU backend")
def test_a_conv_net_trains_batch_by_batch_and_a_dense_net_in_one_scan(monkeypatch):
    calls = _calls(monkeypatch)
    _train(_convnet, epochs=1)
    assert calls == [("step", 32)] * 6 + [("step", 8)]  # 200 examples: 6 batches of 32, one of 8
    calls.clear()
    _train(_densenet, epochs=1)
    assert calls == [("scan", 6), ("scan", 1)]


def test_batch_by_batch_and_scanned_training_agree(monkeypatch):
    points_seen = {"batches": [], "scan": []}
    net, losses, states = _train(_convnet, points=[1, 4, 6],
                                 on_point=points_seen["batches"].append)
    monkeypatch.setitem(_programs.SLOW_IN_LOOPS, jax.default_backend(), frozenset())
    calls = _calls(monkeypatch)
    net2, losses2, states2 = _train(_convnet, points=[1, 4, 6],
                                    on_point=points_seen["scan"].append)
    assert {kind for kind, _ in calls} == {"scan"}
    assert points_seen["batches"] == points_seen["scan"] == [1, 4, 6] * 2
    np.testing.assert_allclose(losses, losses2, rtol=1e-5)
    assert states.keys() == states2.keys()
    for name in states:  # weights, and BatchNorm's running statistics
        np.testing.assert_allclose(states[name], states2[name], rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    X, y = _images(seed=1)
    test = _loader(X, y, 64, shuffle=False)
    module = Module(net2, loss=loss.SoftmaxCrossEntropyLoss())
    scanned = (metric.evaluate(net2, test, "accuracy"), np.asarray(module.predict(test)))
    monkeypatch.setitem(_programs.SLOW_IN_LOOPS, jax.default_backend(),
                        frozenset({"conv_general_dilated"}))
    stepwise = (metric.evaluate(net2, test, "accuracy"), np.asarray(module.predict(test)))
    assert scanned[0] == stepwise[0]
    np.testing.assert_allclose(scanned[1], stepwise[1], rtol=1e-5, atol=1e-6)
    assert stepwise[1].shape == (200, 5)
