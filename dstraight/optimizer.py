"""Optimizers by gluon's names, as optax transformations that follow MXNet's update rules.

``create('sgd', {'learning_rate': 0.1, 'momentum': 0.9})`` returns an :class:`Optimizer`: the
optax ``GradientTransformation`` in ``.tx``, plus what a trainer needs to read and change the
learning rate and to save the state. The rules are MXNet 1.x's, which differ from optax's
defaults in ways a reader can see in a training curve:

* SGD and NAG (and centered RMSProp) keep the learning rate *inside* the momentum buffer:
  ``mom = momentum * mom - lr * g``, ``w += mom``. A new learning rate scales only the new
  contributions; ``optax.sgd`` multiplies the whole buffer by the current rate. (NAG is the
  ``nag_mom_update`` kernel of MXNet 1.4 on; for a constant rate it equals optax's Nesterov.)
* ``rescale_grad`` multiplies the gradient first, ``clip_gradient`` then clips it elementwise.
  Weight decay ``wd * w`` is added after the clip in sgd, nag, adagrad and adadelta, before it in
  adam and rmsprop, and is decoupled from the moments in adamw.
* Adam's bias correction multiplies the learning rate, with ``epsilon`` added to ``sqrt(v)``;
  AdaGrad's and RMSProp's ``epsilon`` sits inside the square root.
* AdaDelta has no learning rate in MXNet 1.x; here ``learning_rate`` (default 1.0, which is
  MXNet's rule) scales its step. AdamW is MXNet's: ``w -= lr_t * (m / (sqrt(v) + eps) + wd * w)``
  with the bias-corrected ``lr_t``.

The learning rate is injected with ``optax.inject_hyperparams``: it is
``state.hyperparams['learning_rate']``, read by a compiled step as data, so
:meth:`Optimizer.set_learning_rate` changes it without recompiling. A ``lr_scheduler`` (a gluon
scheduler from :mod:`dstraight.lr_scheduler` or any optax schedule) recomputes it every update.

Examples:
    >>> import jax.numpy as jnp
    >>> from dstraight import optimizer
    >>> opt = optimizer.create("sgd", {"learning_rate": 0.1, "momentum": 0.9})
    >>> params = {"w": jnp.array([1.0])}
    >>> state = opt.init(params)
    >>> updates, state = opt.tx.update({"w": jnp.array([2.0])}, state, params)
    >>> round(float(updates["w"][0]), 6)  # mom = 0.9 * 0 - 0.1 * 2
    -0.2
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dstraight._checks import real
from dstraight.checkpoint import tree_from_arrays
from dstraight.checkpoint import tree_to_arrays as state_to_arrays
from dstraight.lr_scheduler import LRScheduler
from dstraight.update_rules import rule_factory

__all__ = ["Optimizer", "create", "state_from_arrays", "state_to_arrays"]

# Each optimizer's own hyperparameters, with MXNet's names and defaults.
_OWN: dict[str, dict[str, Any]] = {
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
    # MXNet 1.x's AdaDelta has no learning rate; 1.0 reproduces it and keeps the rate injectable
    "adadelta": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-5},
    # MXNet's AdamW (decoupled decay, scaled by the bias-corrected rate)
    "adamw": {"learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-6},
}
_COMMON = {"wd": 0.0, "clip_gradient": None, "rescale_grad": 1.0, "lr_scheduler": None}
_DEFAULTS = {name: {**own, **_COMMON} for name, own in _OWN.items()}
_UNIT = ("momentum", "beta1", "beta2", "gamma1", "gamma2", "rho")  # decay rates: [0, 1)
_POSITIVE = ("epsilon", "eps", "rescale_grad")


def _as_dict(optimizer_params: Any) -> dict[str, Any]:
    if optimizer_params is None:
        return {}
    try:
        return dict(optimizer_params)  # MXNet style: (('learning_rate', 0.1), ('momentum', 0.9))
    except (TypeError, ValueError):
        raise TypeError(
            "optimizer_params must be a dict or a sequence of (name, value) pairs, e.g. "
            f"{{'learning_rate': 0.1}}, got {optimizer_params!r}."
        ) from None


def _checked(name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The full hyperparameters of optimizer ``name``: defaults, overridden and checked."""
    unknown = sorted(set(given) - set(_DEFAULTS[name]), key=str)
    if unknown:
        raise ValueError(
            f"Unknown optimizer_params {unknown} for {name!r}. Valid parameters: "
            f"{', '.join(_DEFAULTS[name])}."
        )
    hp = {**_DEFAULTS[name], **given}
    where = f"Optimizer {name!r}: parameter "
    for key, value in hp.items():
        if key in ("learning_rate", "wd"):
            hp[key] = real(value, key, low=0.0, where=where)
        elif key in _UNIT:
            hp[key] = real(value, key, low=0.0, high=1.0, where=where)
        elif key in _POSITIVE:
            hp[key] = real(value, key, low=0.0, low_inclusive=False, where=where)
        elif key == "clip_gradient" and value is not None:
            try:
                hp[key] = real(value, key, low=0.0, low_inclusive=False, where=where)
            except ValueError as error:
                raise ValueError(f"{error} Use clip_gradient=None to turn clipping off.") from None
        elif key == "centered" and not isinstance(value, bool | np.bool_):
            raise TypeError(f"{where}centered must be True or False, got {value!r}.")
        elif key == "lr_scheduler" and value is not None and not callable(value):
            raise TypeError(
                f"{where}lr_scheduler must be a scheduler such as lr_scheduler.FactorScheduler("
                f"step=100, factor=0.5) or an optax schedule, got {type(value).__name__}."
            )
    if isinstance(hp["lr_scheduler"], LRScheduler) and "learning_rate" in given:
        hp["lr_scheduler"] = hp["lr_scheduler"].with_base_lr(hp["learning_rate"])  # as MXNet
    elif hp["lr_scheduler"] is not None and "learning_rate" in given:
        raise ValueError(
            f"{where}learning_rate={given['learning_rate']} cannot be combined with an optax "
            "schedule, which holds its own rates: scale the schedule instead, e.g. "
            "optax.exponential_decay(init_value=0.1, ...)."
        )
    return hp


