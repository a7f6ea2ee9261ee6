"""Losses with gluon's names and semantics, computed with optax.

Every loss returns one value per example, shape ``(N,)`` for a batch of ``N``: the elementwise
loss averaged over all axes but ``batch_axis``. Reducing over the batch (sum for gluon's
``Trainer.step(batch_size)`` contract, mean for ``jax.grad``) is the caller's business. Each loss
exists as a plain function (``l2_loss``) and as a gluon-style object (``L2Loss()``) that stores
the options; both are pure and work under ``jax.jit`` and ``jax.grad``.

Labels must have the prediction's shape, or the same number of elements, in which case they are
reshaped to it (a ``(N,)`` label for a ``(N, 1)`` prediction). Anything else raises a
``ValueError``: silently broadcasting ``(N,)`` against ``(N, 1)`` would give an ``(N, N)`` loss.

Label *values* are checked too. When they are known (an eager call, or ``jax.grad`` without
``jax.jit``: the labels are then concrete arrays), a value the loss cannot mean raises a
``ValueError``: a class index outside ``0..C-1`` or with a fractional part, a binary label
outside ``[0, 1]``, a hinge label other than -1 or 1. Under ``jax.jit`` the labels are tracers
and cannot be looked at, so instead the loss of an example with such a label is ``nan``: the
mean loss becomes ``nan``, which the trainers check for. :func:`describe_nonfinite_causes` lists
what makes a loss non-finite.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from dstraight import loss
    >>> y_hat = jnp.array([[1.0], [2.0]])
    >>> y = jnp.array([1.5, 2.0])               # (N,) against (N, 1): reshaped, not broadcast
    >>> loss.L2Loss()(y_hat, y).tolist()
    [0.125, 0.0]
    >>> loss.softmax_cross_entropy(jnp.zeros((2, 4)), jnp.array([0, 3])).round(4)
    Array([1.3863, 1.3863], dtype=float32)
    >>> jax.jit(loss.softmax_cross_entropy)(jnp.zeros((2, 4)), jnp.array([0, 4]))  # 4: no class
    Array([1.3862944,       nan], dtype=float32)
"""

from .base import Loss
from .binary import (
    HingeLoss,
    LogisticLoss,
    SigmoidBCELoss,
    SigmoidBinaryCrossEntropyLoss,
    SquaredHingeLoss,
    hinge_loss,
    logistic_loss,
    sigmoid_binary_cross_entropy,
    squared_hinge_loss,
)
from .classification import (
    KLDivLoss,
    SoftmaxCELoss,
    SoftmaxCrossEntropyLoss,
    kl_div_loss,
    softmax_cross_entropy,
)
from .ctc import CTCLoss, ctc_loss
from .diagnosis import describe_nonfinite_causes
from .embedding import CosineEmbeddingLoss, TripletLoss, cosine_embedding_loss, triplet_loss
from .regression import (
    HuberLoss,
    L1Loss,
    L2Loss,
    PoissonNLLLoss,
    huber_loss,
    l1_loss,
    l2_loss,
    poisson_nll_loss,
)

__all__ = [
    "Loss",
    "L2Loss",
    "L1Loss",
    "SoftmaxCrossEntropyLoss",
    "SoftmaxCELoss",
    "SigmoidBinaryCrossEntropyLoss",
    "SigmoidBCELoss",
    "KLDivLoss",
    "HuberLoss",
    "HingeLoss",
    "SquaredHingeLoss",
    "LogisticLoss",
    "TripletLoss",
    "PoissonNLLLoss",
    "CosineEmbeddingLoss",
    "CTCLoss",
    "l2_loss",
    "l1_loss",
    "softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "kl_div_loss",
    "huber_loss",
    "hinge_loss",
    "squared_hinge_loss",
    "logistic_loss",
    "triplet_loss",
    "poisson_nll_loss",
    "cosine_embedding_loss",
    "ctc_loss",
    "describe_nonfinite_causes",
]


def __getattr__(name: str):
    # MXNet's losses that this package lacks (SDMLLoss) say what to use instead.
    from .._gluon_names import missing_name

    missing_name(__name__, name)
