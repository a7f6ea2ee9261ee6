"""Tests for dstraight.metric: MXNet semantics against NumPy, jitted stats, compiled evaluation."""

import doctest
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dstraight.metric
from dstraight import data, metric, nn

RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 3, size=12)
SCORES = RNG.normal(size=(12, 3)).astype(np.float32)
PROBS = np.exp(SCORES) / np.exp(SCORES).sum(axis=1, keepdims=True)
TARGETS = RNG.normal(size=12).astype(np.float32)
PREDS = RNG.normal(size=(12, 1)).astype(np.float32)


def _stats(m, label, pred, jit):
    f = jax.jit(m.stats) if jit else m.stats
    total, count = f(label, pred)
    return float(total), float(count)


@pytest.mark.parametrize("jit", [False, True])
def test_accuracy_matches_numpy(jit):
    m = metric.Accuracy()
    expected = np.mean(SCORES.argmax(axis=1) == LABELS)
    total, count = _stats(m, LABELS, SCORES, jit)
    assert total / count == pytest.approx(expected)
    m.update(labels=[LABELS[:5], LABELS[5:]], preds=[SCORES[:5], SCORES[5:]])  # lists, keywords
    assert m.get() == ("accuracy", pytest.approx(expected))


def test_accuracy_with_class_ids_and_other_axis():
    m = metric.Accuracy()
    m.update(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2]))  # same shape: already class ids
    assert m.get()[1] == pytest.approx(0.75)
    m = metric.Accuracy(axis=0)
    m.update(LABELS, SCORES.T)
    assert m.get()[1] == pytest.approx(np.mean(SCORES.argmax(axis=1) == LABELS))


def test_accuracy_size_mismatch():
    with pytest.raises(ValueError, match=r"Accuracy: 5 labels \(shape \(5,\)\) but 12 predicted"):
        metric.Accuracy().update(LABELS[:5], SCORES)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    ("cls", "reference"),
    [
        (metric.MSE, lambda y, p: np.mean((y - p) ** 2)),
        (metric.MAE, lambda y, p: np.mean(np.abs(y - p))),
        (metric.RMSE, lambda y, p: np.sqrt(np.mean((y - p) ** 2))),
    ],
)
def test_regression_metrics_match_numpy(cls, reference, jit):
    m = cls()
    expected = reference(TARGETS, PREDS[:, 0])  # (N,) labels against (N, 1) predictions
    total, count = _stats(m, TARGETS, PREDS, jit)
    assert count == 12
    assert m._value(total, count) == pytest.approx(expected, rel=1e-5)
    # split into unequal batches: the value is still over examples
    m.update([TARGETS[:3], TARGETS[3:]], [PREDS[:3], PREDS[3:]])
    assert m.get()[1] == pytest.approx(expected, rel=1e-5)


def test_regression_metric_with_multiple_outputs():
    y, p = RNG.normal(size=(6, 4)), RNG.normal(size=(6, 4))
    m = metric.MSE()
    m.update(y[:2], p[:2])
    m.update(y[2:], p[2:])
    assert m.get()[1] == pytest.approx(np.mean((y - p) ** 2), rel=1e-5)


def test_regression_shape_mismatch():
    with pytest.raises(ValueError, match=r"MSE: labels of shape \(5,\) do not match predictions "
                                         r"of shape \(12, 1\)"):
        metric.MSE().update(TARGETS[:5], PREDS)


@pytest.mark.parametrize("jit", [False, True])
def test_cross_entropy_matches_numpy(jit):
    m = metric.CrossEntropy()
    expected = -np.mean(np.log(PROBS[np.arange(12), LABELS] + 1e-12))
    total, count = _stats(m, LABELS, PROBS, jit)
    assert total / count == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"CrossEntropy expects probabilities of shape"):
        m.update(LABELS[:4], PROBS)


def test_custom_metric_value_and_pair():
    per_batch = metric.CustomMetric(lambda y, p: float(np.max(np.abs(y - p))), name="maxerr")
    per_batch.update([TARGETS[:6], TARGETS[6:]], [PREDS[:6, 0], PREDS[6:, 0]])
    expected = np.mean([np.max(np.abs(TARGETS[:6] - PREDS[:6, 0])),
                        np.max(np.abs(TARGETS[6:] - PREDS[6:, 0]))])  # mean of per-batch values
    assert per_batch.get() == ("maxerr", pytest.approx(expected, rel=1e-6))
    pair = metric.CustomMetric(lambda y, p: (np.sum(y == p), y.size))
    pair.update(np.array([1, 2, 3]), np.array([1, 0, 3]))
    assert pair.get() == ("custom", pytest.approx(2 / 3))
    with pytest.raises(TypeError, match=r"must be a function of \(label, pred\)"):
        metric.CustomMetric(3)
    bad = metric.CustomMetric(lambda y, p: (1, 2, 3))
    with pytest.raises(ValueError, match="returned a tuple of 3 items"):
        bad.update(np.ones(2), np.ones(2))


