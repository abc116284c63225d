"""The documentation site as `make docs` builds it reads offline, and its citations are links.

The site is built once (``mkdocs build --strict``, ~5 s); the checks read its HTML: the math page loads
MathJax from the site, no page fetches from another host, and every ``docs/<page>.md §n`` a reader sees is a
link to the heading numbered n. Small sites show that the hooks fail a build rather than ship a broken page.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.project.test_docs import CITATION, NUMBER

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "docs" / "hooks"
MATHJAX = "javascripts/mathjax/tex-mml-chtml.js"

pytest.importorskip("mkdocs", reason="the docs extra is not installed (make install installs it)")
pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (make install installs it)")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(command, cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    done = build(ROOT / "mkdocs.yml", site)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def offline_site_hook():
    spec = importlib.util.spec_from_file_location("offline_site", HOOKS / "offline_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_math_page_loads_mathjax_from_the_site(site):
    page = (site / "math.html").read_text(encoding="utf-8")
    assert f'<script src="{MATHJAX}"></script>' in page
    assert "\\(" in page and 'class="arithmatex"' in page  # there is math for it to render
    release = offline_site_hook().mathjax_release()  # the installed django-static-mathjax
    assert (site / MATHJAX).read_bytes() == (release / "tex-mml-chtml.js").read_bytes()
    fonts = list((site / "javascripts/mathjax/output/chtml/fonts/woff-v2").glob("*.woff"))
    assert len(fonts) > 20, "the CHTML fonts MathJax loads are missing"
    assert (site / "javascripts/mathjax/input/tex/extensions/boldsymbol.js").is_file()  # loaded on demand


def test_no_page_fetches_from_another_host(site):
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    assert offline_site_hook().fetch_problems(site) == []
    for page in pages:  # and, cruder: no source or stylesheet on a host at all
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'\bsrc="(?:https?:)?//|rel="stylesheet" href="(?:https?:)?//', text), page


def test_the_fetch_check_finds_hosts_and_missing_files(tmp_path):
    (tmp_path / "here.css").write_text("")
    (tmp_path / "page.html").write_text(
        '<link rel="stylesheet" href="here.css"><link rel="next" href="https://example.org/">'
        '<a href="https://example.org/">a link is not fetched</a><img src="data:image/png;base64,AAAA">'
        '<script src="https://cdn.example.org/mathjax.js"></script><script src="gone.js"></script>'
        '<link rel="stylesheet" href="//x.org/a.css">'
    )
    problems = offline_site_hook().fetch_problems(tmp_path)
    assert sorted(p.removeprefix("page.html: ") for p in problems) == [
        "<link rel=stylesheet> //x.org/a.css is fetched from another host",
        "<script> gone.js is not a file of the site",
        "<script> https://cdn.example.org/mathjax.js is fetched from another host",
    ]


LINK = re.compile(r'<a href="([^"#]*)#([^"]*)">((?:docs/[\w/-]+\.md\s*)?§?)(' + NUMBER + r")</a>")


def heading_number(page: Path, anchor: str) -> str:
    match = re.search(
        rf'<h[1-6] id="{re.escape(anchor)}"[^>]*>(.*?)</h[1-6]>', page.read_text(encoding="utf-8")
    )
    assert match, f"{page.name} has no heading #{anchor}"
    return re.match(NUMBER, re.sub(r"<[^>]+>", "", match.group(1))).group(0)


def test_every_citation_is_a_link_to_its_heading(site):
    links = cited = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        for match in LINK.finditer(text):
            href, anchor, _, number = match.groups()
            target = (page.parent / href) if href else page
            assert heading_number(target, anchor) == number, f"{page.name}: {match.group(0)}"
            links += 1
        # What a reader sees: each section of each citation in the text is one of those links (code listings,
        # verbatim files such as docs/your_problem.md's examples, are shown as they are).
        shown = re.sub(r"<[^>]+>", "", re.sub(r"<pre\b.*?</pre>", "", text, flags=re.S))
        cited += sum(len(re.findall(NUMBER, m.group(2))) for m in CITATION.finditer(shown))
    assert links == cited and links > 100, (links, cited)


# A small site's own pages, cited by their path (written so that test_docs.py, which checks the repository's
# citations, does not read them as citations of this repository's docs/).
HOME, OTHER = (f"docs/{name}.md" for name in ("index", "other"))


def small_site(tmp_path: Path, page: str, scripts: list[str]) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\n## 1. First\n\n### 1.1 Second\n\n" + page + "\n")
    hooks = "".join(f"  - {HOOKS / name}\n" for name in ("offline_site.py", "section_links.py"))
    javascript = "".join(f"  - {s}\n" for s in [MATHJAX, *scripts])
    config = tmp_path / "mkdocs.yml"
    config.write_text(  # mkdocs' own theme loads highlight.js from a host: the offline check would fail it
        "site_name: t\nuse_directory_urls: false\ntheme: {name: material, font: false}\n"
        f"hooks:\n{hooks}extra_javascript:\n{javascript}"
    )
    return config


def test_a_small_site_links_its_citations(tmp_path):
    config = small_site(tmp_path, f"See {HOME} §1.1, §1 and {HOME}.", [])
    done = build(config, tmp_path / "site")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (
        f'See <a href="index.html#11-second">{HOME} §1.1</a>, <a href="index.html#1-first">§1</a> and '
        f'<a href="index.html">{HOME}</a>.'
    ) in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("page", "scripts", "error"),
    [
        (f"See {HOME} §1.2.", [], "index.md has no heading 1.2"),
        (f"See {OTHER} §1.", [], "the site has no page other.md"),
        (
            "",
            ["https://cdn.example.org/x.js"],
            "<script> https://cdn.example.org/x.js is fetched from another host",
        ),
    ],
    ids=["missing-section", "missing-page", "external-script"],
)
def test_the_build_fails_on_a_dangling_citation_or_a_host(tmp_path, page, scripts, error):
    done = build(small_site(tmp_path, page, scripts), tmp_path / "site")
    assert done.returncode != 0 and error in done.stderr, done.stderr[-2000:]
