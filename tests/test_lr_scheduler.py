"""Tests for dstraight.lr_scheduler: the closed forms against MXNet's stateful loops."""

import dataclasses
import doctest
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dstraight.lr_scheduler
from dstraight.lr_scheduler import (
    CosineScheduler,
    FactorScheduler,
    MultiFactorScheduler,
    PolyScheduler,
)

UPDATES = range(101)

# -- MXNet's schedulers, re-written as the stateful loops they are ------------------------------


class _MxWarmup:
    def __init__(self, base_lr, warmup_steps, warmup_begin_lr, warmup_mode):
        self.base_lr, self.warmup_final_lr = base_lr, base_lr
        self.warmup_steps, self.warmup_begin_lr, self.warmup_mode = (
            warmup_steps,
            warmup_begin_lr,
            warmup_mode,
        )

    def warmup(self, n):
        if self.warmup_mode == "constant":
            return self.warmup_begin_lr
        rise = (self.warmup_final_lr - self.warmup_begin_lr) * n / self.warmup_steps
        return self.warmup_begin_lr + rise


class MxFactor(_MxWarmup):
    def __init__(
        self,
        step,
        factor=1,
        stop_factor_lr=1e-8,
        base_lr=0.01,
        warmup_steps=0,
        warmup_begin_lr=0,
        warmup_mode="linear",
    ):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        self.step, self.factor, self.stop_factor_lr, self.count = step, factor, stop_factor_lr, 0

    def __call__(self, n):
        if n < self.warmup_steps:
            return self.warmup(n)
        while n > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
        return self.base_lr


class MxMultiFactor(_MxWarmup):
    def __init__(
        self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"
    ):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        self.step, self.factor, self.cur_step_ind = step, factor, 0

    def __call__(self, n):
        if n < self.warmup_steps:
            return self.warmup(n)
        while self.cur_step_ind < len(self.step) and n > self.step[self.cur_step_ind]:
            self.cur_step_ind += 1
            self.base_lr *= self.factor
        return self.base_lr


class MxPoly(_MxWarmup):
    def __init__(
        self,
        max_update,
        base_lr=0.01,
        pwr=2,
        final_lr=0,
        warmup_steps=0,
        warmup_begin_lr=0,
        warmup_mode="linear",
    ):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        self.base_lr_orig, self.max_update, self.power, self.final_lr = (
            base_lr,
            max_update,
            pwr,
            final_lr,
        )
        self.max_steps = max_update - warmup_steps

    def __call__(self, n):
        if n < self.warmup_steps:
            return self.warmup(n)
        if n <= self.max_update:
            done = (n - self.warmup_steps) / self.max_steps
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * (1 - done) ** (
                self.power
            )
        return self.base_lr


class MxCosine(_MxWarmup):
    def __init__(
        self,
        max_update,
        base_lr=0.01,
        final_lr=0,
        warmup_steps=0,
        warmup_begin_lr=0,
        warmup_mode="linear",
    ):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        self.base_lr_orig, self.max_update, self.final_lr = base_lr, max_update, final_lr
        self.max_steps = max_update - warmup_steps

    def __call__(self, n):
        if n < self.warmup_steps:
            return self.warmup(n)
        if n <= self.max_update:
            done = (n - self.warmup_steps) / self.max_steps
            span = self.base_lr_orig - self.final_lr
            self.base_lr = self.final_lr + span * (1 + math.cos(math.pi * done)) / 2
        return self.base_lr


CASES = [
    (FactorScheduler, MxFactor, dict(step=10, factor=0.5, base_lr=1.0)),
    (FactorScheduler, MxFactor, dict(step=7, factor=0.3, stop_factor_lr=1e-3, base_lr=0.5)),
    (FactorScheduler, MxFactor, dict(step=1, factor=0.9, base_lr=0.1)),
    # a base rate under the floor: kept until the first decay, then lifted to the floor
    (FactorScheduler, MxFactor, dict(step=3, factor=0.5, stop_factor_lr=0.1, base_lr=0.05)),
    (
        FactorScheduler,
        MxFactor,
        dict(step=5, factor=0.5, base_lr=0.2, warmup_steps=12, warmup_begin_lr=0.01),
    ),
    (
        FactorScheduler,
        MxFactor,
        dict(
            step=5,
            factor=0.5,
            base_lr=0.2,
            warmup_steps=8,
            warmup_begin_lr=0.05,
            warmup_mode="constant",
        ),
    ),
    (MultiFactorScheduler, MxMultiFactor, dict(step=[10, 25, 60], factor=0.5, base_lr=1.0)),
    (
        MultiFactorScheduler,
        MxMultiFactor,
        dict(step=[30, 70], factor=0.1, base_lr=0.3, warmup_steps=20),
    ),
    (PolyScheduler, MxPoly, dict(max_update=80, base_lr=0.1, pwr=2)),
    (
        PolyScheduler,
        MxPoly,
        dict(
            max_update=50, base_lr=1.0, pwr=0.5, final_lr=0.1, warmup_steps=10, warmup_begin_lr=0.05
        ),
    ),
    (CosineScheduler, MxCosine, dict(max_update=60, base_lr=0.5, final_lr=0.01)),
    (
        CosineScheduler,
        MxCosine,
        dict(
            max_update=90, base_lr=1.0, warmup_steps=15, warmup_begin_lr=0.1, warmup_mode="constant"
        ),
    ),
]


