"""Shape and label-value checks shared by the losses.

A loss first makes the label fit the prediction (same shape, or same number of elements:
reshaped, never broadcast), then checks the label values where they are concrete and marks the
examples with impossible labels so that, under ``jax.jit``, their loss becomes ``nan``.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import concrete, listing  # noqa: F401  re-exported for the package

__all__ = [
    "EPS",
    "prediction",
    "checked_axis",
    "match_label",
    "elementwise",
    "reduce",
    "concrete",
    "listing",
    "poison",
    "class_indices",
    "checked_set",
    "checked_unit",
]

# gluon guards log(0) with this constant (SigmoidBCE with from_sigmoid=True, KLDivLoss)
EPS = 1e-12


# -- shapes ---------------------------------------------------------------------------------------


def prediction(pred: Any, where: str) -> jax.Array:
    pred = jnp.asarray(pred)
    if pred.ndim == 0:
        raise ValueError(
            f"{where}: the prediction must have a batch axis, got a scalar. Pass a batch, "
            f"e.g. of shape (N,) or (N, 1)."
        )
    return pred


def checked_axis(axis: int, ndim: int, what: str, where: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{where}: {what}={axis} is out of range for a prediction with {ndim} axes."
        )
    return axis % ndim


def match_label(label: Any, shape: tuple[int, ...], pred_shape: tuple[int, ...], where: str,
           hint: str = "") -> jax.Array:
    label = jnp.asarray(label)
    if label.shape == shape:
        return label
    if label.size == math.prod(shape):
        return label.reshape(shape)
    raise ValueError(
        f"{where}: label of shape {label.shape} does not fit the prediction of shape "
        f"{pred_shape}: expected a label of shape {shape} (or with {math.prod(shape)} elements, "
        f"which is reshaped to it). Broadcasting is not attempted because e.g. (N,) against "
        f"(N, 1) would silently give an (N, N) loss.{hint}"
    )


def elementwise(pred: Any, label: Any, batch_axis: int, where: str, hint: str = ""
                 ) -> tuple[jax.Array, jax.Array, int]:
    """``pred``, ``label`` reshaped to it, and ``batch_axis`` made non-negative."""
    pred = prediction(pred, where)
    batch_axis = checked_axis(batch_axis, pred.ndim, "batch_axis", where)
    return pred, match_label(label, pred.shape, pred.shape, where, hint), batch_axis


def reduce(loss: jax.Array, batch_axis: int, weight: float | None, sample_weight: Any,
            where: str) -> jax.Array:
    if sample_weight is not None:
        sample_weight = jnp.asarray(sample_weight)
        try:
            ok = jnp.broadcast_shapes(sample_weight.shape, loss.shape) == loss.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(
                f"{where}: sample_weight of shape {sample_weight.shape} does not broadcast to "
                f"the elementwise loss of shape {loss.shape}; use e.g. shape "
                f"{tuple(d if i == batch_axis else 1 for i, d in enumerate(loss.shape))}."
            )
        loss = loss * sample_weight
    if weight is not None:
        loss = loss * weight
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis)
    return jnp.mean(loss, axis=axes)


# -- label values ---------------------------------------------------------------------------------


def poison(loss: jax.Array, ok: jax.Array) -> jax.Array:
    """``loss`` where ``ok``, ``nan`` elsewhere: bad labels under jit become visible."""
    return jnp.where(ok, loss, jnp.nan)


def class_indices(label: jax.Array, num_classes: int, where: str) -> tuple[jax.Array, jax.Array]:
    """``(indices, ok)``: the labels as int32 indices (0 where invalid) and where they are valid.

    Raises for invalid labels when their values are known.
    """
    values = concrete(label)
    if values is not None:
        whole = values == np.floor(values) if values.dtype.kind == "f" else True
        bad = values[~(whole & (values >= 0) & (values < num_classes))]
        if bad.size:
            hint = "Class labels must be whole numbers 0, 1, ..., C-1."
            if bad.dtype.kind == "f" and np.any(bad != np.floor(bad)):
                hint = ("Class labels must be whole numbers; fractional labels are targets for a "
                        "regression loss, or pass probabilities with sparse_label=False.")
            elif values.min() >= 1 and values.max() == num_classes:
                hint = f"The labels look numbered 1..{num_classes}: pass y - 1."
            elif values.min() >= 0:
                hint = (f"Does the network have as many outputs as classes, e.g. "
                        f"Dense({int(values.max()) + 1})?")
            elif np.all(bad < 0):
                hint = ("Negative labels are not supported (gluon has no ignore label): drop those "
                        "examples, or give them label 0 and sample_weight 0.")
            raise ValueError(
                f"{where}: labels must be class indices in 0..{num_classes - 1} for a prediction "
                f"with {num_classes} classes, got {bad.size} label(s) outside: {listing(bad)}. "
                f"{hint}"
            )
    ok = (label >= 0) & (label < num_classes)
    if jnp.issubdtype(label.dtype, jnp.floating):
        ok &= label == jnp.floor(label)
    return jnp.where(ok, label, 0).astype(jnp.int32), ok


def checked_set(label: jax.Array, allowed: tuple[float, ...], where: str, hint: str
                 ) -> jax.Array:
    """Where ``label`` is one of ``allowed``; raises for other values when they are known."""
    values = concrete(label)
    if values is not None:
        bad = values[~np.isin(values, allowed)]
        if bad.size:
            raise ValueError(
                f"{where}: labels must be {' or '.join(f'{a:g}' for a in allowed)}, got "
                f"{bad.size} other value(s): {listing(bad)}. {hint}"
            )
    ok = label == allowed[0]
    for a in allowed[1:]:
        ok |= label == a
    return ok


def checked_unit(x: jax.Array, what: str, where: str, hint: str) -> jax.Array:
    """Where ``x`` is in ``[0, 1]``; raises for other values when they are known."""
    values = concrete(x)
    if values is not None:
        bad = values[~((values >= 0) & (values <= 1))]
        if bad.size:
            raise ValueError(
                f"{where}: {what} must be in [0, 1], got {bad.size} value(s) outside: "
                f"{listing(bad)}. {hint}"
            )
    return (x >= 0) & (x <= 1)

