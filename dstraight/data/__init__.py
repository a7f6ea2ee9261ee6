"""Datasets and data iterators: MNIST, Fashion-MNIST, ArrayDataset, DataLoader, NDArrayIter."""

from .dataset import ArrayDataset, Dataset, SimpleDataset
from .idx import read_idx
from .loader import DataLoader
from .ndarray_iter import DataBatch, DataDesc, NDArrayIter
from .protocol import DeviceLoader
from .sources import DatasetNotFoundError, cache_dir, fetch, fetch_all, load_array, locate
from .vision import MNIST, FashionMNIST

__all__ = [
    "MNIST",
    "ArrayDataset",
    "DataBatch",
    "DataDesc",
    "DataLoader",
    "Dataset",
    "DatasetNotFoundError",
    "DeviceLoader",
    "FashionMNIST",
    "NDArrayIter",
    "SimpleDataset",
    "cache_dir",
    "fetch",
    "fetch_all",
    "load_array",
    "locate",
    "read_idx",
]


def __getattr__(name: str):
    # MXNet's names that this package lacks (samplers, RecordIO, ...) say what to use instead.
    from .._gluon_names import missing_name

    missing_name(__name__, name)
