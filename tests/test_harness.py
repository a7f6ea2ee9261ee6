"""The notebook test harness tests itself: nbval with this repository's configuration must pass an
honest notebook, fail a changed output, ignore what varies between runs (stderr, timings), and
collect only the notebooks that belong to the book. The executor must be reproducible and the
unexecuted-cell check must catch what nbval lets through."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tiny.ipynb"
sys.path.insert(0, str(ROOT / "tools"))

import check_notebooks  # noqa: E402


def make_project(tmp_path: Path) -> Path:
    """A throwaway project with this repository's real pytest/nbval configuration."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = ["[pytest]"]
    for key, value in options.items():
        if isinstance(value, list):
            value = " ".join(value)
        lines.append(f"{key} = {value}")
    (tmp_path / "pytest.ini").write_text("\n".join(lines) + "\n")
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "nbval_sanitize.cfg", tmp_path / "tests" / "nbval_sanitize.cfg")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def project_with_fixture(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway project holding a copy of the fixture notebook; returns (project, notebook)."""
    project = make_project(tmp_path)
    nb = project / "notebooks" / "tiny.ipynb"
    shutil.copy(FIXTURE, nb)
    return project, nb


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )


def edit_output(path: Path, cell_index: int, new_text: str) -> None:
    nb = json.loads(path.read_text())
    nb["cells"][cell_index]["outputs"][0]["text"] = [new_text]
    path.write_text(json.dumps(nb, indent=1))


def code_cell_index(path: Path, needle: str) -> int:
    nb = json.loads(path.read_text())
    return next(i for i, c in enumerate(nb["cells"]) if needle in "".join(c["source"]))


def test_fixture_is_executed_and_clean():
    assert check_notebooks.problems(FIXTURE) == []


def test_nbval_passes_an_honest_notebook(tmp_path):
    project, _ = project_with_fixture(tmp_path)
    result = run_pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


def test_nbval_fails_a_changed_output(tmp_path):
    project, nb = project_with_fixture(tmp_path)
    edit_output(nb, code_cell_index(nb, "jnp.sum"), "14.0001\n")
    result = run_pytest(project)
    assert result.returncode == 1, result.stdout
    assert "1 failed, 4 passed" in result.stdout


def test_stderr_and_timings_are_not_compared(tmp_path):
    project, nb = project_with_fixture(tmp_path)
    edit_output(nb, code_cell_index(nb, "file=sys.stderr"), "a different progress bar\n")
    edit_output(nb, code_cell_index(nb, "perf_counter"), "took 987.654 ms\n")
    result = run_pytest(project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kernels_run_jax_on_the_cpu(tmp_path):
    # The fixture stores "cpu" as the kernel's JAX_PLATFORMS; nbval passing means conftest set it.
    nb = nbformat.read(FIXTURE, as_version=4)
    assert nb.cells[1].outputs[0]["text"] == "cpu\n"


def test_unexecuted_cells_pass_nbval_but_fail_the_check(tmp_path):
    project = make_project(tmp_path)
    nb_path = project / "notebooks" / "tiny.ipynb"
    nb = nbformat.read(FIXTURE, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('never run')"))
    nbformat.write(nb, nb_path)
    # nbval alone lets it through: this is the gap the check closes.
    assert run_pytest(project).returncode == 0
    found = check_notebooks.problems(nb_path)
    assert len(found) == 1 and "code cell 7 was never executed" in found[0]


def test_stored_errors_fail_the_check(tmp_path):
    nb = nbformat.read(FIXTURE, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x",
                                                  traceback=[])]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    assert check_notebooks.problems(path) == [f"{path}: code cell 3 stores an error (NameError)"]
    assert check_notebooks.main([str(path)]) == 1


def test_only_book_notebooks_are_collected(tmp_path):
    project = make_project(tmp_path)
    for rel in ["notebooks/ch/a.ipynb", "_build/jupyter_execute/a.ipynb",
                "notebooks/ch/.ipynb_checkpoints/a-checkpoint.ipynb", ".venv/share/b.ipynb",
                "tests/fixtures/tiny.ipynb"]:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURE, project / rel)
    result = run_pytest(project, "--collect-only")
    collected = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert collected == {"notebooks/ch/a.ipynb"}, result.stdout


def test_execute_is_reproducible(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Reproducibility check"),
        nbformat.v4.new_code_cell("import jax\n\nkey = jax.random.key(0)\n"
                                  "print(f\"{float(jax.random.normal(key)):.4f}\")"),
        nbformat.v4.new_code_cell("{'a': 1}"),
    ])
    path = tmp_path / "repro.ipynb"
    nbformat.write(nb, path)
    script = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), str(path)]
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    first = path.read_bytes()
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    assert path.read_bytes() == first
    executed = nbformat.read(path, as_version=4)
    assert check_notebooks.problems(path) == []
    assert "execution" not in executed.cells[1].metadata  # no per-cell timestamps


def book_notebooks() -> list[Path]:
    return check_notebooks.notebooks_under(ROOT / "notebooks")


@pytest.mark.parametrize("path", book_notebooks(), ids=lambda p: p.name)
def test_book_notebooks_are_fully_executed(path):
    assert check_notebooks.problems(path) == []


def test_the_book_has_notebooks():
    # Guards the parametrised test above from silently checking nothing.
    assert len(book_notebooks()) >= 8


def test_execute_keeps_stored_timings_but_writes_real_changes(tmp_path):
    # The fixture prints a measured time, different on every run; nbval masks it, and so must the
    # executor: re-executing leaves the file byte-identical to what was committed.
    path = tmp_path / "tiny.ipynb"
    shutil.copy(FIXTURE, path)
    script = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), str(path)]
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    assert path.read_bytes() == FIXTURE.read_bytes()

    nb = nbformat.read(path, as_version=4)
    nb.cells[-1].source = "x * 3"
    nbformat.write(nb, path)
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    result = nbformat.read(path, as_version=4).cells[-1].outputs[0]["data"]["text/plain"]
    assert result == "Array([0., 3., 6., 9.], dtype=float32)"


def test_execute_writes_an_output_whose_unit_changed(tmp_path):
    # The sanitizer masks "0.005 s" and "5 ms" alike, but a print that changed its unit (or any
    # word) is a real change: only differences in digits alone keep the stored output.
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('took 5 ms')")])
    path = tmp_path / "unit.ipynb"
    nbformat.write(nb, path)
    script = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), str(path)]
    subprocess.run(script, check=True, capture_output=True, timeout=300)
    for stored, expected in [("took 0.005 s\n", "took 5 ms\n"), ("took 7 ms\n", "took 7 ms\n")]:
        executed = nbformat.read(path, as_version=4)
        executed.cells[0].outputs[0]["text"] = stored
        nbformat.write(executed, path)
        subprocess.run(script, check=True, capture_output=True, timeout=300)
        assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == expected
