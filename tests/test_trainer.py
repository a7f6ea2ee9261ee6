"""Tests for dstraight.trainer: optimizer mapping, gluon's step contract, compiled paths."""

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dstraight.trainer
from dstraight import Trainer, data, loss, nn

N, D, BATCH = 50, 2, 8  # 6 full batches and a short one of 2: both compiled paths are exercised
TRUE_W = np.array([1.0, 2.0], np.float32)
TRUE_B = 0.5


def _linear_data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)).astype(np.float32)
    y = (X @ TRUE_W + TRUE_B + 0.01 * rng.normal(size=n)).astype(np.float32)
    return X, y


def _net(init="zeros", in_units=D):
    net = nn.Dense(1, in_units=in_units)
    net.initialize(init, key=0)
    return net


@functools.cache
def _grad_fn(net, jit):
    # one function per net, so that the jitted version compiles once per shape
    g = jax.grad(lambda p, X, y: loss.l2_loss(net.apply(p, X), y).sum())
    return jax.jit(g) if jit else g


def _sum_loss_grad(net, X, y, jit):
    """Gradient of the summed loss, the quantity gluon's Trainer.step expects."""
    return _grad_fn(net, jit)(net.params, X, y)


# -- construction and hyperparameters ----------------------------------------------------------


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown optimizer 'lamb'.*Valid names: sgd, nag, adam"):
        Trainer(_net(), "lamb")


def test_unknown_optimizer_param_lists_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown optimizer_params \['beta1'\] for 'sgd'.*"
                                         r"Valid parameters: learning_rate, momentum, wd"):
        Trainer(_net(), "sgd", {"learning_rate": 0.1, "beta1": 0.9})


def test_optimizer_params_as_pairs_and_case_insensitive_name():
    trainer = Trainer(_net(), "SGD", (("learning_rate", 0.25), ("momentum", 0.5)))
    assert trainer.learning_rate == 0.25


def test_bad_optimizer_params():
    with pytest.raises(TypeError, match="dict or a sequence of"):
        Trainer(_net(), "sgd", 0.1)
    with pytest.raises(ValueError, match=r"momentum must be >= 0.0 and < 1.0, got 1.5"):
        Trainer(_net(), "sgd", {"momentum": 1.5})
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        Trainer(_net(), "adam", {"learning_rate": "fast"})


def test_bad_params_and_optimizer_types():
    with pytest.raises(TypeError, match=r"expects net.collect_params\(\)"):
        Trainer({"w": jnp.ones(2)}, "sgd")
    with pytest.raises(TypeError, match="optimizer must be a name"):
        Trainer(_net(), 3)
    with pytest.raises(ValueError, match="optimizer_params only apply to optimizer names"):
        Trainer(_net(), optax.sgd(0.1), {"learning_rate": 0.1})


# -- gluon's step contract ---------------------------------------------------------------------


