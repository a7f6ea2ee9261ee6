"""dstraight.device: device lookup; placement of parameters is tested here too."""

import doctest

import jax
import jax.numpy as jnp
import pytest

import dstraight
from dstraight import device, nn


def gpus():
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


def test_cpu():
    assert dstraight.cpu() == jax.devices("cpu")[0]
    assert dstraight.cpu().platform == "cpu"


def test_cpu_out_of_range():
    with pytest.raises(ValueError, match=r"cpu\(7\) requested but JAX has 1 CPU device\(s\)\. "
                                         r"Available devices: .*cpu:0"):
        dstraight.cpu(7)


def test_num_gpus_counts_jax_gpus():
    assert dstraight.num_gpus() == len(gpus())


def test_gpu_beyond_the_last_one_lists_the_devices():
    # holds with and without GPUs: index num_gpus() never exists
    i = dstraight.num_gpus()
    hint = f"valid indices are 0 to {i - 1}" if i else r"install a CUDA-enabled jax"
    with pytest.raises(ValueError, match=rf"gpu\({i}\) requested but JAX sees {i} GPU\(s\)\. "
                       rf"Available devices: .*cpu:0.*\. Either {hint}.*try_gpu\(\)"):
        dstraight.gpu(i)


def test_gpu_and_try_gpu():
    if gpus():
        assert dstraight.gpu(0) == gpus()[0]
        assert dstraight.try_gpu() == gpus()[0]
    else:
        assert dstraight.try_gpu() == dstraight.cpu()
    assert dstraight.try_gpu(len(gpus())) == dstraight.cpu()


@pytest.mark.parametrize("fn", [dstraight.cpu, dstraight.gpu, dstraight.try_gpu])
def test_bad_index(fn):
    with pytest.raises(ValueError, match="device index must be >= 0, got -1"):
        fn(-1)
    with pytest.raises(TypeError, match="device index must be an int, got '0'"):
        fn("0")


@pytest.mark.parametrize("make", [lambda: nn.Dense(2), lambda: _mlp()])
def test_parameters_and_batches_live_on_the_chosen_device(make):
    net = make()
    target = dstraight.try_gpu()
    net.initialize(key=0, device=target)
    y = net(jnp.ones((3, 4)))
    assert {p.device for p in net.collect_params().values()} == {target}
    assert y.devices() == {target}
    assert all(leaf.devices() == {target} for leaf in jax.tree.leaves(net.params))


def test_parameters_default_to_jaxs_default_device():
    net = _mlp()
    net.initialize()
    net(jnp.ones((3, 4)))
    assert {p.device for p in net.collect_params().values()} == {jax.devices()[0]}


def test_initialize_rejects_non_devices():
    with pytest.raises(TypeError, match="device must be a jax.Device .* got 'gpu' of type str"):
        nn.Dense(2).initialize(device="gpu")


def _mlp():
    net = nn.Sequential()
    net.add(nn.Dense(3, activation="relu"), nn.Dense(2))
    return net


def test_docstring_examples():
    result = doctest.testmod(device, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
