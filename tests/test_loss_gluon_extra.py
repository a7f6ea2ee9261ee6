"""PoissonNLL, CosineEmbedding, Triplet and CTC losses against hand-written references."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from dstraight import loss


def rand(shape, seed=0):
    return np.array(jax.random.normal(jax.random.key(seed), shape))


def maybe_jit(fn, jit):
    return jax.jit(fn) if jit else fn


# -- PoissonNLLLoss -------------------------------------------------------------------------------

COUNTS = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 5.0], [1.0, 4.0, 0.0], [2.0, 2.0, 7.0]])


def poisson_reference(pred, target, from_logits, compute_full):
    out = np.exp(pred) - target * pred if from_logits else pred - target * np.log(pred + 1e-8)
    if compute_full:
        safe = np.where(target > 1, target, 1.0)
        stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
        out = out + np.where(target > 1, stirling, 0.0)
    return out.mean(axis=1)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("compute_full", [False, True])
def test_poisson_nll_matches_reference(jit, from_logits, compute_full):
    pred = rand((4, 3), 1) if from_logits else np.exp(rand((4, 3), 1))
    expected = poisson_reference(pred, COUNTS, from_logits, compute_full)
    fn = loss.PoissonNLLLoss(from_logits=from_logits, compute_full=compute_full)
    out = maybe_jit(fn, jit)(pred, COUNTS)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # the batch mean is gluon's scalar output
    np.testing.assert_allclose(out.mean(), expected.mean(), rtol=1e-5)


def test_poisson_full_is_the_exact_nll_up_to_stirling():
    # with the Stirling term the loss approximates -log Poisson(k; rate); exact for k <= 1
    rate, k = 3.0, np.array([0.0, 1.0, 6.0, 20.0])
    out = loss.poisson_nll_loss(np.log(np.full((4, 1), rate)), k, compute_full=True)
    exact = rate - k * math.log(rate) + np.array([math.lgamma(v + 1) for v in k])
    np.testing.assert_allclose(out, exact, rtol=2e-2)
    np.testing.assert_allclose(out[:2], exact[:2], rtol=1e-6)


def test_poisson_gradient_is_rate_minus_count():
    pred = rand((4, 3), 2)

    def total(p):
        return loss.poisson_nll_loss(p, COUNTS, compute_full=True).sum()

    grad = jax.grad(total)(pred)
    np.testing.assert_allclose(grad, (np.exp(pred) - COUNTS) / 3, rtol=1e-5, atol=1e-6)
    check_grads(lambda p: loss.poisson_nll_loss(p, COUNTS, from_logits=False),
                (np.exp(pred),), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_poisson_weights_and_bad_targets():
    pred = rand((4, 3), 3)
    base = loss.poisson_nll_loss(pred, COUNTS)
    np.testing.assert_allclose(loss.PoissonNLLLoss(weight=2.0)(pred, COUNTS), 2 * base,
                               rtol=1e-6)
    sw = np.array([[1.0], [0.0], [2.0], [1.0]])
    np.testing.assert_allclose(loss.PoissonNLLLoss()(pred, COUNTS, sw), base * sw[:, 0],
                               rtol=1e-6)
    bad = COUNTS.copy()
    bad[1, 2] = -1.0
    with pytest.raises(ValueError, match=r"targets must be >= 0.*1 negative"):
        loss.poisson_nll_loss(pred, bad)
    out = jax.jit(loss.poisson_nll_loss)(pred, bad)
    assert np.isnan(out[1]) and np.isfinite(np.delete(np.asarray(out), 1)).all()
    with pytest.raises(ValueError, match=r"rates \(from_logits=False\) must be >= 0"):
        loss.poisson_nll_loss(pred, COUNTS, from_logits=False)
    with pytest.raises(ValueError, match="does not fit the prediction"):
        loss.poisson_nll_loss(pred, COUNTS[:3])


# -- CosineEmbeddingLoss --------------------------------------------------------------------------


def cosine_reference(a, b, y, margin):
    cos = jnp.sum(a * b, -1) / jnp.maximum(jnp.linalg.norm(a, axis=-1)
                                          * jnp.linalg.norm(b, axis=-1), 1e-12)
    return jnp.where(y == 1, 1 - cos, jnp.maximum(0.0, cos - margin))


@pytest.mark.parametrize("jit", [False, True])
def test_cosine_embedding_matches_reference(jit):
    a, b = rand((6, 5), 1), rand((6, 5), 2)
    b[0] = 3 * a[0]  # parallel: loss 0 for label 1
    y = np.array([1, -1, 1, -1, -1, 1])
    expected = cosine_reference(a, b, y, 0.1)
    assert abs(float(expected[0])) < 1e-6
    for fn in (loss.CosineEmbeddingLoss(margin=0.1),
               lambda a, b, y: loss.cosine_embedding_loss(a, b, y, margin=0.1)):
        out = maybe_jit(fn, jit)(a, b, y)
        assert out.shape == (6,)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    # one label per pair given as (N, 1); input1 of the same size is reshaped to input2
    out = loss.CosineEmbeddingLoss(margin=0.1)(a.reshape(6, 5, 1), b, y[:, None])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_cosine_embedding_more_axes_average_pairs_and_gradients():
    a, b = rand((3, 4, 5), 3), rand((3, 4, 5), 4)
    y = np.where(rand((3, 4), 5) > 0, 1, -1)
    out = loss.cosine_embedding_loss(a, b, y)
    np.testing.assert_allclose(out, cosine_reference(a, b, y, 0.0).mean(axis=1), rtol=1e-5)
    ours = jax.jit(jax.grad(lambda a: loss.cosine_embedding_loss(a, b, y).sum()))(a)
    ref = jax.grad(lambda a: cosine_reference(a, b, y, 0.0).mean(axis=1).sum())(a)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6)
    assert np.abs(ours).max() > 0


def test_cosine_embedding_bad_inputs():
    a, b = rand((4, 3), 1), rand((4, 3), 2)
    with pytest.raises(ValueError, match=r"labels must be -1 or 1.*\b0\b.*2 \* y - 1"):
        loss.cosine_embedding_loss(a, b, np.array([1, 0, -1, 1]))
    out = jax.jit(loss.cosine_embedding_loss)(a, b, np.array([1, 0, -1, 1]))
    assert np.isnan(out[1]) and np.isfinite(np.asarray(out)[[0, 2, 3]]).all()
    with pytest.raises(ValueError, match="batch_axis=1 is the vector axis"):
        loss.cosine_embedding_loss(a, b, np.ones(4), batch_axis=-1)
    with pytest.raises(ValueError, match=r"input1 of shape \(4, 2\) does not fit input2"):
        loss.cosine_embedding_loss(a[:, :2], b, np.ones(4))
    with pytest.raises(ValueError, match="one label, -1 or 1, per pair"):
        loss.cosine_embedding_loss(a, b, np.ones(3))
    with pytest.raises(ValueError, match="a batch axis and a vector axis"):
        loss.cosine_embedding_loss(a[0], b[0], np.ones(1))


# -- TripletLoss ----------------------------------------------------------------------------------


def triplet_reference(p, pos, neg, margin):
    gap = jnp.sum(((pos - p) ** 2 - (neg - p) ** 2).reshape(len(p), -1), axis=1)
    return jnp.maximum(gap + margin, 0.0)


@pytest.mark.parametrize("jit", [False, True])
def test_triplet_matches_reference(jit):
    p, pos, neg = rand((5, 2, 3), 1), rand((5, 2, 3), 2), rand((5, 2, 3), 3)
    expected = triplet_reference(p, pos, neg, 1.5)
    assert (expected == 0).any() and (expected > 0).any()  # both sides of the hinge
    out = maybe_jit(loss.TripletLoss(margin=1.5), jit)(p, pos, neg)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    flat = maybe_jit(lambda a, b, c: loss.triplet_loss(a, b, c, 1.5), jit)(
        p, pos.reshape(5, 6), neg.reshape(30))
    np.testing.assert_allclose(flat, expected, rtol=1e-5, atol=1e-6)
    # batch along axis 1
    out_t = loss.TripletLoss(margin=1.5, batch_axis=1)(*(x.transpose(1, 0, 2)
                                                        for x in (p, pos, neg)))
    np.testing.assert_allclose(out_t, expected, rtol=1e-5, atol=1e-6)


def test_triplet_gradient_weights_and_errors():
    p, pos, neg = rand((5, 4), 4), rand((5, 4), 5), rand((5, 4), 6)
    ours = jax.grad(lambda a: loss.triplet_loss(a, pos, neg, 2.0).sum())(p)
    ref = jax.grad(lambda a: triplet_reference(a, pos, neg, 2.0).sum())(p)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    active = np.asarray(triplet_reference(p, pos, neg, 2.0)) > 0
    np.testing.assert_allclose(ours[active], 2 * (neg - pos)[active], rtol=1e-5)
    base = loss.triplet_loss(p, pos, neg)
    sw = np.arange(5.0)[:, None]
    np.testing.assert_allclose(loss.TripletLoss(weight=3.0)(p, pos, neg, sw),
                               3 * base * sw[:, 0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"negative of shape \(5, 3\) does not fit pred"):
        loss.triplet_loss(p, pos, neg[:, :3])


# -- CTCLoss --------------------------------------------------------------------------------------


def collapse(path, blank):
    out = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return tuple(k for k in out if k != blank)


def ctc_brute_force(logits, target):
    """-log of the summed probabilities of every path of len(logits) frames giving target."""
    t, c = logits.shape
    paths = np.array([p for p in itertools.product(range(c), repeat=t)
                      if collapse(p, c - 1) == tuple(target)])
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jax.scipy.special.logsumexp(logp[np.arange(t), paths].sum(axis=1))


LABELS = np.array([[0, 1], [1, 1], [0, -1], [1, 0]])
TARGETS = [(0, 1), (1, 1), (0,), (1, 0)]


@pytest.mark.parametrize("jit", [False, True])
def test_ctc_matches_brute_force(jit):
    logits = rand((4, 4, 3), 1)  # N=4, T=4, 3 classes: symbols 0, 1 and the blank 2
    expected = [ctc_brute_force(logits[i], TARGETS[i]) for i in range(4)]
    out = maybe_jit(loss.CTCLoss(), jit)(logits, LABELS)
    assert out.shape == (4,)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # TNC / TN layouts: the same numbers
    out_t = maybe_jit(loss.CTCLoss(layout="TNC", label_layout="TN"), jit)(
        logits.transpose(1, 0, 2), LABELS.T)
    np.testing.assert_allclose(out_t, expected, rtol=1e-5)
    assert loss.CTCLoss(label_layout="TN").batch_axis == 1


@pytest.mark.parametrize("jit", [False, True])
def test_ctc_lengths_cut_inputs_and_labels(jit):
    logits = rand((4, 4, 3), 2)
    pred_lengths = np.array([4, 3, 3, 2])
    # entries beyond label_lengths are ignored, whatever they hold (here 2 = blank, and 0)
    labels = np.array([[0, 1], [1, 2], [0, 0], [1, 0]])
    label_lengths = np.array([2, 1, 1, 2])
    targets = [(0, 1), (1,), (0,), (1, 0)]
    expected = [ctc_brute_force(logits[i, :n], targets[i]) for i, n in enumerate(pred_lengths)]
    fn = maybe_jit(lambda x, y, a, b: loss.ctc_loss(x, y, a, b), jit)
    np.testing.assert_allclose(fn(logits, labels, pred_lengths, label_lengths), expected,
                               rtol=1e-5)
    # the frames beyond pred_lengths do not matter
    noisy = logits.copy()
    noisy[3, 2:] += 100.0
    np.testing.assert_allclose(fn(noisy, labels, pred_lengths, label_lengths), expected,
                               rtol=1e-5)


def test_ctc_gradient_matches_brute_force_and_weights():
    logits = rand((4, 4, 3), 3)
    ours = jax.jit(jax.grad(lambda x: loss.ctc_loss(x, LABELS).sum()))(logits)
    ref = jax.grad(lambda x: sum(ctc_brute_force(x[i], TARGETS[i]) for i in range(4)))(logits)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    base = loss.ctc_loss(logits, LABELS)
    sw = np.array([1.0, 0.0, 2.0, 0.5])
    np.testing.assert_allclose(loss.CTCLoss(weight=2.0)(logits, LABELS, sample_weight=sw),
                               2 * base * sw, rtol=1e-6)


def test_ctc_bad_labels_and_impossible_alignments():
    logits = rand((2, 3, 3), 4)
    with pytest.raises(ValueError, match=r"symbols 0\.\.1 .*the last, 2, is the blank.*got 2"):
        loss.ctc_loss(logits, np.array([[0, 2], [1, -1]]))
    with pytest.raises(ValueError, match=r"got 3\. An alphabet of k symbols needs k \+ 1"):
        loss.ctc_loss(logits, np.array([[0, 3], [1, -1]]))
    with pytest.raises(ValueError, match="-1 ends a sequence only without label_lengths"):
        loss.ctc_loss(logits, np.array([[0, -1], [1, 0]]), label_lengths=np.array([2, 2]))
    with pytest.raises(ValueError, match=r"pred_lengths must be whole numbers in 0\.\.3"):
        loss.ctc_loss(logits, np.array([[0, 1], [1, 0]]), pred_lengths=np.array([3, 4]))
    with pytest.raises(ValueError, match="sequence 1 needs at least 4 frames .* has 3"):
        loss.ctc_loss(rand((2, 3, 4), 5), np.array([[0, -1, -1], [1, 1, 2]]))
    with pytest.raises(ValueError, match="layout must be 'NTC' or 'TNC'"):
        loss.CTCLoss(layout="NCT")
    with pytest.raises(ValueError, match="2 label sequences .* for 3 input sequences"):
        loss.ctc_loss(rand((3, 3, 3), 6), np.array([[0, 1], [1, 0]]))
    out = jax.jit(loss.ctc_loss)(logits, np.array([[0, 2, -1], [1, -1, -1]]))
    assert np.isnan(out[0]) and np.isfinite(out[1])
    out = jax.jit(loss.ctc_loss)(logits, np.array([[1, 1, 1], [1, -1, -1]]))
    assert np.isposinf(out[0]) and np.isfinite(out[1])
    assert "CTCLoss" in repr(loss.CTCLoss())


def test_the_divergence_message_names_each_new_loss_s_label_faults():
    from dstraight.loss import describe_nonfinite_causes

    assert "the blank (the last class)" in describe_nonfinite_causes(loss.CTCLoss())
    assert "labels 0/1 need 2 * y - 1" in describe_nonfinite_causes(loss.CosineEmbeddingLoss())
    assert "negative targets" in describe_nonfinite_causes(loss.PoissonNLLLoss())
    assert "negative targets" not in describe_nonfinite_causes(loss.L2Loss())
