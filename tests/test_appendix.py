"""The appendix "How fast is this?" works outside a clone of the book.

On Colab or from a downloaded ``.ipynb`` there is no ``bench/results`` folder; the notebook then
uses the copy of the results stored in one of its cells. Here: that copy equals the files, and the
notebook, copied alone into an empty folder, runs top to bottom in a fresh kernel (its hidden
checks included), says where its numbers come from, and prints the same table as in the clone.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import embed_bench_results  # noqa: E402

NOTEBOOK = embed_bench_results.NOTEBOOK


def stdout_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


def test_the_stored_results_are_the_files():
    assert embed_bench_results.stored_in_notebook() == embed_bench_results.from_files()
    assert len(embed_bench_results.from_files()) >= 2


@pytest.fixture(scope="module")
def executed_alone(tmp_path_factory):
    nbclient = pytest.importorskip("nbclient")
    folder = tmp_path_factory.mktemp("downloaded")
    copy = folder / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError if any cell, hidden checks included, fails
    return nb


def test_the_notebook_runs_from_an_empty_folder(executed_alone):
    loading = next(c for c in executed_alone.cells if "RESULTS = Path(" in c.source)
    out = stdout_of(loading)
    assert out.startswith("../../bench/results is not here"), out
    assert "the 2 results stored in this notebook" in out and "cpu-2core:" in out


def test_it_shows_the_table_of_the_clone(executed_alone):
    stored = nbformat.read(NOTEBOOK, as_version=4)
    alone = [stdout_of(c) for c in executed_alone.cells if "def table(run)" in c.source]
    clone = [stdout_of(c) for c in stored.cells if "def table(run)" in c.source]
    assert alone == clone and "vs reference" in clone[0]
