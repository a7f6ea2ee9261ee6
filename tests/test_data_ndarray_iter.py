"""NDArrayIter against a model of MXNet's cursor arithmetic; DataBatch, DataDesc; the fast path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dstraight.data import DataBatch, DataDesc, NDArrayIter


class MXNetModel:
    """Which examples MXNet 1.x's NDArrayIter (unshuffled) puts in each batch, and its ``pad``.

    A transcription of its cursor arithmetic: the cursor advances by the batch size; a short batch
    is cached and ends the epoch; in 'roll_over' mode ``reset()`` moves the cursor below zero so
    the cached examples open the next epoch. One deliberate difference: MXNet reports the number
    of rolled-over examples as the ``pad`` of that first batch, though none of them is padding;
    NDArrayIter reports 0 there (see its docstring).
    """

    def __init__(self, n, b, mode):
        self.n, self.b, self.mode = n, b, mode
        self.cursor, self.cache, self.stopped = -b, None, False

    def reset(self):
        if self.mode == "roll_over" and self.n - self.b < self.cursor < self.n:
            self.cursor = self.cursor - self.n - self.b
        else:
            self.cursor = -self.b
        self.stopped = False

    def next(self):
        if self.stopped:  # (MXNet would move its cursor on; we keep it where the epoch ended)
            raise StopIteration
        self.cursor += self.b
        c, n, b = self.cursor, self.n, self.b
        if c >= n:
            self.stopped = True
            raise StopIteration
        pad = 0
        if self.mode == "roll_over" and -b < c < 0:
            idx, self.cache = self.cache + list(range(min(c + b, n))), None
        elif self.mode == "pad" and c + b > n:
            idx, pad = [i % n for i in range(c, c + b)], c + b - n
        else:
            idx = list(range(c, min(c + b, n)))
        if len(idx) != b:
            self.cache, self.stopped = idx, True
            raise StopIteration
        return idx, pad


def make_data(n):
    X = np.stack([np.arange(n), 10 * np.arange(n)], axis=1).astype(np.float32)
    return X, np.arange(n, dtype=np.int32)


def run(thing, script):
    """Apply a script of 'next'/'reset' steps; record each batch's indices and pad, or 'stop'."""
    out = []
    for step in script:
        if step == "reset":
            thing.reset()
            continue
        try:
            batch = thing.next()
        except StopIteration:
            out.append("stop")
            continue
        if isinstance(batch, DataBatch):
            idx = np.asarray(batch.label[0]).tolist()
            np.testing.assert_array_equal(batch.data[0][:, 0], idx)  # data and label agree
            assert np.asarray(batch.index).tolist() == idx
            out.append((idx, batch.pad))
        else:
            out.append(tuple(batch))
    return out


EPOCHS = (["next"] * 6 + ["reset"]) * 4
MID_EPOCH_RESETS = ["next", "reset", "next", "next", "reset", "reset"] + EPOCHS


@pytest.mark.parametrize("mode", ["pad", "discard", "roll_over"])
@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (10, 4), (2, 5), (7, 7), (5, 2)])
@pytest.mark.parametrize("script", [EPOCHS, MID_EPOCH_RESETS], ids=["epochs", "mid-epoch"])
def test_batches_match_mxnet(mode, n, b, script):
    X, y = make_data(n)
    if mode == "discard" and b > n:  # MXNet yields epochs without a batch; we refuse
        with pytest.raises(ValueError, match=r"batch_size=5 is larger than the dataset \(2 "):
            NDArrayIter(X, y, batch_size=b, last_batch_handle=mode)
        return
    mine = NDArrayIter(X, y, batch_size=b, last_batch_handle=mode)
    model = MXNetModel(n, b, mode)
    model.reset()  # MXNet's constructor resets
    assert run(mine, script) == run(model, script)


def test_the_example_from_mxnets_documentation():
    data = np.arange(40).reshape((10, 2, 2))
    it = NDArrayIter(data, np.ones([10, 1]), 3, False, last_batch_handle="roll_over")
    assert sum(1 for _ in it) == 3
    it.reset()
    first = it.next().data[0]
    np.testing.assert_array_equal(first, data[[9, 0, 1]])
    assert sum(1 for _ in NDArrayIter(data, np.ones([10, 1]), 3, True, "pad")) == 4
    assert sum(1 for _ in NDArrayIter(data, np.ones([10, 1]), 3, True, "discard")) == 3


