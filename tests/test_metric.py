"""Tests for dstraight.metric: MXNet semantics against NumPy, jitted stats, compiled evaluation."""

import doctest
import importlib
import math
import pkgutil
from functools import partial

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
    assert pair.get() == ("custom(<lambda>)", pytest.approx(2 / 3))
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
    with pytest.raises(ValueError, match=r"Unknown metric 'f2'\. Valid names: acc, accuracy, "
                                         r"ce, composite, compositeevalmetric, "):
        metric.create("f2")
    with pytest.raises(TypeError, match="metric must be a name"):
        metric.create(3)


# -- Accuracy: one-hot labels and label checks ----------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_accuracy_with_one_hot_or_probability_labels_compares_argmaxes(jit):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=200)
    scores = rng.normal(size=(200, 10)).astype(np.float32)  # a random 10-class model
    expected = np.mean(scores.argmax(axis=1) == y)
    assert 0.05 < expected < 0.15
    onehot = np.eye(10, dtype=np.float32)[y]
    soft = 0.9 * onehot + 0.01  # label smoothing: still a distribution, same argmax
    for label in (onehot, soft):
        total, count = _stats(metric.Accuracy(), label, scores, jit)
        assert count == 200 and total / count == pytest.approx(expected)
    classes_first = metric.Accuracy(axis=0)
    total, count = _stats(classes_first, onehot.T, scores.T, jit)
    assert total / count == pytest.approx(expected)
    sequences = metric.Accuracy(axis=-1)  # (batch, time, classes)
    total, count = _stats(sequences, onehot.reshape(20, 10, 10), scores.reshape(20, 10, 10), jit)
    assert count == 200 and total / count == pytest.approx(expected)


def test_accuracy_with_integer_class_ids_of_the_labels_shape():
    y = np.array([[0, 2, 1], [1, 1, 0]])
    pred = np.array([[0, 2, 2], [1, 0, 0]])  # integer predictions: class ids per position
    m = metric.Accuracy()
    m.update(y, pred)
    assert m.get()[1] == pytest.approx(4 / 6)


def test_accuracy_rejects_label_rows_that_are_not_distributions():
    y = np.array([[0.0, 2.0, 1.0], [1.0, 1.0, 0.0]])  # class ids, but the predictions are floats
    with pytest.raises(ValueError, match=r"Accuracy: labels of the predictions' shape \(2, 3\) "
                                         r"are read as one-hot or probability rows along axis 1 "
                                         r"\(the class is their argmax\), but 2 row\(s\) are not "
                                         r"distributions .* e\.g\. row 0: \[0\.0, 2\.0, 1\.0\]\. "
                                         r"Pass one class id per example instead \(labels of "
                                         r"shape \(2,\)\); predicted class ids .* must be "
                                         r"integers"):
        metric.Accuracy().update(y, np.zeros((2, 3), np.float32))
    total, _ = jax.jit(metric.Accuracy().stats)(y, np.zeros((2, 3), np.float32))
    assert np.isnan(total)


@pytest.mark.parametrize(
    ("label", "match"),
    [
        ([1, 2, 3, 3], r"Accuracy: labels must be class ids 0\.\.2, got 2 other value\(s\): 3\. "
                       r"The labels look numbered 1\.\.3: pass y - 1\."),
        ([0, 1, 7, 2], r"got 1 other value\(s\): 7\. Does the network have one output per "
                       r"class\?"),
        ([0, -1, 1, 2], r"got 1 other value\(s\): -1\.$"),
        ([0.0, 0.5, 1.0, 2.0], r"got 1 other value\(s\): 0\.5\."),
    ],
)
def test_accuracy_rejects_labels_outside_the_classes(label, match):
    scores = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=match):
        metric.Accuracy().update(np.array(label), scores)
    total, count = jax.jit(metric.Accuracy().stats)(np.array(label), scores)
    assert np.isnan(total) and count == 4  # under jit: nan, not a silently lower accuracy


