"""Tests for dstraight.module: MXNet's Module.fit/predict/score on the compiled paths."""

import doctest
import re

import jax.numpy as jnp
import numpy as np
import pytest

import dstraight.module
from dstraight import Module, callback, data, init, loss, metric, nn

N, BATCH = 100, 8  # 12 full batches and one of 4 (or one padded batch with NDArrayIter)


def _data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (X[:, 0] + 2 * X[:, 1]).astype(np.float32)  # y = x1 + 2 x2
    return X, y


def _iter(seed=0, **kwargs):
    X, y = _data(seed)
    kwargs.setdefault("batch_size", BATCH)
    kwargs.setdefault("label_name", "lin_reg_label")
    return data.NDArrayIter(X, y, **kwargs)


def _module(**kwargs):
    return Module(nn.Dense(1), label_names=("lin_reg_label",), **kwargs)


def _params(model):
    return {k: np.asarray(v) for k, v in model.net.params.items()}


def test_fit_recovers_the_weights_and_prints_each_epoch(capsys):
    model = _module()
    model.fit(_iter(shuffle=True), eval_data=_iter(seed=1), num_epoch=20,
              optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    np.testing.assert_allclose(model.net.params["weight"][:, 0], [1.0, 2.0], atol=0.05)
    assert abs(float(model.net.params["bias"][0])) < 0.05
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 40
    assert re.fullmatch(r"Epoch\[0\] Train-mse=\d\.\d{3}\d*(e-\d+)?", lines[0]), lines[0]
    assert re.fullmatch(r"Epoch\[19\] Validation-mse=\S+", lines[-1]), lines[-1]
    for line in lines:
        value = line.split("=")[1]
        assert len(value.replace("0.", "").lstrip("0").split("e")[0].replace(".", "")) <= 4
    assert float(lines[-1].split("=")[1]) < 1e-3


def test_label_name_mismatch_explains_the_naming_rule():
    model = Module(nn.Dense(1))  # label_names defaults to ('softmax_label',)
    with pytest.raises(ValueError, match=r"train_data provides labels named \['lin_reg_label'\] "
                                         r"but the Module expects label_names=\['softmax_label'\]"
                                         r".*by name.*Pass label_names=\['lin_reg_label'\]"):
        model.fit(_iter())
    with pytest.raises(ValueError, match=r"provides data named \['data'\].*data_names=\['x'\]"):
        Module(nn.Dense(1), data_names="x", label_names="lin_reg_label").fit(_iter())
    unlabelled = data.NDArrayIter(_data()[0], batch_size=BATCH)
    with pytest.raises(ValueError, match="provides no labels"):
        _module().fit(unlabelled)
    with pytest.raises(ValueError, match="label_names=None"):
        Module(nn.Dense(1), label_names=None).score(_iter(), "mse")


def test_constructor_validation():
    with pytest.raises(TypeError, match=r"Module\(net\) expects a dstraight.nn block"):
        Module(lambda x: x)
    with pytest.raises(TypeError, match=r"Module\(loss=...\) must be a loss"):
        Module(nn.Dense(1), loss=3)
    with pytest.raises(TypeError, match=r"label_names=...\) must be a sequence of str"):
        Module(nn.Dense(1), label_names=[1])
    assert isinstance(Module(nn.Dense(1)).loss, loss.L2Loss)  # LinearRegressionOutput's loss
    with pytest.raises(ValueError, match="num_epoch=1 is smaller than begin_epoch=3"):
        _module().fit(_iter(), num_epoch=1, begin_epoch=3)


def test_speedometer_keeps_the_compiled_epoch_and_its_results(capsys):
    plain, timed = _module(), _module()
    hyper = {"learning_rate": 0.1}
    plain.fit(_iter(), num_epoch=2, optimizer_params=hyper)
    capsys.readouterr()
    timed.fit(_iter(), num_epoch=2, optimizer_params=hyper,
              batch_end_callback=callback.Speedometer(BATCH, frequent=5))
    out = capsys.readouterr().out.splitlines()
    speed = [line for line in out if "Speed" in line]
    assert [re.match(r"Epoch\[(\d)\] Batch \[(\d+)\]", s).groups() for s in speed] == [
        ("0", "5"), ("0", "10"), ("1", "5"), ("1", "10")]
    for k, v in _params(plain).items():
        np.testing.assert_allclose(_params(timed)[k], v, rtol=1e-5, atol=1e-6)
    # the epoch line is over the whole epoch, although the Speedometer reset the local metric
    epoch_lines = [line for line in out if "Train" in line]
    assert len(epoch_lines) == 2


def test_plain_callbacks_run_after_every_batch_with_the_same_training():
    compiled, stepwise = _module(), _module()
    compiled.fit(_iter(), num_epoch=2, optimizer_params={"learning_rate": 0.1})
    seen = []
    stepwise.fit(_iter(), num_epoch=2, optimizer_params={"learning_rate": 0.1},
                 batch_end_callback=lambda p: seen.append((p.epoch, p.nbatch, p.eval_metric.get())))
    assert [(e, b) for e, b, _ in seen] == [(e, b) for e in range(2) for b in range(13)]
    assert seen[0][2][0] == "mse" and np.isfinite(seen[0][2][1])
    for k, v in _params(compiled).items():
        np.testing.assert_allclose(_params(stepwise)[k], v, rtol=1e-5, atol=1e-6)


def test_fit_compiles_once_and_reuses_programs_across_calls():
    model = _module()
    it = _iter(shuffle=True)
    model.fit(it, num_epoch=1, optimizer_params={"learning_rate": 0.1})
    trainer = model._trainer
    compiled = trainer.trace_count
    model.fit(it, num_epoch=3, optimizer_params={"learning_rate": 0.1})
    assert model._trainer is trainer and trainer.trace_count == compiled


def test_epoch_end_callback_and_metric_objects(capsys):
    calls = []
    mae = metric.MAE()
    model = _module()
    model.fit(_iter(), num_epoch=2, eval_metric=mae,
              epoch_end_callback=lambda epoch, net, args, aux: calls.append((epoch, sorted(args))))
    names = sorted(model.net.collect_params())
    assert calls == [(0, names), (1, names)]
    assert "Train-mae=" in capsys.readouterr().out
    assert mae.get_global()[0] == "mae" and np.isfinite(mae.get_global()[1])


def test_default_initializer_and_hand_initialized_nets():
    fresh = _module()
    fresh.init_params()
    fresh.net(jnp.zeros((1, 2)))
    assert float(jnp.abs(fresh.net.params["weight"]).max()) <= 0.01  # init.Uniform(0.01)
    net = nn.Dense(1, in_units=2)
    net.initialize(init.Constant(3.0))
    Module(net).init_params()
    assert net.params["weight"].tolist() == [[3.0], [3.0]]  # kept
    Module(net).init_params(init.Zero())
    assert net.params["weight"].tolist() == [[0.0], [0.0]]  # an explicit initializer wins


def test_predict_drops_padding_and_matches_the_network():
    X, _ = _data()
    model = _module()
    model.fit(_iter(), num_epoch=1)
    expected = np.asarray(model.net(X))
    it = data.NDArrayIter(X, batch_size=BATCH)  # 'pad': the last batch has 4 padded examples
    out = model.predict(it)
    assert out.shape == (N, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(it), expected, rtol=1e-5, atol=1e-6)  # rewound
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-5, atol=1e-6)
    loader = data.DataLoader(data.ArrayDataset(X), batch_size=BATCH)
    np.testing.assert_allclose(model.predict(loader), expected, rtol=1e-5, atol=1e-6)
    batches = list(data.NDArrayIter(X, batch_size=BATCH))
    np.testing.assert_allclose(model.predict(batches), expected, rtol=1e-5, atol=1e-6)


