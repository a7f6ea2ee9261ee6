"""Tests for dstraight.optimizer: MXNet's update rules, argument checks, learning rate, state."""

import dataclasses
import doctest
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dstraight.optimizer
from dstraight import optimizer
from dstraight.lr_scheduler import FactorScheduler

STEPS = 6


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w": rng.normal(size=(3,)).astype(np.float32),
        "block": {"kernel": rng.normal(size=(2, 2)).astype(np.float32)},
    }


def _grads(seed=1, steps=STEPS, scale=2.0):
    rng = np.random.default_rng(seed)
    return [
        jax.tree.map(lambda p: (scale * rng.normal(size=p.shape)).astype(np.float32), _params())
        for _ in range(steps)
    ]


def _trajectory(opt, params, grads, jit, lrs=None):
    """Parameters after each update; ``lrs[i]`` is set with set_learning_rate before update i."""
    update = jax.jit(opt.tx.update) if jit else opt.tx.update
    params = jax.tree.map(jnp.asarray, params)
    state = opt.init(params)
    out = []
    for i, g in enumerate(grads):
        if lrs is not None:
            state = opt.set_learning_rate(state, lrs[i])
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
        out.append(jax.tree.map(np.asarray, params))
    return out


# -- MXNet's update formulas, one element at a time in float64 ---------------------------------


def _prep(g, w, hp, wd_first):
    g = hp.get("rescale_grad", 1.0) * g
    if wd_first:
        g = g + hp.get("wd", 0.0) * w
    c = hp.get("clip_gradient")
    return np.clip(g, -c, c) if c is not None else g


def _mx_sgd(w, g, s, lr, t, hp, nesterov=False):
    mu, wd = hp.get("momentum", 0.0), hp.get("wd", 0.0)
    g = _prep(g, w, hp, wd_first=False) + wd * w
    if mu == 0:
        return w - lr * g, s
    mom = s.get("mom", np.zeros_like(w))
    if not nesterov:
        mom = mu * mom - lr * g
        return w + mom, {"mom": mom}
    # the arithmetic of MXNet's nag_mom_update kernel, as written there
    mom = mu * mom
    w = w - mom + (mu + 1) * (mom - lr * g)
    return w, {"mom": mom - lr * g}


def _mx_nag(w, g, s, lr, t, hp):
    return _mx_sgd(w, g, s, lr, t, hp, nesterov=True)


def _mx_adam(w, g, s, lr, t, hp, decoupled=False):
    b1, b2 = hp.get("beta1", 0.9), hp.get("beta2", 0.999)
    eps = hp.get("epsilon", 1e-6 if decoupled else 1e-8)
    wd = hp.get("wd", 0.0)
    g = _prep(g, w, hp, wd_first=not decoupled)
    m = b1 * s.get("m", 0.0) + (1 - b1) * g
    v = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    lr_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
    d = m / (np.sqrt(v) + eps) + (wd * w if decoupled else 0.0)
    return w - lr_t * d, {"m": m, "v": v}


def _mx_adamw(w, g, s, lr, t, hp):
    return _mx_adam(w, g, s, lr, t, hp, decoupled=True)


def _mx_adagrad(w, g, s, lr, t, hp):
    g = _prep(g, w, hp, wd_first=False)
    history = s.get("h", 0.0) + g * g
    w = w - lr * (g / np.sqrt(history + hp.get("eps", 1e-7)) + hp.get("wd", 0.0) * w)
    return w, {"h": history}


def _mx_rmsprop(w, g, s, lr, t, hp):
    g1, g2, eps = hp.get("gamma1", 0.9), hp.get("gamma2", 0.9), hp.get("epsilon", 1e-8)
    g = _prep(g, w, hp, wd_first=True)
    n = (1 - g1) * g * g + g1 * s.get("n", 0.0)
    if not hp.get("centered", False):
        return w - lr * g / np.sqrt(n + eps), {"n": n}
    mean = (1 - g1) * g + g1 * s.get("g", 0.0)
    delta = g2 * s.get("delta", 0.0) - lr * g / np.sqrt(n - mean * mean + eps)
    return w + delta, {"n": n, "g": mean, "delta": delta}


