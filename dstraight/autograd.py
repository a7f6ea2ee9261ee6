"""Training and prediction mode for calls ``net(x)``, with MXNet's ``autograd`` names.

In MXNet, ``with autograd.record():`` both records operations for the gradient and switches
layers such as ``Dropout`` and ``BatchNorm`` into training mode. In JAX gradients come from
``jax.grad`` of a pure function, so only the second half remains: inside ``record()`` (or
``train_mode()``) a call ``net(x)`` behaves as in training; outside it, as in prediction.

The pure function takes the mode as an argument instead and ignores these contexts:
``net.apply(params, x, key=key, training=True)``. The trainers (``Trainer.fit_epoch``,
``fused_step``, ``Module.fit``) always train in training mode and evaluate in prediction mode.

Examples:
    >>> from dstraight import autograd
    >>> autograd.is_training()
    False
    >>> with autograd.record():
    ...     autograd.is_training()
    True
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["is_recording", "is_training", "pause", "predict_mode", "record", "train_mode"]

_state = threading.local()


def is_training() -> bool:
    """Whether calls ``net(x)`` run in training mode now."""
    return getattr(_state, "training", False)


def is_recording() -> bool:
    """Whether a ``record()`` block is open (kept for MXNet code; nothing is recorded)."""
    return getattr(_state, "recording", False)


@contextlib.contextmanager
def _set(training: bool, recording: bool | None = None) -> Iterator[None]:
    old = (is_training(), is_recording())
    _state.training = training
    if recording is not None:
        _state.recording = recording
    try:
        yield
    finally:
        _state.training, _state.recording = old


def record(train_mode: bool = True) -> Any:
    """Training mode for calls ``net(x)`` (MXNet's ``autograd.record``).

    Gradients are not recorded: compute them with ``jax.grad`` of ``net.apply``.
    """
    return _set(bool(train_mode), recording=True)


def pause(train_mode: bool = False) -> Any:
    """Prediction mode inside a ``record()`` block (MXNet's ``autograd.pause``)."""
    return _set(bool(train_mode), recording=False)


def train_mode() -> Any:
    """Training mode for calls ``net(x)``."""
    return _set(True)


def predict_mode() -> Any:
    """Prediction mode for calls ``net(x)``."""
    return _set(False)


def backward(*args: Any, **kwargs: Any) -> None:
    """MXNet's ``loss.backward()`` has no counterpart: gradients are return values in JAX."""
    raise NotImplementedError(
        "There is no backward() in JAX: gradients are what jax.grad returns. Write "
        "grads = jax.grad(lambda p: loss_fn(net.apply(p, X), y).sum())(net.params), then "
        "trainer.step(grads, batch_size)."
    )