# -- the Optimizer --------------------------------------------------------------------------------


def _as_float(value: Any) -> float:
    """A stored rate as the shortest decimal its dtype holds: float32 0.1 reads 0.1."""
    value = np.asarray(value)
    if value.dtype in (np.float16, np.float32, np.float64):
        return float(np.format_float_positional(value[()], unique=True, trim="0"))
    return float(value)


@dataclasses.dataclass(frozen=True, eq=False)
class Optimizer:
    """An optax transformation with its learning rate made readable and settable.

    Attributes:
        tx: the optax ``GradientTransformation``; its state is what ``init`` returns.
        name: the gluon name (``'sgd'``...), or ``None`` for a transformation given as is.
        learning_rate: the base rate: the constant rate, a gluon scheduler's ``base_lr``, an
            optax schedule's value at count 0; ``None`` if ``tx`` has no injected rate.
        scheduler: the ``lr_scheduler`` in use (with ``base_lr`` replaced by the
            ``learning_rate`` given with it), or ``None``.
        hyperparams: all hyperparameters with MXNet's names, defaults filled in (read-only).
    """

    tx: optax.GradientTransformation
    name: str | None = None
    learning_rate: float | None = None
    scheduler: Callable[[Any], Any] | None = None
    hyperparams: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    _rate: Any = dataclasses.field(default=None, repr=False)

    def with_multipliers(self, lr_mults: tuple[float, ...],
                         wd_mults: tuple[float, ...]) -> optax.GradientTransformation:
        """The transformation with per-parameter multipliers (gluon's ``lr_mult``, ``wd_mult``).

        ``lr_mults[i]`` and ``wd_mults[i]`` belong to the ``i``-th leaf of the parameters, in
        the order of ``jax.tree.leaves``. As in MXNet's ``Optimizer._get_lr`` and ``_get_wd``,
        leaf ``i`` is updated with the learning rate ``lr * lr_mults[i]`` (inside the momentum
        buffer for sgd and nag) and the weight decay ``wd * wd_mults[i]`` (adamw's decoupled
        decay included). With every multiplier 1.0 this is ``self.tx`` itself. The state has the
        same structure whatever the multipliers, so it carries over when they change.

        For a transformation given as is (optax's own), ``lr_mult`` scales that parameter's
        updates; ``wd_mult`` other than 1.0 raises ``ValueError`` (optax holds its own decay:
        use ``optax.add_decayed_weights(wd, mask=...)``).
        """
        lr_mults = tuple(float(m) for m in lr_mults)
        wd_mults = tuple(float(m) for m in wd_mults)
        lr_given = None if all(m == 1.0 for m in lr_mults) else lr_mults
        wd_given = None if all(m == 1.0 for m in wd_mults) else wd_mults
        if self.name is None:
            if wd_given is not None:
                raise ValueError(
                    "wd_mult other than 1.0 needs a named optimizer such as 'sgd' or 'adam' "
                    "(their wd is known); an optax transformation holds its own weight decay: "
                    "use optax.add_decayed_weights(wd, mask=...) instead."
                )
            if lr_given is None:
                return self.tx
            return _scaled_updates(self.tx, lr_given)
        if self.hyperparams["wd"] == 0.0:
            wd_given = None  # no decay to scale
        if lr_given is None and wd_given is None:
            return self.tx
        factory = rule_factory(self.name, self.hyperparams, lr_given, wd_given)
        return optax.inject_hyperparams(factory)(learning_rate=self._rate)

    def init(self, params: Any) -> Any:
        """The initial optimizer state for ``params`` (``self.tx.init(params)``)."""
        return self.tx.init(params)

    def get_learning_rate(self, state: Any) -> float:
        """The learning rate in ``state``.

        With a gluon scheduler this is MXNet's ``trainer.learning_rate``: the scheduler at the
        number of updates made so far, ``sched(k)`` after ``k`` updates (the rate of the last
        one; update ``k`` used ``sched(k)``). With an optax schedule it is ``schedule(k)``, the
        rate of the next update in optax's count. With a constant rate it is that rate; for a
        transformation given as is, the value its state holds.

        Raises:
            ValueError: if ``state`` holds no injected learning rate.

        Examples:
            >>> from dstraight import optimizer
            >>> from dstraight.lr_scheduler import FactorScheduler
            >>> sched = FactorScheduler(step=1, factor=0.5, base_lr=1.0)
            >>> opt = optimizer.create("sgd", {"lr_scheduler": sched})
            >>> state = opt.init({})
            >>> for _ in range(3):
            ...     _, state = opt.tx.update({}, state, {})
            >>> opt.get_learning_rate(state)  # updates 1, 2, 3 used 1.0, 0.5, 0.25
            0.25
        """
        hyperparams = self._hyperparams(state)
        if self.scheduler is not None:
            return _as_float(self.scheduler(int(state.count)))
        return _as_float(hyperparams["learning_rate"])

    def set_learning_rate(self, state: Any, lr: float) -> Any:
        """A copy of ``state`` whose following updates use ``lr``; ``state`` is left as it was.

        The new value is an array of the old one's dtype and shape, so a compiled step that
        takes the state as an argument runs again without recompiling. With SGD momentum the
        buffer keeps what earlier rates put into it (MXNet's rule).

        Raises:
            ValueError: if ``lr`` is negative or not finite, if the rate follows a schedule
                (MXNet raises there too: build the optimizer with the scheduler you want), or
                if the state holds no injected learning rate.

        Examples:
            >>> from dstraight import optimizer
            >>> opt = optimizer.create("adam")
            >>> state = opt.set_learning_rate(opt.init({}), 0.01)
            >>> opt.get_learning_rate(state)  # the float32 in the state, read back as 0.01
            0.01
        """
        lr = real(lr, "learning_rate", low=0.0)
        hyperparams = self._hyperparams(state)
        injected_schedule = "learning_rate" in getattr(state, "hyperparams_states", {})
        if self.scheduler is not None or injected_schedule:
            follows = f"lr_scheduler={self.scheduler!r}" if self.scheduler else "a schedule"
            raise ValueError(
                f"The learning rate follows {follows} and would be overwritten at the next "
                "update (MXNet refuses too). Create the optimizer with the schedule you want "
                "instead, e.g. create('sgd', {'learning_rate': 0.05, 'lr_scheduler': sched})."
            )
        old = jnp.asarray(hyperparams["learning_rate"])
        new = jnp.asarray(lr, dtype=old.dtype).reshape(old.shape)
        return state._replace(hyperparams={**hyperparams, "learning_rate": new})

    def _hyperparams(self, state: Any) -> Mapping[str, Any]:
        hyperparams = getattr(state, "hyperparams", None)
        if not (isinstance(hyperparams, Mapping) and "learning_rate" in hyperparams):
            raise ValueError(
                "This optimizer state holds no learning rate. Build the transformation with "
                "optax.inject_hyperparams, e.g. optax.inject_hyperparams(optax.sgd)"
                f"(learning_rate=0.1), and pass its own state (got {type(state).__name__})."
            )
        return hyperparams


