"""MXNet 1.x's update rules as optax transformations (what :mod:`dstraight.optimizer` chains).

Two rules differ from optax's own and get a transformation here: SGD/NAG momentum with the
learning rate *inside* the buffer, and Adam with the bias correction on the learning rate (and
MXNet's decoupled AdamW decay). :func:`rule_factory` assembles the whole chain of one optimizer
(rescaling, weight decay, clipping in MXNet's order) as a function of the learning rate, for
``optax.inject_hyperparams``.

Per-parameter multipliers (gluon's ``Parameter.lr_mult`` and ``wd_mult``) enter as MXNet's
``Optimizer._get_lr`` / ``_get_wd`` put them: the learning rate of a parameter is
``lr * lr_mult`` wherever the rule uses ``lr`` (inside the momentum buffer for sgd and nag), its
weight decay ``wd * wd_mult`` (adamw's decoupled decay included). They are given per leaf, in
the order of ``jax.tree.leaves(params)``; ``None`` means 1.0 everywhere, and then the chain is
exactly the one without multipliers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["AdamState", "MomentumState", "adam", "decayed_weights", "momentum_sgd",
           "rule_factory", "scaled"]


def _per_leaf(fn: Callable, mults: tuple | None, tree: Any, *rest: Any) -> Any:
    """``fn(mult, leaf, *other_leaves)`` for every leaf of ``tree``, ``mult`` None if none."""
    leaves, treedef = jax.tree.flatten(tree)
    if mults is None:
        mults = (None,) * len(leaves)
    elif len(mults) != len(leaves):
        raise ValueError(
            f"{len(mults)} per-parameter multipliers were given for {len(leaves)} parameters; "
            "give one per parameter, in the order of jax.tree.leaves(params)."
        )
    others = [treedef.flatten_up_to(r) for r in rest]
    out = [fn(m, leaf, *(o[i] for o in others))
           for i, (m, leaf) in enumerate(zip(mults, leaves, strict=True))]
    return jax.tree.unflatten(treedef, out)


def decayed_weights(wd: float, wd_mults: tuple | None) -> optax.GradientTransformation:
    """``g + wd * wd_mult * w`` per leaf: ``optax.add_decayed_weights`` with one rate a leaf.

    Its state is ``optax.add_decayed_weights``'s, so an optimizer state carries over when the
    multipliers change.
    """
    if wd_mults is None:
        return optax.add_decayed_weights(wd)
    plain = optax.add_decayed_weights(wd)

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("Weight decay needs the parameters: update(g, state, params).")

        def one(m, g, w):
            rate = wd * m
            return g if rate == 0.0 else g + rate * w

        return _per_leaf(one, wd_mults, updates, params), state

    return optax.GradientTransformation(plain.init, update)


def scaled(step: Any, lr_mults: tuple | None) -> optax.GradientTransformation:
    """``step * lr_mult * g`` per leaf (``optax.scale(step)`` when there are no multipliers)."""
    if lr_mults is None:
        return optax.scale(step)

    def update(updates, state, params=None):
        del params
        return _per_leaf(lambda m, g: (step * m) * g, lr_mults, updates), state

    return optax.GradientTransformation(optax.scale(step).init, update)


class MomentumState(NamedTuple):
    """The momentum buffer of sgd, nag and centered rmsprop (MXNet's ``mom`` / ``delta``)."""

    mom: Any


def momentum_sgd(
    learning_rate: Any, momentum: float, nesterov: bool, lr_mults: tuple | None = None
) -> optax.GradientTransformation:
    """``-lr * g`` accumulated MXNet's way, with the learning rate inside the buffer.

    With ``lr_mults`` each leaf's rate is ``lr * lr_mult``, inside the buffer too (MXNet's
    ``sgd_mom_update`` with the rate of ``_get_lr``).
    """

    def init(params):
        if not momentum:  # no buffer at all, not a buffer multiplied by zero
            return optax.EmptyState()
        return MomentumState(jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        if lr_mults is None:
            step = jax.tree.map(lambda g: -learning_rate * g, updates)
        else:
            step = _per_leaf(lambda m, g: -(learning_rate * m) * g, lr_mults, updates)
        if not momentum:
            return step, state
        mom = jax.tree.map(lambda m, s: momentum * m + s, state.mom, step)
        if nesterov:  # MXNet's NAG: w += momentum * mom - lr * g, with the new mom
            return jax.tree.map(lambda m, s: momentum * m + s, mom, step), MomentumState(mom)
        return mom, MomentumState(mom)

    return optax.GradientTransformation(init, update)


class AdamState(NamedTuple):
    """Adam's update count and moments (MXNet's ``mean`` and ``var``)."""

    count: jax.Array
    mean: Any
    var: Any


def adam(b1: float, b2: float, eps: float, decoupled_wd: float,
         wd_mults: tuple | None = None) -> optax.GradientTransformation:
    """``sqrt(1 - b2**t) / (1 - b1**t) * (m / (sqrt(v) + eps) + decoupled_wd * wd_mult * w)``."""

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return AdamState(jnp.zeros([], jnp.int32), zeros, zeros)

    def update(updates, state, params=None):
        count = state.count + 1
        mean = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mean, updates)
        var = jax.tree.map(lambda v, g: b2 * v + (1 - b2) * g * g, state.var, updates)
        t = count.astype(jnp.float32)
        # MXNet corrects the learning rate, so epsilon is added to the uncorrected sqrt(v)
        correction = jnp.sqrt(1 - b2**t) / (1 - b1**t)
        step = jax.tree.map(lambda m, v: m / (jnp.sqrt(v) + eps), mean, var)
        if decoupled_wd:
            if params is None:
                raise ValueError("adamw's weight decay needs the parameters: update(g, s, params).")
            if wd_mults is None:
                step = jax.tree.map(lambda d, w: d + decoupled_wd * w, step, params)
            else:
                step = _per_leaf(lambda m, d, w: d if m == 0.0 else d + (decoupled_wd * m) * w,
                                 wd_mults, step, params)
        step = jax.tree.map(lambda d: correction.astype(d.dtype) * d, step)
        return step, AdamState(count, mean, var)

    return optax.GradientTransformation(init, update)


def rule_factory(name: str, hp: Mapping[str, Any], lr_mults: tuple | None = None,
                 wd_mults: tuple | None = None) -> Callable[[Any], optax.GradientTransformation]:
    """``learning_rate -> GradientTransformation`` for ``optax.inject_hyperparams``.

    ``lr_mults`` and ``wd_mults`` are the per-leaf multipliers (``None``: 1.0 for every leaf).
    The state does not depend on them.
    """
    wd, clip = hp["wd"], hp["clip_gradient"]
    wd_before_clip = name in ("adam", "rmsprop")

    def factory(learning_rate):
        parts = []
        if hp["rescale_grad"] != 1.0:
            parts.append(optax.scale(hp["rescale_grad"]))
        if wd and wd_before_clip:
            parts.append(decayed_weights(wd, wd_mults))
        if clip is not None:
            parts.append(optax.clip(clip))  # elementwise, like MXNet's clip_gradient
        descend = scaled(-learning_rate, lr_mults)
        if name in ("sgd", "nag"):
            if wd:
                parts.append(decayed_weights(wd, wd_mults))
            parts.append(momentum_sgd(learning_rate, hp["momentum"], nesterov=name == "nag",
                                      lr_mults=lr_mults))
        elif name in ("adam", "adamw"):
            decoupled = wd if name == "adamw" else 0.0
            parts += [adam(hp["beta1"], hp["beta2"], hp["epsilon"], decoupled, wd_mults), descend]
        elif name == "adagrad":
            parts.append(optax.scale_by_rss(initial_accumulator_value=0.0, eps=hp["eps"]))
            if wd:  # MXNet: w -= lr * (g / sqrt(history + eps) + wd * w)
                parts.append(decayed_weights(wd, wd_mults))
            parts.append(descend)
        elif name == "adadelta":
            parts.append(optax.scale_by_adadelta(rho=hp["rho"], eps=hp["epsilon"]))
            if wd:
                parts.append(decayed_weights(wd, wd_mults))
            parts.append(descend)
        elif hp["centered"]:  # Graves' RMSProp: the step goes through a momentum buffer
            parts.append(optax.scale_by_stddev(decay=hp["gamma1"], eps=hp["epsilon"]))
            parts.append(momentum_sgd(learning_rate, hp["gamma2"], nesterov=False,
                                      lr_mults=lr_mults))
        else:  # Tieleman & Hinton's RMSProp
            parts.append(optax.scale_by_rms(decay=hp["gamma1"], eps=hp["epsilon"]))
            parts.append(descend)
        return optax.chain(*parts)

    return factory
