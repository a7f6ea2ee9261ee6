"""The benchmark's modules import only names that exist: bench/ has no test run of its own (a
full `make bench` takes minutes), and an import inside a function fails only when it runs, as
bench/mesh.py's did after a function moved to bench/timing.py."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def missing_imports(path: Path) -> list[str]:
    """``file:line name from module`` for every ``from bench/dstraight... import name``, at any
    depth of the file, whose module lacks the name."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if node.module.split(".")[0] not in ("bench", "dstraight"):
            continue
        module = importlib.import_module(node.module)
        missing += [f"{path.name}:{node.lineno} {alias.name} from {node.module}"
                    for alias in node.names if not hasattr(module, alias.name)]
    return missing


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_name_a_bench_module_imports_exists(path):
    assert missing_imports(path) == []


def test_the_check_finds_a_stale_import_inside_a_function(tmp_path):
    stale = tmp_path / "stale.py"
    stale.write_text("def main():\n    from bench.__main__ import load_fashion_mnist, time_case\n")
    assert missing_imports(stale) == ["stale.py:2 time_case from bench.__main__"]
