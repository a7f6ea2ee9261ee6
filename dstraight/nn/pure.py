"""The pure core of a block as functions: its forward pass, its shapes, fresh parameters.

``Block.apply``, ``param_shapes`` and ``init_params`` call these: each depends only on the
network's structure and the pytrees passed in, never on (or changing) the stored values, so
they can be ``jax.jit``-ed and ``jax.grad``-ed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import init as _init
from ..parameter_dict import Params, flatten_tree, nest
from .structure import run, trace_shapes, values_from_tree

__all__ = ["apply", "init_params", "param_shapes"]


def apply(block: Any, params: Params, inputs: tuple, key: Any, training: bool,
          state: Params | None, return_state: bool) -> Any:
    """``block.apply(params, *inputs, ...)``: the forward pass as a pure function."""
    structure = block.structure()
    values = values_from_tree(structure.param_paths, params, "params", block.name)
    if state is None:
        states = tuple(p.stored() for p in structure.states)
    else:
        states = values_from_tree(structure.state_paths, state, "state", block.name)
    if key is not None and not isinstance(key, jax.Array):
        key = _init.as_key(key)
    out, new_states = run(structure.key, values, states, inputs, key, training)
    if return_state:
        return out, nest(zip(structure.state_paths, new_states, strict=True))
    return out


def param_shapes(block: Any, in_shapes: Sequence[Sequence[int]]) -> tuple[Any, Params]:
    """``block.param_shapes(*in_shapes)``: output and parameter shapes, on abstract values."""
    out, shapes, _, _ = trace_shapes(block, [jax.ShapeDtypeStruct(tuple(s), jnp.float32)
                                              for s in in_shapes])
    out_shape = jax.tree.map(lambda a: tuple(a.shape), out)
    return out_shape, shapes


def init_params(block: Any, key: Any, in_shape: Sequence[int], init: Any) -> tuple[Any, Params]:
    """``block.init_params(key, in_shape, init)``: a fresh parameter pytree, nothing stored."""
    out_shape, shapes = block.param_shapes(in_shape)
    default = _init.create(init if init is not None else _init.Uniform())
    key = _init.as_key(key)
    flat = dict(flatten_tree(shapes))
    collected = block.collect_params()
    values = []
    for i, (name, param) in enumerate(collected.items()):
        path = collected.path(name)
        if param.kind != "param":
            continue
        chosen = param.init if param.init is not None else default
        value = chosen(jax.random.fold_in(key, i), flat[path], param.dtype)
        values.append((path, jnp.asarray(value, param.dtype)))
    return out_shape, nest(values)