def _scaled_updates(tx: Any, mults: tuple[float, ...]) -> optax.GradientTransformation:
    """``tx`` with each leaf's update multiplied by its multiplier; the state is ``tx``'s."""

    def update(updates, state, params=None):
        updates, state = tx.update(updates, state, params)
        leaves, treedef = jax.tree.flatten(updates)
        if len(leaves) != len(mults):
            raise ValueError(f"{len(mults)} lr_mult values for {len(leaves)} parameters.")
        scaled = [m * u for m, u in zip(mults, leaves, strict=True)]
        return jax.tree.unflatten(treedef, scaled), state

    return optax.GradientTransformation(tx.init, update)


def _foreign(tx: Any) -> Optimizer:
    """An Optimizer around a transformation built elsewhere: its rate is read from its state."""
    try:  # injected hyperparameters do not depend on the parameters' shapes
        probe = tx.init({})
    except Exception:  # a transformation that needs real parameters to initialise
        probe = None
    hyperparams = getattr(probe, "hyperparams", None)
    lr = None
    if isinstance(hyperparams, Mapping) and "learning_rate" in hyperparams:
        lr = _as_float(hyperparams["learning_rate"])
    return Optimizer(tx=tx, learning_rate=lr)


def create(
    optimizer: str | optax.GradientTransformation | Optimizer,
    optimizer_params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
) -> Optimizer:
    """The optimizer called ``optimizer`` in gluon, with ``optimizer_params`` in MXNet's names.

    Args:
        optimizer: ``'sgd'``, ``'nag'``, ``'adam'``, ``'adagrad'``, ``'rmsprop'``,
            ``'adadelta'`` or ``'adamw'`` (any case); or an optax transformation (or an
            :class:`Optimizer`), used as is.
        optimizer_params: a dict or (name, value) pairs. All optimizers take ``learning_rate``,
            ``wd``, ``clip_gradient``, ``rescale_grad`` and ``lr_scheduler``; sgd and nag
            ``momentum``; adam and adamw ``beta1``, ``beta2``, ``epsilon``; adagrad ``eps``;
            rmsprop ``gamma1``, ``gamma2``, ``epsilon``, ``centered``; adadelta ``rho``,
            ``epsilon``. Missing ones take MXNet's defaults. ``lr_scheduler`` is a
            :mod:`dstraight.lr_scheduler` scheduler (update ``k``, counted from 1, uses
            ``sched(k)`` as in MXNet; given with it, ``learning_rate`` replaces its ``base_lr``)
            or an optax schedule (update ``k`` uses ``schedule(k - 1)``, optax's count).

    Returns:
        An :class:`Optimizer`; its ``tx`` has the learning rate injected.

    Raises:
        ValueError: for an unknown name or parameter, a value outside its range (rates and
            ``wd`` >= 0, decay rates in [0, 1), ``epsilon`` and ``clip_gradient`` > 0), NaN or
            infinity, or parameters given with a transformation.
        TypeError: for a value that is not a number (a bool included) or a bad ``optimizer``.

    Examples:
        >>> from dstraight import optimizer
        >>> opt = optimizer.create("Adam", (("learning_rate", 0.01),))
        >>> opt.name, opt.learning_rate, opt.hyperparams["beta2"]
        ('adam', 0.01, 0.999)
    """
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name not in _DEFAULTS:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}. Valid names: {', '.join(_DEFAULTS)}; or pass "
                "an optax GradientTransformation, e.g. optax.lion(1e-4)."
            )
        hp = _checked(name, _as_dict(optimizer_params))
        schedule = hp["lr_scheduler"]
        if schedule is None:
            rate, base = hp["learning_rate"], hp["learning_rate"]
        elif isinstance(schedule, LRScheduler):
            # MXNet asks the scheduler after counting the update: update k uses sched(k)
            rate, base = (lambda count: schedule(count + 1)), schedule.base_lr
        else:
            rate, base = schedule, _as_float(schedule(0))
        tx = optax.inject_hyperparams(rule_factory(name, hp))(learning_rate=rate)
        return Optimizer(tx, name, base, schedule, types.MappingProxyType(hp), rate)
    if _as_dict(optimizer_params):
        raise ValueError(
            "optimizer_params only apply to optimizer names such as 'sgd'; an optax "
            f"transformation already holds its hyperparameters (got {optimizer_params!r})."
        )
    if isinstance(optimizer, Optimizer):
        return optimizer
    if callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None)):
        return _foreign(optimizer)
    raise TypeError(
        f"optimizer must be a name ({', '.join(_DEFAULTS)}) or an optax GradientTransformation, "
        f"got {type(optimizer).__name__}."
    )


def state_from_arrays(template_state: Any, arrays: Mapping[str, Any]) -> Any:
    """An optimizer state shaped like ``template_state`` with the values of ``arrays``.

    The inverse of :func:`state_to_arrays` (:func:`dstraight.checkpoint.tree_from_arrays` with
    an error message about optimizers); ``template_state`` is not modified.

    Raises:
        ValueError: naming every missing, unexpected or mismatched (shape or dtype) entry.
    """
    return tree_from_arrays(
        template_state, arrays, fits="this optimizer and these parameters",
        hint="Load it into the optimizer (name and hyperparameters) and network it was saved from.",
    )