def _mx_adadelta(w, g, s, lr, t, hp):
    rho, eps = hp.get("rho", 0.9), hp.get("epsilon", 1e-5)
    g = _prep(g, w, hp, wd_first=False)
    acc_g = rho * s.get("acc_g", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("acc_delta", 0.0) + eps) / np.sqrt(acc_g + eps) * g
    acc_delta = rho * s.get("acc_delta", 0.0) + (1 - rho) * delta * delta
    # MXNet 1.x: w -= delta + wd * w; the learning rate (1.0 by default) scales both
    return w - lr * (delta + hp.get("wd", 0.0) * w), {"acc_g": acc_g, "acc_delta": acc_delta}


MX = {
    "sgd": _mx_sgd,
    "nag": _mx_nag,
    "adam": _mx_adam,
    "adamw": _mx_adamw,
    "adagrad": _mx_adagrad,
    "rmsprop": _mx_rmsprop,
    "adadelta": _mx_adadelta,
}


def _mx_trajectory(name, hp, params, grads, lrs):
    leaves, treedef = jax.tree.flatten(params)
    ws = [np.asarray(w, np.float64) for w in leaves]
    states = [{} for _ in ws]
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
        for i, gi in enumerate(jax.tree.leaves(g)):
            ws[i], states[i] = MX[name](ws[i], np.asarray(gi, np.float64), states[i], lr, t, hp)
        out.append(jax.tree.unflatten(treedef, list(ws)))
    return out


def _assert_trajectories_close(got, expected, rtol=2e-5, atol=2e-6):
    for step, (a, b) in enumerate(zip(got, expected, strict=True)):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"update {step + 1}")


COMMON = {"wd": 0.05, "clip_gradient": 1.5, "rescale_grad": 0.5}
CASES = [
    ("sgd", {"learning_rate": 0.1}),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, **COMMON}),
    ("nag", {"learning_rate": 0.1, **COMMON}),
    ("nag", {"learning_rate": 0.1, "momentum": 0.8, **COMMON}),
    ("adam", {"learning_rate": 0.05, **COMMON}),
    ("adam", {"learning_rate": 0.05, "beta1": 0.5, "beta2": 0.9, "epsilon": 1e-3}),
    ("adamw", {"learning_rate": 0.05, **COMMON}),
    ("adagrad", {"learning_rate": 0.1, **COMMON}),
    ("adagrad", {"learning_rate": 0.1, "eps": 0.5}),  # large eps: inside or outside the sqrt shows
    ("rmsprop", {"learning_rate": 0.01, "epsilon": 0.5}),
    ("rmsprop", {"learning_rate": 0.01, "epsilon": 0.5, "centered": True}),
    ("rmsprop", {"learning_rate": 0.01, **COMMON}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "gamma2": 0.7, **COMMON}),
    ("adadelta", {"rho": 0.8, **COMMON}),
    ("adadelta", {"learning_rate": 0.5, "epsilon": 1e-4}),
]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(("name", "hp"), CASES)
def test_updates_follow_mxnet_formulas(name, hp, jit):
    params, grads = _params(), _grads()
    clip = hp.get("clip_gradient")
    if clip is not None:  # the clip must bite, or the test could not see it in the wrong place
        assert (
            max(np.abs(hp["rescale_grad"] * leaf).max() for leaf in jax.tree.leaves(grads)) > clip
        )
    opt = optimizer.create(name, hp)
    lr = opt.hyperparams["learning_rate"]
    expected = _mx_trajectory(name, hp, params, grads, [lr] * STEPS)
    _assert_trajectories_close(_trajectory(opt, params, grads, jit), expected)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(("name", "hp"), CASES)
def test_learning_rate_changes_follow_mxnet_formulas(name, hp, jit):
    params, grads = _params(), _grads()
    lrs = [0.1, 0.1, 0.1, 0.02, 0.02, 0.05]  # changed between updates, as a trainer would
    opt = optimizer.create(name, hp)
    expected = _mx_trajectory(name, hp, params, grads, lrs)
    _assert_trajectories_close(_trajectory(opt, params, grads, jit, lrs), expected)


