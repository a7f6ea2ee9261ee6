"""What a :class:`~dstraight.trainer.Trainer` accepts, checked with messages that say what to pass.

The parameters to train (``net.collect_params()``, a block, a list or dict of Parameters), the
gradients and batch size of ``trainer.step`` (a pytree shaped like ``net.params``; MXNet's
``step(batch_size)`` is told apart and explained), and the network and loss of the compiled paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from .parameter import Parameter
from .parameter_dict import ParameterDict, flatten_tree, path_str

__all__ = ["check_net_and_loss", "gradients_in_order", "trained_parameters"]


def trained_parameters(params: Any) -> tuple[list[Parameter], list[tuple[str, ...]]]:
    """The parameters a trainer was given, with their paths in the network's tree."""
    if hasattr(params, "collect_params"):
        params = params.collect_params()
    if isinstance(params, ParameterDict):
        return list(params.values()), [params.path(n) for n in params]
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, list | tuple):
        items = [(getattr(p, "name", None), p) for p in params]
    else:
        items = None
    if items is None or not all(isinstance(p, Parameter) for _, p in items):
        raise TypeError(
            "Trainer(params, ...) expects net.collect_params() (a ParameterDict), a block, or a "
            f"list or dict of Parameters, got {type(params).__name__}."
        )
    return [p for _, p in items], [(p.name,) for _, p in items]


def gradients_in_order(grads: Any, batch_size: Any, params: Sequence[Parameter],
                       paths: Sequence[tuple[str, ...]]) -> tuple[Any, ...]:
    """The gradients of ``params`` (at ``paths``) from what ``trainer.step`` was given, checked.

    Raises:
        TypeError: for MXNet's ``trainer.step(batch_size)``, which JAX has no stored gradients for.
        ValueError: if ``batch_size`` is not a positive finite number, or ``grads`` does not hold
            a gradient of each parameter's shape.
    """
    if batch_size is None and isinstance(grads, int | float | np.integer | np.floating):
        raise TypeError(
            f"trainer.step({grads!r}) is MXNet's form, which applies gradients that "
            f"loss.backward() stored in the parameters. JAX returns gradients instead: "
            f"grads = jax.grad(lambda p: loss_fn(net.apply(p, X), y).sum())(net.params), "
            f"then trainer.step(grads, batch_size)."
        )
    if isinstance(batch_size, bool) or not (
        isinstance(batch_size, int | float | np.integer | np.floating)
        and math.isfinite(batch_size) and batch_size > 0
    ):
        raise ValueError(
            f"batch_size must be a positive finite number (the number of examples the loss "
            f"was summed over), got {batch_size!r}."
        )
    flat = dict(flatten_tree(grads)) if isinstance(grads, Mapping) else None
    if flat is None:
        raise ValueError(f"grads must be a pytree of dicts like net.params, got "
                         f"{type(grads).__name__}.")
    values = []
    for p, path in zip(params, paths, strict=True):
        g = flat.get(path, flat.get((p.name,)))
        if g is None or jnp.shape(g) != p.shape:
            got = "nothing" if g is None else f"shape {jnp.shape(g)}"
            raise ValueError(
                f"grads must be a pytree shaped like net.params: for parameter '{p.name}' "
                f"(at {path_str(path)}, shape {p.shape}) it holds {got}; its entries are "
                f"{[path_str(k) for k in flat]}. Differentiate with respect to net.params, "
                f"e.g. jax.grad(f)(net.params)."
            )
        values.append(g)
    return tuple(values)


def check_net_and_loss(net: Any, loss_fn: Any) -> None:
    """A TypeError unless ``net`` is a block and ``loss_fn`` a function."""
    if not hasattr(net, "structure"):
        raise TypeError(f"net must be a dstraight block, got {type(net).__name__}.")
    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be a function (y_hat, y) -> per-example losses, got "
            f"{type(loss_fn).__name__}."
        )
