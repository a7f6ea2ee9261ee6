"""dstraight.loss: every loss against a NumPy reference, eager and jitted, plus gradients."""

import doctest

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


# -- gradients of all losses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "label"),
    [
        (loss.L2Loss(), rand((4, 3), 2)),
        (loss.L1Loss(), rand((4, 3), 2)),
        (loss.SoftmaxCrossEntropyLoss(), np.array([0, 2, 1, 1])),
        (loss.SoftmaxCrossEntropyLoss(sparse_label=False), np.eye(3)[[0, 2, 1, 1]]),
        (loss.SigmoidBinaryCrossEntropyLoss(), (rand((4, 3), 2) > 0).astype(np.float32)),
    ],
    ids=["l2", "l1", "sce-sparse", "sce-dense", "sbce"],
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


def test_docstring_examples():
    result = doctest.testmod(loss, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
