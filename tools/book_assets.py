"""The files the site serves as they are, and whether the built site has their current version.

``book/_static`` (the book's stylesheet and the vendored MathJax) and ``book/site`` (the landing
page) reach ``_build/html`` through ``html_static_path`` and ``html_extra_path``. Sphinx copies them
only when it rebuilds at least one page, so after a change to these files alone an incremental build
would keep serving the old copies. ``make book`` and the book tests therefore ask this module and
build with ``--all`` when a copy is stale.

Usage: python tools/book_assets.py   (prints --all when the built copies are stale, else nothing)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BOOK_OUTPUT (a folder relative to the root) builds the site somewhere else, as make test-latest
# does: jupyter-book build --path-output $BOOK_OUTPUT puts it in $BOOK_OUTPUT/_build/html.
OUTPUT = ROOT / os.environ.get("BOOK_OUTPUT", ".")
HTML_DIR = OUTPUT / "_build" / "html"
ASSET_DIRS = {ROOT / "book" / "_static": HTML_DIR / "_static", ROOT / "book" / "site": HTML_DIR}


def stale_assets() -> list[str]:
    """Asset files whose built copy is missing or differs from the source, relative to the root."""
    stale = []
    for source_dir, built_dir in ASSET_DIRS.items():
        for source in sorted(p for p in source_dir.rglob("*") if p.is_file()):
            built = built_dir / source.relative_to(source_dir)
            if not built.is_file() or built.read_bytes() != source.read_bytes():
                stale.append(str(source.relative_to(ROOT)))
    return stale


if __name__ == "__main__":
    # Nothing built yet: a plain build copies everything anyway.
    if (HTML_DIR / "index.html").exists() and stale_assets():
        print("--all")
    sys.exit(0)
