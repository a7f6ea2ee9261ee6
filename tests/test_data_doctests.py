"""The docstring examples of every module of dstraight.data run and give what they show."""

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import dstraight.data

MODULES = sorted(
    f"dstraight.data.{info.name}" for info in pkgutil.iter_modules(dstraight.data.__path__)
)


def test_every_module_is_collected():
    # A module that failed to be listed would silently lose its doctests.
    names = {p.stem for p in Path(dstraight.data.__file__).parent.glob("*.py")}
    assert {m.rsplit(".", 1)[1] for m in MODULES} == names - {"__init__"}


@pytest.mark.usefixtures("private_cache")  # examples that look at the cache see an empty one
@pytest.mark.parametrize("name", ["dstraight.data", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    source = Path(module.__file__).read_text()
    # Where the source shows examples, doctest must have found and run some.
    assert (result.attempted > 0) == (">>>" in source)
