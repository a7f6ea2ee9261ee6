"""What a compiled program of a network depends on, and the one pure forward pass.

:class:`StructureKey` describes a network by its classes, settings, parameter shapes and sharing,
never by its names or values, and refers to it only weakly: equal keys mean the same computation,
so identical networks share compiled programs and no cache keeps a network alive. :func:`run` is
the pure function behind ``Block.apply``, ``hybridize()`` and every trainer: it binds values to
the parameters (a :class:`~dstraight.binding.Binding`) and runs the network's ``forward``.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import jax

from ..binding import Binding, bind
from ..parameter import Parameter
from ..parameter_dict import ParameterDict, Params, flatten_tree, nest, path_str

__all__ = ["Structure", "StructureKey", "block_signature", "config_value", "run", "run_compiled",
           "trace_shapes", "values_from_tree"]



_SIMPLE = (type(None), bool, int, float, complex, str, bytes, type)


def config_value(value: Any) -> Any:
    """A hashable stand-in for a block's setting; TypeError when it has none (an array)."""
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, list | tuple):
        return (type(value), tuple(config_value(v) for v in value))
    if isinstance(value, Mapping):
        return (type(value), tuple((k, config_value(v)) for k, v in value.items()))
    if isinstance(value, jax.Array) or hasattr(value, "__array__"):
        raise TypeError("arrays are compared by identity")
    hash(value)  # functions, initializers and other objects hash by identity
    return value


def block_signature(block: Any, params: dict[int, int], blocks: dict[int, int]) -> tuple:
    """The part of :class:`StructureKey` that describes ``block`` and its children.

    Parameters and blocks are numbered in visiting order (``params`` and ``blocks`` map ids to
    numbers), so which of them are shared is part of the key. The settings are the block's
    public attributes that are neither blocks nor parameters; a setting that cannot be compared
    (an array) makes the block's key unique to it, so it compiles on its own.
    """
    from .block import Block  # the module of Block imports this one

    if id(block) in blocks:
        return ("shared-block", blocks[id(block)])
    blocks[id(block)] = len(blocks)
    own = []
    for local, p in block.registered_params():
        index = params.setdefault(id(p), len(params))
        own.append((local, index, p.shape, str(p.dtype), p.kind))
    try:
        config = tuple(
            (k, config_value(v)) for k, v in sorted(vars(block).items())
            if not k.startswith("_") and not isinstance(v, Block | Parameter)
        )
    except TypeError:
        config = ("uid", block.uid)
    keyed = block.keys_in_signature
    children = tuple((k if keyed else i, block_signature(c, params, blocks))
                     for i, (k, c) in enumerate(block.named_children()))
    order = tuple(blocks.get(id(c), -1) for c in block.children_in_call_order())
    return (type(block), block.forward_style(), config, tuple(own), children, order)


class StructureKey:
    """What a compiled program of a network depends on: hashable, and no strong reference to it.

    Equal keys mean the same computation: same block classes and settings, same parameter
    shapes and dtypes, same sharing of parameters. The network itself is held by a weak
    reference, so caches keyed by it never keep a network alive.
    """

    __slots__ = ("signature", "_ref", "_hash", "__weakref__")

    def __init__(self, block: Any, signature: tuple):
        self.signature = signature
        self._ref = weakref.ref(block)
        self._hash = hash(signature)

    def block(self) -> Any:
        block = self._ref()
        if block is None:
            raise RuntimeError("The network of this compiled program no longer exists.")
        return block

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StructureKey) and self.signature == other.signature

    def __repr__(self) -> str:
        return f"StructureKey({type(self.block()).__name__}, hash={self._hash})"


class Structure:
    """A network's parameters in a fixed order and its :class:`StructureKey`.

    Attributes:
        params: the parameters of kind ``'param'`` (weights), in collection order.
        states: the parameters of kind ``'state'`` (running statistics), in collection order.
        key: the :class:`StructureKey` of the network.
    """

    def __init__(self, block: Any):
        entries = ParameterDict(block.entries(), prefix=block.name)
        self.collected = entries
        self.params = tuple(p for p in entries.values() if p.kind == "param")
        self.states = tuple(p for p in entries.values() if p.kind == "state")
        self.param_paths = tuple(entries.path(p.name) for p in self.params)
        self.state_paths = tuple(entries.path(p.name) for p in self.states)
        self.key = StructureKey(block, block_signature(block, {}, {}))


def values_from_tree(paths: tuple, tree: Any, what: str, owner: str) -> tuple:
    if not isinstance(tree, Mapping):
        raise TypeError(
            f"{owner}.apply: {what} must be a pytree of dicts like net.{what}, got "
            f"{type(tree).__name__}."
        )
    flat = dict(flatten_tree(tree))
    missing = [path_str(p) for p in paths if p not in flat]
    extra = [path_str(p) for p in flat if p not in set(paths)]
    if missing or extra:
        raise ValueError(
            f"{owner}.apply: {what} does not match the network's parameters: missing {missing}, "
            f"unexpected {extra}. Pass a pytree shaped like net.{what}."
        )
    return tuple(flat[p] for p in paths)


# -- the one pure function behind apply, hybridize and the trainers ---------------------------


def run(skey: StructureKey, values: tuple, states: tuple, inputs: tuple, key: Any,
        training: bool) -> tuple[Any, tuple]:
    """Runs the network of ``skey`` on ``values`` (its params in structure order); pure.

    Returns:
        ``(outputs, new_states)``: the outputs of ``forward`` and the state values after the
        pass (unchanged outside training).
    """
    block = skey.block()
    structure = block.structure()
    if structure.key != skey:
        raise RuntimeError(
            f"{block.name} changed while one of its compiled programs was in use; call it again."
        )
    ids = {id(p): v for p, v in zip(structure.params, values, strict=True)}
    ids.update({id(p): v for p, v in zip(structure.states, states, strict=True)})
    binding = Binding(ids, structure.params + structure.states, training, key, mode="apply")
    with bind(binding):
        out = block.run_forward(binding, tuple(inputs), root=True)
    new_states = tuple(binding.updates.get(id(p), v)
                       for p, v in zip(structure.states, states, strict=True))
    return out, new_states


run_compiled = jax.jit(run, static_argnums=(0, 5))


def trace_shapes(block: Any, inputs: Sequence[Any],
                 record: list | None = None) -> tuple[Any, Params, tuple, dict]:
    """Runs ``block`` abstractly: output structs, parameter and state shapes, shapes by id.

    Parameters without values get abstract ones of the shape the layers infer; nothing stored
    changes.
    """
    collected = block.collect_params()
    binding = Binding({}, tuple(collected.values()), False, None, mode="shapes")
    binding.record = record

    def forward(*xs):
        with bind(binding):
            return block.run_forward(binding, xs, root=True)

    out = jax.eval_shape(forward, *inputs)
    shapes = []
    for name, p in collected.items():
        shape = binding.shapes.get(id(p), p.shape)
        if None in shape:
            raise ValueError(
                f"The forward pass did not fix the shape {shape} of parameter '{name}'."
            )
        shapes.append((collected.path(name), tuple(shape), p.kind))
    params = nest((path, shape) for path, shape, kind in shapes if kind == "param")
    states = tuple(shape for _, shape, kind in shapes if kind == "state")
    by_id = {id(p): shape for p, (_, shape, _) in zip(collected.values(), shapes, strict=True)}
    return out, params, states, by_id


