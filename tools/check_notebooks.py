"""Find notebooks that nbval would pass for the wrong reason.

nbval re-executes every code cell but compares only the outputs a cell has stored: a cell that was
never executed has none, so it passes whatever it does now; and a stored error output would be
"reproduced" by the same error. This check fails on both.

Usage: python tools/check_notebooks.py [NOTEBOOK_OR_FOLDER ...]   (default: notebooks/)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def problems(path: Path) -> list[str]:
    """Return one line per code cell that is unexecuted or stores an error output."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return [f"{path}: not a readable notebook ({err})"]
    found = []
    for number, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") != "code" or not "".join(cell.get("source", "")).strip():
            continue
        if cell.get("execution_count") is None:
            found.append(f"{path}: code cell {number} was never executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{path}: code cell {number} stores an error ({out.get('ename')})")
    return found


def notebooks_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def main(argv: list[str]) -> int:
    targets = [Path(a) for a in argv] or [ROOT / "notebooks"]
    paths = [p for t in targets for p in (notebooks_under(t) if t.is_dir() else [t])]
    lines = [line for p in paths for line in problems(p)]
    for line in lines:
        print(line)
    print(f"checked {len(paths)} notebooks: {len(lines)} problems")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
