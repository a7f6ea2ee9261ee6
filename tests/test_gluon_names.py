"""MXNet names that dstraight lacks fail with what to write instead (dstraight/_gluon_names.py)."""

import importlib

import pytest

from dstraight._gluon_names import MISSING

CASES = [(package, name) for package, names in MISSING.items() for name in names]


@pytest.mark.parametrize("package, name", CASES)
def test_a_missing_mxnet_name_says_what_to_use(package, name):
    module = importlib.import_module(package)
    assert name not in vars(module), f"{package}.{name} exists now: remove it from MISSING"
    with pytest.raises(AttributeError, match=rf"^{package} has no {name} \(MXNet's name\): "):
        getattr(module, name)
    assert not hasattr(module, name)


@pytest.mark.parametrize("package, name", CASES)
def test_importing_a_missing_mxnet_name_says_what_to_use(package, name):
    # `from package import name` turns an AttributeError into a bare "cannot import name"
    with pytest.raises(ImportError, match=rf"^{package} has no {name} \(MXNet's name\): "):
        exec(f"from {package} import {name}", {})


@pytest.mark.parametrize("package", sorted(MISSING))
def test_other_missing_names_keep_python_s_message(package):
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match=rf"^module '{package}' has no attribute 'Nonsense'$"):
        _ = module.Nonsense
    assert getattr(module, "Nonsense", None) is None
    with pytest.raises(ImportError, match=rf"^cannot import name 'Nonsense' from '{package}'"):
        exec(f"from {package} import Nonsense", {})


def test_hints_name_something_that_exists():
    # spot checks that the advice points at real dstraight names
    import dstraight
    from dstraight import data

    assert callable(dstraight.data_parallel) and callable(dstraight.try_gpu)
    assert data.NDArrayIter and data.DataBatch and data.DataDesc and data.ArrayDataset
    assert hasattr(data.ArrayDataset, "transform_first") and callable(data.MNIST)


def test_the_1d_hint_computes_a_1d_convolution_and_pooling():
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax import lax

    from dstraight import nn

    x = jax.random.normal(jax.random.key(0), (2, 9, 3))  # (N, W, C)
    conv = nn.Conv2D(4, (1, 3))
    conv.initialize(key=1)
    y = conv(x[:, None])[:, 0]
    w = conv.weight.data()[0]  # (1, k, C, O) -> (k, C, O)
    want = lax.conv_general_dilated(x, w, (1,), "VALID", dimension_numbers=("NWC", "WIO", "NWC"))
    np.testing.assert_allclose(y, want + conv.bias.data(), rtol=1e-5, atol=1e-5)
    pooled = nn.MaxPool2D((1, 3))(x[:, None])[:, 0]
    np.testing.assert_array_equal(pooled, x[:, :9].reshape(2, 3, 3, 3).max(axis=2))
    assert nn.Lambda(lambda v: v.max(axis=1, keepdims=True))(x).shape == (2, 1, 3)
    assert jnp.array_equal(nn.Lambda(lambda v: v.max(axis=1, keepdims=True))(x)[:, 0],
                           x.max(axis=1))


def test_the_padding_and_transposed_convolution_hints_run_as_written():
    import jax
    import jax.numpy as jnp
    import numpy as np

    from dstraight import nn

    x = jnp.arange(2 * 3 * 3 * 1, dtype=jnp.float32).reshape(2, 3, 3, 1)
    p = 1
    padded = nn.Lambda(lambda v: jnp.pad(v, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect"))(x)
    assert padded.shape == (2, 5, 5, 1)
    np.testing.assert_array_equal(padded[0, 0, 1:-1, 0], x[0, 1, :, 0])  # row 1 mirrored above
    w = jnp.ones((2, 2, 1, 4))
    up = jax.lax.conv_transpose(x, w, (2, 2), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    assert up.shape == (2, 6, 6, 4)  # stride 2 doubles height and width
    np.testing.assert_allclose(up.sum(axis=(1, 2)), 4 * x.sum(axis=(1, 2)) * jnp.ones((1, 4)))
