"""How a block declares its parameters in ``__init__``, gluon's way.

Inside a block's ``__init__``, ``self.params`` is a :class:`Declarer`: ``self.params.get(name,
shape=...)`` creates a parameter (or, when the block was given ``params=``, finds the one it
shares, :func:`shared_parameter`), and ``get_constant`` a value that is never trained. After
construction ``net.params`` is the pytree of values instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from .. import init as _init
from ..parameter import Parameter

__all__ = ["Declarer", "shared_parameter"]


class Declarer:
    """What ``self.params`` is inside ``__init__``: gluon's ``ParameterDict.get`` declares.

    ``declare(name, **settings)`` is the block's own method that registers the parameter.
    """

    def __init__(self, declare: Callable[..., Parameter]):
        self._declare = declare

    def get(self, name: str, **kwargs: Any) -> Parameter:
        return self._declare(name, **kwargs)

    def get_constant(self, name: str, value: Any) -> Parameter:
        value = jnp.asarray(value)
        return self._declare(name, shape=value.shape, dtype=value.dtype,
                             init=_init.Constant(value), kind="state")

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            "Inside __init__, self.params only declares parameters (self.params.get(name, "
            "shape=...)); after construction net.params is the pytree of values. Use "
            "net.collect_params() for the Parameter objects."
        )


def shared_parameter(shared: Any, name: str, owner: str) -> Parameter | None:
    """The parameter of ``shared`` (a block's ``params=``) that the local ``name`` refers to.

    ``None`` when nothing is shared. A match is a full name equal to ``name`` or ending in
    ``_name``; with several, the one under ``shared``'s own prefix wins.

    Raises:
        ValueError: if no parameter, or more than one, matches.
    """
    if shared is None:
        return None
    if hasattr(shared, "collect_params"):
        shared = shared.collect_params()
    found = [p for full, p in shared.items() if full == name or full.endswith(f"_{name}")]
    if len(found) > 1:
        exact = [p for p in found if p.name.endswith(f"{getattr(shared, 'prefix', '')}_{name}")]
        found = exact if len(exact) == 1 else found
    if len(found) != 1:
        raise ValueError(
            f"{owner}: params= should hold exactly one parameter named like '*_{name}' "
            f"to share, found {[p.name for p in found]} in {list(shared)}."
        )
    return found[0]
