"""The block machinery: gluon's ``Block`` as a thin shell over one pure function.

A block declares parameters (``self.params.get(...)`` or attribute assignment of a
:class:`~dstraight.parameter.Parameter`) and children (attribute assignment of blocks) in
``__init__`` and computes in ``forward(self, *inputs)``, reading its weights with
``self.weight.data()`` and calling its children, exactly as in gluon. Everything else follows:

- ``net.apply(params, x, *, key=None, training=False)`` is the pure function behind it: it binds
  the values in ``params`` to the parameters and runs ``forward``, so it can be ``jax.jit``-ed,
  ``jax.grad``-ed and ``vmap``-ed for any block, custom ones included;
- ``net(x)`` runs the same code on the stored values; the first call infers deferred shapes;
- ``net.hybridize()`` compiles ``net(x)`` with ``jax.jit``. Compiled programs are cached by the
  network's *structure* (classes, settings, shapes; never names or values) and hold no reference
  to the network: five identical networks share one compilation, and changing a network (``add``,
  a new attribute) gives it a new program.

Training mode (dropout on, batch statistics in BatchNorm) is an explicit argument of ``apply``;
a call ``net(x)`` takes it from :func:`dstraight.autograd.record` / ``train_mode``. Random numbers
come from ``key``: in ``net(x)`` from the key given to ``initialize``, split at every call.

The class is here; the functions its methods hand the work to are next door: the call
``net(x)`` in :mod:`dstraight.nn.shell`, ``apply`` and the shapes in :mod:`dstraight.nn.pure`,
the compiled program and its cache key in :mod:`dstraight.nn.structure`, names in
:mod:`dstraight.nn.naming`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import init as _init
from ..binding import Binding, current_binding, structure_changed, structure_epoch
from ..parameter import Parameter
from ..parameter_dict import ParameterDict, Params, match, nest
from . import pure as _pure
from .declare import Declarer, shared_parameter
from .functional import F
from .naming import NameScope, new_name
from .shell import call_stored

# run and run_compiled, the one pure forward pass, are also reached from here (the tests).
from .structure import Structure, config_value, run, run_compiled  # noqa: F401

__all__ = ["Block", "HybridBlock"]

_uids = itertools.count()

class _BlockMeta(type):
    """Marks the end of a block's ``__init__``: from then on ``self.params`` means values."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        block = super().__call__(*args, **kwargs)
        object.__setattr__(block, "_constructing", False)
        return block


