"""Copy the few MathJax files the book needs into book/_static/mathjax (``make mathjax``).

The built site renders its formulas with MathJax 3 served from its own ``_static`` folder, so that
the book shows its maths with no network at build time or at read time. Only what the site loads
is kept: the combined TeX-to-HTML component with every TeX extension built in
(``tex-chtml-full.js``, so that no extension is fetched later), the fonts of its HTML output, and
the licence. The version is the one ``package.json`` names; the files come from the npm registry
(``npm pack``), and the result is committed, so a fresh clone needs neither npm nor a network.

Usage: python tools/vendor_mathjax.py   (needs npm and access to the npm registry)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "book" / "_static" / "mathjax"
ENTRY = "tex-chtml-full.js"
# Paths inside the npm package (under package/) that the site needs.
FONTS = "es5/output/chtml/fonts/woff-v2"


def wanted_version() -> str:
    spec = json.loads((ROOT / "package.json").read_text())["devDependencies"]["mathjax"]
    if not spec[:1].isdigit():
        raise SystemExit(f"vendor_mathjax: package.json must pin mathjax exactly, got {spec!r}")
    return spec


def main() -> int:
    version = wanted_version()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"mathjax@{version}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        with tarfile.open(Path(tmp) / f"mathjax-{version}.tgz") as tar:
            tar.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        found = json.loads((package / "package.json").read_text())["version"]
        if found != version:
            raise SystemExit(f"vendor_mathjax: asked npm for {version}, got {found}")
        if TARGET.exists():
            shutil.rmtree(TARGET)
        (TARGET / FONTS.removeprefix("es5/")).parent.mkdir(parents=True)
        shutil.copy(package / "es5" / ENTRY, TARGET / ENTRY)
        shutil.copytree(package / FONTS, TARGET / FONTS.removeprefix("es5/"))
        shutil.copy(package / "LICENSE", TARGET / "LICENSE")
        (TARGET / "VERSION").write_text(f"mathjax {version} (npm), {ENTRY} and its woff-v2 fonts\n")
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    print(f"vendored MathJax {version} into {TARGET.relative_to(ROOT)} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
