"""Dataset, SimpleDataset and lazy transforms; the DataLoader over transformed datasets."""

import jax.numpy as jnp
import numpy as np
import pytest

from dstraight.data import ArrayDataset, DataLoader, Dataset, SimpleDataset
from dstraight.data.dataset import LazyTransformDataset

N = 7


def xy(n=N):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n, 3, 2), dtype=np.uint8)
    return X, (np.arange(n) % 3).astype(np.int32)


def items(ds):
    return [ds[i] for i in range(len(ds))]


def assert_same_items(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert isinstance(a, tuple) == isinstance(b, tuple)
        for u, v in zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]:
            np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-6)
            assert np.asarray(u).dtype == np.asarray(v).dtype


def scale(x):
    return x.astype(np.float32) / 255


class Counted:
    """A function that counts its calls and remembers the shape of its first argument."""

    def __init__(self, fn):
        self.fn, self.shapes = fn, []

    def __call__(self, *args):
        self.shapes.append(np.shape(args[0]))
        return self.fn(*args)


# -- the Dataset interface -------------------------------------------------------------------------


def test_dataset_subclasses():
    assert issubclass(ArrayDataset, Dataset) and issubclass(SimpleDataset, Dataset)
    assert issubclass(LazyTransformDataset, Dataset)

    class Incomplete(Dataset):
        pass

    with pytest.raises(NotImplementedError, match=r"Incomplete subclasses Dataset but does not "):
        len(Incomplete())
    with pytest.raises(NotImplementedError, match=r"does not define __getitem__"):
        Incomplete()[0]


def test_simple_dataset():
    samples = [(np.full(2, i, np.float32), i) for i in range(4)]
    ds = SimpleDataset(samples)
    assert len(ds) == 4 and ds[2] is samples[2] and ds.data is samples
    assert repr(ds) == "SimpleDataset(4 samples)"
    with pytest.raises(TypeError, match=r"SimpleDataset expects a sequence of samples .* got gen"):
        SimpleDataset(s for s in samples)


def test_transform_applies_fn_to_the_fields_of_each_sample():
    X, y = xy()
    ds = ArrayDataset(X, y)
    fn = Counted(lambda x, label: (scale(x), label * 2))
    view = ds.transform(fn)
    assert isinstance(view, LazyTransformDataset) and len(view) == N
    assert fn.shapes == []  # lazy: nothing computed yet
    assert_same_items(items(view), [(scale(X[i]), y[i] * 2) for i in range(N)])
    assert fn.shapes == [(3, 2)] * N


def test_transform_first_leaves_the_other_fields_alone():
    X, y = xy()
    extra = np.arange(N) * 1.5
    ds = ArrayDataset(X, y, extra)
    got = items(ds.transform_first(scale))
    assert_same_items(got, [(scale(X[i]), y[i], extra[i]) for i in range(N)])
    assert got[3][1] is not None and type(got[3][1]) is type(y[3])


def test_single_field_samples_are_passed_whole():
    X, _ = xy()
    ds = ArrayDataset(X)  # items are rows, not 1-tuples
    assert_same_items(items(ds.transform(scale)), [scale(x) for x in X])
    assert_same_items(items(ds.transform_first(scale)), [scale(x) for x in X])


def test_eager_transform_computes_every_item_at_once():
    X, y = xy()
    fn = Counted(lambda x: -x.astype(np.int16))
    eager = ArrayDataset(X, y).transform_first(fn, lazy=False)
    assert isinstance(eager, SimpleDataset) and len(fn.shapes) == N
    assert_same_items(items(eager), [(-X[i].astype(np.int16), y[i]) for i in range(N)])
    assert len(fn.shapes) == N  # reading the items calls nothing more


