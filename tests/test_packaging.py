"""Packaging facts that no install here exercises, checked against pyproject.toml instead: the conda
environment file (conda is not available offline), the lock (constraints.txt) that make and CI
install with, and the Binder configuration (mybinder.org cannot be reached from the tests)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import lock  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_python() -> str:
    pins = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert len(pins) == 1, f"environment.yml should pin python once, found {pins}"
    return pins[0].split("=", 1)[1]


def pip_section() -> list[str]:
    sections = [d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml should have exactly one pip section"
    return sections[0]


def test_same_python():
    minimum = re.fullmatch(r">=(\d+\.\d+)", PYPROJECT["project"]["requires-python"]).group(1)
    assert conda_python() == minimum


def test_pip_section_installs_this_project_with_book_and_test_extras():
    entries = pip_section()
    project = [e for e in entries if e.startswith("-e .")]
    assert project == ["-e .[book,test]"], entries
    extras = set(re.search(r"\[(.*)\]", project[0]).group(1).split(","))
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])


MAKEFILE = (ROOT / "Makefile").read_text()
LOCK_PYTHON, LOCKED = lock.read()


def make_rule(target: str) -> str:
    """The prerequisites line and recipe of a Makefile target."""
    match = re.search(rf"^{re.escape(target)}:(.*?)(?=^\S|\Z)", MAKEFILE, re.M | re.S)
    assert match, f"the Makefile has no target {target!r}"
    return match.group(1)


def test_makefile_installs_the_same_extras_with_the_lock():
    assert "LOCK   := constraints.txt" in MAKEFILE
    assert "pip install --quiet -c $(LOCK) -e '.[book,test]'" in make_rule("$(STAMP)")
    assert make_rule("$(STAMP)").split("\n")[0].split() == ["pyproject.toml", "$(LOCK)"]


@pytest.mark.parametrize("target", ["test", "book", "execute", "notebooks", "lab", "check-site"])
def test_make_targets_install_with_the_lock(target):
    assert "$(STAMP)" in make_rule(target).split("\n")[0], make_rule(target)


def test_ci_runs_make_test():
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith("make test")


def test_test_latest_and_lock_install_without_the_lock():
    for target in ("test-latest", "lock"):
        assert "-c $(LOCK)" not in make_rule(target) and "'.[book,test]'" in make_rule(target)
    assert "--upgrade -e '.[book,test]'" in make_rule("test-latest")
    assert "tools/lock.py write" in make_rule("lock")


def test_lab_does_not_need_the_data():
    assert "data" not in make_rule("lab").split("\n")[0].split()


def all_requirements() -> list[Requirement]:
    deps = list(PYPROJECT["project"]["dependencies"])
    for extra in ("book", "test"):
        deps += PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(d) for d in deps]


def test_the_lock_pins_every_dependency_within_its_range():
    outside = []
    for req in all_requirements():
        name = lock.normalise(req.name)
        assert name in LOCKED, f"constraints.txt does not pin {req.name}; run make lock"
        if not req.specifier.contains(LOCKED[name], prereleases=True):
            outside.append(f"{req.name}=={LOCKED[name]} is outside {req.specifier}")
    assert not outside, outside


def test_the_lock_holds_the_versions_the_stored_outputs_were_made_with():
    made_with = {"jax": "0.10.2", "jaxlib": "0.10.2", "optax": "0.2.8", "numpy": "2.4.6"}
    assert {name: LOCKED[name] for name in made_with} == made_with
    assert "dstraight" not in LOCKED, "the project itself must not be pinned"
    assert LOCK_PYTHON == conda_python() == "3.11"
    assert len(LOCKED) > 100, "a fresh make venv installs well over a hundred packages"


def test_the_lock_is_what_lock_write_produces():
    text = (ROOT / "constraints.txt").read_text()
    header, pins = text.split(f"# python {LOCK_PYTHON}\n")
    assert header == lock.HEADER.split("# python")[0]
    assert pins.splitlines() == sorted(pins.splitlines(), key=str.lower)


def test_lock_drift_report():
    report = lock.drift({"jax": "0.10.2", "numpy": "2.4.6"},
                        {"JAX": "0.11.0", "numpy": "2.4.6", "Jupyter_Book": "1.0.5"})
    assert report.splitlines() == [
        "2 packages differ from constraints.txt (locked -> newest):",
        "  jax: 0.10.2 -> 0.11.0",
        "  jupyter-book: - -> 1.0.5",
    ]
    assert lock.drift({"jax": "0.10.2"}, {"jax": "0.10.2"}) == (
        "the newest releases are the locked ones")


BINDER = ROOT / "binder"


def binder_lines(name: str) -> list[str]:
    lines = (BINDER / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_binder_installs_this_project_with_the_lock():
    entries = binder_lines("requirements.txt")
    assert "-c ../constraints.txt" in entries
    assert (BINDER / "../constraints.txt").resolve() == (ROOT / "constraints.txt")
    project = [e for e in entries if e.startswith("-e .")]
    assert len(project) == 1, entries
    extras = re.search(r"\[(.*)\]", project[0])
    assert extras is None or set(extras.group(1).split(",")) <= set(
        PYPROJECT["project"]["optional-dependencies"])
    assert not [e for e in entries if not e.startswith(("-c ", "-e "))], (
        "name the dependencies in pyproject.toml, not in binder/requirements.txt")


def test_binder_python_and_data():
    assert binder_lines("runtime.txt") == [f"python-{LOCK_PYTHON}"]
    assert f"python-{conda_python()}" == binder_lines("runtime.txt")[0]
    assert binder_lines("apt.txt") == ["dataset-fashion-mnist"]


def test_conda_forge_and_gpu_note():
    assert ENVIRONMENT["channels"] == ["conda-forge"]
    text = (ROOT / "environment.yml").read_text()
    assert '.[cuda]' in text and "cuda" in PYPROJECT["project"]["optional-dependencies"]


def test_dependencies_are_ranges_not_pins():
    deps = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        deps += extra
    pinned = [d for d in deps if "==" in d]
    assert pinned == [], f"exact pins make the book uninstallable next year: {pinned}"
    assert "jupyter-book>=1.0.4,<2" in PYPROJECT["project"]["optional-dependencies"]["book"]
