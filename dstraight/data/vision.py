"""MNIST and Fashion-MNIST as gluon-style datasets backed by plain NumPy arrays."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .dataset import Dataset
from .sources import FASHION_MNIST_SPEC, MNIST_SPEC, DatasetSpec, load_array

__all__ = ["MNIST", "FashionMNIST"]


class _IDXImageDataset(Dataset):
    """28x28 grey-scale images with integer class labels, loaded from the four IDX files."""

    spec: ClassVar[DatasetSpec]
    text_labels: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        train: bool = True,
        transform: Callable[[np.ndarray, int], Any] | None = None,
        root: str | os.PathLike | None = None,
    ) -> None:
        if not isinstance(train, bool | np.bool_):
            raise TypeError(
                f"{type(self).__name__}(train=...) expects True (training split) or False "
                f"(test split), got {train!r}."
            )
        if transform is not None and not callable(transform):
            raise TypeError(
                f"{type(self).__name__}(transform=...) expects a function "
                f"transform(image, label) -> (image, label), got {type(transform).__name__}."
            )
        split = "train" if train else "t10k"
        images = load_array(self.spec, f"{split}-images", root)
        labels = load_array(self.spec, f"{split}-labels", root)
        source = f"{self.spec.title} {split} files"
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{source}: expected images of shape (N, rows, cols) and dtype uint8, got "
                f"{images.shape} {images.dtype}."
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"{source}: expected one label per image ({len(images)}), got labels of shape "
                f"{labels.shape}."
            )
        num_classes = len(self.text_labels)
        if labels.size and int(labels.max()) >= num_classes:
            raise ValueError(
                f"{source}: labels must lie in 0..{num_classes - 1}, found {int(labels.max())}."
            )
        self.train = bool(train)
        self.root = root
        # Not `self.transform`: that is gluon's Dataset.transform(fn) method.
        self.sample_transform = transform
        self.data: np.ndarray = images[..., None]  # (N, 28, 28, 1): channels last, like gluon
        self.label: np.ndarray = labels.astype(np.int32)

    def __len__(self) -> int:
        return len(self.label)

    def __getitem__(self, idx: int) -> tuple[Any, Any]:
        if not isinstance(idx, int | np.integer) or isinstance(idx, bool):
            raise TypeError(
                f"{type(self).__name__} indices must be integers, got {type(idx).__name__}; "
                "use ds.data and ds.label for slices and fancy indexing."
            )
        n = len(self.label)
        if not -n <= idx < n:
            # IndexError (not ValueError) keeps Python's sequence iteration protocol working.
            raise IndexError(f"index {idx} is out of range for a dataset of {n} examples")
        image, label = self.data[idx], self.label[idx]
        if self.sample_transform is not None:
            # A NumPy scalar, as gluon passed it: transforms may call label.astype(np.float32).
            return self.sample_transform(image, label)
        return image, int(label)

    @classmethod
    def label_names(cls, ids: Any) -> list[str]:
        """Map class ids (an int or an array of ints) to their names.

        Examples:
            >>> FashionMNIST.label_names([0, 9])
            ['t-shirt', 'ankle boot']
            >>> MNIST.label_names(7)
            ['7']
        """
        arr = np.asarray(ids)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"label_names expects integer class ids, got dtype {arr.dtype}; convert e.g. "
                "predictions with y_hat.argmax(axis=1)."
            )
        flat = arr.reshape(-1)
        bad = flat[(flat < 0) | (flat >= len(cls.text_labels))]
        if bad.size:
            raise ValueError(
                f"class ids must lie in 0..{len(cls.text_labels) - 1} for {cls.__name__}, "
                f"got {int(bad[0])}."
            )
        return [cls.text_labels[i] for i in flat.tolist()]

    def __repr__(self) -> str:
        n, rows, cols, channels = self.data.shape
        split = "train" if self.train else "test"
        return (
            f"{type(self).__name__}(train={self.train}: {n} {split} images of "
            f"{rows}x{cols}x{channels}, transform={self.sample_transform!r})"
        )


class MNIST(_IDXImageDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 pixels.

    Args:
        train: the training split (True) or the test split (False).
        transform: optional ``transform(image, label) -> (image, label)``, applied by ``ds[i]``
            to the image and the label as a NumPy int32 scalar (without a transform, ``ds[i]``
            gives the label as a Python int). The DataLoader applies it once to the whole arrays
            (``ds.data``, ``ds.label``) when it is written with array operations, e.g.
            ``lambda x, y: (x.astype(np.float32) / 255, y.astype(np.float32))``.
        root: a folder searched first for the files (and where a download goes).

    Attributes:
        data: ``(N, 28, 28, 1)`` uint8 images (untransformed).
        label: ``(N,)`` int32 class ids (untransformed).
        sample_transform: the ``transform`` given to the constructor, or None.
        text_labels: the class names, ``'0'`` to ``'9'``.

    Like every :class:`~dstraight.data.Dataset` it has gluon's ``ds.transform(fn)`` and
    ``ds.transform_first(fn)``: ``MNIST().transform_first(lambda x: x.astype(np.float32) / 255)``
    converts the images and leaves the labels alone, and the DataLoader applies such a function,
    written with array operations, to all images at once.

    Examples:
        >>> test = MNIST(train=False)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
        >>> image.shape, label  # doctest: +SKIP
        ((28, 28, 1), 7)
    """

    spec = MNIST_SPEC
    text_labels = tuple(str(d) for d in range(10))


class FashionMNIST(_IDXImageDataset):
    """Zalando's Fashion-MNIST: 70,000 28x28 pictures of clothes in 10 classes, MNIST's format.

    Args:
        train: the training split (True, 60,000 images) or the test split (False, 10,000).
        transform: optional ``transform(image, label) -> (image, label)``, applied by ``ds[i]``
            (see :class:`MNIST`).
        root: a folder searched first for the files (and where a download goes).

    Attributes:
        data: ``(N, 28, 28, 1)`` uint8 images (untransformed).
        label: ``(N,)`` int32 class ids (untransformed).
        sample_transform: the ``transform`` given to the constructor, or None.
        text_labels: the 10 class names.

    Examples:
        >>> train = FashionMNIST(train=True)  # doctest: +SKIP
        >>> len(train), train.data.shape  # doctest: +SKIP
        (60000, (60000, 28, 28, 1))
        >>> FashionMNIST.label_names(train.label[:3])  # doctest: +SKIP
        ['ankle boot', 't-shirt', 't-shirt']
    """

    spec = FASHION_MNIST_SPEC
    text_labels = (
        "t-shirt",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    )
