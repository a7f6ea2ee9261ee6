"""Shape and label checks shared by the metrics.

Labels are checked where their values are known; each check also returns where the labels are
valid, so that under ``jax.jit`` a batch with impossible labels gets a ``nan`` statistic.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import concrete, listing  # noqa: F401  re-exported for the package

__all__ = [
    "is_array",
    "as_list",
    "float_pair",
    "per_example",
    "concrete",
    "listing",
    "poison",
    "class_ids",
    "distribution_rows",
    "check_axis",
]


def is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray | jax.Array) or (
        hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic)
    )


def as_list(x: Any) -> list:
    # MXNet accepts one array or a list of arrays; a list of plain numbers is one array.
    if isinstance(x, list | tuple) and len(x) > 0 and all(is_array(e) for e in x):
        return list(x)
    return [x]


def float_pair(label: Any, pred: Any, name: str) -> tuple[jax.Array, jax.Array]:
    """Returns ``label`` and ``pred`` as floating arrays of the same shape (label reshaped)."""
    label, pred = jnp.asarray(label), jnp.asarray(pred)
    if not jnp.issubdtype(pred.dtype, jnp.floating):
        pred = pred.astype(jnp.float32)
    if label.shape != pred.shape:
        if label.size != pred.size:
            raise ValueError(
                f"{name}: labels of shape {label.shape} do not match predictions of shape "
                f"{pred.shape}. Pass one label per predicted value, e.g. labels of shape "
                f"{pred.shape} or of size {pred.size}."
            )
        label = label.reshape(pred.shape)
    return label.astype(pred.dtype), pred


def per_example(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Sum over examples of the per-example mean of ``values``; and the number of examples."""
    n = values.shape[0] if values.ndim else 1
    if values.size == 0:
        return jnp.zeros((), values.dtype), jnp.asarray(0.0, values.dtype)
    per_example_size = values.size // n
    return jnp.sum(values) / per_example_size, jnp.asarray(float(n), values.dtype)


def poison(total: jax.Array, ok: jax.Array) -> jax.Array:
    """``total`` if every entry of ``ok`` holds, else ``nan``: bad labels under jit show."""
    return jnp.where(jnp.all(ok), total, jnp.nan)


def class_ids(label: jax.Array, num_classes: int | None, where: str, hint: str | None = None
               ) -> tuple[jax.Array, jax.Array]:
    """``(ids, ok)``: the labels as int32 class ids and where they are valid ids.

    Valid: whole numbers in ``0..num_classes-1`` (``num_classes=None``: any ``>= 0``). Raises for
    invalid labels when their values are known, with ``hint`` or one guessed from the values.
    """
    label = jnp.asarray(label)
    ok = label >= 0
    if num_classes is not None:
        ok &= label < num_classes
    if jnp.issubdtype(label.dtype, jnp.floating):
        ok &= label == jnp.floor(label)
    values = concrete(label)
    if values is not None:
        bad = values[~np.asarray(ok)]
        if bad.size:
            classes = "0, 1, 2, ..." if num_classes is None else f"0..{num_classes - 1}"
            if hint is None:
                hint = ""
                if num_classes is not None and values.min() >= 1 and values.max() == num_classes:
                    hint = f" The labels look numbered 1..{num_classes}: pass y - 1."
                elif num_classes is not None and values.min() >= 0:
                    hint = " Does the network have one output per class?"
            raise ValueError(
                f"{where}: labels must be class ids {classes}, got {bad.size} other value(s): "
                f"{listing(bad)}.{hint}"
            )
    return label.astype(jnp.int32), ok


def distribution_rows(label: jax.Array, axis: int, where: str) -> jax.Array:
    """Whether every row of ``label`` along ``axis`` is a distribution; raises when concrete."""
    ok = jnp.all((label >= 0) & (label <= 1), axis=axis)
    ok &= jnp.abs(jnp.sum(label, axis=axis) - 1) <= 1e-3
    values = concrete(label)
    if values is not None and not np.all(np.asarray(ok)):
        rows = np.moveaxis(values, axis, -1)
        i = int(np.argmin(np.asarray(ok)))
        raise ValueError(
            f"{where}: labels of the predictions' shape {label.shape} are read as one-hot or "
            f"probability rows along axis {axis} (the class is their argmax), but "
            f"{int(np.sum(~np.asarray(ok)))} row(s) are not distributions (values in [0, 1] "
            f"summing to 1), e.g. row {i}: {np.round(rows[i][:6], 4).tolist()}. Pass one class "
            f"id per example instead (labels of shape {rows.shape[:-1]}); predicted class ids "
            "of the labels' shape must be integers, e.g. pred.argmax(axis=-1)."
        )
    return ok


def check_axis(axis: int, shape: tuple[int, ...], where: str) -> int:
    if not -len(shape) <= axis < len(shape):
        raise ValueError(
            f"{where}: axis={axis} is out of range for predictions of shape {shape}; pass the "
            "class axis, e.g. axis=1 for predictions of shape (N, classes)."
        )
    return axis % len(shape)
