"""Packaging facts that no install here exercises: conda is not available offline, so its
environment file is checked against pyproject.toml instead."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
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


def test_makefile_installs_the_same_extras():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet -e '.[book,test]'" in makefile


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
