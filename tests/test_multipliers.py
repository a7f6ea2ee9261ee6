"""Per-parameter ``lr_mult`` and ``wd_mult``: MXNet's rules on every training path."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dstraight import Module, Trainer, data, loss, nn, optimizer
from dstraight.parameter import Parameter

N, D, BATCH = 40, 2, 8  # 5 full batches an epoch, no short one
EPOCHS = 2
STEPS = EPOCHS * N // BATCH

SGD = ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.05})
ADAM = ("adam", {"learning_rate": 0.05, "wd": 0.05})
ADAMW = ("adamw", {"learning_rate": 0.05, "wd": 0.05})
NAG = ("nag", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.05})
RULES = [SGD, NAG, ADAM, ADAMW]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D)).astype(np.float32)
    y = (X @ np.array([1.0, 2.0], np.float32) + 0.5 + 0.1 * rng.normal(size=N)).astype(np.float32)
    return X, y


def _net(lr=(1.0, 1.0), wd=(1.0, 1.0)):
    """Dense(1) with weight [[0.3], [-0.2]], bias 0.1 and (weight, bias) multipliers."""
    net = nn.Dense(1, in_units=D)
    net.initialize("zeros")
    weight, bias = _weight_bias(net)
    weight.set_data(jnp.array([[0.3], [-0.2]]))
    bias.set_data(jnp.array([0.1]))
    weight.lr_mult, bias.lr_mult = lr
    weight.wd_mult, bias.wd_mult = wd
    return net


def _weight_bias(net):
    params = list(net.collect_params().values())
    weight = next(p for p in params if p.name.endswith("weight"))
    bias = next(p for p in params if p.name.endswith("bias"))
    return weight, bias


def _batches(X, y, steps=STEPS):
    for k in range(steps):
        i = (k * BATCH) % N
        yield X[i:i + BATCH], y[i:i + BATCH]


def _mean_grad(w, b, X, y):
    """Gradient of the mean of L2Loss (half squared error) of X @ w + b, in float64."""
    r = X.astype(np.float64) @ w[:, 0] + b[0] - y
    return (r[:, None] * X).mean(0)[:, None], np.array([r.mean()])


def _reference(rule, lr_mults, wd_mults, X, y, steps=STEPS, change=None):
    """MXNet's update rules with lr = learning_rate * lr_mult, wd = wd * wd_mult, by hand.

    ``change=(k, lr_mults, wd_mults)`` switches the multipliers before step ``k`` (0-based).
    """
    name, hp = rule
    w, b = np.array([[0.3], [-0.2]]), np.array([0.1])
    ws = [w, b]
    state = [[np.zeros_like(v), np.zeros_like(v)] for v in ws]
    for k, (xb, yb) in enumerate(_batches(X, y, steps)):
        if change is not None and k == change[0]:
            lr_mults, wd_mults = change[1], change[2]
        grads = _mean_grad(ws[0], ws[1], xb, yb)
        t = k + 1
        for i in range(2):
            lr, wd = hp["learning_rate"] * lr_mults[i], hp["wd"] * wd_mults[i]
            g, v, (m1, m2) = grads[i], ws[i], state[i]
            if name in ("sgd", "nag"):  # mom = momentum * mom - lr * (g + wd * w)
                step = -lr * (g + wd * v)
                m1 = hp["momentum"] * m1 + step
                v = v + (hp["momentum"] * m1 + step if name == "nag" else m1)
            else:
                b1, b2, eps = 0.9, 0.999, 1e-8 if name == "adam" else 1e-6
                if name == "adam":
                    g = g + wd * v
                m1 = b1 * m1 + (1 - b1) * g
                m2 = b2 * m2 + (1 - b2) * g * g
                lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
                decay = wd * v if name == "adamw" else 0.0
                v = v - lr_t * (m1 / (np.sqrt(m2) + eps) + decay)
            ws[i], state[i] = v, [m1, m2]
    return ws


def _loader(X, y):
    return data.DataLoader(data.ArrayDataset(X, y), batch_size=BATCH, shuffle=False)


def _train(path, rule, net, X, y, steps=STEPS, between=None):
    """Trains ``net`` for ``steps`` batches along ``path``; ``between(k)`` runs before step k
    (for fit_epoch: before the epoch that starts at step k)."""
    trainer = Trainer(net.collect_params(), *rule)
    if path == "fit_epoch":
        loader = _loader(X, y)
        for epoch in range(steps * BATCH // N):
            if between is not None:
                between(epoch * N // BATCH)
            trainer.fit_epoch(net, loss.L2Loss(), loader)
        return trainer
    fused = trainer.fused_step(net, loss.L2Loss()) if path == "fused_step" else None
    grad = jax.jit(jax.grad(lambda p, xb, yb: loss.l2_loss(net.apply(p, xb), yb).sum()))
    for k, (xb, yb) in enumerate(_batches(X, y, steps)):
        if between is not None:
            between(k)
        xb, yb = jnp.asarray(xb), jnp.asarray(yb)
        if fused is not None:
            fused(xb, yb)
        else:
            trainer.step(grad(net.params, xb, yb), BATCH)
    return trainer


def _check(net, expected, rtol=2e-5, atol=2e-6):
    weight, bias = _weight_bias(net)
    np.testing.assert_allclose(np.asarray(weight.data()), expected[0], rtol=rtol, atol=atol)
    np.testing.assert_allclose(np.asarray(bias.data()), expected[1], rtol=rtol, atol=atol)


@pytest.mark.parametrize("path", ["step", "fused_step", "fit_epoch"])
@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_wd_mult_zero_on_bias_and_half_lr_on_weight_follow_mxnet(path, rule):
    X, y = _data()
    lr, wd = (0.5, 1.0), (1.0, 0.0)
    net = _net(lr, wd)
    _train(path, rule, net, X, y)
    _check(net, _reference(rule, lr, wd, X, y))
    # and the multipliers made a difference: the default trajectory is elsewhere
    default = _reference(rule, (1.0, 1.0), (1.0, 1.0), X, y)
    assert not np.allclose(np.asarray(_weight_bias(net)[0].data()), default[0], rtol=1e-3)


@pytest.mark.parametrize("path", ["step", "fused_step", "fit_epoch"])
@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_default_multipliers_follow_mxnet_and_leave_the_optimizer_as_it_was(path, rule):
    X, y = _data()
    net = _net()
    trainer = _train(path, rule, net, X, y)
    _check(net, _reference(rule, (1.0, 1.0), (1.0, 1.0), X, y))
    assert trainer.optimizer is trainer._opt.tx  # the very transformation built without them


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_default_multipliers_are_bit_identical_to_the_bare_optimizer(rule):
    X, y = _data()
    net = _net()
    trainer = Trainer(net.collect_params(), *rule)
    step = trainer.fused_step(net, loss.L2Loss())
    opt = optimizer.create(*rule)
    params = (jnp.array([[0.3], [-0.2]]), jnp.array([0.1]))
    state = opt.init(params)

    @jax.jit
    def manual(params, state, xb, yb):
        def f(p):
            return loss.l2_loss(p[1] + xb @ p[0], yb).sum()
        g = jax.tree.map(lambda t: t * np.float32(1 / BATCH), jax.grad(f)(params))
        updates, state = opt.tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    for xb, yb in _batches(X, y, 4):
        step(jnp.asarray(xb), jnp.asarray(yb))
        params, state = manual(params, state, jnp.asarray(xb), jnp.asarray(yb))
    weight, bias = _weight_bias(net)
    np.testing.assert_allclose(np.asarray(weight.data()), np.asarray(params[0]), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(bias.data()), np.asarray(params[1]), rtol=1e-6)


@pytest.mark.parametrize("path", ["step", "fused_step", "fit_epoch"])
@pytest.mark.parametrize("rule", [SGD, ADAM], ids=["sgd", "adam"])
def test_lr_mult_zero_freezes_the_parameter(path, rule):
    X, y = _data()
    net = _net(lr=(0.0, 1.0))
    _train(path, rule, net, X, y)
    weight, bias = _weight_bias(net)
    np.testing.assert_array_equal(np.asarray(weight.data()), np.float32([[0.3], [-0.2]]))
    assert abs(float(bias.data()[0]) - 0.1) > 1e-2


@pytest.mark.parametrize("path", ["step", "fused_step", "fit_epoch"])
@pytest.mark.parametrize("rule", [SGD, ADAMW], ids=["sgd", "adamw"])
def test_changing_a_multiplier_after_compiling_applies_from_the_next_step(path, rule):
    X, y = _data()
    net = _net()
    weight, bias = _weight_bias(net)
    switch = N // BATCH  # after the first epoch (fit_epoch can only change between epochs)

    def between(k):
        if k == switch:
            bias.wd_mult = 0.0
            weight.lr_mult = 0.5

    _train(path, rule, net, X, y, between=between)
    lr, wd = (0.5, 1.0), (1.0, 0.0)
    _check(net, _reference(rule, (1.0, 1.0), (1.0, 1.0), X, y, change=(switch, lr, wd)))

    net2 = _net(lr, wd)
    weight2, bias2 = _weight_bias(net2)

    def back(k):  # and back to the defaults: the original program again
        if k == switch:
            weight2.lr_mult, bias2.wd_mult = 1.0, 1.0

    _train(path, rule, net2, X, y, between=back)
    _check(net2, _reference(rule, lr, wd, X, y, change=(switch, (1.0, 1.0), (1.0, 1.0))))


def test_module_fit_honours_the_multipliers():
    X, y = _data()
    lr, wd = (0.5, 1.0), (1.0, 0.0)
    net = _net(lr, wd)
    model = Module(net, label_names=("lin_reg_label",))
    model.fit(data.NDArrayIter(X, y, batch_size=BATCH, label_name="lin_reg_label"),
              optimizer=SGD[0], optimizer_params=SGD[1], num_epoch=EPOCHS)
    _check(net, _reference(SGD, lr, wd, X, y))


def test_collect_params_setattr_sets_the_multipliers():
    X, y = _data()
    net = _net()
    net.collect_params(".*weight").setattr("lr_mult", 0.5)
    for p in net.collect_params(".*bias").values():
        p.wd_mult = 0
    _train("fused_step", SGD, net, X, y)
    _check(net, _reference(SGD, (0.5, 1.0), (1.0, 0.0), X, y))


@pytest.mark.parametrize("value", [-1.0, -1e-9, float("nan"), float("inf"), "0.5", None, True])
@pytest.mark.parametrize("what", ["lr_mult", "wd_mult"])
def test_bad_multipliers_raise_where_they_are_set(what, value):
    p = Parameter("w", shape=(2,))
    with pytest.raises(ValueError, match=what):
        setattr(p, what, value)
    with pytest.raises(ValueError, match=what):
        Parameter("w", shape=(2,), **{what: value})
    assert getattr(p, what) == 1.0


def test_multipliers_are_floats():
    p = Parameter("w", shape=(2,), lr_mult=2, wd_mult=np.float32(0.5))
    assert (p.lr_mult, p.wd_mult) == (2.0, 0.5)
    assert type(p.lr_mult) is float and type(p.wd_mult) is float


def test_an_optax_transformation_scales_updates_by_lr_mult_and_refuses_wd_mult():
    X, y = _data()
    net = _net(lr=(0.5, 1.0))
    trainer = Trainer(net.collect_params(), optax.sgd(0.1))
    trainer.fused_step(net, loss.L2Loss())(jnp.asarray(X[:BATCH]), jnp.asarray(y[:BATCH]))
    gw, gb = _mean_grad(np.array([[0.3], [-0.2]]), np.array([0.1]), X[:BATCH], y[:BATCH])
    _check(net, ([[0.3], [-0.2]] - 0.05 * gw, [0.1] - 0.1 * gb))
    _weight_bias(net)[1].wd_mult = 0.0
    with pytest.raises(ValueError, match="wd_mult"):
        trainer.fused_step(net, loss.L2Loss())(jnp.asarray(X[:BATCH]), jnp.asarray(y[:BATCH]))


def test_with_multipliers_keeps_the_state_structure():
    opt = optimizer.create(*SGD)
    params = (jnp.ones((1, 2)), jnp.ones(1))
    tx = opt.with_multipliers((0.5, 1.0), (1.0, 0.0))
    assert opt.with_multipliers((1.0, 1.0), (1.0, 1.0)) is opt.tx
    assert jax.tree.structure(tx.init(params)) == jax.tree.structure(opt.init(params))


ALL = [("sgd", {"momentum": 0.9}), ("nag", {"momentum": 0.9}), ("adam", {}), ("adamw", {}),
       ("adagrad", {}), ("rmsprop", {}), ("rmsprop", {"centered": True}), ("adadelta", {}),
       ("sgd", {"momentum": 0.0, "clip_gradient": 0.5, "rescale_grad": 2.0})]


@pytest.mark.parametrize("name, own", ALL, ids=[f"{n}-{sorted(o)}" for n, o in ALL])
def test_each_leaf_moves_as_with_its_own_rate_and_decay(name, own):
    # MXNet's _get_lr/_get_wd: leaf i is updated as by the optimizer with lr * lr_mult[i]
    # and wd * wd_mult[i]; the rules act leaf by leaf, so one optimizer per leaf is the reference.
    lr, wd = 0.05, 0.1
    lr_mults, wd_mults = (0.5, 1.0, 0.0, 2.0), (0.0, 1.0, 1.0, 3.0)
    rng = np.random.default_rng(1)
    params = tuple(jnp.asarray(rng.normal(size=(3,)), jnp.float32) for _ in lr_mults)
    grads = [tuple(jnp.asarray(rng.normal(size=(3,)), jnp.float32) for _ in lr_mults)
             for _ in range(4)]
    opt = optimizer.create(name, {"learning_rate": lr, "wd": wd, **own})
    tx = opt.with_multipliers(lr_mults, wd_mults)
    state, got = tx.init(params), params
    for g in grads:
        updates, state = tx.update(g, state, got)
        got = optax.apply_updates(got, updates)
    for i, (lm, wm) in enumerate(zip(lr_mults, wd_mults, strict=True)):
        one = optimizer.create(name, {"learning_rate": lr * lm, "wd": wd * wm, **own})
        value = (params[i],)
        s = one.init(value)
        for g in grads:
            updates, s = one.tx.update((g[i],), s, value)
            value = optax.apply_updates(value, updates)
        np.testing.assert_allclose(np.asarray(got[i]), np.asarray(value[0]), rtol=1e-5,
                                   atol=1e-6, err_msg=f"leaf {i}")


@pytest.mark.parametrize("frequent", [None, 2])
def test_a_batch_end_callback_that_changes_a_multiplier_applies_from_the_next_batch(frequent):
    # Module.fit runs the epoch batch by batch (a plain callback) or in compiled chunks between
    # the callback's points (one with `frequent`); either way the next batch sees the change.
    X, y = _data()
    net = _net()
    weight, bias = _weight_bias(net)

    def callback(param):
        if param.epoch == 0 and param.nbatch == 2:
            bias.wd_mult, weight.lr_mult = 0.0, 0.5

    if frequent is not None:
        callback.frequent = frequent
    model = Module(net, label_names=("lin_reg_label",))
    model.fit(data.NDArrayIter(X, y, batch_size=BATCH, label_name="lin_reg_label"),
              optimizer=SGD[0], optimizer_params=SGD[1], num_epoch=EPOCHS,
              batch_end_callback=callback)
    _check(net, _reference(SGD, (1.0, 1.0), (1.0, 1.0), X, y,
                           change=(3, (0.5, 1.0), (1.0, 0.0))))