def test_mxnet_accuracy_cases():
    pred = np.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])
    m = metric.create("acc")
    m.update([np.array([0, 1, 1])], [pred])
    assert m.get()[1] == pytest.approx(2 / 3)
    # a label given as a 2-D array by a custom iterator: one label per prediction row
    pred = np.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6], [0.8, 0.2], [0.3, 0.5], [0.6, 0.4]])
    label = np.array([[0, 1, 1], [1, 0, 1]])
    m = metric.create("acc")
    m.update([label], [pred])
    assert m.get()[1] == pytest.approx(np.mean(pred.argmax(axis=1) == label.ravel()))


# -- TopKAccuracy ------------------------------------------------------------------------------


def np_top_k_accuracy(label, scores, k):
    best = np.argsort(scores, axis=1)[:, ::-1][:, :k]
    return np.mean([lab in row for lab, row in zip(label, best, strict=True)])


@pytest.mark.parametrize("top_k", [1, 2, 3, 10])
@pytest.mark.parametrize("jit", [False, True])
def test_top_k_accuracy_matches_numpy(top_k, jit):
    m = metric.TopKAccuracy(top_k=top_k)
    assert m.name == f"top_k_accuracy_{top_k}"
    total, count = _stats(m, LABELS, SCORES, jit)
    assert count == 12
    assert total / count == pytest.approx(np_top_k_accuracy(LABELS, SCORES, top_k))
    if top_k == 1:
        assert total / count == pytest.approx(np.mean(SCORES.argmax(axis=1) == LABELS))
    if top_k >= 3:
        assert total == count  # every label is among the 3 classes


def test_top_k_accuracy_mxnet_example_and_errors():
    np.random.seed(999)  # MXNet's docstring example: 0.3
    m = metric.create("top_k_accuracy", top_k=3)
    m.update([np.array([2, 6, 9, 2, 3, 4, 7, 8, 9, 6])], [np.random.rand(10, 10)])
    assert m.get() == ("top_k_accuracy_3", pytest.approx(0.3))
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=rf"top_k must be a positive integer, got {bad}"):
            metric.TopKAccuracy(top_k=bad)
    with pytest.raises(ValueError, match=r"TopKAccuracy expects scores of shape \(N, classes\) "
                                         r"and N class ids, got predictions of shape \(12,\)"):
        m.update(LABELS, SCORES[:, 0])
    with pytest.raises(ValueError, match=r"TopKAccuracy: labels must be class ids 0\.\.2, got "
                                         r"1 other value\(s\): 5"):
        m.update(np.array([0, 5]), SCORES[:2])


# -- F1 ---------------------------------------------------------------------------------------


def test_f1_mxnet_cases():
    micro = metric.create("f1", average="micro")
    macro = metric.F1(average="macro")
    assert np.isnan(macro.get()[1]) and np.isnan(micro.get()[1])
    # no positive label, no positive prediction: 0, not a division by zero
    for m in (macro, micro):
        m.update([np.array([0, 0])], [np.array([[0.9, 0.1], [0.8, 0.2]])])
        assert m.get()[1] == 0.0
        m.reset()
    pred11, label11 = np.array([[0.1, 0.9], [0.5, 0.5]]), np.array([1, 0])
    pred12, label12 = np.array([[0.85, 0.15], [1.0, 0.0]]), np.array([1, 0])
    pred21, label21 = np.array([[0.6, 0.4]]), np.array([0])
    pred22, label22 = np.array([[0.2, 0.8]]), np.array([1])
    micro.update([label11, label12], [pred11, pred12])
    macro.update([label11, label12], [pred11, pred12])
    assert micro.num_inst == 4 and macro.num_inst == 1
    fscore1 = 2.0 * 1 / (2 * 1 + 1 + 0)
    assert micro.get()[1] == pytest.approx(fscore1) and macro.get()[1] == pytest.approx(fscore1)
    micro.update([label21, label22], [pred21, pred22])
    macro.update([label21, label22], [pred21, pred22])
    assert micro.num_inst == 6 and macro.num_inst == 2
    fscore2 = 2.0 * 1 / (2 * 1 + 0 + 0)
    fscore_total = 2.0 * (1 + 1) / (2 * (1 + 1) + (1 + 0) + (0 + 0))
    assert micro.get()[1] == pytest.approx(fscore_total)
    assert macro.get()[1] == pytest.approx((fscore1 + fscore2) / 2)
    assert micro.sum_metric == pytest.approx(fscore_total * 6)  # MXNet's view of the sums


