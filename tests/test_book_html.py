"""What readers of the rendered book see: checks on the HTML that Jupyter Book builds.

The book is built from the notebooks' stored outputs (``execute_notebooks: off``) into
``_build/html``. ``make test`` builds it before running pytest; when the build is missing or older
than its sources, the session fixture here builds it (with ``-W``, as ``make book`` does).

Checked: every page of the table of contents exists and has content; every notebook page shows its
stored figures as images that exist and its printed results (every stdout line and plain-text
result of the visible cells); hidden assertion cells and stderr stay hidden; every local link and
anchor in the whole site resolves; the launch, download, repository and issue buttons, search and
math are present. And what issue 17 found broken: no stray ``$`` or raw TeX left in the text,
figures with numbered captions and real alt text, a launch (rocket) button on every notebook page,
nothing loaded from the network (MathJax is the site's own), and a titled landing page with an
icon. ``BOOK_OUTPUT`` builds and checks the site elsewhere (``make test-latest`` does).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with the book extra (jupyter-book)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from book_assets import HTML_DIR, OUTPUT, stale_assets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 900
# The repository url of _config.yml; the launch and repository buttons must point there.
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")


# --------------------------------------------------------------------------------------------
# Building (shared with test_site_browser.py)


def toc_files() -> list[str]:
    """All documents of _toc.yml, root first, as paths without suffix relative to the root."""

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return found


def source_of(doc: str) -> Path:
    for suffix in (".ipynb", ".md"):
        if (ROOT / (doc + suffix)).exists():
            return ROOT / (doc + suffix)
    raise FileNotFoundError(f"_toc.yml lists {doc!r} but neither {doc}.ipynb nor {doc}.md exists")


def page_sources(doc: str) -> list[Path]:
    """The files whose changes a built page must reflect."""
    sources = [ROOT / "_config.yml", ROOT / "_toc.yml", source_of(doc)]
    if doc.startswith("book/api/"):
        # API pages are generated from the docstrings of their module (or package).
        name = doc.rsplit("/", 1)[-1]
        package = ROOT / "dstraight"
        if name == "dstraight":
            sources.append(package / "__init__.py")
        elif (package / name).is_dir():
            sources += sorted((package / name).rglob("*.py"))
        elif (package / f"{name}.py").exists():
            sources.append(package / f"{name}.py")
    return sources


def stale_pages() -> list[str]:
    """Pages of the TOC that are missing or older than one of their sources."""
    stale = []
    for doc in toc_files():
        page = HTML_DIR / f"{doc}.html"
        # Compared page by page: Sphinx rewrites only the pages whose sources changed, and a page
        # compared with the newest file of the whole site could miss a source edited mid-build.
        newest = max(p.stat().st_mtime for p in page_sources(doc))
        if not page.exists() or page.stat().st_mtime < newest:
            stale.append(doc)
    return stale


def build_book(everything: bool = False) -> None:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.fail(
            f"jupyter-book is not installed next to {sys.executable}; install the 'book' "
            "extra: pip install -e '.[book,test]'"
        )
    start = time.perf_counter()
    proc = subprocess.run(
        [str(jupyter_book), "build", "--warningiserror", "--keep-going", "."]
        + (["--all"] if everything else [])
        + (["--path-output", str(OUTPUT)] if OUTPUT != ROOT else []),
        cwd=ROOT,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"jupyter-book build failed (exit {proc.returncode}) after "
            f"{time.perf_counter() - start:.0f} s:\n{(proc.stdout + proc.stderr)[-6000:]}"
        )


def ensure_book_built() -> Path:
    """Builds the book unless every page is newer than its sources; returns the HTML folder."""
    if (HTML_DIR / "index.html").exists() and not stale_pages() and not stale_assets():
        return HTML_DIR
    build_book(everything=bool(stale_assets()))
    if stale_pages():
        # A source edited while Sphinx was building, or a change Sphinx does not see (a comment
        # in _config.yml leaves its configuration equal, so it rewrites no page): build it all.
        build_book(everything=True)
    if stale := stale_pages() + stale_assets():
        pytest.fail(f"the book was built but these pages or files are older than their sources: "
                    f"{stale}")
    return HTML_DIR


@pytest.fixture(scope="session")
def html_dir() -> Path:
    return ensure_book_built()


# --------------------------------------------------------------------------------------------
# Reading HTML with the standard library


class PageParser(HTMLParser):
    """Collects links, ids, images, the main article's text and the text of <pre> blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []  # href/src of a, link, script, img
        self.ids: set[str] = set()
        self.images: list[str] = []  # src of <img> inside the article
        self.pre_blocks: list[str] = []
        self.article_text: list[str] = []
        self.classes_seen: set[str] = set()
        self._article_depth = 0  # >0 while inside <article class="bd-article">
        self._pre_depth = 0
        self._pre_text: list[str] = []
        self._tag_stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key) and (key == "id" or tag == "a"):
                self.ids.add(attrs[key])
        self.classes_seen.update((attrs.get("class") or "").split())
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "link", "script", "img"):
                self.links.append(attrs[key])
        if tag in ("br", "img", "meta", "link", "input", "hr", "source"):
            if tag == "img" and self._article_depth:
                self.images.append(attrs.get("src", ""))
            return  # void elements have no end tag
        self._tag_stack.append(tag)
        if tag == "article" and "bd-article" in (attrs.get("class") or ""):
            self._article_depth = len(self._tag_stack)
        if tag == "pre":
            self._pre_depth += 1
            if self._pre_depth == 1:
                self._pre_text = []

    def handle_endtag(self, tag):
        if tag not in self._tag_stack:
            return
        while self._tag_stack:
            top = self._tag_stack.pop()
            if top == "pre":
                self._pre_depth -= 1
                if self._pre_depth == 0:
                    self.pre_blocks.append("".join(self._pre_text))
            if self._article_depth and len(self._tag_stack) < self._article_depth:
                self._article_depth = 0
            if top == tag:
                break

    def handle_data(self, data):
        if self._pre_depth:
            self._pre_text.append(data)
        if self._article_depth:
            self.article_text.append(data)


