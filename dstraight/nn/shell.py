"""The stateful shell of a block: a call ``net(x)`` on the values its parameters hold.

The inputs are placed where ``initialize(device=...)`` put the parameters; a hybridized network
whose values all exist runs its compiled program, any other call runs ``forward`` under a shell
binding (which infers deferred shapes and initializes what waited for them); state the pass
updated (BatchNorm's running statistics) is written back to the parameters.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import autograd
from ..binding import Binding, bind
from ..device import put
from .structure import Structure, run_compiled

__all__ = ["call_stored", "place_inputs"]


def call_stored(block: Any, inputs: tuple, hybridized: bool) -> Any:
    """``block(*inputs)`` outside a forward pass, on the stored values (compiled if hybridized).

    Random numbers of a training-mode call come from the block's own key stream.
    """
    if any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(inputs)):
        raise TypeError(
            f"{block.name}(x) was called on a traced value (inside jax.jit, jax.grad or "
            f"vmap). Calling the network object there would bake its current parameters "
            f"into the program as constants. Use the pure function instead, e.g. "
            f"jax.jit(lambda params, x: net.apply(params, x))(net.params, x), or "
            f"net.hybridize() and call net(x) outside jit."
        )
    structure = block.structure()
    inputs = place_inputs(structure, inputs)
    training = autograd.is_training()
    key = block.next_key() if training else None
    ready = all(p.has_value for p in structure.params + structure.states)
    if ready and hybridized:
        values = tuple(p.stored() for p in structure.params)
        states = tuple(p.stored() for p in structure.states)
        out, new_states = run_compiled(structure.key, values, states, inputs, key, training)
        for p, v in zip(structure.states, new_states, strict=True):
            p.set_data(v)
        return out
    if not ready:
        missing = [p.name for p in structure.collected.values() if not p.is_initialized]
        if missing:
            raise ValueError(
                f"Parameters {missing} of {block.name} have not been initialized. Call "
                f"net.initialize() (or net.collect_params().initialize()) before the first "
                f"forward pass."
            )
    binding = Binding({}, (), training, key, mode="shell")
    with bind(binding):
        out = block.run_forward(binding, inputs, root=True)
    by_id = {id(p): p for p in structure.collected.values()}
    for pid, value in binding.updates.items():
        if pid in by_id:
            by_id[pid].set_data(value)
    return out


def place_inputs(structure: Structure, inputs: tuple) -> tuple:
    """The inputs on the parameters' device, when ``initialize`` chose one."""
    # only a device chosen in initialize() moves the batch; None leaves JAX's default alone
    device = next((p._device for p in structure.params if p._device is not None), None)
    placed = []
    for x in inputs:
        if isinstance(x, jax.Array) and isinstance(device, jax.sharding.Sharding) and (
                x.sharding.device_set == device.device_set):
            pass  # already on the mesh (a batch split over its devices stays split)
        elif isinstance(x, jax.Array | int | float) or hasattr(x, "__array__"):
            x = jnp.asarray(x) if device is None else put(x, device)
        placed.append(x)
    return tuple(placed)