def np_f1(label, positive):
    tp = np.sum(positive & (label == 1))
    fp = np.sum(positive & (label == 0))
    fn = np.sum(~positive & (label == 1))
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize("jit", [False, True])
def test_f1_stats_from_scores_or_probabilities(jit):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=30)
    scores = rng.normal(size=(30, 2)).astype(np.float32)
    prob = rng.uniform(size=30).astype(np.float32)
    macro = metric.F1()
    total, count = _stats(macro, y, scores, jit)
    assert count == 1 and total == pytest.approx(np_f1(y, scores.argmax(axis=1) == 1))
    total, _ = _stats(macro, y, prob, jit)
    assert total == pytest.approx(np_f1(y, prob > 0.5))
    total, _ = _stats(metric.F1(threshold=0.8), y, prob[:, None], jit)
    assert total == pytest.approx(np_f1(y, prob > 0.8))
    stats = (jax.jit(metric.F1(average="micro").stats) if jit else
             metric.F1(average="micro").stats)(y, scores)
    positive = scores.argmax(axis=1) == 1
    expected = (np.sum(positive & (y == 1)), np.sum(positive & (y == 0)),
                np.sum(~positive & (y == 1)), 30)
    assert [float(v) for v in stats] == [float(v) for v in expected]


def test_f1_rejects_what_is_not_binary():
    f1 = metric.F1()
    with pytest.raises(ValueError, match=r"F1: labels must be class ids 0\.\.1, got 1 other "
                                         r"value\(s\): 2\. F1 is for binary classification; for "
                                         r"more classes use Accuracy\."):
        f1.update(np.array([0, 1, 2]), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"F1 is for binary classification: predictions of shape "
                                         r"\(N, 2\) .* got shape \(3, 3\)"):
        f1.update(np.array([0, 1, 1]), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"F1: predictions of shape \(3,\) are read as "
                                         r"probabilities of class 1, but some are outside \[0, 1\] "
                                         r"\(up to 2, down to -1\)\. Apply jax\.nn\.sigmoid"):
        f1.update(np.array([0, 1, 1]), np.array([-1.0, 0.5, 2.0]))
    with pytest.raises(ValueError, match=r"F1: 2 labels \(shape \(2,\)\) for 3 predictions"):
        f1.update(np.array([0, 1]), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"average must be 'macro' \(mean over batches\) or "
                                         r"'micro' \(over all examples\), got 'weighted'"):
        metric.F1(average="weighted")
    for average in ("macro", "micro"):  # under jit: nan
        stats = jax.jit(metric.F1(average=average).stats)(np.array([0, 1, 2]), np.zeros((3, 2)))
        assert np.isnan(float(stats[0]))


# -- Perplexity, NLL, Pearson, Loss -----------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_perplexity_matches_numpy(jit):
    pred = np.array([[0.8, 0.2], [0.2, 0.8], [0, 1.0]])
    label = np.array([0, 1, 1])
    expected = np.exp(-np.log(pred[np.arange(3), label]).sum() / 3)
    m = metric.create("perplexity", -1)
    total, count = _stats(m, label, pred, jit)
    assert count == 3 and m._value(total, count) == pytest.approx(expected, rel=1e-6)
    m.update([label], [pred])
    assert m.get() == ("perplexity", pytest.approx(expected, rel=1e-6))
    # the ignored label (here -1, padding) is not counted, even though it is no class
    m = metric.Perplexity(ignore_label=-1)
    total, count = _stats(m, np.array([0, -1, 1]), pred, jit)
    assert count == 2
    expected = np.exp(-(np.log(0.8) + np.log(1.0)) / 2)
    assert m._value(total, count) == pytest.approx(expected, rel=1e-6)


