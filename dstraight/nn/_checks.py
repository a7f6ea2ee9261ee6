"""Argument checks shared by the layers of ``dstraight.nn``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["positive_int", "positive_number"]


def positive_int(value: Any, what: str, allow_zero: bool = False) -> int:
    """``value`` if it is a positive int (or 0, with ``allow_zero``); else a ValueError."""
    ok = isinstance(value, int) and not isinstance(value, bool) and (
        value > 0 or (allow_zero and value == 0))
    if not ok:
        rule = "a non-negative int (0: infer it from the first batch)" if allow_zero else \
            "a positive int"
        raise ValueError(f"{what} must be {rule}, got {value!r}.")
    return value


def positive_number(value: Any, what: str) -> float:
    """``value`` as a float if it is a positive, finite number; else a TypeError or ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {value!r}.") from None
    if not number > 0 or math.isinf(number):
        raise ValueError(f"{what} must be positive and finite, got {value!r}.")
    return number
