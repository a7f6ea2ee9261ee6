"""Re-execute notebooks in place so that their stored outputs are fresh and reproducible.

Usage: python tools/execute_notebooks.py [NOTEBOOK_OR_FOLDER ...]   (default: notebooks/)

Each notebook runs top to bottom in a fresh ``python3`` kernel from this environment, with JAX on
the CPU, from the notebook's own folder. Nothing that changes from run to run is written: no
per-cell timestamps, no kernel or widget state, so an unchanged notebook re-executes to a
byte-identical file and ``git diff`` stays empty.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_PER_CELL_S = 600


def find_notebooks(args: list[str]) -> list[Path]:
    targets = [Path(a) for a in args] or [ROOT / "notebooks"]
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            found += sorted(
                p for p in target.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
            )
        elif target.suffix == ".ipynb" and target.exists():
            found.append(target)
        else:
            raise SystemExit(f"execute_notebooks: expected a notebook or a folder, got {target!s}")
    return found


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same name into one.

    The kernel flushes stdout in chunks whose boundaries depend on timing, so the same printed text
    can be stored as one output or as several; joining them makes the file depend on the text alone.
    """
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None
                and prev.get("output_type") == "stream" and prev.get("name") == out.get("name")):
            prev["text"] = "".join(prev["text"]) + "".join(out["text"])
        else:
            merged.append(out)
    return merged


def strip_volatile(nb: nbformat.NotebookNode) -> None:
    """Remove metadata that differs between runs of the same notebook."""
    for key in ("widgets", "papermill", "execution"):
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
            for out in cell.outputs:
                # Interactive widgets (tqdm in a notebook) carry a fresh random model id each run.
                out.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)


def execute(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=TIMEOUT_PER_CELL_S,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    strip_volatile(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    for path in find_notebooks(argv):
        elapsed = execute(path)
        print(f"executed {path} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
