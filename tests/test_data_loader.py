"""ArrayDataset and DataLoader: batching, last-batch modes, shuffling, transforms, fast path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight.data import ArrayDataset, DataLoader

N, B = 10, 3


def xy(n=N):
    # Example i has features (i, -i) and label i, so every batch shows which examples it holds.
    X = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float32)
    return X, np.arange(n, dtype=np.int32)


def labels_of(loader):
    return [np.asarray(yb).tolist() for _, yb in loader]


# -- ArrayDataset ----------------------------------------------------------------------------------


def test_array_dataset():
    X, y = xy()
    ds = ArrayDataset(X, y)
    assert len(ds) == N and ds.arrays[0] is X
    x3, y3 = ds[3]
    np.testing.assert_array_equal(x3, [3, -3])
    assert y3 == 3
    single = ArrayDataset([[1, 2], [3, 4]])
    np.testing.assert_array_equal(single[1], [3, 4])  # gluon: the row itself, not a 1-tuple
    assert isinstance(single.arrays[0], np.ndarray)
    assert repr(ArrayDataset(X, y)) == "ArrayDataset((10, 2) float32, (10,) int32)"


def test_array_dataset_errors():
    with pytest.raises(ValueError, match=r"needs at least one array"):
        ArrayDataset()
    with pytest.raises(ValueError, match=r"same length along axis 0, got lengths \[10, 9\]"):
        ArrayDataset(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(
        TypeError,
        match=r"ArrayDataset argument 1 is None; expected an array with one row per example\. "
        r"For unlabelled data pass the inputs alone, e\.g\. ArrayDataset\(X\)\.",
    ):
        ArrayDataset(np.zeros(3), None)
    with pytest.raises(TypeError, match=r"argument 0 is None.*Pass the inputs first"):
        ArrayDataset(None, np.zeros(3))
    with pytest.raises(ValueError, match=r"argument 1 is a scalar"):
        ArrayDataset(np.zeros(3), 5)
    with pytest.raises(TypeError, match=r"argument 0 must be a rectangular array.*inhomogeneous"):
        ArrayDataset([[1, 2], [3]])
    with pytest.raises(TypeError, match=r"argument 0 must be a rectangular array.*ragged"):
        ArrayDataset(np.array([None, "a"], dtype=object))


# -- batching and last-batch modes -----------------------------------------------------------------


def test_keep_yields_every_example_in_order():
    X, y = xy()
    loader = DataLoader(ArrayDataset(X, y), batch_size=B)
    batches = list(loader)
    assert [xb.shape for xb, _ in batches] == [(3, 2), (3, 2), (3, 2), (1, 2)]
    assert all(isinstance(a, jax.Array) for batch in batches for a in batch)
    assert batches[0][0].dtype == jnp.float32 and batches[0][1].dtype == jnp.int32
    np.testing.assert_array_equal(np.concatenate([np.asarray(xb) for xb, _ in batches]), X)
    assert len(loader) == 4
    assert labels_of(loader) == labels_of(loader)  # no shuffle: every epoch the same


def test_discard_drops_the_short_batch():
    loader = DataLoader(ArrayDataset(*xy()), batch_size=B, last_batch="discard")
    assert labels_of(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(loader) == 3


def test_rollover_carries_the_tail_into_the_next_epoch():
    loader = DataLoader(ArrayDataset(*xy()), batch_size=4, last_batch="rollover")
    assert len(loader) == 2
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(loader) == 3  # 2 rolled over + 10 new = 12
    assert labels_of(loader) == [[8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert len(loader) == 2
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_batch_larger_than_dataset():
    ds = ArrayDataset(*xy(2))
    assert labels_of(DataLoader(ds, 5)) == [[0, 1]]
    with pytest.raises(ValueError, match=r"batch_size=5 is larger than the dataset \(2 exa"):
        DataLoader(ds, 5, last_batch="discard")  # every epoch would be empty
    rolled = DataLoader(ds, 5, last_batch="rollover")
    assert [labels_of(rolled) for _ in range(3)] == [[], [], [[0, 1, 0, 1, 0]]]


def test_many_batches_span_several_gather_chunks():
    # 250 batches of 4: gathered in chunks, the last chunk shifted back to the table's end.
    X = np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)
    y = np.arange(1000, dtype=np.int32)
    loader = DataLoader(ArrayDataset(X, y), batch_size=4, shuffle=True, seed=3)
    seen_x, seen_y = [], []
    for xb, yb in loader:
        seen_x.append(np.asarray(xb))
        seen_y.append(np.asarray(yb))
    assert len(seen_y) == 250
    order = np.concatenate(seen_y)
    np.testing.assert_array_equal(np.sort(order), y)
    np.testing.assert_array_equal(np.concatenate(seen_x), X[order])


def test_single_array_dataset_yields_arrays():
    loader = DataLoader(np.arange(5.0), batch_size=2)
    batches = list(loader)
    assert all(isinstance(b, jax.Array) for b in batches)
    assert [b.tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0], [4.0]]
    assert [b.tolist() for b in DataLoader(ArrayDataset(np.arange(3)), 2)] == [[0, 1], [2]]


# -- shuffling -------------------------------------------------------------------------------------


def epochs(loader, k=3):
    return [np.concatenate(labels_of(loader)).tolist() for _ in range(k)]


def test_shuffle_is_a_new_permutation_each_epoch_and_reproducible():
    ds = ArrayDataset(*xy(50))
    runs = epochs(DataLoader(ds, 8, shuffle=True, seed=1))
    for order in runs:
        assert sorted(order) == list(range(50))
    assert runs[0] != runs[1] != runs[2] and runs[0] != list(range(50))
    assert epochs(DataLoader(ds, 8, shuffle=True, seed=1)) == runs
    assert epochs(DataLoader(ds, 8, shuffle=True, seed=jax.random.key(1))) == runs
    assert epochs(DataLoader(ds, 8, shuffle=True, seed=jax.random.PRNGKey(1))) == runs
    assert epochs(DataLoader(ds, 8, shuffle=True, seed=2)) != runs


def test_shuffled_rollover_uses_each_example_once_per_pass():
    loader = DataLoader(ArrayDataset(*xy(10)), 4, shuffle=True, last_batch="rollover", seed=5)
    stream = []
    for _ in range(6):  # 6 passes over 10 examples = 60 = 15 batches of 4
        stream += np.concatenate(labels_of(loader) or [np.zeros(0, int)]).tolist()
    assert len(stream) == 60
    for k in range(6):
        # Every window of one pass's examples (after the carried-over ones) is a permutation.
        assert sorted(stream[k * 10 : (k + 1) * 10]) == list(range(10))


# -- devices ---------------------------------------------------------------------------------------


def test_data_lives_on_the_requested_device():
    device = jax.devices("cpu")[0]
    loader = DataLoader(ArrayDataset(*xy()), B, shuffle=True, device=device)
    assert all(a.devices() == {device} for a in loader.arrays)
    for xb, yb in loader:
        assert xb.devices() == {device} and yb.devices() == {device}
    full, rest = loader.epoch_indices()
    assert full.devices() == {device} and rest.devices() == {device}


# -- the fast-path protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("last_batch", ["keep", "discard", "rollover"])
@pytest.mark.parametrize("n, batch_size", [(10, 3), (12, 4), (2, 5)])
def test_epoch_indices_match_iteration(shuffle, last_batch, n, batch_size):
    ds = ArrayDataset(*xy(n))
    if last_batch == "discard" and batch_size > n:
        with pytest.raises(ValueError, match=r"every epoch would be empty"):
            DataLoader(ds, batch_size, shuffle=shuffle, last_batch=last_batch)
        return
    iterated = DataLoader(ds, batch_size, shuffle=shuffle, last_batch=last_batch, seed=7)
    scanned = DataLoader(ds, batch_size, shuffle=shuffle, last_batch=last_batch, seed=7)
    assert scanned.batch_size == batch_size and scanned.last_pad == 0
    for _ in range(4):
        expected_len = len(scanned)
        full, rest = scanned.epoch_indices()
        assert full.dtype == jnp.int32 and rest.dtype == jnp.int32
        assert full.ndim == 2 and full.shape[1] == batch_size and rest.ndim == 1
        assert 0 <= rest.shape[0] < batch_size
        if last_batch != "keep":
            assert rest.shape[0] == 0
        assert full.shape[0] + (rest.shape[0] > 0) == expected_len
        X, y = (np.asarray(a) for a in scanned.arrays)
        full, rest = np.asarray(full), np.asarray(rest)
        want = [(X[row], y[row]) for row in full] + ([(X[rest], y[rest])] if rest.size else [])
        got = list(iterated)
        assert len(got) == len(want)
        for (xg, yg), (xw, yw) in zip(got, want, strict=True):
            np.testing.assert_array_equal(xg, xw)
            np.testing.assert_array_equal(yg, yw)


def test_arrays_are_the_materialised_dataset():
    X, y = xy()
    loader = DataLoader(ArrayDataset(X, y), B)
    assert len(loader.arrays) == 2 and all(isinstance(a, jax.Array) for a in loader.arrays)
    np.testing.assert_array_equal(loader.arrays[0], X)
    np.testing.assert_array_equal(loader.arrays[1], y)


# -- datasets other than ArrayDataset, and transforms ----------------------------------------------


class Images:
    """Bulk ``data``/``label`` arrays and a per-sample transform, like the vision datasets."""

    def __init__(self, transform=None, n=6):
        rng = np.random.default_rng(0)
        self.data = rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)
        self.label = np.arange(n, dtype=np.int32) % 3
        self.transform = transform
        self.item_calls = 0

    def __len__(self):
        return len(self.label)

    def __getitem__(self, i):
        self.item_calls += 1
        image, label = self.data[i], int(self.label[i])
        return (image, label) if self.transform is None else self.transform(image, label)


def per_item(ds):
    items = [ds[i] for i in range(len(ds))]
    return [np.stack([np.asarray(v) for v in col]) for col in zip(*items, strict=True)]


def check_loader_matches(ds, loader):
    want = per_item(ds)
    for got, expected in zip(loader.arrays, want, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_bulk_transform_is_applied_once_to_the_whole_arrays():
    bulk_calls = []

    def to_float(image, label):
        bulk_calls.append(np.shape(label))
        return image.astype(np.float32) / 255, label

    ds = Images(to_float)
    loader = DataLoader(ds, 4)
    assert bulk_calls[0] == (6,)  # one call on all labels ...
    assert ds.item_calls == 2  # ... and two per-sample spot checks (first and last)
    assert loader.arrays[0].dtype == jnp.float32 and loader.arrays[0].shape == (6, 4, 4, 1)
    check_loader_matches(ds, loader)


def test_transform_that_only_works_per_sample_falls_back():
    def scalar_only(image, label):
        return image.reshape(16).astype(np.float32), float(label)  # float() fails on arrays

    ds = Images(scalar_only)
    loader = DataLoader(ds, 4)
    assert ds.item_calls == 6
    assert loader.arrays[0].shape == (6, 16)
    check_loader_matches(ds, loader)


def test_transform_with_a_per_sample_statistic_falls_back():
    def normalise(image, label):
        return image / image.max(), label  # the max of one image, not of all of them

    ds = Images(normalise)
    loader = DataLoader(ds, 4)
    check_loader_matches(ds, loader)


def test_transform_that_changes_the_length_falls_back():
    def flatten(image, label):
        return image.reshape(-1), label  # on all images at once: one long vector

    ds = Images(flatten)
    check_loader_matches(ds, DataLoader(ds, 4))


def test_bulk_arrays_without_transform_are_used_as_is():
    ds = Images()
    loader = DataLoader(ds, 4)
    assert ds.item_calls == 0
    np.testing.assert_array_equal(loader.arrays[0], ds.data)
    assert loader.arrays[0].dtype == jnp.uint8


def test_generic_sequence_of_samples_is_stacked():
    samples = [(np.full(2, i, np.float32), i) for i in range(5)]
    loader = DataLoader(samples, 2)
    assert labels_of(loader) == [[0, 1], [2, 3], [4]]
    np.testing.assert_array_equal(loader.arrays[0][:, 0], np.arange(5))


def test_unequal_samples_are_a_clear_error():
    samples = [(np.zeros(2), 0), (np.zeros(3), 1)]
    with pytest.raises(ValueError, match=r"field 0 of sample 0 has shape \(2,\), of sample 1 \(3,"):
        DataLoader(samples, 2)


# -- argument errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 0}, ValueError, r"batch_size must be a positive integer, got 0"),
        ({"batch_size": -2}, ValueError, r"batch_size must be a positive integer, got -2"),
        ({"batch_size": 2.5}, TypeError, r"batch_size must be a positive integer, got 2.5"),
        ({"batch_size": True}, TypeError, r"got True \(bool\)"),
        (
            {"last_batch": "roll_over"},
            ValueError,
            r"last_batch must be one of 'keep', 'discard', 'rollover', got 'roll_over' "
            r"\(NDArrayIter spells it",
        ),
        ({"last_batch": "pad"}, ValueError, r"got 'pad'\.$"),
        ({"seed": "abc"}, TypeError, r"seed must be an int or a single jax.random key"),
        ({"seed": 1.5}, TypeError, r"seed must be an int"),
        ({"device": "gpu"}, TypeError, r"device must be a jax.Device .* got 'gpu'"),
    ],
)
def test_argument_errors(kwargs, error, message):
    args = {"batch_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        DataLoader(ArrayDataset(*xy()), **args)


def test_dataset_errors():
    with pytest.raises(TypeError, match=r"dataset with __len__ and __getitem__.*got int"):
        DataLoader(5, 2)
    with pytest.raises(ValueError, match=r"empty dataset"):
        DataLoader([], 2)
    with pytest.raises(ValueError, match=r"got an empty dataset \(0 examples\)"):
        DataLoader(ArrayDataset(np.zeros((0, 2)), np.zeros(0)), 2)
    with pytest.raises(ValueError, match=r"got an empty dataset \(0 examples\)"):
        DataLoader(np.zeros((0, 3)), 2)


def test_mxnet_worker_and_memory_options_are_accepted_and_change_nothing():
    X, y = xy()
    plain = DataLoader(ArrayDataset(X, y), 4, shuffle=True, seed=3)
    ported = DataLoader(ArrayDataset(X, y), 4, True, None, seed=3, num_workers=4,
                        pin_memory=True, pin_device_id=0, prefetch=8, thread_pool=True,
                        timeout=120)
    assert ported.last_batch == "keep"  # MXNet's last_batch=None
    assert labels_of(ported) == labels_of(plain)


@pytest.mark.parametrize("option, match", [
    ("sampler", r"sampler=\.\.\.\) is MXNet's way to choose the order.*shuffle=True"),
    ("batch_sampler", r"batch_sampler=\.\.\.\) is MXNet's way.*ArrayDataset\(X\[order\]"),
    ("batchify_fn", r"batchify_fn=\.\.\.\) is not supported.*transform_first"),
])
def test_mxnet_order_and_stacking_options_are_refused_with_the_dstraight_way(option, match):
    X, y = xy()
    with pytest.raises(TypeError, match=match):
        DataLoader(ArrayDataset(X, y), 4, **{option: object()})


def test_unknown_keyword_names_the_options():
    X, y = xy()
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) num_worker; its "
                                        r"options are dataset, batch_size"):
        DataLoader(ArrayDataset(X, y), 4, num_worker=2)


def test_batch_size_is_required():
    X, y = xy()
    with pytest.raises(TypeError, match="batch_size must be a positive integer, got None"):
        DataLoader(ArrayDataset(X, y))