def test_end_of_data_until_reset():
    X, y = make_data(5)
    it = NDArrayIter(X, y, batch_size=2)
    assert [b.pad for b in it] == [0, 0, 1]
    with pytest.raises(StopIteration):
        it.next()
    with pytest.raises(StopIteration):
        next(it)
    assert list(it) == []
    it.reset()
    assert [b.label[0].tolist() for b in it] == [[0, 1], [2, 3], [4, 0]]


def test_linear_regression_chapter_loop():
    X = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    y = X @ np.array([2.0, -3.4], np.float32) + 4.2
    train_data = NDArrayIter(X, y, batch_size=4, shuffle=True)
    seen = []
    for _ in range(2):
        train_data.reset()
        batches = list(train_data)
        assert len(batches) == 25
        for batch in batches:
            data, label = batch.data[0], batch.label[0]
            assert data.shape == (4, 2) and label.shape == (4,)
            np.testing.assert_allclose(data @ jnp.array([2.0, -3.4]) + 4.2, label, rtol=1e-5)
        seen.append(np.concatenate([np.asarray(b.index) for b in batches]))
    assert sorted(seen[0]) == sorted(seen[1]) == list(range(100))
    assert seen[0].tolist() != seen[1].tolist()


def test_hard_reset_drops_rolled_over_examples():
    X, y = make_data(10)
    it = NDArrayIter(X, y, batch_size=4, last_batch_handle="roll_over")
    list(it)
    it.hard_reset()
    assert it.next().label[0].tolist() == [0, 1, 2, 3]


# -- shuffling -------------------------------------------------------------------------------------


def epoch_indices_seen(it, epochs=3):
    runs = []
    for _ in range(epochs):
        runs.append([np.asarray(b.index).tolist() for b in it])
        it.reset()
    return runs


@pytest.mark.parametrize("mode", ["pad", "discard"])
def test_shuffle_new_order_every_epoch(mode):
    X, y = make_data(11)
    it = NDArrayIter(X, y, batch_size=3, shuffle=True, last_batch_handle=mode, seed=4)
    runs = epoch_indices_seen(it)
    for batches in runs:
        flat = sum(batches, [])
        if mode == "pad":
            assert len(batches) == 4
            assert sorted(flat[:11]) == list(range(11))
            assert flat[11:] == flat[:1]  # the padding wraps round to this epoch's start
        else:
            assert len(batches) == 3 and len(set(flat)) == 9
    assert runs[0] != runs[1] != runs[2]
    again = NDArrayIter(X, y, batch_size=3, shuffle=True, last_batch_handle=mode, seed=4)
    assert epoch_indices_seen(again) == runs
    other = NDArrayIter(X, y, batch_size=3, shuffle=True, last_batch_handle=mode, seed=5)
    assert epoch_indices_seen(other) != runs


def test_shuffled_roll_over_uses_each_example_once_per_pass():
    X, y = make_data(10)
    it = NDArrayIter(X, y, batch_size=4, shuffle=True, last_batch_handle="roll_over", seed=2)
    stream = sum((sum(batches, []) for batches in epoch_indices_seen(it, 6)), [])
    assert len(stream) == 60
    for k in range(6):
        assert sorted(stream[10 * k : 10 * (k + 1)]) == list(range(10))


def test_batch_data_matches_index_when_shuffled():
    X = np.random.default_rng(1).standard_normal((300, 3)).astype(np.float32)
    y = np.arange(300)
    it = NDArrayIter(X, y, batch_size=4, shuffle=True)  # 75 batches: gathered in chunks
    count = 0
    for batch in it:
        np.testing.assert_array_equal(batch.data[0], X[batch.index])
        np.testing.assert_array_equal(batch.label[0], y[batch.index])
        count += 1
    assert count == 75


# -- descriptions ----------------------------------------------------------------------------------


def test_provide_data_and_label():
    X = np.zeros((10, 3, 2), np.float32)
    y = np.zeros(10, np.int32)
    it = NDArrayIter(X, y, batch_size=4)
    assert it.provide_data == [("data", (4, 3, 2))]
    assert it.provide_label == [("softmax_label", (4,))]
    assert it.provide_data[0].dtype == np.float32 and it.provide_label[0].dtype == np.int32
    assert it.data_name == "data" and it.label_name == "softmax_label"
    named = NDArrayIter(X, y, 4, data_name="x", label_name="lin_reg_label")
    assert named.provide_data == [("x", (4, 3, 2))]
    assert named.provide_label == [("lin_reg_label", (4,))]
    batch = named.next()
    assert batch.provide_data == named.provide_data
    assert batch.provide_label == named.provide_label