def test_sgd_momentum_keeps_the_learning_rate_inside_the_buffer_unlike_optax():
    params, grads = _params(), _grads(steps=10)
    lrs = [0.1] * 5 + [0.01] * 5
    hp = {"learning_rate": 0.1, "momentum": 0.9}
    ours = _trajectory(optimizer.create("sgd", hp), params, grads, jit=True, lrs=lrs)
    _assert_trajectories_close(ours, _mx_trajectory("sgd", hp, params, grads, lrs))
    optax_sgd = optimizer.create(
        optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    )
    theirs = _trajectory(optax_sgd, params, grads, jit=True, lrs=lrs)
    # identical while the rate is constant ...
    _assert_trajectories_close(theirs[:5], ours[:5])
    # ... then optax scales the whole buffer by the new rate, MXNet only the new gradients
    gap = max(
        np.abs(a - b).max()
        for a, b in zip(jax.tree.leaves(ours[-1]), jax.tree.leaves(theirs[-1]), strict=True)
    )
    assert gap > 0.05


def test_weight_decay_sits_after_the_clip_in_sgd_and_before_it_in_adam():
    params, zero = {"w": jnp.array([10.0])}, {"w": jnp.array([0.0])}
    hp = {"learning_rate": 0.1, "wd": 1.0, "clip_gradient": 1.0}
    sgd = optimizer.create("sgd", hp)
    updates, _ = sgd.tx.update(zero, sgd.init(params), params)
    assert float(updates["w"][0]) == pytest.approx(-0.1 * (0.0 + 1.0 * 10.0))  # clip(0) + wd*w
    adam = optimizer.create("adam", hp)
    _, state = adam.tx.update(zero, adam.init(params), params)
    (mean,) = [v for k, v in optimizer.state_to_arrays(state).items() if k.endswith("mean/w")]
    assert float(mean[0]) == pytest.approx((1 - 0.9) * 1.0)  # (1 - beta1) * clip(0 + wd*w)


@pytest.mark.parametrize("name", ["sgd", "nag"])
def test_no_momentum_means_no_buffer(name):
    state = optimizer.create(name, {"momentum": 0.0}).init(_params())
    assert sorted(optimizer.state_to_arrays(state)) == ["count", "hyperparams/learning_rate"]
    state = optimizer.create(name, {"momentum": 0.5}).init(_params())
    assert len(optimizer.state_to_arrays(state)) == 4  # and with momentum: one per parameter


def test_defaults_are_mxnets():
    expected = {
        "sgd": {"learning_rate": 0.01, "momentum": 0.0},
        "nag": {"learning_rate": 0.01, "momentum": 0.0},
        "adam": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
        "adagrad": {"learning_rate": 0.01, "eps": 1e-7},
        "rmsprop": {
            "learning_rate": 0.001,
            "gamma1": 0.9,
            "gamma2": 0.9,
            "epsilon": 1e-8,
            "centered": False,
        },
        "adadelta": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-5},
        "adamw": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6},
    }
    common = {"wd": 0.0, "clip_gradient": None, "rescale_grad": 1.0, "lr_scheduler": None}
    for name, own in expected.items():
        opt = optimizer.create(name)
        assert dict(opt.hyperparams) == {**own, **common}, name
        assert opt.name == name and opt.learning_rate == own["learning_rate"]
        assert opt.scheduler is None


