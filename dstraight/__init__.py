"""dstraight: the helper package of The Straight Dope, JAX edition.

Gluon-style layers, losses, trainers, metrics and data loaders as a thin stateful shell over pure
JAX functions. This module only re-exports; each concept lives in its own module.
"""

from . import (
    autograd,
    binding,
    callback,
    checkpoint,
    data,
    init,
    loss,
    lr_scheduler,
    metric,
    nn,
    ops,
    optimizer,
    parameter,
    parameter_dict,
    viz,
)
from .device import cpu, data_parallel, gpu, num_gpus, try_gpu
from .module import Module
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "Module",
    "Trainer",
    "autograd",
    "binding",
    "callback",
    "checkpoint",
    "cpu",
    "data",
    "data_parallel",
    "gpu",
    "init",
    "loss",
    "lr_scheduler",
    "metric",
    "nn",
    "ops",
    "optimizer",
    "parameter",
    "parameter_dict",
    "num_gpus",
    "try_gpu",
    "viz",
]


def __getattr__(name: str):
    # MXNet's top-level names (mx.nd, mx.io, mx.kv, ...) say what dstraight has instead.
    from ._gluon_names import missing_name

    missing_name(__name__, name)
