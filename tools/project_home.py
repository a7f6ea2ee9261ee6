"""The project's home, one setting: ``repository.url`` in _config.yml.

Jupyter Book builds the launch (Binder, Colab), repository and issue buttons from it; the notebooks'
install cells install ``dstraight`` from it; the README and the installation page tell readers to
clone it. This module reads the setting, finds every GitHub address in the files readers see, and
reports those that name another repository, so that a test fails when they disagree. ``set``
changes the home everywhere at once.

Usage:
    python tools/project_home.py             print the home and every place that names it
    python tools/project_home.py set URL     make URL the home in _config.yml and every place
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "_config.yml"
# GitHub addresses of a repository, in the forms the book uses: https://github.com/OWNER/NAME
# (optionally .git, or followed by a path), and the Colab and Binder launch forms.
ADDRESS = re.compile(
    r"(?:github\.com|colab\.research\.google\.com/github|mybinder\.org/v2/gh)"
    r"/(?P<owner>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?(?=[/\s\"'`)#>\]\\]|$)"
)
# `cd NAME` right after a clone: the folder git creates is the repository's name.
CD = re.compile(r"^cd (?P<name>[A-Za-z0-9_.-]+)\s*$", re.MULTILINE)
# Repositories other than ours that the text may link to: owner/name. JAX's issue tracker is
# cited where the book works around a known XLA limitation (chapter 4, the appendix).
FOREIGN: set[str] = {"jax-ml/jax"}


def home() -> str:
    """The project's repository URL, without a trailing slash."""
    url = yaml.safe_load(CONFIG.read_text())["repository"]["url"].rstrip("/")
    if ADDRESS.fullmatch(url.removeprefix("https://")) is None:
        raise ValueError(f"_config.yml: repository.url must be https://github.com/OWNER/NAME, "
                         f"got {url!r}")
    return url


def owner_name(url: str) -> str:
    return ADDRESS.search(url).group("owner") + "/" + ADDRESS.search(url).group("name")


def files() -> list[Path]:
    """The files that name the project's home: what readers and installers read."""
    found = [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]
    found += sorted((ROOT / "book").rglob("*.md"))
    found += sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb")
                    if ".ipynb_checkpoints" not in p.parts)
    found += sorted(p for p in (ROOT / "binder").glob("*") if p.is_file())
    return [p for p in found if p.exists()]


def places(paths: list[Path] | None = None) -> list[tuple[Path, str]]:
    """(file, owner/name) for every GitHub address, and (file, name) for every `cd NAME`."""
    found = []
    for path in files() if paths is None else paths:
        text = path.read_text(encoding="utf-8")
        found += [(path, f"{m['owner']}/{m['name']}") for m in ADDRESS.finditer(text)]
        found += [(path, m["name"]) for m in CD.finditer(text)]
    return found


def disagreements(paths: list[Path] | None = None, url: str | None = None) -> list[str]:
    """One line per place that names a repository other than the home (or FOREIGN)."""
    ours = owner_name(home() if url is None else url)
    allowed = {ours, ours.split("/")[1]} | FOREIGN
    return [f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: names {found!r}, "
            f"but the project's home (repository.url in _config.yml) is {ours!r}"
            for path, found in places(paths) if found not in allowed]


def set_home(url: str) -> None:
    old = owner_name(home())
    new = owner_name(url)
    text = CONFIG.read_text()
    text = re.sub(r"(?m)^(\s*url:\s*)https://github\.com/\S+$", rf"\g<1>{url}", text, count=1)
    CONFIG.write_text(text)
    for path in files():
        text = path.read_text(encoding="utf-8")
        changed = text.replace(f"/{old}", f"/{new}")
        changed = CD.sub(lambda m: f"cd {new.split('/')[1]}" if m["name"] == old.split("/")[1]
                         else m[0], changed)
        if changed != text:
            path.write_text(changed, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["set"] and len(argv) == 2:
        set_home(argv[1].rstrip("/"))
        print("Now run: python tools/install_cell.py write && make execute && make test")
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"home: {home()}")
    for path, found in places():
        print(f"  {path.relative_to(ROOT)}: {found}")
    lines = disagreements()
    print("\n".join(lines) or "every place agrees")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