@cache
def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def shown_lines(text: str) -> list[str]:
    """The lines a terminal would show: ANSI colours gone, carriage returns applied."""
    lines = []
    for line in ANSI.sub("", text).split("\n"):
        line = line.split("\r")[-1].rstrip()
        if line.strip():
            lines.append(line)
    return lines


def notebook_docs() -> list[str]:
    return [doc for doc in toc_files() if source_of(doc).suffix == ".ipynb"]


def visible_code_cells(nb):
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code" and not tags & {"remove-cell", "remove-output"}:
            yield cell


# --------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("doc", toc_files())
def test_every_toc_page_exists_with_content(html_dir, doc):
    page = html_dir / f"{doc}.html"
    assert page.exists(), f"{doc} is in _toc.yml but {page.relative_to(ROOT)} was not built"
    text = " ".join("".join(parse(page).article_text).split())
    assert len(text) > 300, f"{page.name}: the main article has only {len(text)} characters"


@pytest.mark.parametrize("doc", notebook_docs())
def test_notebook_page_shows_its_figures(html_dir, doc):
    nb = nbformat.read(source_of(doc), as_version=4)
    expected = sum(
        1
        for cell in visible_code_cells(nb)
        for out in cell.outputs
        if "image/png" in out.get("data", {}) or "image/svg+xml" in out.get("data", {})
    )
    page = html_dir / f"{doc}.html"
    images = [src for src in parse(page).images if not src.startswith("data:")]
    # Each stored figure becomes one <img>; the prose may add pictures of its own.
    assert len(images) >= expected, (
        f"{page.name}: {expected} stored figures but {len(images)} <img> in the article"
    )
    for src in images:
        target = (page.parent / unquote(urlsplit(src).path)).resolve()
        assert target.is_file() and target.stat().st_size > 1000, (
            f"{page.name}: image {src} missing"
        )


@pytest.mark.parametrize("doc", notebook_docs())
def test_notebook_page_shows_its_printed_results(html_dir, doc):
    nb = nbformat.read(source_of(doc), as_version=4)
    page = html_dir / f"{doc}.html"
    rendered = {line for block in parse(page).pre_blocks for line in shown_lines(block)}
    expected = []
    for cell in visible_code_cells(nb):
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stdout":
                expected += shown_lines(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                data = out.get("data", {})
                # Richer formats win over text/plain when the page is rendered.
                if "text/plain" in data and not {"image/png", "image/svg+xml", "text/html"} & set(
                    data
                ):
                    expected += shown_lines(data["text/plain"])
    # Every chapter prints results; a notebook without any would make this test vacuous.
    assert expected, f"{source_of(doc).name} has no stored printed output in its visible cells"
    missing = [line for line in expected if line not in rendered]
    assert not missing, f"{page.name} does not show these stored output lines: {missing[:5]}"


@pytest.mark.parametrize("doc", notebook_docs())
def test_hidden_cells_and_stderr_stay_hidden(html_dir, doc):
    nb = nbformat.read(source_of(doc), as_version=4)
    page = html_dir / f"{doc}.html"
    source = page.read_text(encoding="utf-8")
    code_text = "\n".join(parse(page).pre_blocks)
    visible_sources = "\n".join(cell.source for cell in visible_code_cells(nb))
    for cell in nb.cells:
        if "remove-cell" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines = [ln.strip() for ln in cell.source.splitlines() if ln.strip()]
        lines = [ln for ln in lines if ln not in visible_sources]
        if lines:
            longest = max(lines, key=len)
            assert longest not in code_text, f"{page.name} shows a remove-cell cell: {longest}"
    assert "output stderr" not in source, f"{page.name} shows stderr output"


def test_internal_links_resolve(html_dir):
    # _static/ holds the themes' Jinja macro files (*.html that are templates, not pages).
    pages = sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) >= len(toc_files())
    broken = []
    checked = 0
    for page in pages:
        for link in parse(page).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue
            if parts.path:
                target = (page.parent / unquote(parts.path)).resolve()
                if target.is_dir():
                    target = target / "index.html"
            else:
                target = page
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(html_dir)}: {link} (no such file)")
            elif (
                parts.fragment
                and target.suffix == ".html"
                and unquote(parts.fragment) not in parse(target).ids
            ):
                broken.append(f"{page.relative_to(html_dir)}: {link} (no such anchor)")
    assert checked > 100, f"only {checked} local links found; is the site complete?"
    assert not broken, f"{len(broken)} broken local links, e.g.:\n" + "\n".join(broken[:15])