def test_names_are_case_insensitive_and_params_may_be_pairs():
    opt = optimizer.create("SGD", (("learning_rate", 0.25), ("momentum", 0.5)))
    assert (opt.name, opt.learning_rate, opt.hyperparams["momentum"]) == ("sgd", 0.25, 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.name = "adam"


# -- argument checks ---------------------------------------------------------------------------

INF, NAN = float("inf"), float("nan")
BAD = [
    (
        "sgd",
        {"learning_rate": True},
        TypeError,
        r"learning_rate must be a number.*True of type bool",
    ),
    ("sgd", {"momentum": False}, TypeError, r"momentum must be a number.*bool"),
    ("adam", {"learning_rate": "fast"}, TypeError, r"learning_rate must be a number.*'fast'"),
    ("sgd", {"learning_rate": None}, TypeError, r"learning_rate must be a number.*None"),
    (
        "sgd",
        {"learning_rate": INF},
        ValueError,
        r"'sgd': parameter learning_rate must be a finite number, got inf",
    ),
    ("sgd", {"learning_rate": NAN}, ValueError, r"learning_rate must be a finite number, got nan"),
    ("sgd", {"wd": INF}, ValueError, r"wd must be a finite number, got inf"),
    ("sgd", {"learning_rate": -0.1}, ValueError, r"learning_rate must be >= 0.0, got -0.1"),
    ("adam", {"wd": -1}, ValueError, r"wd must be >= 0.0, got -1.0"),
    ("sgd", {"momentum": 1.5}, ValueError, r"momentum must be >= 0.0 and < 1.0, got 1.5"),
    ("nag", {"momentum": 1.0}, ValueError, r"momentum must be >= 0.0 and < 1.0, got 1.0"),
    ("sgd", {"momentum": -0.1}, ValueError, r"momentum must be >= 0.0 and < 1.0, got -0.1"),
    ("adam", {"beta1": 1.0}, ValueError, r"beta1 must be >= 0.0 and < 1.0, got 1.0"),
    ("adamw", {"beta2": 1.5}, ValueError, r"beta2 must be >= 0.0 and < 1.0, got 1.5"),
    ("rmsprop", {"gamma1": 1.0}, ValueError, r"gamma1 must be >= 0.0 and < 1.0"),
    ("rmsprop", {"gamma2": -1}, ValueError, r"gamma2 must be >= 0.0 and < 1.0"),
    ("adadelta", {"rho": 2}, ValueError, r"rho must be >= 0.0 and < 1.0, got 2.0"),
    ("adam", {"epsilon": 0.0}, ValueError, r"epsilon must be > 0.0, got 0.0"),
    ("adagrad", {"eps": -1e-7}, ValueError, r"eps must be > 0.0, got -1e-07"),
    ("sgd", {"rescale_grad": 0}, ValueError, r"rescale_grad must be > 0.0, got 0.0"),
    (
        "sgd",
        {"clip_gradient": 0},
        ValueError,
        r"clip_gradient must be > 0.0, got 0.0\. Use clip_gradient=None",
    ),
    ("sgd", {"clip_gradient": INF}, ValueError, r"clip_gradient must be a finite number.*=None"),
    ("rmsprop", {"centered": 1}, TypeError, r"centered must be True or False, got 1"),
    ("sgd", {"lr_scheduler": 0.1}, TypeError, r"lr_scheduler must be a scheduler.*got float"),
    (
        "sgd",
        {"beta1": 0.9},
        ValueError,
        r"Unknown optimizer_params \['beta1'\] for 'sgd'\. Valid parameters: learning_rate, "
        r"momentum, wd, clip_gradient, rescale_grad, lr_scheduler\.",
    ),
    ("adagrad", {"epsilon": 1e-7}, ValueError, r"Unknown optimizer_params \['epsilon'\].*eps,"),
    (
        "sgd",
        {"learning_rate": 0.1, "lr_scheduler": optax.constant_schedule(0.1)},
        ValueError,
        r"learning_rate=0.1 cannot be combined with an optax schedule",
    ),
    (
        "sgd",
        0.1,
        TypeError,
        r"optimizer_params must be a dict or a sequence of \(name, value\) pairs",
    ),
    ("sgd", [("learning_rate",)], TypeError, r"dict or a sequence of"),
    (
        "adamax",
        None,
        ValueError,
        r"Unknown optimizer 'adamax'\. Valid names: sgd, nag, adam, adagrad, rmsprop, adadelta, "
        r"adamw;",
    ),
    (
        optax.sgd(0.1),
        {"learning_rate": 0.1},
        ValueError,
        r"optimizer_params only apply to optimizer names",
    ),
    (
        3,
        None,
        TypeError,
        r"optimizer must be a name \(sgd, .*\) or an optax GradientTransformation, got int",
    ),
]


@pytest.mark.parametrize(("name", "params", "error", "match"), BAD)
def test_bad_arguments_are_refused(name, params, error, match):
    with pytest.raises(error, match=match):
        optimizer.create(name, params)


def test_a_scheduler_with_a_bad_base_rate_is_refused():
    sched = FactorScheduler(step=10, base_lr=0.5, warmup_steps=5, warmup_begin_lr=0.1)
    with pytest.raises(ValueError, match=r"warmup_begin_lr=0.1 is above base_lr=0.05"):
        optimizer.create("sgd", {"learning_rate": 0.05, "lr_scheduler": sched})


# -- learning rate -----------------------------------------------------------------------------


def test_set_learning_rate_returns_a_new_state_and_does_not_recompile():
    traces = []

    def step(state, g, params):
        traces.append(1)  # runs while tracing only
        updates, state = opt.tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    opt = optimizer.create("adam", {"learning_rate": 0.1})
    step = jax.jit(step)
    params = jax.tree.map(jnp.asarray, _params())
    g = _grads()[0]
    state = opt.init(params)
    params, state = step(state, g, params)
    frozen = opt.set_learning_rate(state, 0.0)
    assert opt.get_learning_rate(state) == 0.1  # the old state is untouched
    assert opt.get_learning_rate(frozen) == 0.0
    new_lr = frozen.hyperparams["learning_rate"]
    old_lr = state.hyperparams["learning_rate"]
    assert (new_lr.dtype, new_lr.shape) == (old_lr.dtype, old_lr.shape)
    moved, _ = step(frozen, g, params)
    assert len(traces) == 1  # the rate is data, not a constant of the compiled step
    for a, b in zip(jax.tree.leaves(moved), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)  # rate 0: nothing moves


def test_set_learning_rate_checks_its_value():
    opt = optimizer.create("sgd")
    state = opt.init({})
    with pytest.raises(ValueError, match=r"learning_rate must be >= 0.0, got -1.0"):
        opt.set_learning_rate(state, -1.0)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number, got inf"):
        opt.set_learning_rate(state, INF)
    with pytest.raises(TypeError, match=r"learning_rate must be a number.*bool"):
        opt.set_learning_rate(state, True)
    with pytest.raises(ValueError, match=r"holds no learning rate.*got tuple"):
        opt.set_learning_rate((), 0.1)


def test_a_scheduled_rate_cannot_be_set():
    opt = optimizer.create("sgd", {"lr_scheduler": FactorScheduler(step=5)})
    with pytest.raises(ValueError, match=r"follows lr_scheduler=FactorScheduler\(step=5.*refuses"):
        opt.set_learning_rate(opt.init({}), 0.1)
    foreign = optimizer.create(
        optax.inject_hyperparams(optax.sgd)(optax.linear_schedule(1.0, 0.0, 10))
    )
    with pytest.raises(ValueError, match=r"follows a schedule"):
        foreign.set_learning_rate(foreign.init({}), 0.1)


def test_learning_rate_of_optax_transformations():
    injected = optimizer.create(optax.inject_hyperparams(optax.sgd)(learning_rate=0.3))
    assert injected.name is None and injected.learning_rate == 0.3
    state = injected.set_learning_rate(injected.init({"w": jnp.ones(2)}), 0.2)
    assert injected.get_learning_rate(state) == 0.2  # float32 in the state, read back as 0.2
    plain = optimizer.create(optax.sgd(0.3))
    assert plain.learning_rate is None
    with pytest.raises(ValueError, match=r"optax\.inject_hyperparams"):
        plain.get_learning_rate(plain.init({}))
    with pytest.raises(ValueError, match=r"optax\.inject_hyperparams"):
        plain.set_learning_rate(plain.init({}), 0.1)
    assert optimizer.create(injected) is injected


@pytest.mark.parametrize("jit", [False, True])
def test_a_gluon_scheduler_drives_updates_as_in_mxnet(jit):
    given = FactorScheduler(step=3, factor=0.5, base_lr=7.0)
    opt = optimizer.create("sgd", {"learning_rate": 0.8, "lr_scheduler": given})
    assert given.base_lr == 7.0  # the caller's scheduler is not mutated ...
    assert opt.scheduler.base_lr == 0.8 and opt.learning_rate == 0.8  # ... its copy is rebased
    update = jax.jit(opt.tx.update) if jit else opt.tx.update
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    assert opt.get_learning_rate(state) == opt.scheduler(0)
    for k in range(1, 11):
        updates, state = update({"w": jnp.ones(())}, state, params)
        # update k (counted from 1) uses sched(k); the rate reads sched(k) afterwards
        assert -float(updates["w"]) == pytest.approx(opt.scheduler(k), rel=1e-6)
        assert opt.get_learning_rate(state) == pytest.approx(opt.scheduler(k), rel=1e-6)
    assert opt.scheduler(3) == 0.8 and opt.scheduler(4) == 0.4  # the decay did happen


def test_a_scheduler_alone_keeps_its_base_rate():
    opt = optimizer.create("adam", {"lr_scheduler": FactorScheduler(step=3, base_lr=0.25)})
    assert opt.learning_rate == 0.25 and opt.scheduler.base_lr == 0.25


@pytest.mark.parametrize("jit", [False, True])
def test_an_optax_schedule_keeps_optax_count(jit):
    schedule = optax.linear_schedule(init_value=1.0, end_value=0.0, transition_steps=10)
    opt = optimizer.create("sgd", {"lr_scheduler": schedule})
    assert opt.learning_rate == 1.0
    update = jax.jit(opt.tx.update) if jit else opt.tx.update
    params = {"w": jnp.zeros(())}
    state = opt.init(params)
    for k in range(1, 6):
        updates, state = update({"w": jnp.ones(())}, state, params)
        assert -float(updates["w"]) == pytest.approx(float(schedule(k - 1)), rel=1e-6)
        assert opt.get_learning_rate(state) == pytest.approx(float(schedule(k)), rel=1e-6)


# -- saving and loading the state ----------------------------------------------------------------


def _trained_state(opt, steps=3):
    params = jax.tree.map(jnp.asarray, _params())
    state = opt.init(params)
    for g in _grads(steps=steps):
        updates, state = opt.tx.update(g, state, params)
        params = optax.apply_updates(params, updates)
    return params, state


@pytest.mark.parametrize(
    ("name", "hp"),
    [
        ("sgd", {"momentum": 0.9}),
        ("adam", {"wd": 0.1, "clip_gradient": 1.0}),
        ("rmsprop", {"centered": True}),
        ("nag", {"momentum": 0.5, "lr_scheduler": FactorScheduler(step=2, factor=0.5)}),
    ],
)
def test_state_survives_an_npz_round_trip(tmp_path, name, hp):
    opt = optimizer.create(name, hp)
    params, state = _trained_state(opt)
    path = tmp_path / "states.npz"
    np.savez(path, **optimizer.state_to_arrays(state))
    with np.load(path, allow_pickle=False) as arrays:
        restored = optimizer.state_from_arrays(opt.init(params), arrays)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert opt.get_learning_rate(restored) == opt.get_learning_rate(state)
    g = _grads(seed=7, steps=1)[0]  # and training goes on exactly as it would have
    after, after_restored = (opt.tx.update(g, s, params)[0] for s in (state, restored))
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(after_restored), strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_keys_are_paths_and_stable():
    params = _params()
    keys = sorted(
        optimizer.state_to_arrays(optimizer.create("sgd", {"momentum": 0.9}).init(params))
    )
    assert keys == [
        "count",
        "hyperparams/learning_rate",
        "inner_state/0/mom/block/kernel",
        "inner_state/0/mom/w",
    ]
    again = optimizer.create("sgd", {"momentum": 0.9}).init(_params(seed=5))
    assert sorted(optimizer.state_to_arrays(again)) == keys


def test_state_from_arrays_names_every_mismatch():
    opt = optimizer.create("sgd", {"momentum": 0.9})
    template = opt.init(_params())
    arrays = optimizer.state_to_arrays(template)
    del arrays["inner_state/0/mom/w"]
    arrays["extra"] = np.zeros(1)
    arrays["inner_state/0/mom/block/kernel"] = np.zeros((3, 2), np.float32)
    arrays["count"] = arrays["count"].astype(np.float32)
    with pytest.raises(ValueError, match=r"do not fit this optimizer and these parameters") as info:
        optimizer.state_from_arrays(template, arrays)
    for part in (
        r"missing 'inner_state/0/mom/w'",
        r"unexpected 'extra'",
        r"'inner_state/0/mom/block/kernel' has shape \(3, 2\) and dtype float32, expected shape "
        r"\(2, 2\)",
        r"'count' has shape \(\) and dtype float32, expected shape \(\) and dtype int32",
    ):
        assert re.search(part, str(info.value)), part
    assert jax.tree.leaves(template)[0].shape == ()  # the template was left alone


def test_state_arrays_refuse_names_that_collide():
    state = optimizer.create("sgd", {"momentum": 0.9}).init(
        {"a/b": jnp.zeros(1), "a": {"b": jnp.zeros(1)}}
    )
    with pytest.raises(ValueError, match=r"both named 'inner_state/0/mom/a/b'.*contains '/'"):
        optimizer.state_to_arrays(state)


def test_doctests():
    result = doctest.testmod(dstraight.optimizer, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