def test_transforms_compose_and_work_on_any_dataset():
    samples = SimpleDataset([(float(i), i) for i in range(5)])
    ds = samples.transform_first(lambda x: x + 0.5).transform(lambda x, y: (x * y, y))
    assert items(ds) == [((i + 0.5) * i, i) for i in range(5)]
    assert repr(samples.transform_first(scale)) == "SimpleDataset(5 samples).transform_first(scale)"


def test_transform_argument_errors():
    ds = ArrayDataset(*xy())
    with pytest.raises(TypeError, match=r"Dataset.transform\(fn\) expects a function, got int"):
        ds.transform(3)
    with pytest.raises(TypeError, match=r"Dataset.transform_first\(fn\) expects a function"):
        ds.transform_first("scale")
    with pytest.raises(TypeError, match=r"transform_first\(lazy=...\) expects True .* got 'no'"):
        ds.transform_first(scale, lazy="no")


# -- the DataLoader over transformed datasets ------------------------------------------------------


def batches(loader):
    return [tuple(np.asarray(a) for a in batch) for batch in loader]


def assert_same_batches(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_allclose(u, v, rtol=1e-6)
            assert u.dtype == v.dtype


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_over_transform_first_equals_manual_transformation(shuffle):
    X, y = xy()
    fn = Counted(scale)
    loader = DataLoader(ArrayDataset(X, y).transform_first(fn), 3, shuffle=shuffle, seed=2)
    # The fast path: one call on all images, and the first and last samples to check it.
    assert fn.shapes == [(N, 3, 2), (3, 2), (3, 2)]
    manual = DataLoader(ArrayDataset(scale(X), y), 3, shuffle=shuffle, seed=2)
    assert loader.data_arrays[0].dtype == jnp.float32
    for _ in range(2):
        assert_same_batches(batches(loader), batches(manual))


def test_loader_over_transform_equals_manual_transformation():
    X, y = xy()
    ds = ArrayDataset(X, y).transform(lambda x, label: (x.reshape(len(x), -1), label + 1))
    # reshape(len(x), -1) flattens all images at once but not one image: per item it is
    # (3, 2) -> (3, 2), in bulk (7, 3, 2) -> (7, 6); the check sees it and goes per item.
    manual = [(X[i].reshape(3, -1), y[i] + 1) for i in range(N)]
    assert_same_items(items(ds), manual)
    want = ArrayDataset(np.stack([m[0] for m in manual]), np.stack([m[1] for m in manual]))
    assert_same_batches(batches(DataLoader(ds, 4)), batches(DataLoader(want, 4)))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x / x.max(),  # a per-image statistic: differs in bulk
        lambda x: float(x.sum()),  # works on one image only
    ],
    ids=["per-sample statistic", "scalar only"],
)
def test_transforms_that_only_hold_per_sample_fall_back(fn):
    X, y = xy()
    ds = ArrayDataset(X, y).transform_first(fn)
    loader = DataLoader(ds, 3)
    want = [np.stack([np.asarray(fn(x)) for x in X]), y]
    for got, expected in zip(loader.arrays, want, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected.astype(got.dtype), rtol=1e-6)


def test_loader_over_a_single_array_transform():
    X, _ = xy()
    loader = DataLoader(ArrayDataset(X).transform(scale), 4)
    got = [np.asarray(b) for b in loader]  # single-array datasets give arrays, not tuples
    assert [(b.shape, b.dtype) for b in got] == [((4, 3, 2), np.float32), ((3, 3, 2), np.float32)]
    np.testing.assert_allclose(np.concatenate(got), scale(X), rtol=1e-6)


def test_loader_over_simple_datasets():
    X, y = xy()
    listed = DataLoader(SimpleDataset([(X[i], int(y[i])) for i in range(N)]), 4)
    assert_same_batches(batches(listed), batches(DataLoader(ArrayDataset(X, y), 4)))
    wrapped = DataLoader(SimpleDataset(X), 4)
    assert wrapped.arrays[0].dtype == jnp.uint8
    np.testing.assert_array_equal(wrapped.arrays[0], X)
