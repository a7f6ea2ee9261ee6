"""The book's text agrees with itself: titles, navigation links and what "previous" means.

A link whose text is a title ("Next: [Softmax regression with `dstraight`](...)") must carry the
title of the page it opens, which is also what the sidebar shows; "Previous:" and "Next:" must
open the neighbouring notebook of the table of contents; "the previous notebook" must be the one
before, and "the previous chapter" a page of another chapter.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_book_html import source_of, toc_files

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s#]+\.(?:ipynb|md))(?:#[^)]*)?\)")


def markdown_of(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text(encoding="utf-8")
    nb = nbformat.read(path, as_version=4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def title_of(path: Path) -> str:
    for line in markdown_of(path).splitlines():
        if line.startswith("# "):
            return plain(line[2:])
    raise AssertionError(f"{path} has no '# Title' line")


def plain(text: str) -> str:
    return " ".join(text.replace("**", "").replace("`", "").split())


def doc_of(source: Path, target: str) -> str:
    return (source.parent / target).resolve().relative_to(ROOT).with_suffix("").as_posix()


def links(path: Path) -> list[tuple[str, str, str]]:
    """(link text, target document, what its line says before it) for links to book pages."""
    found = []
    text = markdown_of(path)
    for match in LINK.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        found.append((match.group(1), doc_of(path, match.group(2)), text[start:match.start()]))
    return found


SOURCES = [source_of(doc) for doc in toc_files()]
NOTEBOOKS = [doc for doc in toc_files() if source_of(doc).suffix == ".ipynb"]
# Pages whose titles name the chapters: the chapter landing pages and the notebooks. (Other links,
# such as "[API reference](api/data.md)", are phrases rather than titles.)
TITLED = set(NOTEBOOKS) | {f"book/{Path(nb).parent.name.split('_', 1)[1]}" for nb in NOTEBOOKS
                           if nb.startswith("notebooks/chapter")}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_links_named_by_a_title_carry_the_pages_title(path):
    wrong = []
    for text, doc, _ in links(path):
        # Phrases ("the autograd chapter", "installation page") may say what they like.
        if doc not in TITLED or not (text[:1].isupper() or text.startswith(("`", "**"))):
            continue
        if plain(text) != title_of(source_of(doc)):
            wrong.append(f"[{text}] opens {doc}, titled {title_of(source_of(doc))!r}")
    assert not wrong, wrong


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_previous_and_next_open_the_neighbouring_notebooks(doc):
    i = NOTEBOOKS.index(doc)
    neighbours = {"Previous": NOTEBOOKS[i - 1] if i else None,
                  "Next": NOTEBOOKS[i + 1] if i + 1 < len(NOTEBOOKS) else None}
    seen = 0
    for _, target, before in links(source_of(doc)):
        for word, expected in neighbours.items():
            if re.search(rf"\b{word}:\s*$", before) and target.startswith("notebooks/"):
                seen += 1
                assert target == expected, f"{doc}: '{word}:' opens {target}, not {expected}"
    assert seen, f"{doc} has no 'Previous:' or 'Next:' link to a notebook"


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_previous_notebook_and_previous_chapter_mean_what_they_say(doc):
    i = NOTEBOOKS.index(doc)
    for text, target, _ in links(source_of(doc)):
        words = text.lower()
        if "previous notebook" in words:
            assert target == NOTEBOOKS[i - 1], f"{doc}: [{text}] opens {target}"
        if "next notebook" in words:
            assert target == NOTEBOOKS[i + 1], f"{doc}: [{text}] opens {target}"
        if re.search(r"(previous|next) chapter", words):
            assert Path(target).parent != Path(doc).parent, (
                f"{doc}: [{text}] calls a notebook of the same chapter a chapter: {target}")


def test_the_title_check_can_fail(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\nNext: [Linear regression with gluon-style layers]"
                    f"({ROOT}/notebooks/chapter02_supervised-learning/linear-regression-gluon.ipynb)\n")
    (text, doc, _), = links(page)
    assert plain(text) != title_of(source_of(doc)) == "Linear regression with dstraight"
