"""MkDocs hook: the citations ``docs/math.md §12.6``, ``docs/problems.md §2–4`` and ``docs/math.md §1.3, §6``
of the pages and of the docstrings the API reference renders become links to the cited headings (each number
its own link; a page named without a section links to the page).

A number is the one a heading starts with (``## 12.`` or ``### 12.6``, the pattern tests/project/test_docs.py
checks the code's citations against); its anchor is the id the ``toc`` extension gave that heading. Citing a
page the site does not have, or a number no heading of it has, fails the build. Text inside a link, a code
block, a heading, a script or a style is left alone.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError
from mkdocs.utils import get_relative_url

NUMBER = r"\d+(?:\.\d+)*"
CITATION = re.compile(rf"docs/([\w/-]+\.md)((?:\s*,?\s*§{NUMBER}(?:\s*[–-]\s*{NUMBER})?)*)")
CITED_NUMBER = re.compile(rf"§?({NUMBER})")
HEADING_NUMBER = re.compile(rf"({NUMBER})\.?\s")
TAG = re.compile(r"(<[^>]+>)")
TAG_NAME = re.compile(r"<(/?)([a-zA-Z][\w-]*)")
LEFT_ALONE = {"a", "pre", "script", "style", "textarea", "h1", "h2", "h3", "h4", "h5", "h6"}


def numbered_anchors(toc) -> dict[str, str]:
    """Section number -> anchor id, over a page's table of contents."""
    anchors = {}
    for item in toc:
        if match := HEADING_NUMBER.match(item.title):
            anchors[match.group(1)] = item.id
        anchors |= numbered_anchors(item.children)
    return anchors


def link_citations(text: str, page, pages: dict, errors: list[str]) -> str:
    """``text`` (HTML text between two tags) with every citation in it a link from ``page``."""

    def link(match: re.Match) -> str:
        cited, sections = match.group(1), match.group(2)
        target = pages.get(cited)
        if target is None:
            errors.append(f"{page.file.src_uri}: '{match.group(0).strip()}': the site has no page {cited}")
            return match.group(0)
        url = get_relative_url(target.file.url, page.file.url)
        if not sections:
            return f'<a href="{url}">{match.group(0)}</a>'
        anchors = numbered_anchors(target.toc)
        text, out, done = match.group(0), [], 0  # the first link reads 'docs/x.md §n', the next '§m' or 'm'
        for number in CITED_NUMBER.finditer(text, match.start(2) - match.start()):
            if (anchor := anchors.get(number.group(1))) is None:
                errors.append(
                    f"{page.file.src_uri}: '{text.strip()}': {cited} has no heading {number.group(1)}"
                )
                continue
            begin = number.start() if done else 0
            out += [text[done:begin], f'<a href="{url}#{anchor}">{text[begin : number.end()]}</a>']
            done = number.end()
        return "".join(out) + text[done:]

    return CITATION.sub(link, text)


def link_page(content: str, page, pages: dict, errors: list[str]) -> str:
    """A page's HTML with the citations in its text linked, except where :data:`LEFT_ALONE` encloses them."""
    pieces, enclosing = TAG.split(content), 0
    for i, piece in enumerate(pieces):
        if i % 2:  # a tag
            name = TAG_NAME.match(piece)
            if name and name.group(2).lower() in LEFT_ALONE and not piece.endswith("/>"):
                enclosing += -1 if name.group(1) else 1
        elif not enclosing and "docs/" in piece:
            pieces[i] = link_citations(piece, page, pages, errors)
    return "".join(pieces)


def on_env(env, config, files, **kwargs):
    # Every page is rendered (and has its table of contents) by now, and none is written yet.
    pages = {file.src_uri: file.page for file in files.documentation_pages() if file.page is not None}
    errors: list[str] = []
    for page in pages.values():
        if page.content:
            page.content = link_page(page.content, page, pages, errors)
    if errors:
        raise PluginError("citations of the documentation that point nowhere:\n" + "\n".join(errors))
    return env
