"""MNIST and FashionMNIST: the dataset interface on small files, then the real files where present.

The full Fashion-MNIST comes from Debian's dataset-fashion-mnist package; the official MNIST test
split and training labels from ../shared/data/mnist. Each test skips cleanly when its files are
absent.
"""

import dataclasses
import gzip
import hashlib
import socket
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from idx_encoding import idx_bytes

from dstraight.data import (
    MNIST,
    ArrayDataset,
    DataLoader,
    Dataset,
    DatasetNotFoundError,
    FashionMNIST,
    load_array,
    read_idx,
)
from dstraight.data.sources import FASHION_MNIST_SPEC, MNIST_SPEC, DatasetSpec, RemoteFile, verify

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = (REPO / ".." / "shared" / "data" / "mnist").resolve()
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(
    not all((DEBIAN_FASHION / f.filename).is_file() for f in FASHION_MNIST_SPEC.files),
    reason="Debian's dataset-fashion-mnist is not installed",
)
needs_shared_mnist = pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason="../shared/data/mnist is absent"
)


pytestmark = pytest.mark.usefixtures("private_cache")


def write_split(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> list:
    """Write one split as gzip IDX files; return RemoteFile records with their real digests."""
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for kind, arr, dims in (("images", images, 3), ("labels", labels, 1)):
        payload = idx_bytes(arr)
        archive = gzip.compress(payload, mtime=0)
        name = f"{split}-{kind}-idx{dims}-ubyte.gz"
        (folder / name).write_bytes(archive)
        records.append(
            RemoteFile(
                f"{split}-{kind}",
                name,
                hashlib.md5(archive).hexdigest(),
                hashlib.sha256(payload).hexdigest(),
            )
        )
    return records


@pytest.fixture
def small(tmp_path):
    """A FashionMNIST subclass reading 7 training and 3 test images written by the test."""
    rng = np.random.default_rng(1)
    train_x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    train_y = np.array([0, 1, 2, 3, 9, 8, 7], np.uint8)
    test_x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    test_y = np.array([5, 6, 4], np.uint8)
    root = tmp_path / "small"
    files = write_split(root, "train", train_x, train_y) + write_split(root, "t10k", test_x, test_y)

    class Small(FashionMNIST):
        spec = DatasetSpec("small", "Small", tuple(files), ())

    return Small, root, (train_x, train_y, test_x, test_y)


def test_dataset_interface(small):
    Small, root, (train_x, train_y, test_x, test_y) = small
    train, test = Small(train=True, root=root), Small(train=False, root=root)
    assert len(train) == 7 and len(test) == 3
    assert train.data.shape == (7, 28, 28, 1) and train.data.dtype == np.uint8
    assert train.label.shape == (7,) and train.label.dtype == np.int32
    np.testing.assert_array_equal(train.data[..., 0], train_x)
    np.testing.assert_array_equal(test.label, test_y)
    image, label = train[4]
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8
    assert type(label) is int and label == 9
    np.testing.assert_array_equal(image[..., 0], train_x[4])
    np.testing.assert_array_equal(train[-1][0][..., 0], train_x[-1])
    assert train[np.int64(2)][1] == 2
    assert [lbl for _, lbl in test] == [5, 6, 4]  # the sequence protocol ends at IndexError
    assert repr(test) == "Small(train=False: 3 test images of 28x28x1, transform=None)"


def test_transform_applies_per_item_and_leaves_bulk_arrays_alone(small):
    Small, root, (train_x, train_y, _, _) = small
    calls = []

    def transform(image, label):
        calls.append(label)
        return image.astype(np.float32) / 255, label + 100

    ds = Small(train=True, transform=transform, root=root)
    image, label = ds[3]
    assert calls == [3] and label == 103
    np.testing.assert_allclose(image[..., 0], train_x[3] / 255, rtol=1e-6)
    assert ds.data.dtype == np.uint8 and ds.label[3] == 3


def test_gluon_style_transform_works_per_item_and_in_the_loader(small):
    Small, root, (train_x, train_y, _, _) = small

    def transform(data, label):  # as the MXNet chapters write it
        return data.astype(np.float32) / 255, label.astype(np.float32)

    ds = Small(train=True, transform=transform, root=root)
    image, label = ds[4]
    assert image.dtype == np.float32 and label.dtype == np.float32 and label == 9.0
    loader = DataLoader(ds, batch_size=4)
    X, y = loader.arrays
    assert X.dtype == jnp.float32 and y.dtype == jnp.float32
    np.testing.assert_allclose(X[..., 0], train_x / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, train_y)


def test_vision_datasets_are_gluon_datasets(small):
    Small, root, (train_x, train_y, _, _) = small
    ds = Small(train=True, root=root)
    assert isinstance(ds, Dataset) and issubclass(MNIST, Dataset)
    assert ds.sample_transform is None
    eager = ds.transform(lambda image, label: (image.sum(), label * 10), lazy=False)
    assert [eager[i] for i in range(7)] == [
        (train_x[i].sum(dtype=np.uint64), 10 * int(train_y[i])) for i in range(7)
    ]


def test_transform_first_keeps_the_loaders_bulk_path(small):
    Small, root, (train_x, train_y, _, _) = small
    shapes = []

    def to_float(image):
        shapes.append(image.shape)
        return image.astype(np.float32) / 255

    ds = Small(train=True, root=root).transform_first(to_float)
    image, label = ds[2]
    assert type(label) is int and label == int(train_y[2])
    np.testing.assert_allclose(image[..., 0], train_x[2] / 255, rtol=1e-6)
    shapes.clear()
    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=1)
    # One call on all images, then the first and the last image to check it against.
    assert shapes == [(7, 28, 28, 1), (28, 28, 1), (28, 28, 1)]
    X, y = loader.arrays
    assert X.dtype == jnp.float32 and y.dtype == jnp.int32
    np.testing.assert_allclose(X[..., 0], train_x / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, train_y)
    manual = DataLoader(
        ArrayDataset(train_x[..., None] / np.float32(255), train_y), 3, True, seed=1
    )
    for (xa, ya), (xb, yb) in zip(loader, manual, strict=True):
        np.testing.assert_allclose(xa, xb, rtol=1e-6)
        np.testing.assert_array_equal(ya, yb)


