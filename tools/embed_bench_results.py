"""Store the benchmark results inside the appendix notebook, for readers without a clone.

``notebooks/appendix/how-fast-is-this.ipynb`` reads ``bench/results/*.json`` when it runs inside a
clone of the book (so ``make bench`` results show up there). On Colab, or from a downloaded
``.ipynb``, that folder is not there; the notebook then uses the copy that this tool writes into
one of its cells (hidden in the book), trimmed to the fields the page uses.
``tests/test_appendix.py`` fails when the copy and the files disagree.

Usage: python tools/embed_bench_results.py [check]   (then make execute NB=notebooks/appendix/...)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NOTEBOOK = ROOT / "notebooks" / "appendix" / "how-fast-is-this.ipynb"
FIRST_LINE = "# The benchmark results this page was written from"
# The page derives the rest (samples per second, ratios) from the epoch times, as bench/ does.
CASE_FIELDS = ("epoch_s", "compile_s")
VERSIONS = ("jax", "torch")
WIDTH = 99


def significant(value, digits: int = 8):
    """Floats to 8 significant digits: every figure the page prints stays the same."""
    return float(f"{value:.{digits}g}") if isinstance(value, float) else value


def trimmed_problem(p: dict, extra: tuple[str, ...] = ()) -> dict:
    return {
        "problem": p["problem"],
        "batch_size": p["batch_size"],
        "steps_per_epoch": p["steps_per_epoch"],
        **{k: p[k] for k in extra},
        "cases": {case: {k: significant(row[k]) for k in CASE_FIELDS}
                  for case, row in p["cases"].items()},
    }


def trimmed(run: dict) -> dict:
    out = {
        "machine": run["machine"],
        "versions": {k: v for k, v in run["versions"].items() if k in VERSIONS},
        "results": [trimmed_problem(p) for p in run["results"]],
    }
    if run.get("lenet"):  # the LeNet-5 case, in runs since it was added
        out["lenet"] = trimmed_problem(run["lenet"], ("conv_impl", "pool_impl"))
    return out


def problem_lines(p: dict, first: str, indent: int) -> list[str]:
    pad = " " * indent
    extra = "".join(f", {json.dumps(k)}: {json.dumps(p[k])}" for k in ("conv_impl", "pool_impl")
                    if k in p)
    lines = [f'{pad}{first}{{"problem": {json.dumps(p["problem"])},',
             f'{pad}{" " * len(first)} "batch_size": {p["batch_size"]}, '
             f'"steps_per_epoch": {p["steps_per_epoch"]}{extra},',
             f'{pad}{" " * len(first)} "cases": {{']
    lines += [f"{pad}{' ' * len(first)}     {json.dumps(case)}: "
              f"{literal(row, indent + len(first) + 5)},"
              for case, row in p["cases"].items()]
    lines.append(f"{pad}{' ' * len(first)} }}}},")
    return lines


def from_files() -> dict:
    paths = sorted(RESULTS.glob("*.json"))
    if not paths:
        raise SystemExit(f"embed_bench_results: no results in {RESULTS}; run make bench")
    return {p.stem: trimmed(json.loads(p.read_text())) for p in paths}


def literal(d: dict, indent: int) -> str:
    """A dict as a Python literal on one line, or one entry a line when that is too wide."""
    flat = json.dumps(d)
    if indent + len(flat) + 1 <= WIDTH:
        return flat
    pad = " " * (indent + 4)
    return "{\n" + "".join(f"{pad}{json.dumps(k)}: {json.dumps(v)},\n" for k, v in d.items()) + (
        " " * indent + "}")


def cell_source(results: dict) -> str:
    lines = [
        f"{FIRST_LINE} (bench/results/*.json, trimmed to",
        "# what it uses), for readers without a clone of the book: Colab, a downloaded notebook.",
        "# Written by tools/embed_bench_results.py; the book's tests compare it with the files.",
        "STORED_RESULTS = {",
    ]
    for name, run in results.items():
        lines.append(f"    {json.dumps(name)}: {{")
        lines.append(f'        "machine": {literal(run["machine"], 8)},')
        lines.append(f'        "versions": {literal(run["versions"], 8)},')
        lines.append('        "results": [')
        for p in run["results"]:
            lines += problem_lines(p, "", 12)
        lines.append("        ],")
        if "lenet" in run:
            lines += problem_lines(run["lenet"], '"lenet": ', 8)
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def find_cell(nb: nbformat.NotebookNode):
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(FIRST_LINE)]
    if len(cells) != 1:
        raise SystemExit(f"embed_bench_results: expected one cell starting with {FIRST_LINE!r} "
                         f"in {NOTEBOOK}, found {len(cells)}")
    return cells[0]


def stored_in_notebook() -> dict:
    namespace: dict = {}
    exec(find_cell(nbformat.read(NOTEBOOK, as_version=4)).source, namespace)  # noqa: S102
    return namespace["STORED_RESULTS"]


def main(argv: list[str]) -> int:
    results = from_files()
    if argv == ["check"]:
        same = stored_in_notebook() == results
        print("the notebook's stored results match bench/results" if same
              else "the notebook's stored results differ from bench/results: run this tool")
        return 0 if same else 1
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = find_cell(nb)
    source = cell_source(results)
    if cell.source != source:
        cell.source = source
        cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, NOTEBOOK)
        print(f"updated {NOTEBOOK.relative_to(ROOT)}: run make execute NB=... on it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