@pytest.mark.parametrize("jit", [False, True])
def test_step_rescales_gradients_by_batch_size(jit):
    net = _net("ones")
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.5})
    X, y = _linear_data()
    X, y = X[:BATCH], y[:BATCH]
    before = jax.tree.map(np.asarray, net.params)
    grads = _sum_loss_grad(net, X, y, jit)
    trainer.step(grads, batch_size=BATCH)
    # plain SGD: w <- w - lr * g / batch_size
    for k in ("weight", "bias"):
        expected = before[k] - 0.5 * np.asarray(grads[k]) / BATCH
        np.testing.assert_allclose(net.params[k], expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("jit", [False, True])
def test_linear_regression_gradient_matches_closed_form(jit):
    net = _net("normal")
    X, y = _linear_data()
    grads = _sum_loss_grad(net, X, y, jit)
    w, b = np.asarray(net.params["weight"], np.float64), float(net.params["bias"][0])
    residual = X @ w[:, 0] + b - y  # d/dw sum 0.5 r^2 = X^T r, d/db = sum r
    np.testing.assert_allclose(grads["weight"][:, 0], X.T @ residual, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads["bias"][0], residual.sum(), rtol=1e-4, atol=1e-4)


def test_training_converges_to_normal_equations():
    X, y = _linear_data()
    A = np.hstack([X, np.ones((N, 1), np.float32)]).astype(np.float64)
    solution = np.linalg.solve(A.T @ A, A.T @ y)  # the least-squares optimum
    net = _net()
    trainer = Trainer(net, "sgd", {"learning_rate": 0.3})
    step = trainer.fused_step(net, loss.L2Loss())
    for _ in range(300):
        step(X, y)
    np.testing.assert_allclose(net.params["weight"][:, 0], solution[:2], atol=1e-4)
    np.testing.assert_allclose(net.params["bias"][0], solution[2], atol=1e-4)


@pytest.mark.parametrize("jit", [False, True])
def test_sgd_momentum_follows_a_hand_written_optax_loop(jit):
    X, y = _linear_data()
    net = _net("normal")
    trainer = Trainer(net, "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    tx = optax.sgd(0.1, momentum=0.9)
    params = net.params
    state = tx.init(params)

    def mean_loss(p):
        return loss.l2_loss(net.apply(p, X), y).mean()

    grad_mean = jax.jit(jax.grad(mean_loss)) if jit else jax.grad(mean_loss)
    for _ in range(5):
        updates, state = tx.update(grad_mean(params), state, params)
        params = optax.apply_updates(params, updates)
        trainer.step(_sum_loss_grad(net, X, y, jit), batch_size=N)
        for k in ("weight", "bias"):
            np.testing.assert_allclose(net.params[k], params[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "hyper", "reference"),
    [
        ("nag", {"learning_rate": 0.1, "momentum": 0.9}, optax.sgd(0.1, 0.9, nesterov=True)),
        ("adam", {"learning_rate": 0.05}, optax.adam(0.05, b1=0.9, b2=0.999, eps=1e-8)),
        ("adagrad", {"learning_rate": 0.1},
         optax.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-7)),
        ("rmsprop", {"learning_rate": 0.01},
         optax.rmsprop(0.01, decay=0.9, eps=1e-8, eps_in_sqrt=False)),
        ("rmsprop", {"learning_rate": 0.01, "centered": True},
         optax.rmsprop(0.01, decay=0.9, eps=1e-8, centered=True, momentum=0.9)),
        ("sgd", {"learning_rate": 0.1, "wd": 0.01, "clip_gradient": 1.0},
         optax.chain(optax.clip(1.0), optax.add_decayed_weights(0.01), optax.sgd(0.1))),
    ],
)
def test_named_optimizers_match_optax(name, hyper, reference):
    X, y = _linear_data()
    net = _net("normal")
    trainer = Trainer(net, name, hyper)
    params = net.params
    state = reference.init(params)
    for _ in range(3):
        grads = _sum_loss_grad(net, X, y, jit=False)
        mean_grads = jax.tree.map(lambda g: g / N, grads)
        updates, state = reference.update(mean_grads, state, params)
        params = optax.apply_updates(params, updates)
        trainer.step(grads, batch_size=N)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(net.params[k], params[k], rtol=1e-5, atol=1e-6)


def test_step_rejects_mismatched_grads_and_batch_size():
    net = _net()
    trainer = Trainer(net, "sgd")
    with pytest.raises(ValueError, match="grads must be a pytree shaped like net.params"):
        trainer.step({"weight": jnp.ones((D, 1))}, batch_size=1)
    with pytest.raises(ValueError, match="grads must be a pytree shaped like net.params"):
        trainer.step({"weight": jnp.ones((3, 1)), "bias": jnp.ones(1)}, batch_size=1)
    with pytest.raises(ValueError, match="batch_size must be a positive finite number"):
        trainer.step(net.params, batch_size=0)


def test_learning_rate_is_injected_without_recompiling():
    X, y = _linear_data()
    net = _net()
    trainer = Trainer(net, "adam", {"learning_rate": 0.1})
    step = trainer.fused_step(net, loss.L2Loss())
    step(X, y)
    compiled = trainer.trace_count
    trainer.set_learning_rate(0.0)
    assert trainer.learning_rate == 0.0
    before = jax.tree.map(np.asarray, net.params)
    step(X, y)
    step(X, y)
    assert trainer.trace_count == compiled  # the learning rate is data, not a constant
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])  # lr 0: nothing moves
    with pytest.raises(ValueError, match="learning_rate must be >= 0.0"):
        trainer.set_learning_rate(-1.0)


def test_learning_rate_of_optax_transformations():
    net = _net()
    injected = Trainer(net, optax.inject_hyperparams(optax.sgd)(learning_rate=0.3))
    assert injected.learning_rate == pytest.approx(0.3)
    injected.set_learning_rate(0.2)
    assert injected.learning_rate == pytest.approx(0.2)
    plain = Trainer(net, optax.sgd(0.3))
    with pytest.raises(ValueError, match="optax.inject_hyperparams"):
        _ = plain.learning_rate
    with pytest.raises(ValueError, match="optax.inject_hyperparams"):
        plain.set_learning_rate(0.1)


# -- compiled paths ------------------------------------------------------------------------------


def test_deferred_parameters_are_looked_up_at_the_first_step():
    X, y = _linear_data()
    net = nn.Dense(1)  # input size unknown until the first batch
    net.initialize("zeros")
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    step = trainer.fused_step(net, loss.L2Loss())
    first = float(step(X, y))
    np.testing.assert_allclose(first, np.mean(0.5 * y**2), rtol=1e-5)  # zero weights: y_hat = 0
    assert net.params["weight"].shape == (D, 1)