def test_unlabelled_data():
    it = NDArrayIter(np.arange(5.0), batch_size=2)
    assert it.provide_label == []
    batches = list(it)
    assert all(b.label is None for b in batches)
    assert [b.data[0].tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]]
    assert len(it.arrays) == 1


@pytest.mark.parametrize("empty", [[], (), {}])
def test_an_empty_label_list_means_no_labels(empty):
    X = np.arange(10.0).reshape(5, 2)
    it = NDArrayIter(X, empty, batch_size=2)  # MXNet's spelling of "no labels"
    assert it.label_arrays == () and it.provide_label == []
    batches = list(it)
    assert all(b.label is None for b in batches)
    assert [b.data[0][:, 0].tolist() for b in batches] == [[0.0, 2.0], [4.0, 6.0], [8.0, 0.0]]


def test_two_unlabelled_inputs_are_two_data_arrays():
    X1, X2 = np.arange(12.0).reshape(6, 2), np.arange(6, dtype=np.int32) * 3
    it = NDArrayIter(data=[X1, X2], batch_size=4)
    assert len(it.data_arrays) == 2 and it.label_arrays == ()
    np.testing.assert_array_equal(it.data_arrays[0], X1)
    np.testing.assert_array_equal(it.data_arrays[1], X2)
    assert it.data_arrays[1].dtype == np.int32
    assert [d.name for d in it.provide_data] == ["_0_data", "_1_data"] and it.provide_label == []
    batch = it.next()
    assert batch.label is None and batch.data[1].tolist() == [0, 3, 6, 9]


def test_several_inputs_by_list_and_dict():
    a, b = np.arange(6.0).reshape(6, 1), np.arange(6) * 2
    listed = NDArrayIter([a, b], np.arange(6), batch_size=3)
    assert [d.name for d in listed.provide_data] == ["_0_data", "_1_data"]
    batch = listed.next()
    assert len(batch.data) == 2 and batch.data[1].tolist() == [0, 2, 4]
    keyed = NDArrayIter({"x": a, "z": b}, {"y": np.arange(6)}, batch_size=3)
    assert [d.name for d in keyed.provide_data] == ["x", "z"]
    assert [d.name for d in keyed.provide_label] == ["y"]
    assert len(keyed.arrays) == 3


def test_data_desc():
    desc = DataDesc("data", [4, 2])
    assert desc == ("data", (4, 2)) and desc.shape == (4, 2)
    assert desc.dtype == np.float32 and desc.layout == "NCHW"
    assert repr(desc) == "DataDesc[data,(4, 2),float32,NCHW]"
    assert DataDesc("y", (4,), np.int32).dtype == np.int32


def test_data_batch():
    batch = DataBatch([np.zeros((2, 3))], [np.zeros(2)], pad=1)
    assert repr(batch) == "DataBatch: data shapes: [(2, 3)] label shapes: [(2,)]"
    assert batch.pad == 1 and batch.index is None
    batch.index = np.array([4, 5])
    assert batch.index.tolist() == [4, 5]
    assert repr(DataBatch([np.zeros(1)])) == "DataBatch: data shapes: [(1,)] label shapes: None"
    with pytest.raises(TypeError, match=r"DataBatch\(data=...\) expects a list.*wrap a single"):
        DataBatch(np.zeros(3))
    with pytest.raises(TypeError, match=r"DataBatch\(label=...\) expects a list of arrays or None"):
        DataBatch([np.zeros(3)], np.zeros(3))


# -- devices ---------------------------------------------------------------------------------------


def test_data_lives_on_the_requested_device():
    device = jax.devices("cpu")[0]
    X, y = make_data(10)
    it = NDArrayIter(X, y, batch_size=3, shuffle=True, device=device)
    assert all(a.devices() == {device} for a in it.arrays)
    for batch in it:
        assert batch.data[0].devices() == {device} and batch.label[0].devices() == {device}
    it.reset()
    assert it.epoch_indices()[0].devices() == {device}


