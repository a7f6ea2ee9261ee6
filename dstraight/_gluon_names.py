"""Names from MXNet's API that dstraight does not have, and what to write instead.

A reader porting MXNet code reaches for ``nn.SymbolBlock`` or ``data.RecordFileDataset``; a bare
``AttributeError`` would leave them guessing whether the name is misspelt, missing or spelt
differently here. Each package's module ``__getattr__`` looks a missing name up in
:data:`MISSING` and raises an ``AttributeError`` that says how dstraight does it (an
``AttributeError`` still, so ``hasattr`` and ``getattr(..., default)`` keep working). Under
``from dstraight import nd`` Python would replace that error by a bare "cannot import name", so
there the same message comes as an ``ImportError``.
"""

from __future__ import annotations

import dis
import sys
from types import FrameType
from typing import NoReturn

__all__ = ["MISSING", "missing_name"]

_JNP = "MXNet's NDArray is a JAX array here: import jax.numpy as jnp"
_SAMPLER = (
    "dstraight's DataLoader draws the order of every epoch itself: DataLoader(ds, batch_size, "
    "shuffle=True) for a fresh random order per epoch, shuffle=False for the stored order; for "
    "any other order reorder the arrays first, e.g. ArrayDataset(X[order], y[order])"
)
_RECORDIO = (
    "RecordIO is MXNet's binary format and is not read here: convert the records to arrays once "
    "(e.g. with MXNet's own tools, or images with PIL into a NumPy array) and wrap them in "
    "data.ArrayDataset(X, y)"
)
_NO_GRAPHS = (
    "there are no symbolic graphs: write a Block's forward, and net.hybridize() compiles it with "
    "jax.jit"
)
_NO_KVSTORE = (
    "there is no key-value store: gradients are averaged by XLA's collectives when the loader and "
    "trainer use a mesh, dstraight.data_parallel() (chapter 7)"
)
_DEVICES = (
    "devices are jax.Device objects: dstraight.cpu(), dstraight.gpu(i), dstraight.try_gpu()"
)
_CUSTOM = "in a custom Block's forward (chapter 3, custom-layer) or an nn.Lambda"
_AS_2D = (
    "a 1-D layer is its 2-D twin over a height of 1: x of shape (N, W, C) becomes x[:, None] "
    "(N, 1, W, C), then"
)
_NO_RNN = (
    "there are no recurrent layers in dstraight: write the cell as a function of (state, x_t) "
    "and run it over time with jax.lax.scan"
)
_ITER = (
    "any Python iterable of (data, label) batches trains batch by batch, and data.NDArrayIter "
    "(or data.DataLoader) over arrays gets the compiled epoch"
)

