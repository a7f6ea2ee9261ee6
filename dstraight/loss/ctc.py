"""Connectionist temporal classification (CTC), gluon's conventions over ``optax.ctc_loss``.

gluon's ``CTCLoss`` reserves the **last** class, ``alphabet_size - 1``, for the blank (its
operator is called with ``blank_label='last'``), so the symbols are ``0 .. alphabet_size - 2``;
without ``label_lengths`` a label sequence ends at its first ``-1`` (MXNet's padding value for
``blank_label='last'``). optax puts the blank wherever ``blank_id`` says and wants 0/1 padding
masks; this module translates.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._checks import (
    concrete,
    listing,
    poison,
    reduce,
)
from .base import Loss

__all__ = ["CTCLoss", "ctc_loss"]

_PAD = -1


def _lengths(lengths: Any, batch: int, longest: int, what: str, where: str
             ) -> tuple[jax.Array, jax.Array]:
    """``(lengths, ok)`` as int32, checked against ``0..longest`` where concrete."""
    lengths = jnp.asarray(lengths)
    if lengths.size != batch:
        raise ValueError(
            f"{where}: {what} of shape {lengths.shape} must hold one length per sequence, "
            f"{batch} of them."
        )
    lengths = lengths.reshape(batch)
    ok = (lengths >= 0) & (lengths <= longest) & (lengths == jnp.floor(lengths))
    values = concrete(lengths)
    if values is not None and not np.all(np.asarray(ok)):
        raise ValueError(
            f"{where}: {what} must be whole numbers in 0..{longest} (the padded length), got "
            f"{listing(values[~np.asarray(ok)])}."
        )
    return jnp.clip(lengths, 0, longest).astype(jnp.int32), ok


def ctc_loss(pred: Any, label: Any, pred_lengths: Any = None, label_lengths: Any = None,
             layout: str = "NTC", label_layout: str = "NT", weight: float | None = None,
             sample_weight: Any = None) -> jax.Array:
    """CTC loss ``-log p(label | pred)`` of each sequence, summed over its alignments.

    ``pred`` holds unnormalised scores (a log-softmax over the classes is applied inside). The
    last class, ``C - 1``, is the blank, and labels are symbols ``0 .. C - 2`` (gluon's
    ``blank_label='last'``): for an alphabet of ``k`` symbols the network needs ``k + 1``
    outputs. Label rows are right-padded: without ``label_lengths`` a row ends at its first
    ``-1`` (what follows is ignored, as in MXNet); with ``label_lengths`` the entries beyond the
    length are ignored whatever they hold. ``pred_lengths`` likewise cuts each input sequence.

    A label that is not a symbol (the blank ``C - 1``, a value ``>= C``, a fraction, or a ``-1``
    inside the given length) raises a ``ValueError`` when concrete and gives ``nan`` under
    ``jax.jit``. A label that no alignment can produce (it needs one frame per symbol plus one
    per repeated neighbour, more than the input has) raises when concrete and gives ``inf``
    under ``jax.jit``: MXNet's warp-ctc returns 0 there, which silently trains on nothing.

    Args:
        pred: scores of shape ``(N, T, C)`` (``layout='NTC'``) or ``(T, N, C)`` (``'TNC'``).
        label: symbols of shape ``(N, L)`` (``label_layout='NT'``) or ``(L, N)`` (``'TN'``).
        pred_lengths: optional ``(N,)`` input lengths ``<= T``; ``None``: all ``T`` frames.
        label_lengths: optional ``(N,)`` label lengths ``<= L``; ``None``: up to the first -1.
        layout: ``'NTC'`` or ``'TNC'``.
        label_layout: ``'NT'`` or ``'TN'``.
        weight: global scale factor.
        sample_weight: optional weights broadcastable to ``(N,)``.

    Returns:
        One loss per sequence, shape ``(N,)``.

    Raises:
        ValueError: for another layout, shapes that do not fit, lengths outside their range,
            or concrete labels that are not symbols or cannot be aligned.

    Examples:
        >>> pred = jnp.zeros((1, 2, 3))          # T=2 frames, symbols 0 and 1, blank 2
        >>> # alignments of "0" in two frames: 0 0, 0 b, b 0, each with probability 1/9
        >>> ctc_loss(pred, jnp.array([[0, -1]])).round(4)
        Array([1.0986], dtype=float32)
        >>> ctc_loss(pred, jnp.array([[0, 7]]), label_lengths=jnp.array([1])).round(4)
        Array([1.0986], dtype=float32)
    """
    where = "ctc_loss"
    if layout not in ("NTC", "TNC"):
        raise ValueError(f"{where}: layout must be 'NTC' or 'TNC', got {layout!r}.")
    if label_layout not in ("NT", "TN"):
        raise ValueError(f"{where}: label_layout must be 'NT' or 'TN', got {label_layout!r}.")
    pred, label = jnp.asarray(pred), jnp.asarray(label)
    if pred.ndim != 3:
        raise ValueError(
            f"{where}: the prediction must have 3 axes ({layout}: batch, time, classes), got "
            f"shape {pred.shape}."
        )
    if label.ndim != 2:
        raise ValueError(
            f"{where}: the label must have 2 axes ({label_layout}), got shape {label.shape}. "
            f"Pad the label sequences with -1 to one length."
        )
    if layout == "TNC":
        pred = jnp.swapaxes(pred, 0, 1)
    if label_layout == "TN":
        label = label.T
    n, t, c = pred.shape
    if label.shape[0] != n:
        raise ValueError(
            f"{where}: {label.shape[0]} label sequences (label of shape {label.shape}, "
            f"{label_layout}) for {n} input sequences (prediction of shape {pred.shape}, "
            f"{layout}). Check layout and label_layout."
        )
    if c < 2:
        raise ValueError(
            f"{where}: the prediction has {c} class along its last axis; CTC needs the symbols "
            f"and a blank (the last class), so at least 2."
        )
    blank, longest = c - 1, label.shape[1]
    positions = jnp.arange(longest)
    ok = jnp.ones((n,), bool)
    if label_lengths is None:
        padded = jnp.cumsum(label == _PAD, axis=1) > 0
    else:
        lengths, ok_len = _lengths(label_lengths, n, longest, "label_lengths", where)
        padded, ok = positions >= lengths[:, None], ok & ok_len
    valid = (label >= 0) & (label < blank) & (label == jnp.floor(label))
    values = concrete(label)
    if values is not None:
        bad = values[~np.asarray(valid | padded)]
        if bad.size:
            hint = ("An alphabet of k symbols needs k + 1 outputs (gluon's blank_label='last'); "
                    "symbols numbered from 1 need y - 1.")
            if np.any(bad < 0):
                hint = ("-1 ends a sequence only without label_lengths; with label_lengths the "
                        "entries before each length must be symbols.")
            raise ValueError(
                f"{where}: labels must be symbols 0..{blank - 1} for a prediction with {c} "
                f"classes (the last, {blank}, is the blank), got {listing(bad)}. {hint}"
            )
    ok &= jnp.all(valid | padded, axis=1)
    # the padded entries become the blank: never equal to a symbol, so no false repeat is seen
    symbols = jnp.where(padded, blank, jnp.where(valid, label, 0)).astype(jnp.int32)
    if pred_lengths is None:
        frames = jnp.full((n,), t, jnp.int32)
        logit_paddings = jnp.zeros((n, t), pred.dtype)
    else:
        frames, ok_frames = _lengths(pred_lengths, n, t, "pred_lengths", where)
        ok &= ok_frames
        logit_paddings = (jnp.arange(t) >= frames[:, None]).astype(pred.dtype)
    # one frame per symbol, plus one blank between each pair of equal neighbours
    repeats = jnp.sum((symbols[:, 1:] == symbols[:, :-1]) & ~padded[:, 1:], axis=1)
    needed = jnp.sum(~padded, axis=1) + repeats
    feasible = needed <= frames
    if values is not None and concrete(frames) is not None:
        short = np.flatnonzero(~np.asarray(feasible))
        if short.size:
            i = int(short[0])
            raise ValueError(
                f"{where}: label sequence {i} needs at least {int(needed[i])} frames (one per "
                f"symbol and one between equal neighbours) but its input has {int(frames[i])}; "
                f"{short.size} sequence(s) cannot be aligned. Shorten the labels or lengthen "
                f"the inputs (less downsampling)."
            )
    loss = optax.ctc_loss(pred, logit_paddings, symbols, padded.astype(pred.dtype),
                          blank_id=blank)
    loss = poison(jnp.where(feasible, loss, jnp.inf), ok)
    return reduce(loss, 0, weight, sample_weight, where)


class CTCLoss(Loss):
    """CTC loss with gluon's layouts and last-class blank; see :func:`ctc_loss`.

    Called as ``loss(pred, label, pred_lengths=None, label_lengths=None, sample_weight=None)``.
    ``batch_axis`` is where ``'N'`` stands in ``label_layout``, as in gluon.

    Examples:
        >>> CTCLoss()(jnp.zeros((1, 2, 3)), jnp.array([[1, -1]])).round(4)
        Array([1.0986], dtype=float32)
    """

    def __init__(self, layout: str = "NTC", label_layout: str = "NT",
                 weight: float | None = None):
        if layout not in ("NTC", "TNC"):
            raise ValueError(f"CTCLoss: layout must be 'NTC' or 'TNC', got {layout!r}.")
        if label_layout not in ("NT", "TN"):
            raise ValueError(
                f"CTCLoss: label_layout must be 'NT' or 'TN', got {label_layout!r}."
            )
        super().__init__(weight, label_layout.find("N"))
        self.layout = layout
        self.label_layout = label_layout

    def __call__(self, pred: Any, label: Any, pred_lengths: Any = None,
                 label_lengths: Any = None, sample_weight: Any = None) -> jax.Array:
        return ctc_loss(pred, label, pred_lengths, label_lengths, self.layout,
                        self.label_layout, self.weight, sample_weight)