def test_perplexity_over_sequences_and_errors():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(5), size=(4, 6)).astype(np.float32)  # (batch, time, classes)
    label = rng.integers(0, 5, size=(4, 6))
    label[0, 4:] = 0  # padding
    m = metric.Perplexity(ignore_label=0)
    m.update(label, probs)
    picked = np.take_along_axis(probs, label[..., None], axis=-1)[..., 0]
    keep = label != 0
    assert m.get()[1] == pytest.approx(np.exp(-np.log(picked[keep]).mean()), rel=1e-5)
    with pytest.raises(ValueError, match=r"Perplexity: labels must be class ids 0\.\.4, got 24 "
                                         r"other value\(s\): 5"):
        m.update(np.full((4, 6), 5), probs)
    with pytest.raises(ValueError, match=r"Perplexity: 4 labels \(shape \(4,\)\) for "
                                         r"predictions of shape \(4, 6, 5\): expected one label "
                                         r"per row along axis -1, 24 of them"):
        m.update(np.zeros(4), probs)


def test_nll_loss_and_cross_entropy_label_checks():
    pred = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
    m = metric.create("nll_loss")
    m.update([np.array([2, 1])], [pred])
    assert m.get() == ("nll-loss", pytest.approx(-(np.log(0.5) + np.log(0.1)) / 2))
    with pytest.raises(ValueError, match=r"CrossEntropy: labels must be class ids 0\.\.2, got 1 "
                                         r"other value\(s\): 3\. The labels look numbered 1\.\.3"):
        metric.CrossEntropy().update(np.array([1, 3]), pred)
    total, _ = jax.jit(metric.CrossEntropy().stats)(np.array([1, 3]), pred)
    assert np.isnan(total)


@pytest.mark.parametrize("jit", [False, True])
def test_pearson_correlation_is_the_mean_over_batches(jit):
    pred1 = np.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])
    label1 = np.array([[1, 0], [0, 1], [0, 1]])
    m = metric.create("pearsonr")
    total, count = _stats(m, label1, pred1, jit)
    assert count == 1 and total == pytest.approx(0.42163704544016178, rel=1e-5)  # MXNet's number
    pred2, label2 = np.array([[1, 2], [3, 2], [4, 6]]), label1
    m.update([label1, label2], [pred1, pred2])
    corr = [np.corrcoef(p.ravel(), y.ravel())[0, 1] for p, y in ((pred1, label1), (pred2, label2))]
    assert m.get() == ("pearsonr", pytest.approx(np.mean(corr), rel=1e-5))


def test_pearson_correlation_is_accurate_for_large_means():
    rng = np.random.default_rng(4)
    y = rng.normal(size=1000)
    p = y + rng.normal(size=1000)
    expected = np.corrcoef(p, y)[0, 1]
    total, _ = jax.jit(metric.PearsonCorrelation().stats)((y + 1e4).astype(np.float32),
                                                          (p + 1e4).astype(np.float32))
    assert float(total) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("jit", [False, True])
def test_loss_metric_averages_the_predictions(jit):
    pred = np.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])
    as_list, as_array = metric.create("loss"), metric.create("Loss")
    as_list.update(None, [pred])
    as_array.update(None, pred)
    assert as_list.get() == as_array.get() == ("loss", pytest.approx(pred.mean()))
    losses = np.array([0.5, 2.0, 1.0])
    total, count = _stats(metric.Loss(), LABELS[:3], losses, jit)  # labels ignored
    assert (total, count) == (pytest.approx(3.5), 3.0)