#: package -> MXNet name -> what to do instead (one sentence, no final full stop).
MISSING: dict[str, dict[str, str]] = {
    "dstraight": {
        "nd": f"{_JNP}; nd.array(x) is jnp.asarray(x), nd.random.normal(shape=s) is "
              "jax.random.normal(key, s) with an explicit key",
        "ndarray": _JNP,
        "np": f"{_JNP} (or import numpy as np for host arrays)",
        "sym": _NO_GRAPHS,
        "symbol": _NO_GRAPHS,
        "io": "MXNet's mx.io iterators live in dstraight.data: data.NDArrayIter, data.DataBatch, "
              "data.DataDesc",
        "mod": "Module is dstraight.Module (from dstraight import Module)",
        "kv": _NO_KVSTORE,
        "kvstore": _NO_KVSTORE,
        "random": "randomness is explicit in JAX: key = jax.random.key(seed), then "
                  "jax.random.normal(key, shape); layers take key= in initialize() and apply()",
        "context": _DEVICES,
        "Context": _DEVICES,
        "rnn": _NO_RNN,
        "model_zoo": "there are no pretrained models: build the network from dstraight.nn "
                     "layers (chapter 4 builds LeNet) and load_parameters(path) for saved "
                     "weights",
        "utils": "instead of split_and_load, pass device=dstraight.data_parallel() to the "
                 "loader and to net.initialize (each batch is split across the devices); "
                 "instead of clip_global_norm, Trainer(params, optax.chain("
                 "optax.clip_by_global_norm(max_norm), optax.sgd(lr)))",
        "gluon": "gluon's modules are dstraight's own: from dstraight import nn, loss, data, "
                 "Trainer (gluon.nn is dstraight.nn, gluon.Trainer is dstraight.Trainer)",
    },
    "dstraight.nn": {
        "SymbolBlock": f"{_NO_GRAPHS}; to reuse saved weights, build the same network in Python "
                       "and call net.load_parameters(path)",
        "Conv1D": f"{_AS_2D} nn.Conv2D(channels, (1, k)), and y[:, 0] drops the height again",
        "MaxPool1D": f"{_AS_2D} nn.MaxPool2D((1, k)), and y[:, 0] drops the height again",
        "AvgPool1D": f"{_AS_2D} nn.AvgPool2D((1, k)), and y[:, 0] drops the height again",
        "GlobalMaxPool1D": "for x of shape (N, W, C), nn.Lambda(lambda x: x.max(axis=1, "
                           "keepdims=True))",
        "GlobalAvgPool1D": "for x of shape (N, W, C), nn.Lambda(lambda x: x.mean(axis=1, "
                           "keepdims=True))",
        "Conv3D": "3-D convolutions are not in dstraight: jax.lax.conv_general_dilated(x, w, "
                  "strides, padding, dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC')) "
                  f"{_CUSTOM}",
        "MaxPool3D": "3-D pooling is not in dstraight: jax.lax.reduce_window(x, -jnp.inf, "
                     f"jax.lax.max, (1, k, k, k, 1), (1, s, s, s, 1), 'VALID') {_CUSTOM}",
        "AvgPool3D": "3-D pooling is not in dstraight: jax.lax.reduce_window(x, 0.0, "
                     "jax.lax.add, (1, k, k, k, 1), (1, s, s, s, 1), 'VALID') / k**3 "
                     f"{_CUSTOM}",
        "Conv1DTranspose": "transposed convolutions are not in dstraight: "
                           "jax.lax.conv_transpose(x, w, strides, padding, "
                           f"dimension_numbers=('NWC', 'WIO', 'NWC')) {_CUSTOM}",
        "Conv2DTranspose": "transposed convolutions are not in dstraight: "
                           "jax.lax.conv_transpose(x, w, strides, padding, "
                           f"dimension_numbers=('NHWC', 'HWIO', 'NHWC')) {_CUSTOM}",
        "Conv3DTranspose": "transposed convolutions are not in dstraight: "
                           "jax.lax.conv_transpose(x, w, strides, padding, "
                           f"dimension_numbers=('NDHWC', 'DHWIO', 'NDHWC')) {_CUSTOM}",
        "ReflectionPad2D": "for NHWC images, nn.Lambda(lambda x: jnp.pad(x, ((0, 0), (p, p), "
                           "(p, p), (0, 0)), mode='reflect'))",
        "RNN": _NO_RNN,
        "LSTM": _NO_RNN,
        "GRU": _NO_RNN,
    },
    "dstraight.loss": {
        "SDMLLoss": "it is not in dstraight: any function loss(pred, label) that returns one "
                    "value per example can be given to fit_epoch, Module and metric.Loss",
    },
    "dstraight.metric": {
        "Torch": "metric.Loss() averages the per-example losses it is given, which is what "
                 "MXNet's Torch metric did",
        "Caffe": "metric.Loss() averages the per-example losses it is given, which is what "
                 "MXNet's Caffe metric did",
    },
    "dstraight.init": {
        "InitDesc": "initializers here are called as init(key, shape, dtype) and are not told "
                    "the parameter's name; init.Mixed and init.Load choose by name through "
                    "their initialize(net, key=...)",
        "register": "any function (key, shape, dtype) -> array is an initializer: "
                    "net.initialize(my_init); subclass init.Initializer to give it a repr",
        "LSTMBias": _NO_RNN,
        "FusedRNN": _NO_RNN,
    },
    "dstraight.data": {
        "RecordFileDataset": _RECORDIO,
        "ImageRecordDataset": _RECORDIO,
        "ImageRecordIter": _RECORDIO,
        "ImageFolderDataset": "images in folders are not read here: load them with PIL into one "
                              "array (N, H, W, C) and their folder names into labels, then "
                              "data.ArrayDataset(X, y)",
        "Sampler": _SAMPLER,
        "SequentialSampler": _SAMPLER,
        "RandomSampler": _SAMPLER,
        "BatchSampler": f"{_SAMPLER}; batch_size= and last_batch= ('keep', 'discard', "
                        "'rollover') cut the batches",
        "FilterSampler": "filter the arrays before building the loader, e.g. "
                         "ArrayDataset(X[mask], y[mask])",
        "IntervalSampler": _SAMPLER,
        "DataIter": f"there is no iterator base class to subclass: {_ITER}",
        "CSVIter": f"read the file with numpy.loadtxt or pandas, then data.NDArrayIter(X, y, "
                   f"batch_size); {_ITER}",
        "MNISTIter": "data.MNIST(train=True) (or data.FashionMNIST) loads the dataset; then "
                     "data.DataLoader(dataset, batch_size)",
        "PrefetchingIter": "batches are gathered on the device by compiled calls, so there is "
                           "nothing to prefetch: use the iterator as it is",
        "ResizeIter": "NDArrayIter(..., last_batch_handle='roll_over') or a DataLoader's "
                      "last_batch= choose the epoch's end; itertools.islice(loader, n) takes n "
                      "batches",
        "CIFAR10": "CIFAR-10 is not bundled: load its arrays (e.g. from the Python version of the "
                   "dataset) and wrap them in data.ArrayDataset(X, y)",
        "CIFAR100": "CIFAR-100 is not bundled: load its arrays and wrap them in "
                    "data.ArrayDataset(X, y)",
        "transforms": "transforms are plain functions of the arrays: "
                      "dataset.transform_first(lambda x: x.astype('float32') / 255) does "
                      "ToTensor's scaling; images stay (H, W, C), the layout of dstraight's "
                      "layers",
    },
}


def missing_name(package: str, name: str) -> NoReturn:
    """Raise the ``AttributeError`` for ``package.name``: with a hint if MXNet has the name.

    Examples:
        >>> missing_name("dstraight.data", "RandomSampler")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        AttributeError: dstraight.data has no RandomSampler (MXNet's name): dstraight's ...
    """
    hint = MISSING.get(package, {}).get(name)
    if hint is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    message = f"{package} has no {name} (MXNet's name): {hint}."
    if _in_from_import(sys._getframe(2)):  # the caller of the package's __getattr__
        raise ImportError(message, name=package)
    raise AttributeError(message)


_IMPORT_FROM = dis.opmap["IMPORT_FROM"]


def _in_from_import(frame: FrameType | None) -> bool:
    """Whether ``frame`` is running a ``from package import name`` statement right now."""
    try:
        return frame is not None and frame.f_code.co_code[frame.f_lasti] == _IMPORT_FROM
    except (AttributeError, IndexError):  # another interpreter: keep the AttributeError
        return False
