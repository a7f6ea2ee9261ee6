"""Learning-rate schedules with gluon's names, usable inside a compiled training step.

``sched(num_update)`` returns the learning rate of update number ``num_update``, counted from 1
as MXNet counts (its optimizer asks the scheduler after counting the update it is about to make).
MXNet's schedulers are stateful objects that mutate ``base_lr`` as updates go by; these are the
closed forms of the same values, so they can be evaluated at any step, in any order, and on a
traced counter: a Python int gives a Python float, a JAX integer array (e.g. optax's update
count inside ``jax.jit``) gives a JAX array.

All schedulers share a warmup: for ``num_update < warmup_steps`` the rate goes linearly from
``warmup_begin_lr`` towards ``base_lr`` (``warmup_mode='linear'``) or stays at
``warmup_begin_lr`` (``'constant'``). The schedulers are frozen; :meth:`LRScheduler.with_base_lr`
returns a copy with another base rate, which is what :func:`dstraight.optimizer.create` does
when it is given both a ``learning_rate`` and a scheduler (MXNet sets ``base_lr`` instead).

Examples:
    >>> from dstraight.lr_scheduler import FactorScheduler
    >>> sched = FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    >>> [sched(n) for n in range(1, 8)]
    [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dstraight._checks import integer, real

__all__ = [
    "CosineScheduler",
    "FactorScheduler",
    "LRScheduler",
    "MultiFactorScheduler",
    "PolyScheduler",
]


class LRScheduler:
    """The common part of the schedulers: warmup, argument checks and evaluation.

    A subclass is a frozen dataclass with ``base_lr``, ``warmup_steps``, ``warmup_begin_lr`` and
    ``warmup_mode`` fields and a ``_decay(n, xp)`` method that writes its rule once with the
    array namespace ``xp`` (NumPy for a Python int, ``jax.numpy`` for an array).
    """

    base_lr: float
    warmup_steps: int
    warmup_begin_lr: float
    warmup_mode: str

    def __call__(self, num_update: Any) -> Any:
        """The learning rate of update ``num_update`` (a float for an int, else a JAX array).

        Raises:
            TypeError: if ``num_update`` is not an integer or an integer array.
            ValueError: if a concrete ``num_update`` is negative.
        """
        if isinstance(num_update, jax.Array):
            if not jnp.issubdtype(num_update.dtype, jnp.integer):
                raise TypeError(
                    f"{type(self).__name__} expects an integer update count, got an array of "
                    f"dtype {num_update.dtype}."
                )
            return self._rate(num_update, jnp)
        n = integer(num_update, "num_update", low=0, where=f"{type(self).__name__}: ")
        return float(self._rate(np.int64(n), np))

    def _rate(self, n: Any, xp: Any) -> Any:
        if self.warmup_steps == 0:
            return self._decay(n, xp)
        if self.warmup_mode == "linear":
            span = self.base_lr - self.warmup_begin_lr
            warm = self.warmup_begin_lr + span * n / self.warmup_steps
        else:
            warm = xp.full_like(n, self.warmup_begin_lr, dtype=float)
        return xp.where(n < self.warmup_steps, warm, self._decay(n, xp))

    def _decay(self, n: Any, xp: Any) -> Any:
        raise NotImplementedError

    def with_base_lr(self, base_lr: float) -> LRScheduler:
        """A copy of this scheduler that starts from ``base_lr``.

        Examples:
            >>> from dstraight.lr_scheduler import FactorScheduler
            >>> FactorScheduler(step=10, factor=0.5).with_base_lr(0.2).base_lr
            0.2
        """
        return dataclasses.replace(self, base_lr=base_lr)

    def _check_warmup(self) -> None:
        where = f"{type(self).__name__}: "
        real(self.base_lr, "base_lr", low=0.0, where=where)
        integer(self.warmup_steps, "warmup_steps", low=0, where=where)
        real(self.warmup_begin_lr, "warmup_begin_lr", low=0.0, where=where)
        if self.warmup_mode not in ("linear", "constant"):
            raise ValueError(
                f"{where}warmup_mode must be 'linear' or 'constant', got {self.warmup_mode!r}."
            )
        if self.warmup_steps and self.warmup_begin_lr > self.base_lr:
            raise ValueError(
                f"{where}warmup_begin_lr={self.warmup_begin_lr} is above base_lr="
                f"{self.base_lr}: a warmup rises towards base_lr. Lower warmup_begin_lr."
            )

    def _check_factor(self, factor: Any) -> None:
        real(factor, "factor", low=0.0, low_inclusive=False, where=f"{type(self).__name__}: ")
        if factor > 1.0:
            raise ValueError(
                f"{type(self).__name__}: factor must be <= 1.0 so that the rate decreases, got "
                f"{factor}."
            )


@dataclasses.dataclass(frozen=True)
class FactorScheduler(LRScheduler):
    """Multiplies the rate by ``factor`` every ``step`` updates, down to ``stop_factor_lr``.

    Updates ``1..step`` use ``base_lr``, updates ``step+1..2*step`` use ``base_lr * factor``, and
    so on (MXNet's rule: the rate changes once ``num_update > count + step``). After the first
    decay the rate never goes below ``stop_factor_lr``.

    Args:
        step: updates between two decays, >= 1.
        factor: the multiplier, in ``(0, 1]``.
        stop_factor_lr: the floor of the decayed rate.
        base_lr: the rate of the first ``step`` updates.
        warmup_steps, warmup_begin_lr, warmup_mode: see the module docstring.

    Examples:
        >>> sched = FactorScheduler(step=100, factor=0.1, base_lr=0.5)
        >>> sched(100), sched(101), round(sched(201), 6)
        (0.5, 0.05, 0.005)
    """

    step: int
    factor: float = 1.0
    stop_factor_lr: float = 1e-8
    base_lr: float = 0.01
    warmup_steps: int = 0
    warmup_begin_lr: float = 0.0
    warmup_mode: str = "linear"

    def __post_init__(self) -> None:
        integer(self.step, "step", low=1, where="FactorScheduler: ")
        self._check_factor(self.factor)
        real(self.stop_factor_lr, "stop_factor_lr", low=0.0, where="FactorScheduler: ")
        self._check_warmup()

    def _decay(self, n: Any, xp: Any) -> Any:
        decays = xp.maximum((n - 1) // self.step, 0)
        decayed = self.base_lr * xp.power(float(self.factor), decays)
        decayed = xp.maximum(decayed, self.stop_factor_lr)
        # MXNet applies the floor only when it decays: before the first decay it is base_lr
        return xp.where(decays == 0, self.base_lr, decayed)


@dataclasses.dataclass(frozen=True)
class MultiFactorScheduler(LRScheduler):
    """Multiplies the rate by ``factor`` once past each update count in ``step``.

    The rate of update ``n`` is ``base_lr * factor**k`` with ``k`` the number of entries of
    ``step`` below ``n``: with ``step=[10, 20]`` updates 1-10 use ``base_lr``, 11-20
    ``base_lr * factor`` and 21 on ``base_lr * factor**2``.

    Args:
        step: strictly increasing update counts, each >= 1.
        factor: the multiplier, in ``(0, 1]``.
        base_lr: the rate before the first step.
        warmup_steps, warmup_begin_lr, warmup_mode: see the module docstring.

    Examples:
        >>> sched = MultiFactorScheduler(step=[10, 20], factor=0.5, base_lr=1.0)
        >>> sched(10), sched(11), sched(21)
        (1.0, 0.5, 0.25)
    """

    step: Sequence[int]
    factor: float = 1.0
    base_lr: float = 0.01
    warmup_steps: int = 0
    warmup_begin_lr: float = 0.0
    warmup_mode: str = "linear"

    def __post_init__(self) -> None:
        where = "MultiFactorScheduler: "
        if isinstance(self.step, str | bytes) or not isinstance(self.step, Sequence | np.ndarray):
            raise TypeError(f"{where}step must be a list of update counts, got {self.step!r}.")
        steps = tuple(integer(s, "each step", low=1, where=where) for s in self.step)
        if not steps or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError(
                f"{where}step must be a non-empty, strictly increasing list, got {list(steps)}."
            )
        object.__setattr__(self, "step", steps)  # a tuple: the scheduler stays immutable
        self._check_factor(self.factor)
        self._check_warmup()

    def _decay(self, n: Any, xp: Any) -> Any:
        passed = xp.sum(xp.asarray(self.step) < xp.expand_dims(n, -1), axis=-1)
        return self.base_lr * xp.power(float(self.factor), passed)


def _check_horizon(scheduler: LRScheduler, max_update: Any, final_lr: Any) -> None:
    where = f"{type(scheduler).__name__}: "
    integer(max_update, "max_update", low=1, where=where)
    real(final_lr, "final_lr", low=0.0, where=where)
    scheduler._check_warmup()
    if scheduler.warmup_steps >= max_update:
        raise ValueError(
            f"{where}warmup_steps={scheduler.warmup_steps} must be below max_update="
            f"{max_update}: the decay happens between the two."
        )


def _remaining(scheduler: Any, n: Any, xp: Any) -> Any:
    """The fraction of the decay still ahead, 1 at the end of the warmup and 0 from max_update."""
    # from integers, so that 1 - done does not lose float32 digits near the end
    span = scheduler.max_update - scheduler.warmup_steps
    return (scheduler.max_update - xp.minimum(n, scheduler.max_update)) / span


@dataclasses.dataclass(frozen=True)
class PolyScheduler(LRScheduler):
    """Polynomial decay from ``base_lr`` to ``final_lr`` at update ``max_update``.

    ``final_lr + (base_lr - final_lr) * (1 - (n - warmup_steps) / (max_update - warmup_steps))
    ** pwr`` for ``n <= max_update``, then ``final_lr``.

    Examples:
        >>> sched = PolyScheduler(max_update=10, base_lr=1.0, pwr=2)
        >>> sched(0), sched(5), sched(10), sched(50)
        (1.0, 0.25, 0.0, 0.0)
    """

    max_update: int
    base_lr: float = 0.01
    pwr: float = 2.0
    final_lr: float = 0.0
    warmup_steps: int = 0
    warmup_begin_lr: float = 0.0
    warmup_mode: str = "linear"

    def __post_init__(self) -> None:
        real(self.pwr, "pwr", low=0.0, low_inclusive=False, where="PolyScheduler: ")
        _check_horizon(self, self.max_update, self.final_lr)

    def _decay(self, n: Any, xp: Any) -> Any:
        left = _remaining(self, n, xp)
        return self.final_lr + (self.base_lr - self.final_lr) * xp.power(left, self.pwr)


@dataclasses.dataclass(frozen=True)
class CosineScheduler(LRScheduler):
    """Half a cosine from ``base_lr`` down to ``final_lr`` at update ``max_update``.

    ``final_lr + (base_lr - final_lr) * (1 + cos(pi * (n - warmup_steps) / (max_update -
    warmup_steps))) / 2`` for ``n <= max_update``, then ``final_lr``.

    Examples:
        >>> sched = CosineScheduler(max_update=10, base_lr=1.0, final_lr=0.1)
        >>> sched(0), round(sched(5), 6), round(sched(10), 6), round(sched(99), 6)
        (1.0, 0.55, 0.1, 0.1)
    """

    max_update: int
    base_lr: float = 0.01
    final_lr: float = 0.0
    warmup_steps: int = 0
    warmup_begin_lr: float = 0.0
    warmup_mode: str = "linear"

    def __post_init__(self) -> None:
        _check_horizon(self, self.max_update, self.final_lr)

    def _decay(self, n: Any, xp: Any) -> Any:
        # (1 + cos(pi * done)) / 2 == sin(pi / 2 * left)**2, without float32's cancellation near 0
        wave = xp.sin(math.pi / 2 * _remaining(self, n, xp)) ** 2
        return self.final_lr + (self.base_lr - self.final_lr) * wave
