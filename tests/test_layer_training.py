"""BatchNorm's running statistics and Dropout's masks in every training path.

The paths: ``net.apply(..., training=True, return_state=True)`` by hand, shell calls under
``autograd.record()``, ``Trainer.step`` after a hand-written gradient, ``Trainer.fused_step``,
``Trainer.fit_epoch`` over a ``DataLoader`` (one compiled scan) and over a plain list of batches
(one compiled step per batch), and ``Module.fit`` (compiled, in chunks between the calls of a
``frequent`` callback, and batch by batch with a plain callback). Evaluation and prediction
(``metric.evaluate``, ``Module.predict``, ``Module.score``) run in prediction mode.

BatchNorm comes first in its network, so its batch statistics depend on the data only and the
running statistics have a closed form: the exponential average of the batches' statistics.
Dropout's masks are read off the weights: with a linear loss and plain SGD, step ``s`` (input
``2**s``) adds ``2**s * mask_s / (1 - rate)`` to the weights after the dropout, so the weights'
binary digits are the masks.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight import Module, Trainer, autograd, data, loss, metric, nn

MOMENTUM, LR = 0.9, 0.1
X = (np.random.default_rng(0).standard_normal((10, 3)) * [1, 2, 3] + [0.5, -1, 2]).astype(
    np.float32)
Y = np.random.default_rng(1).standard_normal(10).astype(np.float32)
BATCHES = [(X[0:4], Y[0:4]), (X[4:8], Y[4:8]), (X[8:10], Y[8:10])]  # what batch_size=4 gives


@pytest.fixture(autouse=True)
def fresh_names():
    nn.reset_name_counters()


def loader(x, y, batch_size):
    return data.DataLoader(data.ArrayDataset(x, y), batch_size=batch_size, shuffle=False)


# -- BatchNorm -----------------------------------------------------------------------------------


def bn_net():
    net = nn.Sequential()
    net.add(nn.BatchNorm(momentum=MOMENTUM, in_channels=3), nn.Dense(1, in_units=3))
    net.initialize("ones")
    return net


def expected_statistics(epochs=1):
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(epochs):
        for xb, _ in BATCHES:
            xb = xb.astype(np.float64)
            mean = MOMENTUM * mean + (1 - MOMENTUM) * xb.mean(axis=0)
            var = MOMENTUM * var + (1 - MOMENTUM) * xb.var(axis=0)  # biased, as normalised
    return mean, var


def assert_statistics(state, epochs=1):
    mean, var = expected_statistics(epochs)
    np.testing.assert_allclose(state["batchnorm0"]["running_mean"], mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["batchnorm0"]["running_var"], var, rtol=1e-5, atol=1e-6)


@functools.cache
def hand_trained_params():
    """SGD on the L2 loss written out with jax.grad of the pure function, state carried by hand.

    Returns the leaves of the parameters and of the state (the names depend on the test).
    """
    net = bn_net()

    def objective(p, s, xb, yb):
        out, new = net.apply(p, xb, training=True, state=s, return_state=True)
        return jnp.sum(0.5 * (out[:, 0] - yb) ** 2), new

    grad = jax.jit(jax.grad(objective, has_aux=True))
    params, state = net.params, net.state
    for xb, yb in BATCHES:
        grads, state = grad(params, state, xb, yb)
        scale = LR / len(xb)
        params = jax.tree.map(lambda w, g, c=scale: w - c * g, params, grads)
    return jax.tree.leaves(params), jax.tree.leaves(state)


@pytest.mark.parametrize("jit", [False, True])
def test_batchnorm_statistics_by_hand_with_apply(jit):
    net = bn_net()
    step = jax.jit(net.apply, static_argnames=("training", "return_state")) if jit else net.apply
    state = net.state
    for xb, _ in BATCHES:
        _, state = step(net.params, xb, training=True, state=state, return_state=True)
    assert_statistics(state)
    np.testing.assert_array_equal(net.state["batchnorm0"]["running_mean"], np.zeros(3))  # pure


@pytest.mark.parametrize("hybridize", [False, True])
def test_batchnorm_statistics_in_shell_calls_under_record(hybridize):
    net = bn_net()
    net.hybridize(hybridize)
    with autograd.record():
        for xb, _ in BATCHES:
            net(xb)
    assert_statistics(net.state)
    before = net.state
    net(X)  # prediction mode: the statistics are used, not updated
    with autograd.record(), autograd.predict_mode():
        net(X)
    assert_trees_equal(net.state, before)


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(u, v)


def assert_leaves_close(tree, leaves, rtol=1e-5, atol=1e-6):
    for u, v in zip(jax.tree.leaves(tree), leaves, strict=True):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


def test_batchnorm_with_trainer_step_after_a_hand_written_gradient():
    net = bn_net()
    trainer = Trainer(net.collect_params(), "sgd", {"learning_rate": LR})
    state_params = net.collect_params().select(lambda p: p.kind == "state")
    for xb, yb in BATCHES:
        def objective(p, xb=xb, yb=yb):
            out, new = net.apply(p, xb, training=True, return_state=True)
            return loss.L2Loss()(out, yb).sum(), new

        grads, new_state = jax.grad(objective, has_aux=True)(net.params)
        trainer.step(grads, len(xb))
        state_params.set_tree(new_state)  # what a user writes back: the state apply returned
    assert_statistics(net.state)
    want_params, want_state = hand_trained_params()
    assert_leaves_close(net.params, want_params)
    assert_leaves_close(net.state, want_state)


def train_bn(path):
    """Trains bn_net() for one epoch of BATCHES through ``path``; returns the network."""
    net = bn_net()
    trainer = Trainer(net, "sgd", {"learning_rate": LR})
    if path == "fused_step":
        step = trainer.fused_step(net, loss.L2Loss())
        for xb, yb in BATCHES:
            step(xb, yb)
    elif path == "fit_epoch-loader":
        trainer.fit_epoch(net, loss.L2Loss(), loader(X, Y, 4))
    elif path == "fit_epoch-list":
        trainer.fit_epoch(net, loss.L2Loss(), [(jnp.asarray(x), jnp.asarray(y))
                                               for x, y in BATCHES])
    else:
        module = Module(net, loss=loss.L2Loss())
        calls = []
        callback = {"module-compiled": None, "module-per-batch": lambda p: calls.append(p.nbatch),
                    "module-chunks": Every(2, calls)}[path]
        module.fit(loader(X, Y, 4), optimizer="sgd", optimizer_params={"learning_rate": LR},
                   num_epoch=1, batch_end_callback=callback)
        assert calls == {"module-compiled": [], "module-per-batch": [0, 1, 2],
                         "module-chunks": [0, 2]}[path]
    return net


class Every:
    """A batch-end callback with MXNet's ``frequent``: called after batches 0, n, 2n, ..."""

    def __init__(self, frequent, calls):
        self.frequent, self.calls = frequent, calls

    def __call__(self, param):
        self.calls.append(param.nbatch)