def test_score_matches_numpy():
    X, y = _data(seed=1)
    model = _module()
    model.fit(_iter(), num_epoch=1)
    y_hat = np.asarray(model.net(X))[:, 0]
    expected = [("mse", np.mean((y_hat - y) ** 2)), ("mae", np.mean(np.abs(y_hat - y)))]
    got = model.score(_iter(seed=1), ["mse", "mae"])
    assert [name for name, _ in got] == ["mse", "mae"]
    np.testing.assert_allclose([v for _, v in got], [v for _, v in expected], rtol=1e-5)
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=BATCH)
    assert model.score(loader, "mse")[0][1] == pytest.approx(expected[0][1], rel=1e-5)


def test_fit_with_a_dataloader_and_a_numpy_only_metric(capsys):
    X, y = _data()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=BATCH, shuffle=True)
    calls = []

    def sq_error(label, pred):
        total = float(np.sum((label - pred.ravel()) ** 2))  # fails on tracers: not jittable
        calls.append(type(pred))
        return total, label.size

    model = Module(nn.Dense(1))  # a DataLoader has no names to check
    model.fit(loader, num_epoch=3, eval_metric=metric.CustomMetric(sq_error, name="sq"),
              optimizer_params={"learning_rate": 0.1})
    assert calls and all(c is np.ndarray for c in calls)  # fed batch by batch, as NumPy
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("=")[0] for line in lines] == [f"Epoch[{i}] Train-sq" for i in range(3)]
    assert float(lines[-1].split("=")[1]) < float(lines[0].split("=")[1])


def test_divergence_raises_floating_point_error():
    model = _module()
    with pytest.raises(FloatingPointError,
                       match=r"not finite.*this epoch's steps.*learning rate too large"):
        model.fit(_iter(), num_epoch=30, optimizer_params={"learning_rate": 10.0})


def test_progress_bar_on_request(capsys):
    _module().fit(_iter(), num_epoch=2, progress_bar=True)
    assert "batch" in capsys.readouterr().err
    _module().fit(_iter(), num_epoch=2, progress_bar=False)
    assert capsys.readouterr().err == ""
    _module().fit(_iter(), num_epoch=2)  # short run: no bar
    assert capsys.readouterr().err == ""


def test_doctests():
    result = doctest.testmod(dstraight.module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
