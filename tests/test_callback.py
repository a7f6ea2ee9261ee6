"""Tests for dstraight.callback: BatchEndParam and Speedometer."""

import doctest
import re

import numpy as np
import pytest

import dstraight.callback
from dstraight import callback, metric

LINE = re.compile(r"^Epoch\[(\d+)\] Batch \[(\d+)\] Speed: \d+\.\d\d samples/sec mse=(\S+)$")


def _run(speedometer, m, epochs=1, batches=7):
    for epoch in range(epochs):
        for nbatch in range(batches):
            m.update(np.array([0.0]), np.array([float(nbatch)]))  # squared error nbatch**2
            speedometer(callback.BatchEndParam(epoch, nbatch, m, locals()))


def test_batch_end_param_fields():
    m = metric.MSE()
    param = callback.BatchEndParam(epoch=2, nbatch=5, eval_metric=m, locals={"a": 1})
    assert (param.epoch, param.nbatch, param.eval_metric, param.locals) == (2, 5, m, {"a": 1})


def test_speedometer_prints_every_frequent_batches(capsys):
    m = metric.MSE()
    _run(callback.Speedometer(batch_size=4, frequent=3), m, epochs=2)
    lines = capsys.readouterr().out.splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [(int(x[1]), int(x[2])) for x in matches] == [(0, 3), (0, 6), (1, 3), (1, 6)]
    # auto_reset: each line covers its own batches (0..3: batch 0 only started the clock,
    # then 4..6)
    assert float(matches[0][3]) == pytest.approx(np.mean([0, 1, 4, 9]), rel=1e-3)
    assert float(matches[1][3]) == pytest.approx(np.mean([16, 25, 36]), rel=1e-3)
    # the global accumulators still cover the whole epoch since the metric's last reset()
    assert m.get_global()[1] == pytest.approx(np.mean([i * i for i in range(7)] * 2), rel=1e-6)


def test_speedometer_without_auto_reset(capsys):
    m = metric.MSE()
    _run(callback.Speedometer(batch_size=4, frequent=3, auto_reset=False), m)
    values = [float(LINE.match(line)[3]) for line in capsys.readouterr().out.splitlines()]
    assert values == [pytest.approx(np.mean([0, 1, 4, 9]), rel=1e-3),
                      pytest.approx(np.mean([i * i for i in range(7)]), rel=1e-3)]


def test_speedometer_validates_arguments():
    with pytest.raises(ValueError, match=r"Speedometer\(batch_size=...\) must be a positive int"):
        callback.Speedometer(0)
    with pytest.raises(ValueError, match=r"Speedometer\(frequent=...\) must be a positive int"):
        callback.Speedometer(4, frequent=0)


def test_doctests():
    result = doctest.testmod(dstraight.callback, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