def test_mxnet_regression_numbers():
    pred, label = np.array([3, -0.5, 2, 7]).reshape(4, 1), np.array([2.5, 0.0, 2, 8]).reshape(4, 1)
    for name, expected in (("mae", 0.5), ("mse", 0.375), ("rmse", 0.612372457981)):
        m = metric.create(name)
        m.update([label], [pred])
        assert m.get() == (name, pytest.approx(expected, rel=1e-6))
    pred = np.array([[1.0, 2, 3, 4]])  # one array rather than a list
    for name, expected in (("mse", 0.01), ("mae", 0.1), ("rmse", 0.1)):
        m = metric.create(name)
        m.update(pred + 0.1, pred)
        assert m.get()[1] == pytest.approx(expected, rel=1e-5)


# -- CustomMetric names, create ---------------------------------------------------------------


def test_custom_metric_is_named_after_its_function():
    def relative_error(label, pred):
        return float(np.mean(np.abs(label - pred) / np.abs(label)))

    assert metric.CustomMetric(relative_error).name == "relative_error"
    assert metric.create(relative_error).name == "relative_error"
    assert metric.CustomMetric(relative_error, name="rel").name == "rel"
    m = metric.CustomMetric(lambda x, y: (x + y).mean())  # MXNet's docstring example
    m.update([np.array([2.5, 0.0, 2, 8])], [np.array([3, -0.5, 2, 7])])
    assert m.get() == ("custom(<lambda>)", 6.0)
    assert metric.CustomMetric(partial(relative_error)).name == "partial"


@pytest.mark.parametrize(
    ("name", "cls"),
    [("Accuracy", "Accuracy"), ("acc", "Accuracy"), ("TopKAccuracy", "TopKAccuracy"),
     ("top_k_acc", "TopKAccuracy"), ("F1", "F1"), ("MAE", "MAE"), ("mse", "MSE"),
     ("RMSE", "RMSE"), ("CrossEntropy", "CrossEntropy"), ("cross-entropy", "CrossEntropy"),
     ("Loss", "Loss"), ("Perplexity", "Perplexity"), ("PearsonCorrelation", "PearsonCorrelation"),
     ("NegativeLogLikelihood", "NegativeLogLikelihood"), ("composite", "CompositeEvalMetric"),
     ("CompositeEvalMetric", "CompositeEvalMetric")],
)
def test_create_by_class_name_or_alias(name, cls):
    assert type(metric.create(name)).__name__ == cls


def test_create_composite_by_name():
    m = metric.create("composite", ["acc", "f1"])
    m.update([np.array([0, 1, 1])], [np.array([[0.3, 0.7], [0, 1.0], [0.4, 0.6]])])
    names, values = m.get()
    assert names == ["accuracy", "f1"] and values == [pytest.approx(2 / 3), pytest.approx(0.8)]
    assert metric.create("custommetric", np.max).name == "max"


# -- the accumulator contract -----------------------------------------------------------------


def test_accumulator_contract():
    mse = metric.MSE()
    assert mse.num_stats == 2 and mse.local_stats == (0.0, 0.0)
    mse.add_stats(3.0, 2.0)
    mse.reset_local()
    mse.add_stats(*mse.stats(np.array([0.0, 0.0]), np.array([1.0, 3.0])))
    assert mse.local_stats == (10.0, 2.0) == (mse.sum_metric, mse.num_inst)
    assert mse.global_stats == (13.0, 4.0) == (mse.global_sum_metric, mse.global_num_inst)
    mse.local_stats = (1.0, 4.0)
    assert mse.get()[1] == 0.25
    micro = metric.F1(average="micro")
    assert micro.num_stats == 4
    micro.add_stats(1.0, 1.0, 0.0, 5.0)  # tp, fp, fn, examples
    assert micro.local_stats == (1.0, 1.0, 0.0, 5.0) and micro.get()[1] == pytest.approx(2 / 3)
    assert (micro.sum_metric, micro.num_inst) == (pytest.approx(10 / 3), 5.0)
    micro.sum_metric = 0.0  # a view only: the statistics are unchanged
    assert micro.get()[1] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"F1 keeps 4 statistics \(see stats\(\)\), got 2"):
        micro.add_stats(1.0, 2.0)


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