def _mxnet_rates(mx_class, kwargs):
    mx = mx_class(**kwargs)  # one object, asked in increasing order, as an optimizer does
    return np.array([mx(n) for n in UPDATES])


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), CASES)
def test_python_ints_give_mxnets_rates(ours, theirs, kwargs):
    sched = ours(**kwargs)
    got = [sched(n) for n in UPDATES]
    assert all(type(x) is float for x in got)
    np.testing.assert_allclose(got, _mxnet_rates(theirs, kwargs), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), CASES)
def test_arrays_give_mxnets_rates(ours, theirs, kwargs, jit):
    sched = ours(**kwargs)
    fn = jax.jit(sched.__call__) if jit else sched
    got = np.asarray(fn(jnp.arange(len(UPDATES), dtype=jnp.int32)))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _mxnet_rates(theirs, kwargs), rtol=2e-6, atol=1e-9)
    if jit:  # a traced scalar count, as optax passes it
        for n in (0, 1, 37, 100):
            assert float(fn(jnp.int32(n))) == pytest.approx(sched(n), rel=2e-6, abs=1e-9)


def test_factor_scheduler_changes_after_step_updates():
    sched = FactorScheduler(step=10, factor=0.5, base_lr=1.0)
    assert [sched(n) for n in (1, 10, 11, 20, 21, 30, 31)] == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_factor_scheduler_stops_at_its_floor():
    sched = FactorScheduler(step=1, factor=0.1, stop_factor_lr=1e-3, base_lr=1.0)
    assert sched(2) == pytest.approx(0.1) and sched(5) == 1e-3 and sched(10_000) == 1e-3


def test_multi_factor_scheduler_steps():
    sched = MultiFactorScheduler(step=[5, 8], factor=0.1, base_lr=1.0)
    assert [sched(n) for n in (5, 6, 8, 9)] == pytest.approx([1.0, 0.1, 0.1, 0.01])
    assert sched.step == (5, 8)  # stored as a tuple: the scheduler is immutable


def test_linear_warmup_rises_to_the_base_rate():
    sched = CosineScheduler(max_update=20, base_lr=1.0, warmup_steps=4, warmup_begin_lr=0.2)
    assert [sched(n) for n in range(5)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])


def test_schedulers_are_frozen_and_rebased_by_copy():
    sched = FactorScheduler(step=10, factor=0.5, base_lr=0.1)
    moved = sched.with_base_lr(0.4)
    assert (sched.base_lr, moved.base_lr, moved.step, moved.factor) == (0.1, 0.4, 10, 0.5)
    assert moved(11) == 0.2
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.base_lr = 1.0


BAD = [
    (FactorScheduler, dict(step=0), ValueError, r"FactorScheduler: step must be >= 1, got 0"),
    (FactorScheduler, dict(step=2.5), TypeError, r"step must be an int, got 2.5 of type float"),
    (FactorScheduler, dict(step=True), TypeError, r"step must be an int, got True"),
    (FactorScheduler, dict(step=5, factor=1.5), ValueError, r"factor must be <= 1.0.*got 1.5"),
    (FactorScheduler, dict(step=5, factor=0), ValueError, r"factor must be > 0.0, got 0.0"),
    (FactorScheduler, dict(step=5, factor=float("nan")), ValueError, r"factor must be a finite"),
    (FactorScheduler, dict(step=5, base_lr=-0.1), ValueError, r"base_lr must be >= 0.0, got -0.1"),
    (FactorScheduler, dict(step=5, base_lr=float("inf")), ValueError, r"base_lr must be a finite"),
    (FactorScheduler, dict(step=5, stop_factor_lr=-1), ValueError, r"stop_factor_lr must be >= 0"),
    (FactorScheduler, dict(step=5, warmup_steps=-1), ValueError, r"warmup_steps must be >= 0"),
    (
        FactorScheduler,
        dict(step=5, warmup_steps=3, warmup_mode="cubic"),
        ValueError,
        r"warmup_mode must be 'linear' or 'constant', got 'cubic'",
    ),
    (
        FactorScheduler,
        dict(step=5, warmup_steps=3, warmup_begin_lr=0.5),
        ValueError,
        r"warmup_begin_lr=0.5 is above base_lr=0.01",
    ),
    (MultiFactorScheduler, dict(step=[10, 10]), ValueError, r"strictly increasing.*\[10, 10\]"),
    (MultiFactorScheduler, dict(step=[]), ValueError, r"non-empty"),
    (MultiFactorScheduler, dict(step=[0, 3]), ValueError, r"each step must be >= 1, got 0"),
    (MultiFactorScheduler, dict(step=10), TypeError, r"step must be a list of update counts"),
    (MultiFactorScheduler, dict(step="10"), TypeError, r"step must be a list of update counts"),
    (PolyScheduler, dict(max_update=0), ValueError, r"PolyScheduler: max_update must be >= 1"),
    (PolyScheduler, dict(max_update=10, pwr=0), ValueError, r"pwr must be > 0.0, got 0.0"),
    (PolyScheduler, dict(max_update=10, final_lr=-1), ValueError, r"final_lr must be >= 0.0"),
    (
        CosineScheduler,
        dict(max_update=10, warmup_steps=10),
        ValueError,
        r"warmup_steps=10 must be below max_update=10",
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "match"), BAD)
def test_bad_arguments_are_refused(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


def test_bad_update_counts_are_refused():
    sched = FactorScheduler(step=5)
    with pytest.raises(ValueError, match=r"FactorScheduler: num_update must be >= 0, got -1"):
        sched(-1)
    with pytest.raises(TypeError, match=r"num_update must be an int, got 1.0 of type float"):
        sched(1.0)
    with pytest.raises(TypeError, match=r"expects an integer update count.*float32"):
        sched(jnp.ones(3))


def test_doctests():
    result = doctest.testmod(dstraight.lr_scheduler, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
