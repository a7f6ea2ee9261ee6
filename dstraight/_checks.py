"""Argument checks shared by the optimizer and the learning-rate schedules.

Hyperparameters arrive from users as plain Python values (``{'learning_rate': 0.1}``); a value
that is a bool, a string, NaN or infinite would otherwise surface much later as a diverged or
frozen training run, so it is refused here with the parameter's name, the rule and the value.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import numpy as np

__all__ = ["concrete", "integer", "listing", "real"]


def real(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    low_inclusive: bool = True,
    high: float | None = None,
    where: str = "",
) -> float:
    """``value`` as a finite float within ``[low, high)`` (``(low, high)`` if not inclusive).

    Raises:
        TypeError: for a bool or anything that is not a real number.
        ValueError: for NaN, infinity or a value outside the bounds.
    """
    # bool is an int subclass: learning_rate=True would silently mean 1.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}{name} must be a number (int or float), got {value!r} of type "
            f"{type(value).__name__}."
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where}{name} must be a finite number, got {value}.")
    bounds = []
    if low is not None:
        bounds.append(f">= {float(low)}" if low_inclusive else f"> {float(low)}")
    if high is not None:
        bounds.append(f"< {float(high)}")
    too_low = low is not None and (value < low if low_inclusive else value <= low)
    if too_low or (high is not None and value >= high):
        raise ValueError(f"{where}{name} must be {' and '.join(bounds)}, got {value}.")
    return value


def integer(value: Any, name: str, *, low: int, where: str = "") -> int:
    """``value`` as an int ``>= low``; a float such as ``10.0`` is refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{where}{name} must be an int, got {value!r} of type {type(value).__name__}."
        )
    if value < low:
        raise ValueError(f"{where}{name} must be >= {low}, got {value}.")
    return int(value)


def concrete(x: Any) -> np.ndarray | None:
    """The values of ``x`` if they are known now; ``None`` for a tracer (inside ``jax.jit``)."""
    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def listing(values: np.ndarray, limit: int = 5) -> str:
    """A few distinct values for an error message: ``'-1, 3, ... (12 distinct values)'``."""
    distinct = np.unique(values)
    text = ", ".join(f"{v:g}" for v in distinct[:limit].tolist())
    return text + (f", ... ({distinct.size} distinct values)" if distinct.size > limit else "")
