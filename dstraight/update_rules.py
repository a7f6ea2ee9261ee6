"""MXNet 1.x's update rules as optax transformations (what :mod:`dstraight.optimizer` chains).

Two rules differ from optax's own and get a transformation here: SGD/NAG momentum with the
learning rate *inside* the buffer, and Adam with the bias correction on the learning rate (and
MXNet's decoupled AdamW decay). :func:`rule_factory` assembles the whole chain of one optimizer
(rescaling, weight decay, clipping in MXNet's order) as a function of the learning rate, for
``optax.inject_hyperparams``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["AdamState", "MomentumState", "adam", "momentum_sgd", "rule_factory"]


class MomentumState(NamedTuple):
    """The momentum buffer of sgd, nag and centered rmsprop (MXNet's ``mom`` / ``delta``)."""

    mom: Any


def momentum_sgd(
    learning_rate: Any, momentum: float, nesterov: bool
) -> optax.GradientTransformation:
    """``-lr * g`` accumulated MXNet's way, with the learning rate inside the buffer."""

    def init(params):
        if not momentum:  # no buffer at all, not a buffer multiplied by zero
            return optax.EmptyState()
        return MomentumState(jax.tree.map(jnp.zeros_like, params))

    def update(updates, state, params=None):
        del params
        step = jax.tree.map(lambda g: -learning_rate * g, updates)
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


def adam(b1: float, b2: float, eps: float, decoupled_wd: float) -> optax.GradientTransformation:
    """``sqrt(1 - b2**t) / (1 - b1**t) * (m / (sqrt(v) + eps) + decoupled_wd * w)``."""

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
            step = jax.tree.map(lambda d, w: d + decoupled_wd * w, step, params)
        step = jax.tree.map(lambda d: correction.astype(d.dtype) * d, step)
        return step, AdamState(count, mean, var)

    return optax.GradientTransformation(init, update)


def rule_factory(name: str, hp: Mapping[str, Any]) -> Callable[[Any], optax.GradientTransformation]:
    """``learning_rate -> GradientTransformation`` for ``optax.inject_hyperparams``."""
    wd, clip = hp["wd"], hp["clip_gradient"]
    wd_before_clip = name in ("adam", "rmsprop")

    def factory(learning_rate):
        parts = []
        if hp["rescale_grad"] != 1.0:
            parts.append(optax.scale(hp["rescale_grad"]))
        if wd and wd_before_clip:
            parts.append(optax.add_decayed_weights(wd))
        if clip is not None:
            parts.append(optax.clip(clip))  # elementwise, like MXNet's clip_gradient
        descend = optax.scale(-learning_rate)
        if name in ("sgd", "nag"):
            if wd:
                parts.append(optax.add_decayed_weights(wd))
            parts.append(momentum_sgd(learning_rate, hp["momentum"], nesterov=name == "nag"))
        elif name in ("adam", "adamw"):
            decoupled = wd if name == "adamw" else 0.0
            parts += [adam(hp["beta1"], hp["beta2"], hp["epsilon"], decoupled), descend]
        elif name == "adagrad":
            parts.append(optax.scale_by_rss(initial_accumulator_value=0.0, eps=hp["eps"]))
            if wd:  # MXNet: w -= lr * (g / sqrt(history + eps) + wd * w)
                parts.append(optax.add_decayed_weights(wd))
            parts.append(descend)
        elif name == "adadelta":
            parts.append(optax.scale_by_adadelta(rho=hp["rho"], eps=hp["epsilon"]))
            if wd:
                parts.append(optax.add_decayed_weights(wd))
            parts.append(descend)
        elif hp["centered"]:  # Graves' RMSProp: the step goes through a momentum buffer
            parts.append(optax.scale_by_stddev(decay=hp["gamma1"], eps=hp["epsilon"]))
            parts.append(momentum_sgd(learning_rate, hp["gamma2"], nesterov=False))
        else:  # Tieleman & Hinton's RMSProp
            parts.append(optax.scale_by_rms(decay=hp["gamma1"], eps=hp["epsilon"]))
            parts.append(descend)
        return optax.chain(*parts)

    return factory
