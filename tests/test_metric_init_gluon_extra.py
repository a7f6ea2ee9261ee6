"""MCC, PCC against hand-counted confusion matrices; the new initializers, Mixed and Load."""

import doctest
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import _init_more, init, metric, nn

# -- MCC ------------------------------------------------------------------------------------------

# batch 1: tp=3 fp=1 fn=2 tn=4   batch 2: tp=1 fp=2 fn=0 tn=1
Y1 = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
P1 = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])
Y2 = np.array([1, 0, 0, 0])
P2 = np.array([1, 1, 1, 0])


def scores(pred_class):
    return np.eye(2)[pred_class] * 0.8 + 0.1


def mcc_by_hand(tp, fp, fn, tn):
    den = [t for t in (tp + fp, tp + fn, tn + fp, tn + fn) if t]
    return (tp * tn - fp * fn) / math.sqrt(math.prod(den))


def test_mcc_macro_and_micro_match_hand_counts():
    first, second = (3 * 4 - 1 * 2) / math.sqrt(4 * 5 * 5 * 6), (1 * 1 - 2 * 0) / math.sqrt(
        3 * 1 * 3 * 1)
    assert first == pytest.approx(mcc_by_hand(3, 1, 2, 4))
    macro, micro = metric.MCC(), metric.MCC(average="micro")
    for m in (macro, micro):
        m.update([Y1], [scores(P1)])
        m.update(Y2, scores(P2))
    assert macro.get() == ("mcc", pytest.approx((first + second) / 2))
    assert micro.get()[1] == pytest.approx(mcc_by_hand(4, 3, 2, 5))
    assert micro.num_inst == 14 and macro.num_inst == 2
    # a list of arrays in one update is one batch for 'macro' (MXNet)
    one = metric.MCC()
    one.update([Y1, Y2], [scores(P1), scores(P2)])
    assert one.get()[1] == pytest.approx(mcc_by_hand(4, 3, 2, 5))


def test_mcc_edge_cases_and_probabilities():
    m = metric.MCC()
    m.update(np.ones(4), scores(np.ones(4, int)))  # one class only: MXNet's 0, not nan
    assert m.get()[1] == 0.0
    m = metric.MCC(average="micro", threshold=0.3)
    m.update(Y2, np.array([0.9, 0.4, 0.35, 0.1]))  # probabilities of class 1
    assert m.get()[1] == pytest.approx(mcc_by_hand(1, 2, 0, 1))
    perfect = metric.MCC()
    perfect.update(Y1, scores(Y1))
    assert perfect.get()[1] == pytest.approx(1.0)
    inverse = metric.MCC()
    inverse.update(Y1, scores(1 - Y1))
    assert inverse.get()[1] == pytest.approx(-1.0)


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_mcc_stats_under_jit_and_bad_labels(average):
    m = metric.MCC(average=average)
    stats = jax.jit(m.stats)(Y1, scores(P1))
    eager = m.stats(Y1, scores(P1))
    np.testing.assert_allclose(stats, eager, rtol=1e-6)
    if average == "macro":
        assert float(stats[0]) == pytest.approx(mcc_by_hand(3, 1, 2, 4), rel=1e-6)
    bad = Y1.copy()
    bad[0] = 2
    with pytest.raises(ValueError, match=r"class ids 0\.\.1.*\b2\b.*for more classes use PCC"):
        m.update(bad, scores(P1))
    assert np.isnan(np.asarray(jax.jit(m.stats)(bad, scores(P1)))).any()
    with pytest.raises(ValueError, match=r"shape \(N, 2\).*got shape \(10, 3\)"):
        m.update(Y1, np.zeros((10, 3)))
    with pytest.raises(ValueError, match="average must be 'macro'"):
        metric.MCC(average="weighted")


# -- PCC ------------------------------------------------------------------------------------------

LABEL3 = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 0])
PRED3 = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2, 0])


def pcc_by_hand(label, pred, k):
    cm = np.zeros((k, k))
    for p, t in zip(pred, label, strict=True):
        cm[p, t] += 1
    n, x, y = cm.sum(), cm.sum(axis=1), cm.sum(axis=0)
    cov_xy = sum(cm[i, i] * n - x[i] * y[i] for i in range(k))
    return cov_xy / math.sqrt(sum(x * (n - x)) * sum(y * (n - y)))