def test_transform_on_top_of_a_constructor_transform(small):
    Small, root, (train_x, train_y, _, _) = small

    def to_float(image, label):
        return image.astype(np.float32) / 255, label.astype(np.float32)

    ds = Small(train=True, transform=to_float, root=root).transform(lambda x, y: (1 - x, y + 1))
    X, y = DataLoader(ds, batch_size=4).arrays
    np.testing.assert_allclose(X[..., 0], 1 - train_x / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, train_y + 1.0)
    assert y.dtype == jnp.float32


def test_indexing_errors(small):
    Small, root, _ = small
    ds = Small(train=False, root=root)
    with pytest.raises(IndexError, match=r"index 3 is out of range for a dataset of 3 examples"):
        ds[3]
    with pytest.raises(IndexError, match=r"index -4 is out of range"):
        ds[-4]
    with pytest.raises(TypeError, match=r"indices must be integers, got slice; use ds.data"):
        ds[0:2]
    with pytest.raises(TypeError, match=r"indices must be integers, got bool"):
        ds[True]


def test_constructor_argument_errors(small):
    Small, root, _ = small
    with pytest.raises(
        TypeError, match=r"Small\(train=...\) expects True .* or False .* got 'yes'"
    ):
        Small(train="yes", root=root)
    with pytest.raises(TypeError, match=r"expects a function transform\(image, label\).*got int"):
        Small(transform=3, root=root)


