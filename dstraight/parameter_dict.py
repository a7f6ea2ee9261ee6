"""``ParameterDict``: the parameters of a network by full name, and the trees of their values.

Examples:
    >>> from dstraight import nn
    >>> nn.reset_name_counters()
    >>> net = nn.Dense(1)
    >>> list(net.collect_params())
    ['dense0_weight', 'dense0_bias']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import init as _init
from .init import InitializerLike
from .parameter import Parameter, Params, check_device, compatible, format_shape

__all__ = ["ParameterDict", "flatten_tree", "match", "nest", "path_str"]


def flatten_tree(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yields ``(path, leaf)`` for a nested dict, paths as tuples of keys."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from flatten_tree(v, (*path, str(k)))
    else:
        yield path, tree


def nest(items: Iterable[tuple[tuple[str, ...], Any]]) -> Params:
    """The inverse of :func:`flatten_tree`."""
    tree: Params = {}
    for path, value in items:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def path_str(path: tuple[str, ...]) -> str:
    return "/".join(path) or "<root>"


class ParameterDict(Mapping[str, Parameter]):
    """An ordered mapping from full names (``'dense0_weight'``) to :class:`Parameter` objects.

    Returned by :meth:`Block.collect_params`. Besides the mapping interface it initializes all
    its parameters at once and converts to and from the pytree that ``Block.apply`` takes.

    Args:
        entries: pairs ``(path, parameter)``, where ``path`` is the position of the parameter in
            the pytree, e.g. ``('dense0', 'weight')``; a parameter listed twice (shared) is kept
            once, at its first path.
        prefix: the name printed in the header (the owning block's name).

    Examples:
        >>> from dstraight import nn
        >>> nn.reset_name_counters()
        >>> net = nn.Dense(1)
        >>> net.collect_params()
        dense0 (
          Parameter dense0_weight (shape=(?, 1), dtype=float32)
          Parameter dense0_bias (shape=(1,), dtype=float32)
        )
    """

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], Parameter]] = (), prefix: str = ""):
        self.prefix = prefix
        self._params: dict[str, Parameter] = {}
        self._paths: dict[str, tuple[str, ...]] = {}
        for path, param in entries:
            self._add(path, param)

    def _add(self, path: tuple[str, ...], param: Parameter) -> None:
        existing = self._params.get(param.name)
        if existing is param:
            return
        if existing is not None:
            raise ValueError(
                f"Two different parameters are named '{param.name}' (at "
                f"{path_str(self._paths[param.name])} and {path_str(path)}). Names identify "
                f"parameters when saving and loading: give one of the blocks another name, or "
                f"create the blocks inside the parent's name_scope()."
            )
        self._params[param.name] = param
        self._paths[param.name] = path

    def __getitem__(self, name: str) -> Parameter:
        try:
            return self._params[name]
        except KeyError:
            raise KeyError(
                f"No parameter named {name!r}; the parameters are {list(self._params)}."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        lines = [f"{self.prefix} ("] + [f"  {p!r}" for p in self._params.values()] + [")"]
        return "\n".join(lines)

    def path(self, name: str) -> tuple[str, ...]:
        """Where the parameter ``name`` sits in :meth:`tree`, e.g. ``('dense0', 'weight')``."""
        self[name]  # a KeyError that lists the names
        return self._paths[name]

    def select(self, predicate: Callable[[Parameter], bool]) -> ParameterDict:
        """The parameters for which ``predicate(param)`` holds, with their paths."""
        return ParameterDict(
            ((self._paths[n], p) for n, p in self._params.items() if predicate(p)), self.prefix
        )

    def get(self, name: str, default: Any = None, **kwargs: Any) -> Any:
        """``self.params.get('weight', shape=...)`` as in gluon, or a plain mapping ``get``.

        With keyword arguments (``shape``, ``init``, ``dtype``, ...) this is gluon's way of
        declaring a parameter inside a block; see ``Block.params``.
        """
        if kwargs:
            raise TypeError(
                "ParameterDict.get(name, shape=...) declares parameters only on a block's own "
                "dict: use self.params.get(...) inside a Block's __init__."
            )
        return self._params.get(name, default)

    def setattr(self, name: str, value: Any) -> None:
        """Sets an attribute on every parameter, e.g. ``setattr('grad_req', 'null')`` to freeze."""
        for p in self._params.values():
            setattr(p, name, value)

    def initialize(
        self,
        init: InitializerLike | None = None,
        key: Any = 0,
        force_reinit: bool = False,
        device: jax.Device | None = None,
        ctx: Any = None,
    ) -> None:
        """Initializes every parameter (deferring those whose shape is not known yet).

        Args:
            init: initializer for parameters without their own (e.g. Dense weights, but not
                their biases, which have ``bias_initializer='zeros'``); default
                ``init.Uniform()``, as in gluon.
            key: ``jax.random`` key or integer seed; each parameter gets its own subkey.
            force_reinit: draw again parameters that were already initialized.
            device: where the parameters live: a ``jax.Device``, or a mesh
                (``dstraight.data_parallel()``) to replicate them on all its devices; ``None`` is
                JAX's default device.
            ctx: MXNet's name for ``device`` (a list of several devices means their mesh).

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(2, in_units=3)
            >>> net.collect_params().initialize("ones", key=0)
            >>> net.weight.data().tolist()
            [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
        """
        if ctx is not None:
            if device is not None:
                raise TypeError("Pass device= or MXNet's ctx=, not both.")
            device = ctx[0] if isinstance(ctx, list | tuple) and len(ctx) == 1 else ctx
            if isinstance(device, list | tuple):  # gluon's ctx=[gpu(0), gpu(1)]: a mesh of them
                from .device import data_parallel

                device = data_parallel(device)
        default = _init.create(init if init is not None else _init.Uniform())
        key = _init.as_key(key)
        device = check_device(device)
        skipped = []
        for i, param in enumerate(self._params.values()):
            if param.is_initialized and not force_reinit:
                skipped.append(param.name)
                continue
            chosen = param.init if param.init is not None else default
            # fold_in, unlike split(key, n), does not depend on how many parameters there are
            # (adding a layer leaves the others' values alone)
            param.start_init(chosen, jax.random.fold_in(key, i), device)
        if skipped:
            warnings.warn(
                f"Parameters {skipped} are already initialized; ignoring them. Pass "
                f"force_reinit=True to draw new values.",
                stacklevel=2,
            )

    def reset_device(self, device: jax.Device) -> None:
        """Moves every value to ``device`` (gluon's ``reset_ctx``)."""
        for p in self._params.values():
            p.reset_device(device)

    reset_ctx = reset_device

    def zero_grad(self) -> None:
        """A no-op kept for gluon code: gradients are return values here, never stored."""

    def tree(self) -> Params:
        """Returns the values as a nested dict, the pytree ``Block.apply`` takes.

        Raises:
            DeferredInitializationError: before the first forward pass fixed the shapes.

        Examples:
            >>> from dstraight import nn
            >>> net = nn.Dense(1, in_units=2)
            >>> net.initialize("zeros")
            >>> {name: value.shape for name, value in net.collect_params().tree().items()}
            {'weight': (2, 1), 'bias': (1,)}
        """
        return nest((self._paths[name], p.stored()) for name, p in self._params.items())

    def set_tree(self, tree: Mapping[str, Any]) -> None:
        """Writes the values of a pytree shaped like :meth:`tree` back into the parameters.

        Nothing is written unless the whole tree matches.

        Raises:
            ValueError: if the tree has missing or extra entries or a shape differs.
        """
        flat = dict(flatten_tree(tree))
        expected = {path: name for name, path in self._paths.items()}
        missing = [path_str(p) for p in expected if p not in flat]
        extra = [path_str(p) for p in flat if p not in expected]
        if missing or extra:
            raise ValueError(
                f"set_tree got a tree whose entries do not match the parameters: missing "
                f"{missing}, unexpected {extra}. Pass a tree shaped like net.params."
            )
        for path, name in expected.items():
            shape = jnp.shape(flat[path])
            if not compatible(self._params[name].shape, shape):
                raise ValueError(
                    f"set_tree: parameter '{name}' has shape "
                    f"{format_shape(self._params[name].shape)} but the tree holds shape "
                    f"{tuple(shape)} at {path_str(path)}."
                )
        for path, name in expected.items():
            self._params[name].set_data(flat[path])

    # -- gluon's file methods, for a ParameterDict on its own ----------------------------------

    def save(self, filename: str, strip_prefix: str = "") -> None:
        """Saves the values by name to an ``.npz`` file (see ``Block.save_parameters``)."""
        from .checkpoint import save_arrays

        arrays = {}
        for name, p in self._params.items():
            if strip_prefix and not name.startswith(strip_prefix):
                raise ValueError(
                    f"Parameter '{name}' does not start with strip_prefix={strip_prefix!r}."
                )
            arrays[name[len(strip_prefix):]] = np.asarray(p.stored())
        save_arrays(filename, arrays)

    def load(self, filename: str, allow_missing: bool = False, ignore_extra: bool = False,
             restore_prefix: str = "") -> None:
        """Loads values saved by :meth:`save`; mismatched names or shapes raise ``ValueError``."""
        from .checkpoint import load_arrays, match_arrays

        arrays = {restore_prefix + k: v for k, v in load_arrays(filename).items()}
        match_arrays(self, arrays, filename, allow_missing, ignore_extra)


def match(select: str | None, names: Iterable[str]) -> list[str]:
    """The names that ``re.match`` the regular expression ``select`` (all if None)."""
    if select is None:
        return list(names)
    pattern = re.compile(select)
    return [n for n in names if pattern.match(n)]
