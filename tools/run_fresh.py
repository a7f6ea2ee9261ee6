"""Run notebooks the way a Colab user or a downloaded copy would: nothing installed beforehand.

For each notebook: a new virtual environment that has only ``pip``, a copy of the notebook alone
in an empty folder, and its code cells run top to bottom by that environment's Python (no Jupyter:
the notebooks use none of IPython's extensions, and figures go to matplotlib's Agg backend). The
first cell, the install cell, has to install everything else; ``DSTRAIGHT_SOURCE`` points it at a
copy of this checkout (the tracked and untracked files of the working tree), since the project's
home on GitHub may not have this version. This is as close to Colab as a machine without Google's
images gets. It needs access to the package index (or a warm pip cache).

Usage: python tools/run_fresh.py [NOTEBOOK ...]   (make check-fresh; default: every notebook)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 1800

# Runs inside the fresh environment: the code cells of one notebook, in one namespace.
DRIVER = r"""
import json, sys, time
cells = [c for c in json.load(open(sys.argv[1]))["cells"] if c["cell_type"] == "code"]
namespace = {"__name__": "__main__"}
for number, cell in enumerate(cells, start=1):
    source = "".join(cell["source"])
    start = time.perf_counter()
    exec(compile(source, f"{sys.argv[1]}, code cell {number}", "exec"), namespace)
    print(f"[run_fresh] code cell {number} of {len(cells)} done in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
"""


def checkout_copy(target: Path) -> Path:
    """The working tree's tracked and untracked (not ignored) files, copied to target."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run(notebook: Path, source: Path, work: Path) -> tuple[bool, float, str]:
    env_dir, folder = work / "venv", work / "empty"
    folder.mkdir(parents=True)
    venv.create(env_dir, with_pip=True)
    copy = folder / notebook.name
    shutil.copy(notebook, copy)
    (work / "driver.py").write_text(DRIVER)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(DSTRAIGHT_SOURCE=str(source), MPLBACKEND="Agg", JAX_PLATFORMS="cpu",
               PATH=f"{env_dir / 'bin'}:{env.get('PATH', '')}")
    start = time.perf_counter()
    proc = subprocess.run([str(env_dir / "bin" / "python"), str(work / "driver.py"), str(copy)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    return proc.returncode == 0, time.perf_counter() - start, proc.stdout + proc.stderr


def main(argv: list[str]) -> int:
    notebooks = [Path(a).resolve() for a in argv] or sorted(
        p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    failed = []
    with tempfile.TemporaryDirectory(prefix="run-fresh-") as tmp:
        source = checkout_copy(Path(tmp) / "source")
        for i, notebook in enumerate(notebooks):
            ok, seconds, log = run(notebook, source, Path(tmp) / f"nb{i}")
            name = notebook.relative_to(ROOT)
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {seconds:.0f} s in a fresh environment",
                  flush=True)
            if not ok:
                failed.append(name)
                print(log[-4000:])
    print(f"{len(notebooks) - len(failed)} of {len(notebooks)} notebooks ran top to bottom")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