def test_inconsistent_files_are_rejected(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    few = write_split(tmp_path / "few", "t10k", images, np.array([1, 2, 3], np.uint8))
    big = write_split(tmp_path / "big", "t10k", images, np.array([1, 2, 3, 10], np.uint8))

    class Few(FashionMNIST):
        spec = DatasetSpec("few", "Few", tuple(few), ())

    class Big(FashionMNIST):
        spec = DatasetSpec("big", "Big", tuple(big), ())

    with pytest.raises(ValueError, match=r"one label per image \(4\), got labels of shape \(3,\)"):
        Few(train=False, root=tmp_path / "few")
    with pytest.raises(ValueError, match=r"labels must lie in 0..9, found 10"):
        Big(train=False, root=tmp_path / "big")


def test_label_names():
    assert FashionMNIST.text_labels == (
        "t-shirt", "trouser", "pullover", "dress", "coat",
        "sandal", "shirt", "sneaker", "bag", "ankle boot",
    )  # fmt: skip
    assert MNIST.text_labels == tuple("0123456789")
    assert FashionMNIST.label_names(9) == ["ankle boot"]
    assert FashionMNIST.label_names([0, 1]) == ["t-shirt", "trouser"]
    assert FashionMNIST.label_names(np.array([[3], [4]], np.int32)) == ["dress", "coat"]
    assert FashionMNIST.label_names(jnp.array([8, 6])) == ["bag", "shirt"]
    assert MNIST.label_names(np.arange(3)) == ["0", "1", "2"]


def test_label_names_errors():
    with pytest.raises(ValueError, match=r"must lie in 0..9 for FashionMNIST, got 10"):
        FashionMNIST.label_names([1, 10])
    with pytest.raises(ValueError, match=r"got -1"):
        MNIST.label_names(-1)
    with pytest.raises(TypeError, match=r"integer class ids, got dtype float32.*argmax"):
        FashionMNIST.label_names(np.array([1.0], np.float32))
    with pytest.raises(TypeError, match=r"integer class ids, got dtype bool"):
        FashionMNIST.label_names(True)


def test_missing_files_offline_say_how_to_provide_them(monkeypatch, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    spec = dataclasses.replace(FASHION_MNIST_SPEC, mirrors=(dead,), system_dirs=())
    monkeypatch.setattr(FashionMNIST, "spec", spec)
    with pytest.raises(DatasetNotFoundError, match=r"apt-get install dataset-fashion-mnist"):
        FashionMNIST(train=False, root=tmp_path / "empty")


# -- the real files --------------------------------------------------------------------------------


@needs_debian
@pytest.mark.parametrize("train, n", [(True, 60000), (False, 10000)])
def test_full_fashion_mnist_from_debian(train, n, private_cache):
    ds = FashionMNIST(train=train)
    assert len(ds) == n
    assert ds.data.shape == (n, 28, 28, 1) and ds.data.dtype == np.uint8
    assert ds.label.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(ds.label, minlength=10), np.full(10, n // 10))
    assert ds.data.min() == 0 and ds.data.max() == 255
    assert ds.label[0] == 9 and ds.label_names(ds.label[0]) == ["ankle boot"]
    # The second load comes from the decoded cache and must equal a direct read of the file.
    split = "train" if train else "t10k"
    again = FashionMNIST(train=train)
    assert list(private_cache.glob(f"fashion-mnist/{split}-images-idx3-ubyte.*.npy"))
    raw = read_idx(DEBIAN_FASHION / f"{split}-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(again.data[..., 0], raw)
    np.testing.assert_array_equal(again.label, ds.label)


@needs_debian
def test_debian_files_verify_by_payload_digest():
    for remote in FASHION_MNIST_SPEC.files:
        # Debian recompressed the archives: only the payload digest can vouch for them.
        assert verify(DEBIAN_FASHION / remote.filename, remote)[1] == "sha256 of payload"


@needs_shared_mnist
def test_official_mnist_files_match_the_published_digests():
    for key in ("t10k-images", "t10k-labels", "train-labels"):
        remote = MNIST_SPEC.file(key)
        raw = (SHARED_MNIST / remote.filename).read_bytes()
        assert hashlib.md5(raw).hexdigest() == remote.md5
        assert hashlib.sha256(gzip.decompress(raw)).hexdigest() == remote.sha256
        assert verify(SHARED_MNIST / remote.filename, remote)[1] == "sha256 of payload"


@needs_shared_mnist
def test_mnist_test_split_and_train_labels(monkeypatch, private_cache):
    test = MNIST(train=False, root=SHARED_MNIST)
    assert len(test) == 10000 and test.data.shape == (10000, 28, 28, 1)
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the published split
    np.testing.assert_array_equal(np.bincount(test.label, minlength=10), counts)
    assert test.label[:5].tolist() == [7, 2, 1, 0, 4]
    assert test.label_names(test.label[:2]) == ["7", "2"]
    train_labels = load_array(MNIST_SPEC, "train-labels", SHARED_MNIST)
    assert train_labels.shape == (60000,)
    np.testing.assert_array_equal(
        np.bincount(train_labels, minlength=10),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    )
    # The training images are not there: offline, that is one clear error.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    monkeypatch.setattr(MNIST, "spec", dataclasses.replace(MNIST_SPEC, mirrors=(dead,)))
    with pytest.raises(DatasetNotFoundError, match=r"MNIST file train-images-idx3-ubyte.gz was"):
        MNIST(train=True, root=SHARED_MNIST)