def test_np_metric_only_ever_sees_numpy_arrays():
    net, X, y = _classifier()
    seen = []

    def correct(label, pred):  # works on JAX arrays too, so CustomMetric would trace it
        seen.append(type(pred))
        return (pred.argmax(axis=1) == label.reshape(-1)).sum(), label.size

    traced = metric.CustomMetric(correct)
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)
    assert metric.evaluate(net, loader, traced) == pytest.approx(_numpy_accuracy(net, X, y))
    assert any(issubclass(t, jax.core.Tracer) for t in seen)
    seen.clear()
    m = metric.np(correct)
    assert isinstance(m, metric.CustomMetric) and m.name == "correct" and not m.jittable
    assert metric.create(m) is m
    batches = [(X[i:i + 8], y[i:i + 8]) for i in range(0, len(X), 8)]
    for source in (loader, batches):  # the scanned loader path and the batch-by-batch path
        assert metric.evaluate(net, source, m) == pytest.approx(_numpy_accuracy(net, X, y))
    assert seen and all(t is np.ndarray for t in seen)
    assert metric.np(correct, name="hits").name == "hits"
    with pytest.raises(TypeError, match=r"must be a function of \(label, pred\), got int"):
        metric.np(3)


METRIC_MODULES = [metric.__name__] + [
    f"{metric.__name__}.{m.name}" for m in pkgutil.iter_modules(metric.__path__)
]


def test_every_submodule_is_listed():
    assert sorted(METRIC_MODULES) == sorted(
        f"dstraight.metric{m}" for m in ("", "._checks", ".base", ".binary", ".classification",
                                          ".composite", ".correlation", ".custom",
                                          ".evaluation", ".regression")
    )


@pytest.mark.parametrize("name", METRIC_MODULES)
def test_doctests(name):
    # testmod skips objects imported from elsewhere, so each submodule is run on its own
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name not in ("dstraight.metric._checks", "dstraight.metric.base"):  # no examples there
        assert result.attempted > 0


def _binary_net():
    net = nn.Dense(2, in_units=4)
    net.initialize("normal", key=2)
    X = RNG.normal(size=(37, 4)).astype(np.float32)
    y = RNG.integers(0, 2, size=37).astype(np.int32)
    W, b = np.asarray(net.params["weight"]), np.asarray(net.params["bias"])
    return net, X, y, X @ W + b


def test_evaluate_with_top_k_and_f1():
    net, X, y = _classifier()
    W, b = np.asarray(net.params["weight"]), np.asarray(net.params["bias"])
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)
    value = metric.evaluate(net, loader, metric.TopKAccuracy(top_k=2))
    assert value == pytest.approx(np_top_k_accuracy(y, X @ W + b, 2))
    net, X, y, scores = _binary_net()
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)  # 4 batches of 8, one of 5
    positive = scores.argmax(axis=1) == 1
    micro = metric.evaluate(net, loader, metric.F1(average="micro"))  # host path for now
    assert micro == pytest.approx(np_f1(y, positive))
    per_batch = [np_f1(y[i:i + 8], positive[i:i + 8]) for i in range(0, 37, 8)]
    assert metric.evaluate(net, loader, "f1") == pytest.approx(np.mean(per_batch))  # compiled
    batches = list(loader)
    assert metric.evaluate(net, batches, metric.F1(average="micro")) == pytest.approx(micro)


def test_evaluate_with_a_label_outside_the_classes_is_nan():
    net, X, y = _classifier()
    y = y.copy()
    y[5] = 3  # the net has 3 outputs
    loader = data.DataLoader(data.ArrayDataset(X, y), batch_size=8)
    assert math.isnan(metric.evaluate(net, loader, "acc"))  # compiled: nan, not 0.3
    with pytest.raises(ValueError, match=r"labels must be class ids 0\.\.2, got 1 other "
                                         r"value\(s\): 3"):
        metric.Accuracy().update(y, X @ np.asarray(net.params["weight"]))