def test_pcc_matches_the_confusion_matrix_formula():
    # cm[p, t]: diag 2, 2, 3; off: (1,0)=1 (2,1)=1 (0,2)=1; rows x=(3,3,4), cols y=(3,3,4)
    expected = (10 * 7 - (9 + 9 + 16)) / math.sqrt((21 + 21 + 24) * (21 + 21 + 24))
    assert pcc_by_hand(LABEL3, PRED3, 3) == pytest.approx(expected)
    grown, fixed = metric.PCC(), metric.PCC(num_classes=3)
    for m in (grown, fixed):
        m.update(LABEL3[:4], np.eye(3)[PRED3[:4]])  # scores: argmax along axis 1
        m.update(LABEL3[4:], PRED3[4:])  # class ids
        assert m.get() == ("pcc", pytest.approx(expected))
        assert m.num_inst == 2
    assert grown.k == 3 and not grown.jittable and fixed.jittable
    # for two classes PCC is the MCC (of all updates together)
    two = metric.PCC()
    two.update([Y1, Y2], [scores(P1), scores(P2)])
    assert two.k == 2 and two.get()[1] == pytest.approx(mcc_by_hand(4, 3, 2, 5))


def test_pcc_growth_keeps_counts_and_jit_stats():
    m = metric.PCC()
    m.update(np.array([0, 1, 0]), np.array([0, 1, 1]))
    m.update(np.array([3, 2]), np.array([3, 2]))  # grows 2 -> 4 classes
    assert m.k == 4 and m.num_stats == 17
    label, pred = np.array([0, 1, 0, 3, 2]), np.array([0, 1, 1, 3, 2])
    assert m.get_global()[1] == pytest.approx(pcc_by_hand(label, pred, 4))
    fixed = metric.PCC(num_classes=3)
    stats = jax.jit(fixed.stats)(LABEL3, PRED3)
    cm = np.asarray(stats[:-1]).reshape(3, 3)
    assert cm[1, 0] == 1 and cm[2, 2] == 3 and cm.sum() == 10 and float(stats[-1]) == 1.0
    assert np.isnan(np.asarray(jax.jit(fixed.stats)(LABEL3 + 1, PRED3)[:-1])).all()
    with pytest.raises(ValueError, match=r"class ids 0\.\.2.*\b3\b.*num_classes=None"):
        fixed.update(LABEL3 + 1, PRED3)
    constant = metric.PCC()
    constant.update(np.array([0, 1, 1]), np.array([1, 1, 1]))
    assert math.isnan(constant.get()[1])
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        metric.PCC(num_classes=1)


def test_create_knows_the_new_names_and_evaluate_uses_them():
    assert isinstance(metric.create("mcc"), metric.MCC)
    assert isinstance(metric.create("MCC", average="micro"), metric.MCC)
    assert isinstance(metric.create("pcc", num_classes=4), metric.PCC)
    net = nn.Dense(2, in_units=2)
    net.initialize("ones")
    net.weight.set_data(jnp.array([[1.0, -1.0], [-1.0, 1.0]]))
    X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = jnp.array([0, 1, 1, 1])  # predicted 0, 1, 0, 1: tp=2 fp=0 fn=1 tn=1
    assert metric.evaluate(net, [(X, y)], metric.MCC(average="micro")) == pytest.approx(
        mcc_by_hand(2, 0, 1, 1))
    assert metric.evaluate(net, [(X, y)], metric.PCC(num_classes=2)) == pytest.approx(
        mcc_by_hand(2, 0, 1, 1))


# -- Orthogonal, MSRAPrelu, Bilinear --------------------------------------------------------------


@pytest.mark.parametrize("rand_type", ["uniform", "normal"])
@pytest.mark.parametrize("shape", [(64, 16), (16, 64), (3, 3, 8, 16)])
def test_orthogonal_is_orthogonal(rand_type, shape):
    w = np.asarray(init.Orthogonal(scale=1.5, rand_type=rand_type)(0, shape), np.float64)
    assert w.shape == shape and w.dtype == np.float64
    m = w.reshape(-1, shape[-1]) / 1.5
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-5)
    assert not np.allclose(w, np.asarray(init.Orthogonal(1.5, rand_type)(1, shape)))
    np.testing.assert_array_equal(w, np.asarray(init.Orthogonal(1.5, rand_type)(0, shape)))


def test_orthogonal_defaults_and_errors():
    assert repr(init.create("orthogonal")) == "Orthogonal(scale=1.414, rand_type='uniform')"
    v = np.asarray(init.Orthogonal()(0, (5,)))  # a vector: scaled to norm `scale`
    assert np.linalg.norm(v) == pytest.approx(1.414, rel=1e-5)
    with pytest.raises(ValueError, match="rand_type=.*'uniform' or 'normal', got 'gaussian'"):
        init.Orthogonal(rand_type="gaussian")
    with pytest.raises(ValueError, match=r"at least one axis .* got shape \(\)"):
        init.Orthogonal()(0, ())


