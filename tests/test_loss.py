"""dstraight.loss: every loss against a NumPy reference, eager and jitted, plus gradients."""

import doctest
import importlib
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from dstraight import loss


def rand(shape, seed=0):
    return np.asarray(jax.random.normal(jax.random.key(seed), shape))


def maybe_jit(fn, jit):
    return jax.jit(fn) if jit else fn


def np_log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


# -- L2 / L1 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6,), (6, 1), (6, 3, 2)])
@pytest.mark.parametrize("jit", [False, True])
def test_l2_loss_matches_numpy(shape, jit):
    pred, label = rand(shape, 1), rand(shape, 2)
    expected = (0.5 * (pred - label) ** 2).reshape(6, -1).mean(axis=1)
    for fn in (loss.L2Loss(), loss.l2_loss):
        out = maybe_jit(fn, jit)(pred, label)
        assert out.shape == (6,)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True])
def test_l1_loss_matches_numpy(jit):
    pred, label = rand((5, 4), 1), rand((5, 4), 2)
    expected = np.abs(pred - label).mean(axis=1)
    np.testing.assert_allclose(maybe_jit(loss.L1Loss(), jit)(pred, label), expected, rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.l1_loss, jit)(pred, label), expected, rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_label_with_the_same_size_is_reshaped_not_broadcast(jit):
    pred, label = rand((5, 1), 1), rand((5,), 2)
    out = maybe_jit(loss.L2Loss(), jit)(pred, label)
    assert out.shape == (5,)
    np.testing.assert_allclose(out, 0.5 * (pred[:, 0] - label) ** 2, rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    ("fn", "pred_shape", "label_shape", "name"),
    [
        (loss.L2Loss(), (4, 1), (3,), "l2_loss"),
        (loss.l2_loss, (4, 3), (4,), "l2_loss"),
        (loss.L1Loss(), (4, 3), (4, 1), "l1_loss"),
        (loss.SigmoidBinaryCrossEntropyLoss(), (4, 2), (2,), "sigmoid_binary_cross_entropy"),
        (loss.SoftmaxCrossEntropyLoss(sparse_label=False), (4, 3), (4, 1),
         "softmax_cross_entropy"),
    ],
)
def test_label_shape_mismatch_names_both_shapes(fn, pred_shape, label_shape, name, jit):
    message = (rf"{name}: label of shape {label_shape} does not fit the prediction of shape "
               rf"{pred_shape}: expected a label of shape {pred_shape}").replace("(", r"\(")
    message = message.replace(")", r"\)")
    with pytest.raises(ValueError, match=message + r".*\(N, N\)"):
        maybe_jit(fn, jit)(jnp.zeros(pred_shape), jnp.zeros(label_shape))