TRAINED_PATHS = ["fused_step", "fit_epoch-loader", "fit_epoch-list", "module-compiled",
                 "module-per-batch", "module-chunks"]


@pytest.mark.parametrize("path", TRAINED_PATHS)
def test_batchnorm_statistics_in_every_trainer_path(path):
    net = train_bn(path)
    assert_statistics(net.state)
    want_params, _ = hand_trained_params()  # every path takes the same SGD steps
    assert_leaves_close(net.params, want_params)


def test_batchnorm_statistics_accumulate_over_epochs_and_prediction_uses_them():
    net = bn_net()
    trainer = Trainer(net, "sgd", {"learning_rate": LR})
    train = loader(X, Y, 4)
    for _ in range(2):
        trainer.fit_epoch(net, loss.L2Loss(), train)
    assert_statistics(net.state, epochs=2)
    mean, var = expected_statistics(epochs=2)
    p = jax.tree.map(np.asarray, net.params)
    normalised = (X - mean) / np.sqrt(var + 1e-5) * p["batchnorm0"]["gamma"] \
        + p["batchnorm0"]["beta"]
    want = normalised @ p["dense0"]["weight"] + p["dense0"]["bias"]
    module = Module(net, loss=loss.L2Loss())
    before = net.state
    np.testing.assert_allclose(module.predict(X), want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(module.predict(train), want, rtol=1e-4, atol=1e-5)
    mse = float(np.mean((want[:, 0] - Y) ** 2))
    assert module.score(train, "mse")[0][1] == pytest.approx(mse, rel=1e-4)
    assert metric.evaluate(net, train, "mse") == pytest.approx(mse, rel=1e-4)
    assert metric.evaluate(net, BATCHES, "mse") == pytest.approx(mse, rel=1e-4)
    assert_trees_equal(net.state, before)  # evaluating never moves the statistics


# -- Dropout -------------------------------------------------------------------------------------

D, STEPS, RATE = 2000, 4, 0.5
X_DROP = (2.0 ** np.arange(STEPS, dtype=np.float32))[:, None] * np.ones((1, D), np.float32)
Y_DROP = np.ones(STEPS, np.float32)


class LinearLoss:
    """``-y_hat * y``: its gradient does not depend on the weights, so updates add up exactly."""

    def __call__(self, y_hat, y):
        return -(y_hat[:, 0] * y)


def drop_net(seed):
    net = nn.Sequential()
    net.add(nn.Dropout(RATE), nn.Dense(1, in_units=D, use_bias=False))
    net.initialize("zeros", key=seed)
    return net


def masks_of(weights, before=None):
    """The (steps, D) masks encoded in the weights' binary digits (checks the 1/(1-p) scale)."""
    (w,) = (np.asarray(leaf[:, 0], np.float64) for leaf in jax.tree.leaves(weights))
    if before is not None:
        w = w - np.asarray(jax.tree.leaves(before)[0][:, 0], np.float64)
    codes = w * (1 - RATE)  # each kept entry of step s added 2**s / (1 - rate)
    np.testing.assert_array_equal(codes, np.round(codes))  # exact: the scale is 1 / (1 - rate)
    codes = codes.astype(np.int64)
    assert codes.min() >= 0 and codes.max() < 2**STEPS
    return np.stack([(codes >> s) & 1 for s in range(STEPS)]).astype(bool)


def assert_fresh_masks(masks):
    # each mask keeps about half: binomial sd 0.011, so 5 sd is 0.056
    np.testing.assert_allclose(masks.mean(axis=1), 1 - RATE, atol=0.056)
    for i in range(STEPS):
        for j in range(i):
            # independent masks agree on about half the entries; the same mask on all of them
            assert abs((masks[i] == masks[j]).mean() - 0.5) < 0.056, (i, j)


def drop_batches():
    return [(jnp.asarray(X_DROP[s:s + 1]), jnp.asarray(Y_DROP[s:s + 1])) for s in range(STEPS)]


def train_dropout(path, seed=0, epochs=1):
    """Trains drop_net(seed) through ``path``; returns the weights after each epoch."""
    net = drop_net(seed)
    trainer = Trainer(net, "sgd", {"learning_rate": 1.0})
    lossfn = LinearLoss()
    history = []
    step = trainer.fused_step(net, lossfn) if path == "fused_step" else None
    for epoch in range(epochs):
        if path == "trainer.step":
            for s, (xb, yb) in enumerate(drop_batches()):
                key = jax.random.fold_in(jax.random.key(seed), epoch * STEPS + s)
                grads = jax.grad(lambda p, xb=xb, yb=yb, k=key: lossfn(
                    net.apply(p, xb, key=k, training=True), yb).sum())(net.params)
                trainer.step(grads, 1)
        elif path == "fused_step":
            for xb, yb in drop_batches():
                step(xb, yb)
        elif path == "fit_epoch-loader":
            trainer.fit_epoch(net, lossfn, loader(X_DROP, Y_DROP, 1))
        elif path == "fit_epoch-list":
            trainer.fit_epoch(net, lossfn, drop_batches())
        else:
            module = Module(net, loss=lossfn)
            callback = {"module-compiled": None, "module-per-batch": lambda p: None,
                        "module-chunks": Every(2, [])}[path]
            module.fit(loader(X_DROP, Y_DROP, 1), optimizer="sgd",
                       optimizer_params={"learning_rate": 1.0}, begin_epoch=epoch,
                       num_epoch=epoch + 1, batch_end_callback=callback)
        history.append(net.params)
    return net, history


DROP_PATHS = ["trainer.step", *TRAINED_PATHS]


@pytest.mark.parametrize("path", DROP_PATHS)
def test_dropout_masks_in_every_training_path(path):
    net, (first, second) = train_dropout(path, seed=0, epochs=2)
    masks = masks_of(first)
    assert_fresh_masks(masks)
    later = masks_of(second, before=first)
    assert_fresh_masks(later)
    assert abs((later == masks).mean() - 0.5) < 0.056  # a new epoch draws new masks
    # reproducible from the key given to initialize (or to apply, by hand)
    _, (again,) = train_dropout(path, seed=0, epochs=1)
    np.testing.assert_array_equal(masks_of(again), masks)
    _, (other,) = train_dropout(path, seed=1, epochs=1)
    assert abs((masks_of(other) == masks).mean() - 0.5) < 0.056


def test_dropout_is_off_when_evaluating_and_predicting():
    net, _ = train_dropout("fit_epoch-loader")
    w = np.asarray(jax.tree.leaves(net.params)[0], np.float64)
    x = np.random.default_rng(2).uniform(size=(6, D)).astype(np.float32)
    y = np.arange(6, dtype=np.float32)
    want = x @ w  # no mask, no scaling
    module = Module(net, loss=LinearLoss())
    np.testing.assert_allclose(module.predict(x), want, rtol=1e-5)
    np.testing.assert_allclose(module.predict(loader(x, y, 4)), want, rtol=1e-5)
    mse = float(np.mean((want[:, 0] - y) ** 2))
    assert module.score(loader(x, y, 4), "mse")[0][1] == pytest.approx(mse, rel=1e-5)
    assert metric.evaluate(net, loader(x, y, 4), "mse") == pytest.approx(mse, rel=1e-5)
    assert metric.evaluate(net, [(x, y)], "mse") == pytest.approx(mse, rel=1e-5)
    np.testing.assert_allclose(net(x), want, rtol=1e-5)  # a shell call outside record()


# -- compiled programs are keyed by what they compute ---------------------------------------------


def test_two_loss_functions_never_share_a_compiled_step():
    # A plain function has no settings; two of them are different losses all the same.
    def run(lossfn):
        net = nn.Dense(1, in_units=2, use_bias=False)
        net.initialize("zeros")
        step = Trainer(net, "sgd", {"learning_rate": 1.0}).fused_step(net, lossfn)
        step(jnp.ones((1, 2)), jnp.ones(1))
        return np.asarray(net.params["weight"][:, 0])

    np.testing.assert_array_equal(run(lambda y_hat, y: -(y_hat[:, 0] * y)), [1.0, 1.0])
    np.testing.assert_array_equal(run(lambda y_hat, y: -3 * (y_hat[:, 0] * y)), [3.0, 3.0])