def test_fused_step_equals_gluon_step():
    X, y = _linear_data()
    a, b = _net("normal"), _net("normal")
    fused = Trainer(a, "sgd", {"learning_rate": 0.1, "momentum": 0.9}).fused_step(a, loss.L2Loss())
    plain = Trainer(b, "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    for _ in range(3):
        expected = float(loss.l2_loss(b(X), y).mean())
        got = float(fused(X, y))
        plain.step(_sum_loss_grad(b, X, y, jit=True), batch_size=N)
        assert got == pytest.approx(expected, rel=1e-5)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-5, atol=1e-6)


def test_loss_must_be_per_example():
    X, y = _linear_data()
    net = _net()
    step = Trainer(net, "sgd").fused_step(net, lambda y_hat, y: loss.l2_loss(y_hat, y).mean())
    with pytest.raises(ValueError, match=r"one loss per example, shape \(50,\).*got shape \(\)"):
        step(X, y)


def _loader(shuffle=True, seed=3):
    X, y = _linear_data()
    return data.DataLoader(data.ArrayDataset(X, y), batch_size=BATCH, shuffle=shuffle, seed=seed)


def test_fit_epoch_equals_a_per_step_loop_over_the_same_batches():
    a, b = _net("normal"), _net("normal")
    trainer_a = Trainer(a, "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    trainer_b = Trainer(b, "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    loader_a, loader_b = _loader(), _loader()
    for _epoch in range(2):
        mean = trainer_a.fit_epoch(a, loss.L2Loss(), loader_a)
        total, count = 0.0, 0
        for X, y in loader_b:  # the same shuffled batches, including the short last one
            total += float(loss.l2_loss(b(X), y).sum())
            count += len(X)
            trainer_b.step(_sum_loss_grad(b, X, y, jit=True), batch_size=len(X))
        assert mean == pytest.approx(total / count, rel=1e-5)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-5, atol=1e-6)


def test_fit_epoch_compiles_once_per_shape():
    net = _net()
    trainer = Trainer(net, "sgd", {"learning_rate": 0.1})
    loader = _loader()
    trainer.fit_epoch(net, loss.L2Loss(), loader)
    traced = trainer.trace_count  # the scan over full batches and the short last batch
    losses = [trainer.fit_epoch(net, loss.L2Loss(), loader) for _ in range(3)]
    assert trainer.trace_count == traced
    assert losses[-1] < losses[0]


def test_fit_epoch_falls_back_to_iteration_without_the_protocol():
    a, b = _net(), _net()
    loader = _loader(shuffle=False)
    batches = list(_loader(shuffle=False))
    mean_a = Trainer(a, "sgd", {"learning_rate": 0.1}).fit_epoch(a, loss.L2Loss(), loader)
    mean_b = Trainer(b, "sgd", {"learning_rate": 0.1}).fit_epoch(b, loss.L2Loss(), batches)
    assert mean_a == pytest.approx(mean_b, rel=1e-5)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-5, atol=1e-6)


def test_fit_epoch_with_ndarrayiter_runs_every_epoch():
    X, y = _linear_data()
    it = data.NDArrayIter(X, y, batch_size=BATCH, shuffle=True)
    net = _net()
    trainer = Trainer(net, "sgd", {"learning_rate": 0.1})
    losses = [trainer.fit_epoch(net, loss.L2Loss(), it) for _ in range(15)]
    assert losses[-1] < 0.01 * losses[0]  # it was rewound each time, so every epoch trained
    np.testing.assert_allclose(net.params["weight"][:, 0], TRUE_W, atol=0.05)


def test_fit_epoch_errors():
    net = _net()
    trainer = Trainer(net, "sgd")
    unlabelled = data.NDArrayIter(np.zeros((4, D), np.float32), batch_size=2)
    with pytest.raises(ValueError, match="needs labels"):
        trainer.fit_epoch(net, loss.L2Loss(), unlabelled)
    with pytest.raises(ValueError, match="yielded no batch"):
        trainer.fit_epoch(net, loss.L2Loss(), [])


def test_divergence_raises_floating_point_error():
    net = _net("normal")
    trainer = Trainer(net, "sgd", {"learning_rate": 50.0})
    with pytest.raises(FloatingPointError,
                       match=r"not finite.*this epoch's steps.*learning rate too large \(now 50\)"):
        for _ in range(20):
            trainer.fit_epoch(net, loss.L2Loss(), _loader())


def test_nan_data_is_caught_by_the_fused_step():
    X, y = _linear_data()
    y[5] = np.nan
    net = _net()
    step = Trainer(net, "sgd").fused_step(net, loss.L2Loss())
    step(X[:5], y[:5])
    before = net.params
    with pytest.raises(FloatingPointError, match="in 1 of the last fused steps.*NaN/inf values"):
        for _ in range(16):  # reported at once or, if the device is slow, within 16 steps
            step(X[5:10], y[5:10])
    for k in ("weight", "bias"):  # and skipped: the NaN never reached the parameters
        np.testing.assert_array_equal(net.params[k], before[k])


def test_doctests():
    result = doctest.testmod(dstraight.trainer, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