# -- the fast-path protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("mode", ["pad", "discard", "roll_over"])
@pytest.mark.parametrize("n, b", [(10, 3), (12, 4), (2, 5)])
def test_epoch_indices_match_iteration(shuffle, mode, n, b):
    X, y = make_data(n)
    if mode == "discard" and b > n:
        with pytest.raises(ValueError, match=r"every epoch would be empty"):
            NDArrayIter(X, y, b, shuffle=shuffle, last_batch_handle=mode)
        return
    iterated = NDArrayIter(X, y, b, shuffle=shuffle, last_batch_handle=mode, seed=3)
    scanned = NDArrayIter(X, y, b, shuffle=shuffle, last_batch_handle=mode, seed=3)
    assert scanned.batch_size == b
    assert scanned.last_pad == ((-n) % b if mode == "pad" else 0)
    for _ in range(4):
        full, rest = scanned.epoch_indices()
        assert full.dtype == jnp.int32 and full.ndim == 2 and full.shape[1] == b
        assert rest.dtype == jnp.int32 and rest.shape == (0,)
        batches = list(iterated)
        assert len(batches) == full.shape[0]
        Xd, yd = (np.asarray(a) for a in scanned.arrays)
        full = np.asarray(full)
        for i, batch in enumerate(batches):
            np.testing.assert_array_equal(batch.data[0], Xd[full[i]])
            np.testing.assert_array_equal(batch.label[0], yd[full[i]])
            last = i == full.shape[0] - 1
            assert batch.pad == (scanned.last_pad if last else 0)
        assert list(scanned.epoch_indices()[0]) == []  # consumed: nothing until reset()
        scanned.reset()
        iterated.reset()


def test_epoch_indices_after_partial_iteration_give_the_rest():
    X, y = make_data(10)
    it = NDArrayIter(X, y, batch_size=3)
    it.next()
    full, _ = it.epoch_indices()
    assert full.tolist() == [[3, 4, 5], [6, 7, 8], [9, 0, 1]]
    with pytest.raises(StopIteration):
        it.next()


# -- argument errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 0}, ValueError, r"NDArrayIter: batch_size must be a positive integer"),
        ({"batch_size": "4"}, TypeError, r"batch_size must be a positive integer, got '4'"),
        (
            {"last_batch_handle": "rollover"},
            ValueError,
            r"last_batch_handle must be one of 'pad', 'discard', 'roll_over', got 'rollover' "
            r"\('keep' and 'rollover' are DataLoader's",
        ),
        ({"last_batch_handle": "drop"}, ValueError, r"got 'drop'\.$"),
        ({"label": np.zeros(9)}, ValueError, r"same number of examples.*data \(10, 2\), .*\(9,\)"),
        ({"seed": None}, TypeError, r"seed must be an int or a single jax.random key, got None"),
        ({"device": 0}, TypeError, r"device must be a jax.Device"),
    ],
)
def test_argument_errors(kwargs, error, message):
    args = {"data": np.zeros((10, 2)), "label": np.zeros(10), "batch_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        NDArrayIter(**args)


def test_data_errors():
    with pytest.raises(TypeError, match=r"data is required"):
        NDArrayIter(None)
    with pytest.raises(ValueError, match=r"data is empty"):
        NDArrayIter(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"data 'data' is a scalar"):
        NDArrayIter(3.0)
    with pytest.raises(TypeError, match=r"label 'softmax_label' must hold numbers, got dtype <U1"):
        NDArrayIter(np.zeros(2), np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"data is empty; expected at least one array"):
        NDArrayIter({})
    with pytest.raises(ValueError, match=r"data is an empty list; expected an array, a list of "):
        NDArrayIter([])


def test_ragged_and_mixed_inputs_are_clear_errors():
    with pytest.raises(
        ValueError,
        match=r"NDArrayIter: data 'data' is not a rectangular array \(.*inhomogeneous.*\)\. "
        r"Nested lists need equal lengths at every level; several inputs are passed as a list "
        r"of arrays",
    ):
        NDArrayIter([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"label 'softmax_label' is not a rectangular array"):
        NDArrayIter(np.zeros((2, 2)), [[1], [2, 3]])
    with pytest.raises(
        TypeError,
        match=r"NDArrayIter: data is a list of arrays with a NoneType at position 1; every input "
        r"must be an array",
    ):
        NDArrayIter([np.zeros((2, 2)), None])
    with pytest.raises(TypeError, match=r"label 'y' is None; expected an array with one row per"):
        NDArrayIter(np.zeros((2, 2)), {"y": None})
