"""Re-execute notebooks in place so that their stored outputs are fresh and reproducible.

Usage: python tools/execute_notebooks.py [NOTEBOOK_OR_FOLDER ...]   (default: notebooks/)

Each notebook runs top to bottom in a fresh ``python3`` kernel from this environment, with JAX on
the CPU, from the notebook's own folder. Nothing that changes from run to run is written: no
per-cell timestamps, no kernel or widget state. Measured timings do change from run to run; where a
cell's new output differs from the stored one only in what nbval's sanitizer masks (timings, rates,
memory addresses: tests/nbval_sanitize.cfg) and only in their digits, the stored output of the
earlier execution is kept.
So an unchanged notebook re-executes to a byte-identical file and ``git diff`` stays empty, while
any real change of output is written.
"""

from __future__ import annotations

import configparser
import copy
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_PER_CELL_S = 600
SANITIZER = ROOT / "tests" / "nbval_sanitize.cfg"


def load_sanitizer(path: Path = SANITIZER) -> list[tuple[re.Pattern, str]]:
    """The (regex, replacement) pairs that nbval applies before comparing outputs."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


def comparable(outputs: list, rules: list[tuple[re.Pattern, str]]) -> str:
    """What nbval compares of a cell's outputs: text with the sanitizer applied, stderr left out."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            if out.get("name") == "stderr":
                continue
            text = "".join(out.get("text", ""))
        else:
            data = out.get("data", {})
            text = repr(sorted((k, "".join(v) if isinstance(v, list) else v)
                               for k, v in data.items()))
            text += out.get("ename", "")
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        parts.append(text)
    return "\x00".join(parts)


# Outputs are kept only when they differ in numbers alone: a changed unit or wording (a print
# switched from "0.53 s" to "530 ms") is a real change even though the sanitizer masks both.
DIGITS = [(re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+)?"), "N")]


def keep_equivalent_outputs(new: nbformat.NotebookNode, old: nbformat.NotebookNode) -> int:
    """Keep a cell's stored outputs where the fresh ones differ only in masked values."""
    rules = load_sanitizer()
    kept = 0
    if len(new.cells) != len(old.cells):
        return kept
    for fresh, stored in zip(new.cells, old.cells, strict=True):
        if fresh.cell_type != "code" or fresh.source != stored.source:
            continue
        if (fresh.outputs != stored.outputs
                and comparable(fresh.outputs, rules) == comparable(stored.outputs, rules)
                and comparable(fresh.outputs, DIGITS) == comparable(stored.outputs, DIGITS)):
            fresh.outputs = stored.outputs
            kept += 1
    return kept


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
    before = copy.deepcopy(nb)
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
    keep_equivalent_outputs(nb, before)
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
