"""Input checks shared by DataLoader and NDArrayIter: 32-bit ranges, flags, sizes, empty data."""

import re

import jax
import numpy as np
import pytest

from dstraight.data import ArrayDataset, DataLoader, NDArrayIter

X = np.stack([np.arange(6), -np.arange(6)], axis=1).astype(np.float32)


def data_loader(data, label=None, **kwargs):
    arrays = (data,) if label is None else (data, label)
    return DataLoader(ArrayDataset(*arrays), **{"batch_size": 2, **kwargs})


def ndarray_iter(data, label=None, **kwargs):
    return NDArrayIter(data, label, **{"batch_size": 2, **kwargs})


LOADERS = {
    "DataLoader": (data_loader, "field 1 of the dataset \\(label\\)", "field 0 of the dataset"),
    "NDArrayIter": (ndarray_iter, "label 'softmax_label'", "data 'data'"),
}


def label_arrays(loader):
    return [np.asarray(a) for a in loader.label_arrays]


# -- values that JAX's 32-bit mode would change ----------------------------------------------------


@pytest.mark.parametrize("owner", LOADERS)
def test_int64_labels_beyond_int32_are_refused(owner):
    make, label_name, _ = LOADERS[owner]
    y = np.array([0, 1, 2**31 + 5, 3, 4, -7], np.int64)
    # What would happen without the check: the value wraps round, silently.
    assert np.asarray(jax.device_put(y))[2] == -(2**31) + 5
    with pytest.raises(
        ValueError,
        match=rf"{owner}: {label_name} holds int64 values from -7 to 2147483653, outside int32's "
        r"range \[-2147483648, 2147483647\].*np.unique\(y, return_inverse=True\)\[1\].*"
        r"jax.config.update\('jax_enable_x64', True\)",
    ):
        make(X, y)


@pytest.mark.parametrize("owner", LOADERS)
def test_int64_below_int32_and_uint64_beyond_uint32_are_refused(owner):
    make, label_name, data_name = LOADERS[owner]
    with pytest.raises(ValueError, match=rf"{label_name} holds int64 values from -2147483649 to 5"):
        make(X, np.array([0, 1, 2, 3, 5, -(2**31) - 1], np.int64))
    with pytest.raises(ValueError, match=rf"{data_name}.* uint64 values from 0 to 4294967296, "):
        make(np.array([[0], [1], [2], [3], [4], [2**32]], np.uint64))


@pytest.mark.parametrize("owner", LOADERS)
def test_int64_within_int32_passes_unchanged(owner):
    make, _, _ = LOADERS[owner]
    y = np.array([0, 2**31 - 1, -(2**31), 3, 4, 5], np.int64)
    assert [a.tolist() for a in label_arrays(make(X, y))] == [y.tolist()]
    # Python ints in nested lists become int64 on the host: checked too.
    with pytest.raises(ValueError, match=r"from 0 to 4294967296"):
        make([[0], [1], [2], [3], [4], [2**32]])


@pytest.mark.parametrize("owner", LOADERS)
def test_float64_beyond_float32_is_refused_but_inf_and_nan_pass(owner):
    make, label_name, _ = LOADERS[owner]
    with pytest.raises(
        ValueError,
        match=rf"{label_name} holds float64 values from -1e\+39 to 2; .*largest value is "
        r"3.40282e\+38, so they would become inf",
    ):
        make(X, np.array([0.0, 1.0, np.nan, 2.0, -1e39, 1.5]))
    # inf and nan are what they are in float32 too; only finite values that overflow are refused.
    y = np.array([np.inf, -np.inf, np.nan, 3.4e38, -3.4e38, 0.0])
    got = label_arrays(make(X, y))[0]
    np.testing.assert_array_equal(got, y.astype(np.float32))


@pytest.mark.parametrize("owner", LOADERS)
def test_64_bit_mode_keeps_big_values(owner):
    make, _, _ = LOADERS[owner]
    y = np.array([0, 1, 2**40, 3, 4, 5], np.int64)
    with jax.enable_x64(True):
        loader = make(X, y)
        assert loader.label_arrays[0].dtype == np.int64
        assert label_arrays(loader)[0].tolist() == y.tolist()


