"""The first code cell of every notebook: install ``dstraight`` where it is missing.

On Colab, on Binder before its build has the package, or in any fresh environment, a notebook would
stop at ``import dstraight``. Its first code cell therefore installs the package from the project's
home (``repository.url`` in _config.yml; ``DSTRAIGHT_SOURCE`` overrides it, e.g. with the path of a
local checkout) when, and only when, it cannot be imported. Packages the environment already has
in a usable version are kept (Colab's JAX matches its GPU); the others are installed in the
versions of the lock, which the book's outputs were made with. In JupyterLab from a clone and under
nbval the package is installed, so the cell does nothing and stores no output. The book hides it
(tag ``remove-cell``).

The cell is generated here from _config.yml, pyproject.toml and constraints.txt, so that it never
disagrees with them; ``tests/test_install_cell.py`` checks every notebook against it.

Usage:
    python tools/install_cell.py write [NOTEBOOK ...]   put the current cell into the notebooks
    python tools/install_cell.py check [NOTEBOOK ...]   list notebooks whose first cell differs
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lock  # noqa: E402
import project_home  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TAG = "remove-cell"
# dstraight's own dependencies (pyproject.toml), and jaxlib, which is released with jax.
PACKAGES = ["jax", "jaxlib", "optax", "numpy", "matplotlib", "tqdm"]

TEMPLATE = '''\
# Colab, or any fresh environment: install this book's package, dstraight, if it is missing.
# (In JupyterLab from a clone, and under the book's tests, it is installed: this does nothing.)
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys

if importlib.util.find_spec("dstraight") is None:
    SOURCE = os.environ.get(
        "DSTRAIGHT_SOURCE", "git+{url}"
    )
    # Kept: what the environment has in a usable version (Colab's JAX matches its GPU).
    # Installed in the versions this book's outputs were made with: the rest.
    TESTED = {tested}
    MINIMUM = {minimum}

    def release(version):
        return tuple(int(part) for part in re.findall(r"\\d+", version)[:3])

    def usable(name):
        try:
            return release(importlib.metadata.version(name)) >= release(MINIMUM[name])
        except importlib.metadata.PackageNotFoundError:
            return False

    keep = {{name for name in TESTED if usable(name)}}
    if not {{"jax", "jaxlib"}} <= keep:  # released in step: replace both or neither
        keep -= {{"jax", "jaxlib"}}
    pins = [f"{{name}}=={{version}}" for name, version in TESTED.items() if name not in keep]
    print("Installing dstraight from", SOURCE, *pins)
    command = [sys.executable, "-m", "pip", "install", "--quiet", SOURCE, *pins]
    subprocess.run(command, check=True)
    importlib.invalidate_caches()
'''


def minimum_versions() -> dict[str, str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for dep in deps:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", dep.strip())
        if match is None:
            raise ValueError(f"pyproject.toml: expected 'name>=version', got {dep!r}")
        found[lock.normalise(match.group(1))] = match.group(2)
    found["jaxlib"] = found["jax"]
    missing = [name for name in PACKAGES if name not in found]
    if missing:
        raise ValueError(f"pyproject.toml does not declare {missing}; update PACKAGES here")
    return {name: found[name] for name in PACKAGES}


def cell_source() -> str:
    pins = lock.read()[1]
    tested = {name: pins[name] for name in PACKAGES}
    return TEMPLATE.format(
        url=project_home.home(),
        tested=format_dict(tested, indent=len("    TESTED = {")),
        minimum=format_dict(minimum_versions(), indent=len("    MINIMUM = {")),
    )


def format_dict(d: dict[str, str], indent: int) -> str:
    """A dict literal for the cell, four entries a line, continued lines aligned under the first."""
    items = [f'"{k}": "{v}"' for k, v in d.items()]
    lines = [", ".join(items[i:i + 4]) for i in range(0, len(items), 4)]
    return "{" + (",\n" + " " * indent).join(lines) + "}"


def notebooks(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    folder = ROOT / "notebooks"
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def first_code_cell(nb: nbformat.NotebookNode):
    return next((c for c in nb.cells if c.cell_type == "code"), None)


def problems(path: Path, source: str | None = None) -> list[str]:
    """What is wrong with a notebook's install cell, one line each (empty when it is right)."""
    source = cell_source() if source is None else source
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    if cell is None or cell.source != source:
        return [f"{path}: the first code cell is not the current install cell "
                "(python tools/install_cell.py write, then make execute NB=...)"]
    found = []
    if TAG not in cell.metadata.get("tags", []):
        found.append(f"{path}: the install cell lacks the tag {TAG!r} (the book must hide it)")
    if cell.outputs:
        found.append(f"{path}: the install cell stores output; where dstraight is installed "
                     "it must do nothing")
    return found


def write(path: Path, source: str) -> bool:
    """Put the install cell first; True when the notebook changed."""
    nb = nbformat.read(path, as_version=4)
    cell = first_code_cell(nb)
    if cell is not None and cell.source.startswith(TEMPLATE.splitlines()[0]):
        if cell.source == source and TAG in cell.metadata.get("tags", []):
            return False
        cell.source = source
    else:
        cell = nbformat.v4.new_code_cell(source)
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first_code, cell)
    cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {TAG})
    cell.outputs = []
    cell.execution_count = None  # the notebook must be executed again: make execute NB=...
    nbformat.write(nb, path)
    return True


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("write", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    source = cell_source()
    if argv[0] == "write":
        for path in notebooks(argv[1:]):
            if write(path, source):
                print(f"updated {path}: execute it again (make execute NB={path})")
        return 0
    lines = [line for path in notebooks(argv[1:]) for line in problems(path, source)]
    print("\n".join(lines) or "every notebook starts with the current install cell")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
