"""The notebooks' first cell, which installs dstraight on Colab and in fresh environments.

Every notebook must start with the cell that tools/install_cell.py generates (from the project's
home in _config.yml, the ranges of pyproject.toml and the versions of constraints.txt), tagged
``remove-cell`` and stored without output. The cell's logic is run here with the environment
faked: it must do nothing where dstraight is importable, and elsewhere install it from the
project's home (or ``DSTRAIGHT_SOURCE``) with the locked versions of exactly the packages that are
missing or too old, jax and jaxlib together.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402
import lock  # noqa: E402
import project_home  # noqa: E402

NOTEBOOKS = install_cell.notebooks([])
LOCKED = lock.read()[1]


def test_the_book_has_notebooks():
    assert len(NOTEBOOKS) >= 9


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_current_install_cell(path):
    assert install_cell.problems(path) == []


def test_stale_untagged_or_noisy_install_cells_are_reported(tmp_path):
    def variant(change):
        nb = nbformat.read(NOTEBOOKS[0], as_version=4)
        change(install_cell.first_code_cell(nb))
        path = tmp_path / f"variant-{len(list(tmp_path.iterdir()))}.ipynb"
        nbformat.write(nb, path)
        return install_cell.problems(path)

    stale = variant(lambda c: setattr(c, "source", c.source.replace("0.10.2", "0.4.30")))
    assert len(stale) == 1 and "not the current install cell" in stale[0], stale
    untagged = variant(lambda c: c.metadata.update(tags=[]))
    assert len(untagged) == 1 and "lacks the tag 'remove-cell'" in untagged[0], untagged
    noisy = variant(lambda c: c.outputs.append(
        nbformat.v4.new_output("stream", name="stdout", text="Installing dstraight\n")))
    assert len(noisy) == 1 and "stores output" in noisy[0], noisy


def run_cell(monkeypatch, installed: dict[str, str], has_dstraight: bool, env=None):
    """Executes the install cell against a faked environment; returns the pip commands."""
    calls = []
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "dstraight":
            return real_find_spec(name) if has_dstraight else None
        return real_find_spec(name, *args, **kwargs)

    def version(name):
        if name not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[name]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    monkeypatch.delenv("DSTRAIGHT_SOURCE", raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    exec(install_cell.cell_source(), {})  # noqa: S102 - the notebook cell, as a kernel runs it
    return calls


def test_the_cell_does_nothing_where_dstraight_is_installed(monkeypatch, capsys):
    assert run_cell(monkeypatch, {}, has_dstraight=True) == []
    assert capsys.readouterr().out == ""


def test_a_fresh_environment_gets_the_locked_versions(monkeypatch):
    (command,) = run_cell(monkeypatch, {}, has_dstraight=False)
    assert command[:5] == [sys.executable, "-m", "pip", "install", "--quiet"]
    assert command[5] == "git+" + project_home.home()
    pins = dict(pin.split("==") for pin in command[6:])
    assert pins == {name: LOCKED[name] for name in install_cell.PACKAGES}
    assert pins["jax"] == "0.10.2" and pins["optax"] == "0.2.8" and pins["numpy"] == "2.4.6"


def test_usable_preinstalled_packages_are_kept(monkeypatch):
    # Colab-like: recent JAX and NumPy preinstalled, optax too old, tqdm and matplotlib missing.
    colab = {"jax": "0.7.1", "jaxlib": "0.7.1", "numpy": "2.0.2", "optax": "0.2.1"}
    (command,) = run_cell(monkeypatch, colab, has_dstraight=False,
                          env={"DSTRAIGHT_SOURCE": "/src/book"})
    assert command[5] == "/src/book"
    pins = dict(pin.split("==") for pin in command[6:])
    assert pins == {name: LOCKED[name] for name in ("optax", "matplotlib", "tqdm")}


def test_jax_and_jaxlib_are_replaced_together(monkeypatch):
    old_jaxlib = {"jax": "0.5.0", "jaxlib": "0.4.20", "numpy": "2.0.2", "optax": "0.2.4",
                  "matplotlib": "3.9.0", "tqdm": "4.67.0"}
    (command,) = run_cell(monkeypatch, old_jaxlib, has_dstraight=False)
    assert command[6:] == [f"jax=={LOCKED['jax']}", f"jaxlib=={LOCKED['jaxlib']}"]


def test_minimum_versions_are_pyprojects():
    minimum = install_cell.minimum_versions()
    assert minimum["jax"] == minimum["jaxlib"] and set(minimum) == set(install_cell.PACKAGES)
    assert f'"jax": "{minimum["jax"]}"' in install_cell.cell_source()
