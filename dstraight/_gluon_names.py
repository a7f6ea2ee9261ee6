"""Names from MXNet's API that dstraight does not have, and what to write instead.

A reader porting MXNet code reaches for ``nn.SymbolBlock`` or ``data.RecordFileDataset``; a bare
``AttributeError`` would leave them guessing whether the name is misspelt, missing or spelt
differently here. Each package's module ``__getattr__`` looks a missing name up in
:data:`MISSING` and raises an ``AttributeError`` that says how dstraight does it (an
``AttributeError`` still, so ``hasattr`` and ``getattr(..., default)`` keep working).
"""

from __future__ import annotations

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
        "gluon": "gluon's modules are dstraight's own: from dstraight import nn, loss, data, "
                 "Trainer (gluon.nn is dstraight.nn, gluon.Trainer is dstraight.Trainer)",
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
    raise AttributeError(f"{package} has no {name} (MXNet's name): {hint}.")