def test_notebook_pages_have_launch_download_and_repository_buttons(html_dir):
    doc = "notebooks/chapter01_crashcourse/arrays"
    hrefs = parse(html_dir / f"{doc}.html").links
    repo_path = urlsplit(REPO_URL).path.strip("/")  # owner/name
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/v2/gh/")]
    assert binder, "no Binder launch button"
    assert (
        repo_path in binder[0]
        and "urlpath=lab" in binder[0]
        and f"{doc}.ipynb" in unquote(binder[0])
    ), f"the Binder button does not open {doc}.ipynb in JupyterLab: {binder[0]}"
    colab = [h for h in hrefs if h.startswith("https://colab.research.google.com/github/")]
    assert colab and f"{repo_path}/blob/" in colab[0] and colab[0].endswith(f"{doc}.ipynb")
    assert REPO_URL in hrefs, "no repository button"
    assert any(h.startswith(f"{REPO_URL}/issues") for h in hrefs), "no issue button"
    downloads = [h for h in hrefs if h.endswith(".ipynb") and "_sources" in h]
    assert downloads, "no download button for the .ipynb"
    ipynb = (html_dir / f"{doc}.html").parent / downloads[0]
    assert nbformat.read(ipynb, as_version=4).cells, "the downloadable .ipynb is not a notebook"


def test_search_and_math_are_available(html_dir):
    assert (html_dir / "search.html").exists()
    index = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    # The index covers the notebooks and the API reference.
    assert "chapter01_crashcourse/autograd" in index and "dstraight" in index
    page = html_dir / "notebooks/chapter01_crashcourse/autograd.html"
    source = page.read_text(encoding="utf-8")
    assert "mathjax" in source.lower(), "no MathJax script on a page with math"
    assert "math" in parse(page).classes_seen and r"\nabla_w L" in html.unescape(source)


@pytest.mark.parametrize(
    "module",
    ["nn", "init", "loss", "trainer", "metric", "module", "callback", "viz", "device", "data"],
)
def test_api_page_documents_its_module(html_dir, module):
    page = html_dir / "book" / "api" / f"{module}.html"
    ids = parse(page).ids
    assert f"module-dstraight.{module}" in ids, f"{page.name}: automodule did not run"
    documented = [i for i in ids if i.startswith(f"dstraight.{module}.")]
    assert documented, f"{page.name}: no documented members of dstraight.{module}"


# --------------------------------------------------------------------------------------------
# What readers see on a phone, offline, and in the text (issue 17)


