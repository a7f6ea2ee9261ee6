"""Argument checks shared by the layers of ``dstraight.nn``."""

from __future__ import annotations

from typing import Any

__all__ = ["positive_int"]


def positive_int(value: Any, what: str, allow_zero: bool = False) -> int:
    """``value`` if it is a positive int (or 0, with ``allow_zero``); else a ValueError."""
    ok = isinstance(value, int) and not isinstance(value, bool) and (
        value > 0 or (allow_zero and value == 0))
    if not ok:
        rule = "a non-negative int (0: infer it from the first batch)" if allow_zero else \
            "a positive int"
        raise ValueError(f"{what} must be {rule}, got {value!r}.")
    return value
