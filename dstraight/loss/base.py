"""The base class of the gluon-style loss objects."""

from __future__ import annotations

from typing import Any

import jax

__all__ = ["Loss"]


class Loss:
    """Base class of the loss objects: stores the options, ``__call__`` does the work.

    Args:
        weight: global scale factor (``None``: 1).
        batch_axis: the axis that indexes examples.

    Examples:
        >>> Loss(weight=0.5)
        Loss(weight=0.5, batch_axis=0)
    """

    def __init__(self, weight: float | None = None, batch_axis: int = 0):
        self.weight = weight
        self.batch_axis = batch_axis

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __call__(self, pred: Any, label: Any, sample_weight: Any = None) -> jax.Array:
        raise NotImplementedError