class ProseParser(HTMLParser):
    """The article's text outside code, typeset maths, scripts and cell outputs."""

    SKIP_TAGS = {"pre", "code", "script", "style"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self._stack: list[bool] = []  # per open element: does it start a skipped region?
        self._article = 0
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "meta", "link", "input", "hr", "source", "wbr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        if tag == "article" and "bd-article" in classes:
            self._article += 1
        skip = tag in self.SKIP_TAGS or "math" in classes or "cell_output" in classes
        self._stack.append(skip)
        self._skipping += skip

    def handle_endtag(self, tag):
        if self._stack:
            self._skipping -= self._stack.pop()

    def handle_data(self, data):
        if self._article and not self._skipping:
            self.text.append(data)


def prose(page: Path) -> str:
    parser = ProseParser()
    parser.feed(page.read_text(encoding="utf-8"))
    return "".join(parser.text)


@pytest.mark.parametrize("doc", toc_files())
def test_no_stray_dollar_or_raw_tex_in_the_text(html_dir, doc):
    # MyST turns $...$ and $$...$$ into math elements; whatever it misreads stays as text: a
    # lone "$", or TeX such as \mathbf outside any formula.
    text = prose(html_dir / f"{doc}.html")
    stray = [text[max(0, m.start() - 40):m.end() + 40].replace("\n", " ")
             for m in re.finditer(r"\$|\\[a-zA-Z]+\{|\\\(|\\\[", text)]
    assert not stray, f"{doc}: text that should have been maths: {stray[:3]}"


def test_the_prose_check_sees_a_misread_formula(tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<article class="bd-article"><p>per class, $ Stacking <span class="math">'
                    r"\(x\)</span> <code>$HOME</code> \mathbf{b}$ broadcast</p></article>")
    assert prose(page) == r"per class, $ Stacking   \mathbf{b}$ broadcast"


FIGURE = re.compile(r"<figure[^>]*>(.*?)</figure>", re.S)
IMG_ALT = re.compile(r'<img alt="([^"]*)" src="[^"]*_images/')


@pytest.mark.parametrize("doc", notebook_docs())
def test_figures_have_numbered_captions_and_alt_text(html_dir, doc):
    source = (html_dir / f"{doc}.html").read_text(encoding="utf-8")
    figures = FIGURE.findall(source)
    alts = IMG_ALT.findall(source)
    assert alts, f"{doc}: no figure images found"
    for alt in alts:
        # The default alt text is the image file's name, a content hash.
        assert len(alt) > 20 and not re.fullmatch(r"[0-9a-f]{16,}(\.png)?", alt), (doc, alt)
    captioned = [f for f in figures if "_images/" in f]
    assert len(captioned) == len(alts), f"{doc}: {len(alts) - len(captioned)} figures uncaptioned"
    for fig in captioned:
        assert re.search(r'<span class="caption-number">Fig\. [\d.]+ </span>', fig), fig[-400:]


@pytest.mark.parametrize("doc", notebook_docs())
def test_every_notebook_page_has_the_launch_buttons(html_dir, doc):
    source = (html_dir / f"{doc}.html").read_text(encoding="utf-8")
    assert 'class="fas fa-rocket"' in source, f"{doc}: no launch (rocket) button"
    links = parse(html_dir / f"{doc}.html").links
    assert any(h.startswith("https://colab.research.google.com/github/") and
               h.endswith(f"{doc}.ipynb") for h in links), f"{doc}: no Colab button"
    assert any(h.startswith("https://mybinder.org/v2/gh/") and f"{doc}.ipynb" in unquote(h)
               for h in links), f"{doc}: no Binder button"


def test_the_site_loads_nothing_from_the_network(html_dir):
    pages = sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts)
    remote = []
    for page in pages:
        source = page.read_text(encoding="utf-8")
        remote += [f"{page.relative_to(html_dir)}: {m}" for m in re.findall(
            r'<(?:script|img|iframe)[^>]*\ssrc="(?:https?:)?//[^"]*"'
            r'|<link[^>]*rel="(?:stylesheet|preload|icon)"[^>]*href="(?:https?:)?//[^"]*"',
            source)]
    assert not remote, f"resources fetched from the network: {remote[:5]}"
    page = html_dir / "notebooks/chapter01_crashcourse/autograd.html"
    (script,) = re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page.read_text())
    mathjax = (page.parent / urlsplit(script).path).resolve()
    assert mathjax == (html_dir / "_static/mathjax/tex-chtml-full.js").resolve(), script
    assert mathjax.stat().st_size > 500_000
    fonts = list((html_dir / "_static/mathjax/output/chtml/fonts/woff-v2").glob("*.woff"))
    assert len(fonts) >= 20, "MathJax's fonts are not in the built site"


def test_the_vendored_mathjax_is_the_version_package_json_names():
    import json

    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"]["mathjax"]
    vendored = (ROOT / "book/_static/mathjax/VERSION").read_text()
    assert vendored.startswith(f"mathjax {wanted} ")
    assert CONFIG["sphinx"]["config"]["mathjax_path"] == "mathjax/tex-chtml-full.js"
    script = (ROOT / "book/_static/mathjax/tex-chtml-full.js").read_text()
    assert f'VERSION="{wanted}"' in script, "the vendored script is another MathJax version"


def test_the_landing_page_is_titled_with_an_icon(html_dir):
    source = (html_dir / "index.html").read_text(encoding="utf-8")
    assert "<title>The Straight Dope, JAX edition</title>" in source
    assert '<link rel="icon" href="_static/favicon.svg"' in source
    assert (html_dir / "_static/favicon.svg").is_file()
    assert 'href="book/intro.html"' in source and 'url=book/intro.html' in source
    assert (html_dir / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
