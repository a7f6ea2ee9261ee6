"""What makes a loss non-finite: the causes listed in the trainers' error messages."""

from __future__ import annotations

from typing import Any

from .base import Loss
from .binary import HingeLoss, LogisticLoss, SigmoidBinaryCrossEntropyLoss
from .classification import KLDivLoss, SoftmaxCrossEntropyLoss
from .ctc import CTCLoss
from .embedding import CosineEmbeddingLoss
from .regression import PoissonNLLLoss

__all__ = ["describe_nonfinite_causes"]

_GENERIC_CAUSES = (
    "the optimisation diverged: the learning rate is too large (try ten times smaller)",
    "the data hold NaN or infinite values (check X and y with jnp.isfinite)",
)

_LABEL_CAUSES: dict[type, str] = {
    SoftmaxCrossEntropyLoss: "labels outside 0..C-1 (or fractional class labels): under jax.jit "
    "SoftmaxCrossEntropyLoss gives nan for them; labels numbered 1..C need y - 1, and the "
    "network needs one output per class",
    SigmoidBinaryCrossEntropyLoss: "labels outside [0, 1] (under jax.jit "
    "SigmoidBinaryCrossEntropyLoss gives nan for them); with from_sigmoid=True, predictions "
    "outside [0, 1] (pass logits and from_sigmoid=False instead)",
    HingeLoss: "labels other than -1/1 (under jax.jit the hinge losses give nan for them); "
    "labels 0/1 need 2 * y - 1",
    LogisticLoss: "labels outside the label_format (-1/1 for 'signed', 0/1 for 'binary'): "
    "under jax.jit LogisticLoss gives nan for them",
    KLDivLoss: "labels outside [0, 1] (under jax.jit KLDivLoss gives nan for them), or "
    "from_logits=True with predictions that are not log-probabilities",
    CTCLoss: "labels that hold the blank (the last class) or ids outside 0..C-2, or a -1 "
    "inside the given label length (under jax.jit CTCLoss gives nan for them); a label longer "
    "than its sequence allows gives inf",
    CosineEmbeddingLoss: "labels other than -1/1 (under jax.jit CosineEmbeddingLoss gives nan "
    "for them); labels 0/1 need 2 * y - 1",
    PoissonNLLLoss: "negative targets, or with from_logits=False negative predicted rates "
    "(under jax.jit PoissonNLLLoss gives nan for them)",
}


def describe_nonfinite_causes(loss_fn: Any = None) -> str:
    """The likely reasons why a loss came out ``nan`` or infinite, as one sentence.

    Meant for the error message of code that finds a non-finite loss (the trainers do). The
    label causes are those of ``loss_fn`` when it is one of the loss objects of
    :mod:`dstraight.loss`, and those of every loss otherwise.

    Args:
        loss_fn: the loss in use (any callable; ``None`` if unknown).

    Returns:
        A sentence listing the causes, most likely first.

    Examples:
        >>> from dstraight.loss import L2Loss, SoftmaxCELoss
        >>> describe_nonfinite_causes(L2Loss()).startswith("Likely causes: the optimisation")
        True
        >>> "labels outside 0..C-1" in describe_nonfinite_causes(SoftmaxCELoss())
        True
    """
    known = [c for t, c in _LABEL_CAUSES.items() if isinstance(loss_fn, t)]
    if not isinstance(loss_fn, Loss):
        known = list(_LABEL_CAUSES.values())
    return "Likely causes: " + "; ".join([*_GENERIC_CAUSES, *known]) + "."
