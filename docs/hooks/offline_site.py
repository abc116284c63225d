"""MkDocs hook: a site that reads offline. MathJax is served from the site itself, and the build fails on any
page that would fetch a script, stylesheet, icon or image from another host.

MathJax 3 comes from the ``django-static-mathjax`` wheel (the ``docs`` extra of pyproject.toml): MathJax's
own ``es5/`` release tree, unmodified, in a Python package with no dependencies (Django only reads it). Each
``extra_javascript`` entry under ``javascripts/mathjax/`` (mkdocs.yml) names a file of that tree; the hook
copies those combined components, and the folders they load on demand (fonts, TeX extensions, menu, a11y),
into the site.
"""

from __future__ import annotations

import importlib.util
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mkdocs.exceptions import PluginError

MATHJAX_URL = "javascripts/mathjax/"  # in the site; mkdocs.yml's extra_javascript names files under it
MATHJAX_PACKAGE = "mathjax"  # the import name of django-static-mathjax
# What the browser fetches to show a page: these tags' attributes, and links of these kinds (not page links).
FETCHED = {"script": "src", "img": "src", "iframe": "src", "source": "src", "embed": "src"}
FETCHED_LINKS = {"stylesheet", "icon", "preload", "modulepreload", "manifest", "apple-touch-icon"}


def mathjax_release() -> Path:
    """The ``es5/`` folder of the installed MathJax release."""
    spec = importlib.util.find_spec(MATHJAX_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            "MathJax is not installed: `make install` (or pip install -e '.[docs]') installs "
            "django-static-mathjax, which the site serves its math renderer from"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"


def copy_mathjax(config) -> None:
    release = mathjax_release()
    bundles = [
        str(s).removeprefix(MATHJAX_URL) for s in config.extra_javascript if str(s).startswith(MATHJAX_URL)
    ]
    if not bundles:
        raise PluginError(f"mkdocs.yml: no extra_javascript entry under {MATHJAX_URL} loads MathJax")
    target = Path(config.site_dir) / MATHJAX_URL
    shutil.rmtree(target, ignore_errors=True)
    # The folders of components MathJax loads on demand, and of the combined components named, no other.
    for entry in release.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name)
    for bundle in bundles:
        if not (release / bundle).is_file():
            raise PluginError(f"mkdocs.yml: {MATHJAX_URL}{bundle} is not a file of MathJax's es5 release")
        shutil.copy2(release / bundle, target / bundle)


class _Fetched(HTMLParser):
    """The URLs a page makes the browser fetch, with the tag that fetches each."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in FETCHED and attrs.get(FETCHED[tag]):
            self.urls.append((tag, attrs[FETCHED[tag]]))
        elif tag == "link" and attrs.get("href") and FETCHED_LINKS & set((attrs.get("rel") or "").split()):
            self.urls.append((f"link rel={attrs['rel']}", attrs["href"]))


def fetch_problems(site: Path) -> list[str]:
    """Every URL a page of ``site`` fetches from another host, or from a file the site does not hold."""
    problems = []
    for page in sorted(site.rglob("*.html")):
        parser = _Fetched()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, url in parser.urls:
            parts = urlsplit(url)
            where = f"{page.relative_to(site)}: <{tag}> {url}"
            if parts.scheme or parts.netloc:
                if parts.scheme != "data":
                    problems.append(f"{where} is fetched from another host")
                continue
            path = unquote(parts.path)
            if not (site / path.lstrip("/") if path.startswith("/") else page.parent / path).is_file():
                problems.append(f"{where} is not a file of the site")
    return problems


def on_post_build(config, **kwargs) -> None:
    copy_mathjax(config)
    if problems := fetch_problems(Path(config.site_dir)):
        raise PluginError("the site would not read offline:\n" + "\n".join(problems))