class Block(metaclass=_BlockMeta):
    """Base class of all layers and networks (gluon's ``Block``).

    Subclass it, declare children and parameters in ``__init__`` and write ``forward``::

        class MLP(nn.Block):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                with self.name_scope():
                    self.hidden = nn.Dense(256, activation="relu")
                    self.output = nn.Dense(10)

            def forward(self, x):
                return self.output(self.hidden(x))

    ``hybrid_forward(self, F, x, **params)`` is accepted too, for code written for MXNet: ``F``
    is a namespace of array functions (``jax.numpy`` and ``jax.nn``) and the block's own
    parameters arrive as keyword arguments.

    Args:
        prefix: gluon's name prefix (``'mlp0_'``); by default the lower-cased class name and a
            counter, inside the parent's ``name_scope()`` if one is open.
        params: a ``ParameterDict`` whose parameters this block shares (by local name).
        name: the full name, bypassing prefixes.
    """

    #: Whether the children's keys are part of the compiled program's cache key: they are names a
    #: custom forward refers to (self.hidden), but for Sequential they are automatic layer names.
    keys_in_signature = True

    def __new__(cls, *args: Any, **kwargs: Any) -> Block:
        block = super().__new__(cls)
        object.__setattr__(block, "_constructing", True)
        return block

    def __init__(self, prefix: str | None = None, params: Any = None, name: str | None = None):
        set_ = object.__setattr__
        full, local = new_name(self._default_prefix(), prefix, name)
        set_(self, "_name", full)
        set_(self, "_local_name", local)
        set_(self, "_reg_params", {})
        set_(self, "_children", {})
        set_(self, "_order", [])  # children in call order; the same block may appear twice
        set_(self, "_child_counters", {})
        set_(self, "_shared", params)
        set_(self, "_hybridized", False)
        set_(self, "_uid", next(_uids))
        set_(self, "_rng", None)
        set_(self, "_structure", None)
        structure_changed()

    def _default_prefix(self) -> str:
        return type(self).__name__.lower()

    # -- names --------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The full name (``'mlp0_dense0'``); parameter names are ``f'{name}_{local}'``."""
        return self._name

    @property
    def local_name(self) -> str:
        """The name within the parent's scope (``'dense0'`` for ``'mlp0_dense0'``)."""
        return self._local_name

    def named_children(self) -> Iterator[tuple[str, Block]]:
        """``(key, child)`` pairs: the keys of the children in ``net.params``."""
        return iter(list(self._children.items()))

    @property
    def prefix(self) -> str:
        """gluon's prefix: the name and an underscore."""
        return f"{self._name}_"

    def name_scope(self) -> Any:
        """A context in which new blocks are named inside this one (``mlp0_dense0``).

        Examples:
            >>> from dstraight import nn
            >>> nn.reset_name_counters()
            >>> net = nn.Sequential()
            >>> with net.name_scope():
            ...     net.add(nn.Dense(2))
            >>> list(net.collect_params())
            ['sequential0_dense0_weight', 'sequential0_dense0_bias']
        """
        return NameScope(self)

    # -- declaring structure ------------------------------------------------------------------

    @property
    def params(self) -> Any:
        """The parameter values as a pytree (``{'weight': ..., 'bias': ...}``), for ``apply``.

        Inside ``__init__`` it is gluon's declaring dict instead: ``self.params.get('weight',
        shape=(10, 0))`` creates (or, with ``params=``, shares) a parameter.

        Raises:
            DeferredInitializationError: before the first forward pass fixed the shapes.
        """
        if self._constructing:
            return Declarer(self._declare)
        structure = self.structure()
        return nest(zip(structure.param_paths, (p.stored() for p in structure.params),
                        strict=True))

    @property
    def state(self) -> Params:
        """The values of the state (BatchNorm's running statistics) as a pytree."""
        structure = self.structure()
        return nest(zip(structure.state_paths, (p.stored() for p in structure.states),
                        strict=True))

    def set_state(self, state: Params) -> None:
        """Writes state values (``apply(..., return_state=True)``'s second result) back."""
        self.collect_params().select(lambda p: p.kind == "state").set_tree(state)

    def _declare(self, name: str, shape: Any = None, init: Any = None, dtype: Any = jnp.float32,
                 grad_req: str = "write", kind: str = "param", allow_deferred_init: bool = True,
                 **kwargs: Any) -> Parameter:
        if name in self._reg_params:
            return self._reg_params[name]
        param = shared_parameter(self._shared, name, self.name)
        if param is None:
            param = Parameter(f"{self.name}_{name}", () if shape is None else shape, dtype=dtype,
                              init=init, grad_req=grad_req, kind=kind,
                              allow_deferred_init=allow_deferred_init, **kwargs)
        self._reg_params[name] = param
        structure_changed()
        return param

    def __setattr__(self, name: str, value: Any) -> None:
        existing = self.__dict__.get(name)
        if isinstance(existing, Block) and existing is not value:
            # replacing a child: the old one leaves the network
            self._children.pop(name, None)
            self._order[:] = [c for c in self._order if c is not existing]
        if isinstance(value, Block):
            if existing is not value:
                self.register_child(value, name)
        elif isinstance(value, Parameter) and all(
                p is not value for p in self._reg_params.values()):
            self._reg_params[name] = value
        object.__setattr__(self, name, value)
        if not name.startswith("_"):
            structure_changed()

    def register_child(self, block: Block, name: str | None = None) -> Block:
        """Adds ``block`` as a child under ``name`` (default: its local name)."""
        if not isinstance(block, Block):
            raise TypeError(
                f"{type(self).__name__} can only hold Blocks (e.g. nn.Dense(10)), got {block!r} "
                f"of type {type(block).__name__}."
            )
        key = block._local_name if name is None else name
        existing = self._children.get(key)
        if existing is not None and existing is not block:
            raise ValueError(
                f"{self.name} already has a child named '{key}'; children are keyed by name in "
                f"the parameter tree, so give the new block another name (name=...) or create "
                f"it inside {self.name}.name_scope()."
            )
        self._children[key] = block
        self._order.append(block)
        structure_changed()
        return block

    def entries(self, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Parameter]]:
        for local_name, param in self._reg_params.items():
            yield (*path, local_name), param
        for key, child in self._children.items():
            yield from child.entries((*path, key))

    def registered_params(self) -> list[tuple[str, Parameter]]:
        """``(local name, Parameter)`` for this block's own parameters (not its children's)."""
        return list(self._reg_params.items())

    def children_in_call_order(self) -> list[Block]:
        """The children in the order they were added; a block added twice appears twice."""
        return list(self._order)

    @property
    def uid(self) -> int:
        """A number no other block of this process has (names can repeat; this cannot)."""
        return self._uid

    def forward_style(self) -> str:
        """``'hybrid'`` if the class overrides MXNet's ``hybrid_forward``, else ``'forward'``."""
        return "forward" if type(self).hybrid_forward is Block.hybrid_forward else "hybrid"

    def structure(self) -> Structure:
        """The parameters in a fixed order and the cache key of compiled programs."""
        cached = self._structure
        if cached is None or cached[0] != structure_epoch():
            cached = (structure_epoch(), Structure(self))
            object.__setattr__(self, "_structure", cached)
        return cached[1]

    # -- the stateful shell -------------------------------------------------------------------

    def collect_params(self, select: str | None = None) -> ParameterDict:
        """This block's parameters and its children's, state included, in order.

        Args:
            select: optional regular expression; only parameters whose full name matches it
                (``re.match``) are returned, e.g. ``'.*weight'``.

        Examples:
            >>> from dstraight import nn
            >>> nn.reset_name_counters()
            >>> net = nn.Sequential()
            >>> net.add(nn.Dense(3), nn.Dense(1))
            >>> list(net.collect_params(".*weight"))
            ['dense0_weight', 'dense1_weight']
        """
        collected = self.structure().collected
        if select is None:
            return collected
        names = set(match(select, collected))
        return collected.select(lambda p: p.name in names)

    def initialize(self, init: Any = None, key: Any = 0, force_reinit: bool = False,
                   device: jax.Device | None = None, ctx: Any = None) -> None:
        """Initializes all parameters; see :meth:`ParameterDict.initialize`.

        Parameters whose shape depends on the input are drawn at the first call ``net(x)``, with
        the key assigned here, so the result does not depend on when that call happens. The key
        also seeds the random numbers of training-mode calls ``net(x)`` (dropout).
        """
        self.collect_params().initialize(init, key=key, force_reinit=force_reinit,
                                         device=device, ctx=ctx)
        object.__setattr__(self, "_rng", jax.random.fold_in(_init.as_key(key), 0x5EED))

    def next_key(self) -> jax.Array:
        """A fresh key from this network's stream (seeded by ``initialize(key=...)``)."""
        if self._rng is None:
            object.__setattr__(self, "_rng", jax.random.fold_in(_init.as_key(0), 0x5EED))
        rng, sub = jax.random.split(self._rng)
        object.__setattr__(self, "_rng", rng)
        return sub

    def hybridize(self, active: bool = True, **kwargs: Any) -> None:
        """Compiles ``net(x)`` with ``jax.jit`` (gluon's ``hybridize``).

        The program is cached by structure; after a change (``add``, a new child or setting)
        the next call compiles anew. gluon's options (``static_alloc``, ...) are accepted and
        have no effect: XLA plans memory itself.

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(1)
            >>> net.initialize()
            >>> net.hybridize()
            >>> net(jnp.ones((2, 3))).shape
            (2, 1)
        """
        object.__setattr__(self, "_hybridized", bool(active))

    def __call__(self, *inputs: Any) -> Any:
        binding = current_binding()
        if binding is not None:
            return self.run_forward(binding, inputs)
        return call_stored(self, inputs, self._hybridized)

    def run_forward(self, binding: Binding, inputs: tuple, root: bool = False) -> Any:
        if root:  # scopes name the layers inside, relative to the network called
            out = self.forward(*inputs)
        else:
            with jax.named_scope(self._local_name):
                out = self.forward(*inputs)
        if binding.record is not None:
            binding.record.append((self, out))
        return out

    def forward(self, *inputs: Any) -> Any:
        """The computation; override it (or ``hybrid_forward``) in a subclass."""
        if self.forward_style() == "hybrid":
            own = {local: p.data() for local, p in self._reg_params.items()}
            return self.hybrid_forward(F, *inputs, **own)
        raise NotImplementedError(f"{type(self).__name__} must implement forward(self, x).")

    def hybrid_forward(self, F: Any, *inputs: Any, **params: Any) -> Any:
        """MXNet's form of ``forward``: ``F`` is the array namespace, parameters are keywords."""
        raise NotImplementedError

    # -- the pure core ------------------------------------------------------------------------

    def apply(self, params: Params, *inputs: Any, key: Any = None, training: bool = False,
              state: Params | None = None, return_state: bool = False) -> Any:
        """The forward pass as a pure function of ``params`` (a pytree like ``net.params``).

        Args:
            params: the parameter values, shaped like ``net.params``.
            *inputs: the inputs of ``forward``.
            key: a ``jax.random`` key (or int seed) for layers that draw random numbers in
                training mode (dropout); needed only then.
            training: layers behave as in training (dropout on, BatchNorm on batch statistics).
            state: the state values (BatchNorm's running statistics) shaped like ``net.state``;
                default: the network's stored state.
            return_state: return ``(outputs, new_state)``, the state as the pass updated it.

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(1, in_units=2)
            >>> net.initialize("ones")
            >>> net.apply(net.params, jnp.array([[1.0, 2.0]])).tolist()
            [[3.0]]
        """
        return _pure.apply(self, params, inputs, key, training, state, return_state)

    def param_shapes(self, *in_shapes: Sequence[int]) -> tuple[Any, Params]:
        """The output shape and every parameter's shape for inputs of ``in_shapes``; pure.

        Works before ``initialize()`` and before the first call: the forward pass runs on
        abstract values only (``jax.eval_shape``).

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(4)
            >>> net.param_shapes((2, 3))
            ((2, 4), {'weight': (3, 4), 'bias': (4,)})
        """
        return _pure.param_shapes(self, in_shapes)

    def init_params(self, key: Any, in_shape: Sequence[int],
                    init: Any = None) -> tuple[Any, Params]:
        """Draws a fresh parameter pytree for inputs of ``in_shape`` (stax's ``init_fun``).

        Pure: the stored parameters are neither read nor changed. With the same ``key`` and
        ``init`` it gives the values that ``initialize`` and a first call ``net(x)`` give.
        """
        return _pure.init_params(self, key, in_shape, init)

    # -- saving -------------------------------------------------------------------------------

    def save_parameters(self, filename: str) -> None:
        """Saves every parameter (state included) by full name to an ``.npz`` file.

        The file is written to a temporary name and renamed, so an interrupted save never
        leaves a half-written file. Load it with :meth:`load_parameters`.
        """
        self.collect_params().save(filename)

    def load_parameters(self, filename: str, device: jax.Device | None = None,
                        allow_missing: bool = False, ignore_extra: bool = False,
                        ctx: Any = None) -> None:
        """Loads parameters saved by :meth:`save_parameters`, matched by full name.

        Raises:
            ValueError: naming every missing, unexpected or wrongly shaped parameter.
        """
        self.collect_params().load(filename, allow_missing=allow_missing,
                                   ignore_extra=ignore_extra)
        device = device if device is not None else ctx
        if device is not None:
            self.collect_params().reset_device(device)

    def save_params(self, filename: str) -> None:
        """MXNet 1.x's older name of :meth:`save_parameters`."""
        self.save_parameters(filename)

    def load_params(self, filename: str, **kwargs: Any) -> None:
        """MXNet 1.x's older name of :meth:`load_parameters`."""
        self.load_parameters(filename, **kwargs)

    # -- display ------------------------------------------------------------------------------

    def summary(self, *inputs: Any) -> None:
        """Prints each layer's output shape and parameter count (``dstraight.viz.summary``)."""
        from ..viz import summary

        summary(self, *inputs)

    def __repr__(self) -> str:
        if not self._children:
            return f"{type(self).__name__}(name={self.name!r})"
        lines = [f"  ({k}): {c!r}".replace("\n", "\n  ") for k, c in self._children.items()]
        return "\n".join([f"{type(self).__name__}(", *lines, ")"])


class HybridBlock(Block):
    """gluon's ``HybridBlock``: every block here can be compiled, so this is ``Block``."""