def test_weight_batch_axis_and_sample_weight():
    pred, label = rand((3, 4), 1), rand((3, 4), 2)
    sq = 0.5 * (pred - label) ** 2
    np.testing.assert_allclose(loss.L2Loss(weight=3.0)(pred, label), 3 * sq.mean(1), rtol=1e-5)
    np.testing.assert_allclose(loss.L2Loss(batch_axis=1)(pred, label), sq.mean(0), rtol=1e-5)
    sw = np.array([[1.0], [0.0], [2.0]])
    np.testing.assert_allclose(loss.L2Loss()(pred, label, sw), (sq * sw).mean(1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"l2_loss: sample_weight of shape \(3,\) does not "
                                         r"broadcast to the elementwise loss of shape \(3, 4\); "
                                         r"use e\.g\. shape \(3, 1\)"):
        loss.L2Loss()(pred, label, np.ones(3))


def test_scalar_prediction_and_bad_axes():
    with pytest.raises(ValueError, match="l2_loss: the prediction must have a batch axis, got a "
                                         "scalar"):
        loss.l2_loss(1.0, 1.0)
    with pytest.raises(ValueError, match="l1_loss: batch_axis=2 is out of range for a prediction "
                                         "with 2 axes"):
        loss.l1_loss(jnp.zeros((2, 2)), jnp.zeros((2, 2)), batch_axis=2)
    with pytest.raises(ValueError, match="softmax_cross_entropy: axis=-3 is out of range"):
        loss.softmax_cross_entropy(jnp.zeros((2, 2)), jnp.zeros(2), axis=-3)


# -- softmax cross-entropy ------------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_softmax_cross_entropy_sparse_and_dense(jit):
    logits = rand((6, 4), 1) * 3
    y = np.array([0, 3, 1, 2, 2, 0])
    expected = -np_log_softmax(logits)[np.arange(6), y]
    onehot = np.eye(4)[y]
    cases = [
        (loss.SoftmaxCrossEntropyLoss(), y),
        (loss.SoftmaxCrossEntropyLoss(), y.astype(np.float32)),  # float labels, as NDArrayIter
        (loss.SoftmaxCrossEntropyLoss(), y.reshape(6, 1)),
        (loss.SoftmaxCrossEntropyLoss(sparse_label=False), onehot),
        (loss.softmax_cross_entropy, y),
    ]
    for fn, label in cases:
        np.testing.assert_allclose(maybe_jit(fn, jit)(logits, label), expected, rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_softmax_cross_entropy_with_soft_labels_and_from_logits(jit):
    logits = rand((5, 3), 1)
    probs = np.exp(np_log_softmax(rand((5, 3), 2)))
    expected = -(probs * np_log_softmax(logits)).sum(axis=1)
    dense = loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    np.testing.assert_allclose(maybe_jit(dense, jit)(logits, probs), expected, rtol=1e-5)
    log_probs = np_log_softmax(logits)
    y = np.array([2, 0, 1, 1, 0])
    sparse_logp = loss.SoftmaxCrossEntropyLoss(from_logits=True)
    np.testing.assert_allclose(maybe_jit(sparse_logp, jit)(log_probs, y),
                               -log_probs[np.arange(5), y], rtol=1e-5)
    dense_logp = loss.SoftmaxCrossEntropyLoss(sparse_label=False, from_logits=True)
    np.testing.assert_allclose(maybe_jit(dense_logp, jit)(log_probs, probs), expected, rtol=1e-5)


def test_softmax_cross_entropy_class_axis_first():
    logits = rand((3, 5), 1)  # classes along axis 0, examples along axis 1
    y = np.array([0, 2, 1, 1, 0])
    fn = loss.SoftmaxCrossEntropyLoss(axis=0, batch_axis=1)
    np.testing.assert_allclose(fn(logits, y), -np_log_softmax(logits, 0)[y, np.arange(5)],
                               rtol=1e-5)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    logits = jnp.array([[1000.0, 0.0], [-1000.0, 1000.0]])
    out = loss.softmax_cross_entropy(logits, jnp.array([0, 0]))
    np.testing.assert_allclose(out, [0.0, 2000.0], rtol=1e-6)


def test_sparse_labels_with_the_prediction_shape_hint_at_sparse_label_false():
    with pytest.raises(ValueError, match=r"label of shape \(4, 3\) .* expected a label of shape "
                                         r"\(4,\).*pass sparse_label=False for one-hot"):
        loss.SoftmaxCrossEntropyLoss()(jnp.zeros((4, 3)), jnp.zeros((4, 3)))


@pytest.mark.parametrize("jit", [False, True])
def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot(jit):
    logits = rand((4, 3), 1)
    y = np.array([2, 0, 1, 2])
    grad = maybe_jit(jax.grad(lambda z: loss.softmax_cross_entropy(z, y).sum()), jit)(logits)
    softmax = np.exp(np_log_softmax(logits))
    np.testing.assert_allclose(grad, softmax - np.eye(3)[y], rtol=1e-5, atol=1e-6)


# -- sigmoid binary cross-entropy -----------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_sigmoid_binary_cross_entropy(jit):
    z = rand((4, 3), 1) * 3
    y = (rand((4, 3), 2) > 0).astype(np.float32)
    p = 1 / (1 + np.exp(-z.astype(np.float64)))
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(axis=1)
    logits_fn = maybe_jit(loss.SigmoidBinaryCrossEntropyLoss(), jit)
    np.testing.assert_allclose(logits_fn(z, y), expected, rtol=1e-5)
    probs_fn = maybe_jit(loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True), jit)
    np.testing.assert_allclose(probs_fn(p.astype(np.float32), y), expected, rtol=1e-4)
    np.testing.assert_allclose(maybe_jit(loss.sigmoid_binary_cross_entropy, jit)(z, y), expected,
                               rtol=1e-5)


def test_sigmoid_binary_cross_entropy_is_stable_for_large_logits():
    out = loss.sigmoid_binary_cross_entropy(jnp.array([100.0, -100.0]), jnp.array([0.0, 0.0]))
    np.testing.assert_allclose(out, [100.0, 0.0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_sigmoid_binary_cross_entropy_labels_outside_unit_interval(jit):
    z, y = jnp.zeros(4), jnp.array([0.0, 1.0, -1.0, 0.5])
    if not jit:
        with pytest.raises(ValueError, match=r"sigmoid_binary_cross_entropy: labels must be in "
                                             r"\[0, 1\], got 1 value\(s\) outside: -1\. Labels "
                                             r"-1/1 become 0/1 with \(y \+ 1\) / 2"):
            loss.SigmoidBCELoss()(z, y)
        return
    out = np.asarray(jax.jit(loss.SigmoidBCELoss())(z, y))
    np.testing.assert_allclose(out[[0, 1, 3]], np.log(2), rtol=1e-6)
    assert np.isnan(out[2])


# -- softmax cross-entropy: labels that are not class indices -----------------------------------


@pytest.mark.parametrize(
    ("label", "match"),
    [
        ([0, 1, 2, -1], r"got 1 label\(s\) outside: -1\. Negative labels are not supported"),
        ([1, 2, 3, 4], r"got 1 label\(s\) outside: 4\. The labels look numbered 1\.\.4: pass "
                       r"y - 1"),
        ([0, 7, 9, 9], r"got 3 label\(s\) outside: 7, 9\. Does the network have as many outputs "
                       r"as classes, e\.g\. Dense\(10\)\?"),
        ([0.0, 1.5, 2.0, 3.0], r"got 1 label\(s\) outside: 1\.5\. Class labels must be whole "
                               r"numbers; fractional labels are targets for a regression loss"),
        ([0.0, np.nan, 2.0, 3.0], r"got 1 label\(s\) outside: nan\."),
    ],
)
def test_softmax_cross_entropy_rejects_labels_that_are_not_classes(label, match):
    prefix = (r"softmax_cross_entropy: labels must be class indices in 0\.\.3 for a prediction "
              r"with 4 classes, ")
    for fn in (loss.SoftmaxCrossEntropyLoss(), loss.SoftmaxCELoss(from_logits=True)):
        with pytest.raises(ValueError, match=prefix + match):
            fn(jnp.zeros((4, 4)), np.array(label))
    with pytest.raises(ValueError, match=prefix):  # inside jax.grad the labels are concrete
        jax.grad(lambda z: loss.softmax_cross_entropy(z, np.array(label)).sum())(jnp.zeros((4, 4)))


@pytest.mark.parametrize("from_logits", [False, True])
def test_softmax_cross_entropy_under_jit_gives_nan_for_labels_that_are_not_classes(from_logits):
    logits = rand((5, 4), 1)
    scores = np_log_softmax(logits) if from_logits else logits
    y = np.array([0.0, -1.0, 4.0, 2.5, 3.0])  # only examples 0 and 4 are valid
    fn = loss.SoftmaxCrossEntropyLoss(from_logits=from_logits)
    out = np.asarray(jax.jit(fn)(scores, y))
    expected = -np_log_softmax(logits)[[0, 4], [0, 3]]
    np.testing.assert_allclose(out[[0, 4]], expected, rtol=1e-5)
    assert np.isnan(out[[1, 2, 3]]).all()
    # the gradient stays finite: the invalid examples contribute nothing
    grad = jax.jit(jax.grad(lambda z: jnp.nansum(fn(z, y))))(scores)
    assert np.isfinite(np.asarray(grad)).all()
    assert not np.asarray(grad)[[1, 2, 3]].any()


@pytest.mark.parametrize("jit", [False, True])
def test_softmax_cross_entropy_over_one_class_raises(jit):
    for sparse_label, label in ((True, jnp.zeros(3)), (False, jnp.ones((3, 1)))):
        fn = maybe_jit(loss.SoftmaxCrossEntropyLoss(sparse_label=sparse_label), jit)
        with pytest.raises(ValueError, match=r"prediction of shape \(3, 1\) has one class along "
                                             r"axis 1, and softmax over one class is always 1.*"
                                             r"use SigmoidBinaryCrossEntropyLoss.*Dense"):
            fn(jnp.zeros((3, 1)), label)


def test_dense_labels_with_the_sparse_shape_hint_at_sparse_label_true():
    with pytest.raises(ValueError, match=r"label of shape \(4,\) does not fit the prediction of "
                                         r"shape \(4, 3\).*pass class indices with "
                                         r"sparse_label=True"):
        loss.SoftmaxCrossEntropyLoss(sparse_label=False)(jnp.zeros((4, 3)), jnp.zeros(4))


def test_gluon_aliases():
    assert loss.SoftmaxCELoss is loss.SoftmaxCrossEntropyLoss
    assert loss.SigmoidBCELoss is loss.SigmoidBinaryCrossEntropyLoss


# -- Huber, hinge, logistic, KL ------------------------------------------------------------------


def np_huber(pred, label, rho):
    d = np.abs(pred - label)
    return np.where(d > rho, d - rho / 2, d**2 / (2 * rho))


@pytest.mark.parametrize("rho", [1.0, 0.3])
@pytest.mark.parametrize("jit", [False, True])
def test_huber_loss_matches_gluon_formula(rho, jit):
    pred, label = rand((6, 3), 1) * 2, rand((6, 3), 2)
    expected = np_huber(pred, label, rho).mean(axis=1)
    for fn in (loss.HuberLoss(rho=rho), lambda p, y: loss.huber_loss(p, y, rho=rho)):
        np.testing.assert_allclose(maybe_jit(fn, jit)(pred, label), expected, rtol=1e-5)
    # both pieces occur, and they meet continuously at |d| = rho
    d = np.abs(pred - label)
    assert (d > rho).any() and (d < rho).any()
    edge = loss.huber_loss(jnp.array([rho, rho + 1e-4]), jnp.zeros(2), rho=rho)
    np.testing.assert_allclose(edge, [rho / 2, rho / 2 + 1e-4], rtol=1e-3)


def test_huber_loss_weights_and_bad_rho():
    pred, label = rand((3, 4), 1), rand((3, 4), 2)
    sw = np.array([[1.0], [0.0], [2.0]])
    np.testing.assert_allclose(loss.HuberLoss(weight=3.0)(pred, label, sw),
                               3 * (np_huber(pred, label, 1.0) * sw).mean(axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match=r"huber_loss: rho must be positive, got 0"):
        loss.HuberLoss(rho=0)(pred, label)


@pytest.mark.parametrize("margin", [1.0, 2.0])
@pytest.mark.parametrize("jit", [False, True])
def test_hinge_losses_match_numpy(margin, jit):
    pred = rand((6, 3), 1) * 2
    label = np.where(rand((6, 3), 2) > 0, 1.0, -1.0)
    hinge = np.maximum(0, margin - pred * label)
    np.testing.assert_allclose(maybe_jit(loss.HingeLoss(margin=margin), jit)(pred, label),
                               hinge.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.SquaredHingeLoss(margin=margin), jit)(pred, label),
                               (hinge**2).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.hinge_loss, jit)(pred, label.astype(np.int32),
                                                               margin),
                               hinge.mean(axis=1), rtol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(
    ("fn", "name", "label", "match"),
    [
        (loss.HingeLoss(), "hinge_loss", [1, 0, -1],
         r"must be -1 or 1, got 1 other value\(s\): 0\. Labels 0/1 become -1/1 with 2 \* y - 1"),
        (loss.SquaredHingeLoss(), "squared_hinge_loss", [1, 2, -1], r"must be -1 or 1, .*: 2\."),
        (loss.LogisticLoss(), "logistic_loss", [1, 0, -1],
         r"must be -1 or 1, .*: 0\. For labels 0/1 pass label_format='binary'"),
        (loss.LogisticLoss(label_format="binary"), "logistic_loss", [1, 0, -1],
         r"must be 0 or 1, .*: -1\. For labels -1/1 pass label_format='signed'"),
    ],
)
def test_signed_and_binary_label_checks(fn, name, label, match, jit):
    pred = jnp.array([0.5, -0.5, 2.0])
    if not jit:
        with pytest.raises(ValueError, match=rf"{name}: labels " + match):
            fn(pred, np.array(label))
        return
    out = np.asarray(jax.jit(fn)(pred, np.array(label)))
    bad = np.isnan(out)
    assert bad.sum() == 1 and np.isfinite(out[~bad]).all()


@pytest.mark.parametrize("jit", [False, True])
def test_logistic_loss_matches_numpy_in_both_label_formats(jit):
    pred = rand((6, 3), 1) * 4
    signed = np.where(rand((6, 3), 2) > 0, 1.0, -1.0)
    expected = np.log1p(np.exp(-pred.astype(np.float64) * signed)).mean(axis=1)
    np.testing.assert_allclose(maybe_jit(loss.LogisticLoss(), jit)(pred, signed), expected,
                               rtol=1e-5)
    binary = maybe_jit(loss.LogisticLoss(label_format="binary"), jit)
    np.testing.assert_allclose(binary(pred, (signed + 1) / 2), expected, rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.logistic_loss, jit)(pred, signed), expected,
                               rtol=1e-5)


def test_logistic_loss_is_stable_and_checks_its_format():
    out = loss.logistic_loss(jnp.array([100.0, -100.0]), jnp.array([-1.0, -1.0]))
    np.testing.assert_allclose(out, [100.0, 0.0], rtol=1e-6, atol=1e-6)
    for make in (lambda: loss.LogisticLoss(label_format="0/1"),
                 lambda: loss.logistic_loss(jnp.zeros(2), jnp.ones(2), label_format="0/1")):
        with pytest.raises(ValueError, match=r"label_format must be 'signed' \(labels -1/1\) or "
                                             r"'binary' \(labels 0/1\), got '0/1'"):
            make()


@pytest.mark.parametrize("jit", [False, True])
def test_kl_div_loss_matches_numpy(jit):
    scores, target_scores = rand((5, 4), 1), rand((5, 4), 2)
    p = np.exp(np_log_softmax(target_scores))
    p[0] = [1.0, 0.0, 0.0, 0.0]  # a zero probability contributes nothing
    log_q = np_log_softmax(scores)
    kl = (p * (np.log(p + 1e-12) - log_q)).sum(axis=1)
    np.testing.assert_allclose(maybe_jit(loss.KLDivLoss(), jit)(log_q, p), kl / 4, rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.KLDivLoss(from_logits=False), jit)(scores, p),
                               kl / 4, rtol=1e-5)
    np.testing.assert_allclose(maybe_jit(loss.kl_div_loss, jit)(log_q, p), kl / 4, rtol=1e-5)
    assert (kl > 0).all()
    classes_first = loss.KLDivLoss(from_logits=False, axis=0, batch_axis=1)
    np.testing.assert_allclose(classes_first(scores.T, p.T), kl / 4, rtol=1e-5)


def test_kl_div_loss_rejects_impossible_values():
    log_q = jnp.log(jnp.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=r"kl_div_loss: labels \(probabilities\) must be in "
                                         r"\[0, 1\], got 1 value\(s\) outside: -0\.5"):
        loss.KLDivLoss()(log_q, jnp.array([[0.5, 0.5], [-0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"with from_logits=True the prediction must be "
                                         r"log-probabilities \(at most 0\), got values up to 2\. "
                                         r"Pass jax.nn.log_softmax"):
        loss.KLDivLoss()(jnp.array([[2.0, -1.0]]), jnp.array([[0.5, 0.5]]))
    out = jax.jit(loss.KLDivLoss())(log_q, jnp.array([[0.5, 0.5], [-0.5, 1.0]]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


# -- describe_nonfinite_causes -------------------------------------------------------------------


def test_describe_nonfinite_causes():
    ce = loss.describe_nonfinite_causes(loss.SoftmaxCELoss())
    assert ce.startswith("Likely causes: the optimisation diverged: the learning rate is too large")
    assert "labels outside 0..C-1" in ce and "y - 1" in ce and "[0, 1]" not in ce
    l2 = loss.describe_nonfinite_causes(loss.L2Loss())
    assert "NaN or infinite values" in l2 and "labels" not in l2
    assert "2 * y - 1" in loss.describe_nonfinite_causes(loss.SquaredHingeLoss())
    anything = loss.describe_nonfinite_causes(lambda y_hat, y: y_hat)  # unknown: every cause
    assert "labels outside 0..C-1" in anything and "label_format" in anything


# -- gradients of all losses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "label"),
    [
        (loss.L2Loss(), rand((4, 3), 2)),
        (loss.L1Loss(), rand((4, 3), 2)),
        (loss.SoftmaxCrossEntropyLoss(), np.array([0, 2, 1, 1])),
        (loss.SoftmaxCrossEntropyLoss(sparse_label=False), np.eye(3)[[0, 2, 1, 1]]),
        (loss.SigmoidBinaryCrossEntropyLoss(), (rand((4, 3), 2) > 0).astype(np.float32)),
        (loss.HuberLoss(rho=0.7), rand((4, 3), 2)),
        (loss.HingeLoss(), np.where(rand((4, 3), 2) > 0, 1.0, -1.0)),
        (loss.SquaredHingeLoss(), np.where(rand((4, 3), 2) > 0, 1.0, -1.0)),
        (loss.LogisticLoss(), np.where(rand((4, 3), 2) > 0, 1.0, -1.0)),
        (loss.KLDivLoss(from_logits=False), np.exp(np_log_softmax(rand((4, 3), 2)))),
    ],
    ids=["l2", "l1", "sce-sparse", "sce-dense", "sbce", "huber", "hinge", "sqhinge", "logistic",
         "kldiv"],
)
def test_check_grads(fn, label):
    pred = rand((4, 3), 1)
    check_grads(lambda p: fn(p, label), (jnp.asarray(pred),), order=1, modes=["fwd", "rev"],
                atol=1e-2, rtol=1e-2)


def test_repr():
    assert repr(loss.SoftmaxCrossEntropyLoss()) == (
        "SoftmaxCrossEntropyLoss(weight=None, batch_axis=0, axis=-1, sparse_label=True, "
        "from_logits=False)"
    )


LOSS_MODULES = [loss.__name__] + [
    f"{loss.__name__}.{m.name}" for m in pkgutil.iter_modules(loss.__path__)
]


def test_every_submodule_is_listed():
    # the helpers, the base class, three families of losses, the diagnosis: none forgotten
    assert sorted(LOSS_MODULES) == sorted(
        f"dstraight.loss{m}" for m in
        ("", "._checks", ".base", ".binary", ".classification", ".ctc", ".diagnosis",
         ".embedding", ".regression")
    )


@pytest.mark.parametrize("name", LOSS_MODULES)
def test_docstring_examples(name):
    # testmod skips objects imported from elsewhere, so each submodule is run on its own
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name != "dstraight.loss._checks":  # the helpers have no examples
        assert result.attempted > 0