@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
def test_msraprelu_variance(factor_type):
    shape, slope = (3, 3, 64, 128), 0.25
    fan_in, fan_out = 9 * 64, 9 * 128
    n = {"avg": (fan_in + fan_out) / 2, "in": fan_in, "out": fan_out}[factor_type]
    var = 2 / ((1 + slope**2) * n)
    w = np.asarray(init.MSRAPrelu(factor_type, slope)(0, shape), np.float64).ravel()
    # the sample variance of m normal draws has standard error var * sqrt(2 / m)
    assert abs(w.var() - var) < 4 * var * math.sqrt(2 / w.size)
    assert abs(w.mean()) < 4 * math.sqrt(var / w.size)
    kurtosis = np.mean(w**4) / w.var() ** 2  # 3 for a normal (untruncated), 1.8 for uniform
    assert abs(kurtosis - 3) < 0.1
    m = init.MSRAPrelu(factor_type, slope)
    assert (m.rnd_type, m.magnitude) == ("gaussian", pytest.approx(2 / 1.0625))
    assert repr(m) == f"MSRAPrelu(factor_type='{factor_type}', slope=0.25)"


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_bilinear_matches_closed_form(k):
    w = np.asarray(init.Bilinear()(0, (k, k, 2, 3)))
    f = math.ceil(k / 2)
    c = (2 * f - 1 - f % 2) / (2 * f)
    expected = np.array([[(1 - abs(x / f - c)) * (1 - abs(y / f - c)) for x in range(k)]
                         for y in range(k)])
    for i in range(2):
        for o in range(3):
            np.testing.assert_allclose(w[:, :, i, o], expected, rtol=1e-6)
    if k == 4:  # the classic factor-2 upsampling kernel
        np.testing.assert_allclose(expected[0], [0.0625, 0.1875, 0.1875, 0.0625])
    with pytest.raises(ValueError, match=r"\(kh, kw, in_channels, out_channels\)"):
        init.Bilinear()(0, (k, k))


# -- Mixed, Load ----------------------------------------------------------------------------------


def two_layers():
    net = nn.Sequential()
    net.add(nn.Dense(3, in_units=2), nn.Dense(1, in_units=3))
    return net


def test_mixed_chooses_by_name_like_net_initialize():
    net = two_layers()  # gluon-style names count up globally: dense0_, dense1_, ...
    first = net[0].weight.name
    init.Mixed([first, ".*"], ["ones", init.Constant(0.5)]).initialize(net, key=0)
    np.testing.assert_array_equal(net[0].weight.data(), np.ones((2, 3)))
    np.testing.assert_array_equal(net[1].weight.data(), np.full((3, 1), 0.5))
    np.testing.assert_array_equal(net[0].bias.data(), np.zeros(3))  # its own 'zeros' wins
    assert net[0].weight.init is None  # the choice is not left behind
    # the same keys as net.initialize: one pattern reproduces it exactly
    a, b = two_layers(), two_layers()
    init.Mixed([".*"], [init.Normal(1.0)]).initialize(a, key=7)
    b.initialize(init.Normal(1.0), key=7)
    np.testing.assert_array_equal(a[1].weight.data(), b[1].weight.data())
    # re.match anchors at the start, as in MXNet
    mixed = init.Mixed(["weight"], ["ones"])
    with pytest.raises(ValueError, match="'dense0_weight' matches none of the patterns"):
        mixed.for_name("dense0_weight")
    with pytest.raises(TypeError, match=r"mixed\.initialize\(net, key=\.\.\.\)"):
        two_layers().initialize(init.Mixed([".*"], ["ones"]))
    with pytest.raises(ValueError, match="one initializer per pattern"):
        init.Mixed([".*", "x"], ["ones"])


def test_load_uses_stored_values_and_defaults():
    w0 = np.arange(6.0).reshape(2, 3)
    net = two_layers()
    w_name, b_name = net[0].weight.name, net[0].bias.name
    init.Load({f"arg:{w_name}": w0, f"aux:{b_name}": np.array([1.0, 2.0, 3.0])},
              default_init="ones").initialize(net)
    np.testing.assert_array_equal(net[0].weight.data(), w0)
    np.testing.assert_array_equal(net[0].bias.data(), [1.0, 2.0, 3.0])  # overrides 'zeros'
    np.testing.assert_array_equal(net[1].weight.data(), np.ones((3, 1)))
    np.testing.assert_array_equal(net[1].bias.data(), np.zeros(1))  # not stored: its own
    net = two_layers()
    w_name, other = net[0].weight.name, net[1].weight.name
    with pytest.raises(ValueError, match=f"'{other}' is not among the loaded names"):
        init.Load({w_name: w0}).initialize(net)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) but the loaded array has shape \(3,"):
        init.Load({w_name: w0.T}, default_init="zeros").initialize(net)
    with pytest.raises(TypeError, match="dict of name -> array"):
        init.Load("params.bin")


def test_doctests_of_the_new_modules():
    from dstraight.loss import ctc, embedding
    from dstraight.metric import correlation

    for module in (_init_more, correlation, embedding, ctc):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0