def test_device_arrays_are_not_rechecked():
    # A JAX array is already narrowed when it exists; nothing is left to wrap.
    y = jax.numpy.arange(6)
    assert label_arrays(data_loader(X, y))[0].tolist() == list(range(6))
    assert label_arrays(ndarray_iter(X, y))[0].tolist() == list(range(6))


def test_samples_with_big_python_ints_are_refused():
    samples = [(np.zeros(2, np.float32), 2**40 + i) for i in range(3)]
    with pytest.raises(ValueError, match=r"DataLoader: field 1 of the dataset \(label\) holds"):
        DataLoader(samples, 2)


# -- shuffle flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize("owner", LOADERS)
@pytest.mark.parametrize(
    "flag, hint",
    [
        ("no", r"A string is not read as a flag: convert it first"),
        ("False", r"A string is not read as a flag"),
        ("", r"A string is not read as a flag"),
        (None, r"E.g. shuffle=True\."),
        (0.0, r"E.g. shuffle=True\."),
        ([True], r"E.g. shuffle=True\."),
    ],
)
def test_shuffle_must_be_a_flag(owner, flag, hint):
    make, _, _ = LOADERS[owner]
    with pytest.raises(
        TypeError,
        match=rf"{owner}: shuffle must be True or False, got {re.escape(repr(flag))} "
        rf"\({type(flag).__name__}\)\. {hint}",
    ):
        make(X, shuffle=flag)


@pytest.mark.parametrize("owner", LOADERS)
def test_shuffle_accepts_bools_and_0_1(owner):
    make, _, _ = LOADERS[owner]
    for flag, want in [(True, True), (False, False), (1, True), (0, False), (np.True_, True)]:
        loader = make(X, shuffle=flag)
        assert loader.shuffle is want
    with pytest.raises(ValueError, match=rf"{owner}: shuffle must be True or False \(or 1/0\)"):
        make(X, shuffle=2)


# -- batch sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("owner", LOADERS)
@pytest.mark.parametrize(
    "batch_size, error, message",
    [
        (float("inf"), TypeError, r"got inf \(float\); e.g. batch_size=64"),
        (2.0, TypeError, r"got 2.0 \(float\); write batch_size=2, or int"),
        (np.float32(3), TypeError, r"got np.float32\(3.0\) \(float32\)"),
        (True, TypeError, r"got True \(bool\)"),
        (np.bool_(True), TypeError, r"got np.True_ \(bool"),
        ("8", TypeError, r"got '8' \(str\)"),
        (None, TypeError, r"got None \(NoneType\)"),
        (0, ValueError, r"got 0; e.g. batch_size=64"),
        (-1, ValueError, r"got -1"),
    ],
)
def test_bad_batch_sizes(owner, batch_size, error, message):
    make, _, _ = LOADERS[owner]
    with pytest.raises(error, match=rf"{owner}: batch_size must be a positive integer, {message}"):
        make(X, batch_size=batch_size)


@pytest.mark.parametrize("owner", LOADERS)
def test_numpy_integer_batch_size(owner):
    make, _, _ = LOADERS[owner]
    loader = make(X, batch_size=np.int64(4))
    assert type(loader.batch_size) is int and loader.batch_size == 4


@pytest.mark.parametrize(
    "owner, mode", [("DataLoader", "last_batch"), ("NDArrayIter", "last_batch_handle")]
)
def test_discarding_every_batch_is_refused(owner, mode):
    make, _, _ = LOADERS[owner]
    with pytest.raises(
        ValueError,
        match=rf"{owner}: batch_size=7 is larger than the dataset \(6 examples\) and the short "
        r"last batch is discarded, so every epoch would be empty\. Use a batch_size of at most 6",
    ):
        make(X, batch_size=7, **{mode: "discard"})
    assert len(list(make(X, batch_size=6, **{mode: "discard"}))) == 1


# -- empty data ------------------------------------------------------------------------------------


def test_empty_data_is_a_clear_error():
    with pytest.raises(ValueError, match=r"DataLoader got an empty dataset \(0 examples\)"):
        DataLoader(ArrayDataset(np.zeros((0, 2))), 2)
    with pytest.raises(ValueError, match=r"NDArrayIter: the data is empty \(0 examples\)"):
        NDArrayIter(np.zeros((0, 2)), np.zeros(0), batch_size=2)
    with pytest.raises(ValueError, match=r"NDArrayIter: data is an empty list; expected an array"):
        NDArrayIter([], batch_size=2)
