"""Checks of dstraight on a mesh of 8 simulated CPU devices (run by tests/test_mesh.py).

JAX fixes its device count when its backend starts, once per process, so these checks run in a
pytest of their own, started by ``test_mesh.py`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``. Collected in a process with another
device count, they skip.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

import dstraight
from dstraight import Module, Trainer, data, loss, metric, nn

pytestmark = pytest.mark.skipif(
    jax.device_count() != 8, reason="needs 8 (simulated) devices; run by tests/test_mesh.py"
)

N, D, K = 200, 6, 3


def problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = (X @ rng.normal(size=(D, K))).argmax(axis=1).astype(np.int32)
    return X, y


def make_net(device):
    net = nn.Sequential()
    net.add(nn.Dense(16, activation="relu"), nn.Dense(K))
    net.initialize("xavier", key=1, device=device)
    return net


def params_of(net):
    # by position: the two networks of a comparison have different layer names
    return {i: np.asarray(p.data()) for i, p in enumerate(net.collect_params().values())}


def assert_close(a, b, rtol=1e-5):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=1e-6, err_msg=str(k))


def train_fit_epoch(device, loader_cls, epochs=2):
    X, y = problem()
    net = make_net(device)
    if loader_cls == "DataLoader":
        loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=32, shuffle=True, seed=3,
                                 device=device)
    else:
        loader = data.NDArrayIter(X, y, batch_size=32, shuffle=True, seed=3, device=device,
                                  last_batch_handle="discard")
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.3, "momentum": 0.9})
    losses = [trainer.fit_epoch(net, loss.SoftmaxCrossEntropyLoss(), loader)
              for _ in range(epochs)]
    return net, losses


def test_data_parallel_mesh():
    mesh = dstraight.data_parallel()
    assert mesh.axis_names == ("data",) and mesh.size == 8
    assert dstraight.data_parallel(jax.devices()[:2], axis="batch").shape == {"batch": 2}
    with pytest.raises(ValueError, match="empty"):
        dstraight.data_parallel([])


def test_initialize_replicates_parameters():
    mesh = dstraight.data_parallel()
    net = make_net(mesh)
    net(jnp.zeros((8, D)))  # deferred shapes are drawn at the first call
    for p in net.collect_params().values():
        assert p.data().sharding.is_fully_replicated
        assert len(p.data().sharding.device_set) == 8
    # the same values as on one device
    net1 = make_net(None)
    net1(jnp.zeros((8, D)))
    assert_close(params_of(net), params_of(net1))


def test_loader_batches_are_split():
    X, y = problem()
    mesh = dstraight.data_parallel()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=32, device=mesh)
    for a in loader.arrays:
        assert a.sharding.is_fully_replicated and len(a.sharding.device_set) == 8
    batches = list(loader)
    assert len(batches) == 7
    xb, yb = batches[0]
    assert xb.sharding.is_equivalent_to(NamedSharding(mesh, PartitionSpec("data")), 2)
    assert [s.data.shape for s in xb.addressable_shards] == [(4, D)] * 8
    np.testing.assert_array_equal(np.asarray(xb), X[:32])
    np.testing.assert_array_equal(np.asarray(batches[-1][1]), y[192:])  # short, replicated
    # long epochs too (their batches are otherwise gathered a chunk at a time)
    many = data.DataLoader(data.ArrayDataset(np.zeros((8 * 70, 2)), np.arange(8 * 70)), 8,
                           device=mesh)
    assert all(len(yb.sharding.device_set) == 8 for _, yb in many)
    assert [yb.tolist() for _, yb in many][-1] == list(range(8 * 69, 8 * 70))
    it = data.NDArrayIter(X, y, batch_size=40, device=mesh)
    batch = next(iter(it))
    assert [s.data.shape for s in batch.data[0].addressable_shards] == [(5, D)] * 8
    np.testing.assert_array_equal(np.asarray(batch.label[0]), y[:40])


def test_batch_size_must_divide_over_devices():
    X, y = problem()
    mesh = dstraight.data_parallel()
    with pytest.raises(ValueError, match=r"batch_size=30 .* 8 devices"):
        data.DataLoader(data.ArrayDataset(X, y), batch_size=30, device=mesh)
    with pytest.raises(ValueError, match=r"batch_size=12 .* 8 devices"):
        data.NDArrayIter(X, y, batch_size=12, device=mesh)


@pytest.mark.parametrize("loader_cls", ["DataLoader", "NDArrayIter"])
def test_fit_epoch_on_8_devices_equals_one(loader_cls):
    mesh = dstraight.data_parallel()
    net8, losses8 = train_fit_epoch(mesh, loader_cls)
    net1, losses1 = train_fit_epoch(None, loader_cls)
    for p in net8.collect_params().values():
        assert len(p.data().sharding.device_set) == 8
    assert_close(params_of(net8), params_of(net1))
    np.testing.assert_allclose(losses8, losses1, rtol=1e-5)


def test_fused_step_and_step_on_mesh():
    X, y = problem()
    results = []
    for device in (dstraight.data_parallel(), None):
        loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=40, device=device)
        net = make_net(device)
        trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.2})
        step = trainer.fused_step(net, loss.SoftmaxCrossEntropyLoss())
        for xb, yb in loader:
            step(xb, yb)
        # and the explicit loop: gradients of net.apply, then trainer.step
        loss_fn = loss.SoftmaxCrossEntropyLoss()

        def objective(params, xb, yb, net=net, loss_fn=loss_fn):
            return loss_fn(net.apply(params, xb), yb).sum()

        grads_of = jax.jit(jax.grad(objective))
        for xb, yb in loader:
            trainer.step(grads_of(net.params, xb, yb), xb.shape[0])
        results.append(params_of(net))
    assert_close(*results)


def test_module_fit_score_predict_and_evaluate():
    X, y = problem()
    out = []
    for device in (dstraight.data_parallel(), None):
        train = data.NDArrayIter(X, y, batch_size=40, shuffle=True, seed=2, device=device)
        net = nn.Sequential()
        net.add(nn.Dense(16, activation="relu"), nn.Dense(K))
        mod = Module(net, loss.SoftmaxCrossEntropyLoss(), device=device)
        mod.fit(train, num_epoch=2, optimizer="sgd", optimizer_params={"learning_rate": 0.3},
                initializer="xavier", key=1)
        score = dict(mod.score(train, "acc"))
        pred = np.asarray(mod.predict(train))
        acc = metric.Accuracy()
        metric.evaluate(net, data.DataLoader(data.ArrayDataset(X, y), 40, device=device), acc)
        out.append((params_of(net), score["accuracy"], pred, acc.get()[1]))
    (p8, s8, pred8, a8), (p1, s1, pred1, a1) = out
    assert_close(p8, p1)
    assert abs(s8 - s1) < 1e-6 and abs(a8 - a1) < 1e-6
    np.testing.assert_allclose(pred8, pred1, rtol=1e-5, atol=1e-6)


def test_compiled_epoch_all_reduces(monkeypatch):
    """The compiled epoch keeps each batch split: XLA adds the all-reduce of the gradients."""
    from dstraight import _programs

    calls = []
    real = _programs.train_rows

    def spy(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(_programs, "train_rows", spy)
    mesh = dstraight.data_parallel()
    X, y = problem()
    net = make_net(mesh)
    loader = data.DataLoader(data.ArrayDataset(X, y), 32, device=mesh)
    Trainer(net, "sgd", {"learning_rate": 0.1}).fit_epoch(net, loss.SoftmaxCrossEntropyLoss(),
                                                          loader)
    rows = calls[0][5]  # the table of the full batches, split along the batch axis
    assert rows.sharding.is_equivalent_to(NamedSharding(mesh, PartitionSpec(None, "data")), 2)
    assert "all-reduce" in real.lower(*calls[0]).compile().as_text()