def test_get_reset_and_global_accumulators():
    m = metric.MSE()
    name, value = m.get()
    assert name == "mse" and math.isnan(value)
    m.update(np.array([0.0]), np.array([1.0]))
    m.reset_local()  # what Speedometer(auto_reset=True) does
    m.update(np.array([0.0]), np.array([3.0]))
    assert m.get()[1] == pytest.approx(9.0)  # local: since the last reset_local
    assert m.get_global()[1] == pytest.approx(5.0)  # global: since the last reset
    assert m.get_global_name_value() == [("mse", pytest.approx(5.0))]
    m.reset()
    assert math.isnan(m.get_global()[1])


def test_update_list_length_mismatch():
    with pytest.raises(ValueError, match="got 2 label arrays and 1 prediction arrays"):
        metric.MSE().update([TARGETS, TARGETS], [PREDS])


def test_create_and_composite():
    assert isinstance(metric.create("acc"), metric.Accuracy)
    assert isinstance(metric.create("CE"), metric.CrossEntropy)
    m = metric.MAE()
    assert metric.create(m) is m
    assert isinstance(metric.create(lambda y, p: 0.0), metric.CustomMetric)
    composite = metric.create(["mse", "mae"])
    composite.update(TARGETS, PREDS)
    names, values = composite.get()
    assert names == ["mse", "mae"]
    assert values[1] == pytest.approx(np.mean(np.abs(TARGETS - PREDS[:, 0])), rel=1e-5)
    assert isinstance(composite.get_metric(0), metric.MSE)
    with pytest.raises(ValueError, match="holds 2 metrics; index 5"):
        composite.get_metric(5)
    with pytest.raises(ValueError, match=r"Unknown metric 'f1'\. Valid names: acc, accuracy"):
        metric.create("f1")
    with pytest.raises(TypeError, match="metric must be a name"):
        metric.create(3)


# -- compiled evaluation --------------------------------------------------------------------


def _classifier():
    net = nn.Dense(3, in_units=4)
    net.initialize("normal", key=1)
    X = RNG.normal(size=(37, 4)).astype(np.float32)
    y = RNG.integers(0, 3, size=37).astype(np.int32)
    return net, X, y


def _numpy_accuracy(net, X, y):
    W, b = np.asarray(net.params["weight"]), np.asarray(net.params["bias"])
    return np.mean((X @ W + b).argmax(axis=1) == y)


def test_evaluate_matches_numpy_and_compiles_once():
    net, X, y = _classifier()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)  # 4 full batches + 5
    expected = _numpy_accuracy(net, X, y)
    assert metric.evaluate(net, loader, "acc") == pytest.approx(expected)
    compiled = dstraight.Trainer(net, "sgd").trace_count
    assert metric.evaluate(net, loader, metric.Accuracy()) == pytest.approx(expected)
    assert dstraight.Trainer(net, "sgd").trace_count == compiled  # no new compilation
    batches = list(data.DataLoader(data.ArrayDataset(X, y), batch_size=8))
    assert metric.evaluate(net, batches, "acc") == pytest.approx(expected)  # iterable fallback


def test_evaluate_drops_ndarrayiter_padding():
    net, X, y = _classifier()
    it = data.NDArrayIter(X, y, batch_size=8, last_batch_handle="pad")  # 3 padded examples
    expected = _numpy_accuracy(net, X, y)
    assert metric.evaluate(net, it, "acc") == pytest.approx(expected)
    assert metric.evaluate(net, it, "acc") == pytest.approx(expected)  # rewound, same again
    batches = list(data.NDArrayIter(X, y, batch_size=8, last_batch_handle="pad"))
    assert metric.evaluate(net, batches, "acc") == pytest.approx(expected)  # DataBatch.pad


def test_evaluate_with_a_numpy_only_custom_metric():
    net, X, y = _classifier()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)

    def correct(label, pred):
        if not isinstance(pred, np.ndarray):  # NumPy only, as MXNet's feval
            raise TypeError("expected NumPy arrays")
        return int(np.sum(pred.argmax(axis=1) == label)), label.size

    value = metric.evaluate(net, loader, metric.CustomMetric(correct))
    assert value == pytest.approx(_numpy_accuracy(net, X, y))
    jnp_correct = metric.CustomMetric(lambda y, p: (jnp.sum(p.argmax(axis=1) == y), y.size))
    assert metric.evaluate(net, loader, jnp_correct) == pytest.approx(_numpy_accuracy(net, X, y))


def test_evaluate_needs_labels_and_batches():
    net, X, _ = _classifier()
    with pytest.raises(ValueError, match="needs labels"):
        metric.evaluate(net, data.NDArrayIter(X, batch_size=8), "acc")
    with pytest.raises(ValueError, match="yielded no batches"):
        metric.evaluate(net, [], "acc")


def test_doctests():
    result = doctest.testmod(dstraight.metric, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
