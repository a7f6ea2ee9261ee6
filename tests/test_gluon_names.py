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


@pytest.mark.parametrize("package", sorted(MISSING))
def test_other_missing_names_keep_python_s_message(package):
    module = importlib.import_module(package)
    with pytest.raises(AttributeError, match=rf"^module '{package}' has no attribute 'Nonsense'$"):
        _ = module.Nonsense
    assert getattr(module, "Nonsense", None) is None


def test_hints_name_something_that_exists():
    # spot checks that the advice points at real dstraight names
    import dstraight
    from dstraight import data

    assert callable(dstraight.data_parallel) and callable(dstraight.try_gpu)
    assert data.NDArrayIter and data.DataBatch and data.DataDesc and data.ArrayDataset
    assert hasattr(data.ArrayDataset, "transform_first") and callable(data.MNIST)
