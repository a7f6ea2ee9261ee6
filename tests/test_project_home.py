"""The project's home is one setting (repository.url in _config.yml) that every place agrees with.

The launch, repository and issue buttons come from it (test_book_html checks the built pages);
here: the install cells, the README, the installation page and the Binder files name no other
repository, there are enough such places for the check to mean something, a planted disagreement
is caught, and ``tools/project_home.py set`` moves every place at once.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import project_home  # noqa: E402

HOME = project_home.home()


def test_the_home_is_a_github_repository():
    assert HOME.startswith("https://github.com/") and HOME.count("/") == 4, HOME


def test_every_place_names_the_home():
    assert project_home.disagreements() == []


def test_the_check_covers_the_places_readers_use():
    named = {path.relative_to(ROOT).as_posix() for path, _ in project_home.places()}
    notebooks = {p for p in named if p.startswith("notebooks/")}
    assert {"README.md", "book/installation.md", "book/intro.md"} <= named, named
    assert len(notebooks) >= 9, notebooks  # one install cell each


def test_a_different_repository_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("git clone https://github.com/someone-else/fork.git\ncd fork\n")
    found = project_home.disagreements([page])
    assert len(found) == 2, found
    assert "'someone-else/fork'" in found[0] and "'fork'" in found[1]
    assert project_home.owner_name(HOME) in found[0]


def test_set_moves_every_place(tmp_path, monkeypatch):
    for rel in ["_config.yml", "README.md", "book/installation.md", "book/intro.md",
                "notebooks/chapter01_crashcourse/arrays.ipynb"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    monkeypatch.setattr(project_home, "ROOT", tmp_path)
    monkeypatch.setattr(project_home, "CONFIG", tmp_path / "_config.yml")
    new = "https://github.com/example-org/dope"
    project_home.set_home(new)
    assert project_home.home() == new
    assert project_home.disagreements() == []
    named = {found for _, found in project_home.places()}
    assert named == {"example-org/dope", "dope"}, named
