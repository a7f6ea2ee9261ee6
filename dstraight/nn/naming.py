"""Block names: gluon's prefixes, counters and name scopes.

A block made outside any scope is named by its class and a global counter (``dense0``,
``dense1``, ...); inside ``parent.name_scope()`` the counter is the parent's own and the name
carries the parent's (``mlp0_dense0``). Only names depend on the counters, never numbers.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["NameScope", "new_name", "reset_name_counters", "scope_stack"]

# Per-prefix counters behind the default names dense0, dense1, ... (gluon numbers layers the same
# way); a block's name_scope() has counters of its own. Only names depend on them, never numbers.
_global_counters: dict[str, int] = {}
_scopes = threading.local()


def reset_name_counters() -> None:
    """Restarts the default layer names at ``dense0``, ``sequential0``, ...

    Examples:
        >>> from dstraight import nn
        >>> nn.reset_name_counters()
        >>> nn.Dense(1).name
        'dense0'
    """
    _global_counters.clear()


def scope_stack() -> list[Any]:
    """The blocks whose name_scope() is open, innermost last."""
    stack = getattr(_scopes, "stack", None)
    if stack is None:
        stack = _scopes.stack = []
    return stack


def new_name(hint: str, prefix: str | None, name: str | None) -> tuple[str, str]:
    """``(full name, local name)`` of a new block, following gluon's prefixes.

    ``name`` is taken as the full name; ``prefix`` is relative to the open scope; with neither,
    ``hint`` and a counter make the prefix (``dense0_``).
    """
    if name is not None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"A block name must be a non-empty str, got {name!r}.")
        return name, name
    stack = scope_stack()
    parent = stack[-1] if stack else None
    if prefix is None:
        counters = parent._child_counters if parent is not None else _global_counters
        count = counters.get(hint, 0)
        counters[hint] = count + 1
        prefix = f"{hint}{count}_"
    if not isinstance(prefix, str):
        raise TypeError(f"A block prefix must be a str, got {prefix!r}.")
    local = prefix[:-1] if prefix.endswith("_") else prefix
    full = f"{parent.name}_{local}" if parent is not None else local
    if not local:
        raise ValueError("A block prefix must not be empty.")
    return full, local


class NameScope:
    """The context of ``block.name_scope()``: blocks made inside it are named within ``block``."""

    def __init__(self, block: Any):
        self._block = block

    def __enter__(self) -> Any:
        scope_stack().append(self._block)
        return self._block

    def __exit__(self, *exc: Any) -> bool:
        scope_stack().pop()
        return False
