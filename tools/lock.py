"""Write or read the lock: the exact versions that the stored notebook outputs were made with.

``pyproject.toml`` declares ranges, so that the package stays installable as its dependencies move
on. The notebooks' stored outputs, though, are exact (jaxpr pretty-prints, reprs, rounded numbers),
and a new JAX release can change them. ``constraints.txt`` pins every package of a fresh
``make venv`` so that ``make test``, ``make book`` and ``make execute`` reproduce those outputs on
any machine; ``make test-latest`` runs the suite without it to see upstream drift early.

Usage:
    python tools/lock.py write VENV    print the lock of the virtual environment VENV (make lock)
    python tools/lock.py python        print the Python version (major.minor) the lock was made with
    python tools/lock.py check         warn on stderr when this Python differs from the lock's
    python tools/lock.py diff VENV     how VENV's versions differ from the lock (make test-latest)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
PYTHON_LINE = re.compile(r"^# python (\d+\.\d+)$", re.MULTILINE)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")

HEADER = """\
# The exact versions the notebooks' stored outputs were made with. A constraints file, not a list
# of requirements: make test, make book, make execute and CI install with -c constraints.txt, while
# pyproject.toml keeps ranges. Refresh with `make lock` (then `make execute`, review the diff);
# `make test-latest` runs the suite against the newest releases. Written by tools/lock.py.
# python {python}
"""


def freeze(venv: Path) -> tuple[str, list[str]]:
    """The Python version and the sorted ``name==version`` lines of a virtual environment."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"lock: expected a virtual environment with bin/python, got {venv}")
    version = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--exclude-editable", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout
    pins = [line for line in out.splitlines() if PIN.match(line)]
    # The project itself is never pinned: it is what is being tested.
    pins = [p for p in pins if PIN.match(p).group(1).lower() != "dstraight"]
    odd = [line for line in out.splitlines() if line.strip() and not PIN.match(line)]
    if odd:
        raise SystemExit(f"lock: pip freeze gave lines that are not name==version pins: {odd}")
    return version, sorted(pins, key=str.lower)


def read(path: Path = LOCK) -> tuple[str, dict[str, str]]:
    """The lock's Python version and its pins as {normalised name: version}."""
    text = path.read_text(encoding="utf-8")
    found = PYTHON_LINE.search(text)
    if found is None:
        raise ValueError(f"{path}: no '# python X.Y' line; regenerate it with `make lock`")
    pins = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            match = PIN.match(line.strip())
            if match is None:
                raise ValueError(f"{path}: expected name==version, got {line!r}")
            pins[normalise(match.group(1))] = match.group(2)
    return found.group(1), pins


def normalise(name: str) -> str:
    """PEP 503 name normalisation: Jupyter_Book, jupyter.book and jupyter-book are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def drift(locked: dict[str, str], fresh: dict[str, str]) -> str:
    """A report of the packages whose versions differ between the lock and another environment."""
    fresh = {normalise(name): version for name, version in fresh.items()}
    lines = []
    for name in sorted(set(locked) | set(fresh)):
        old, new = locked.get(name, "-"), fresh.get(name, "-")
        if old != new:
            lines.append(f"  {name}: {old} -> {new}")
    if not lines:
        return "the newest releases are the locked ones"
    return f"{len(lines)} packages differ from constraints.txt (locked -> newest):\n" + "\n".join(
        lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["write"] and len(argv) == 2:
        version, pins = freeze(Path(argv[1]))
        sys.stdout.write(HEADER.format(python=version) + "\n".join(pins) + "\n")
        return 0
    if argv[:1] == ["diff"] and len(argv) == 2:
        _, fresh = freeze(Path(argv[1]))
        print(drift(read()[1], dict(PIN.match(p).group(1, 2) for p in fresh)))
        return 0
    if argv == ["python"]:
        print(read()[0])
        return 0
    if argv == ["check"]:
        locked, here = read()[0], "{}.{}".format(*sys.version_info[:2])
        if locked != here:
            print(f"warning: constraints.txt was made with Python {locked}, this is Python {here}; "
                  "if a pinned version has no wheel here, use PYTHON=python" + locked,
                  file=sys.stderr)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
