"""MkDocs hook: the docstrings' reST roles (``:class:`diffinv.core.networks.ScoreMLP```, ``:func:`~x.y```,
``:mod:`.masks``` …) as links of the API reference.

mkdocstrings renders docstrings as Markdown, so a role would show as ``:class:`` followed by the code. Here
each becomes an optional cross-reference that mkdocs-autorefs resolves to the object's entry: a target the
reference does not document (another package, a relative ``.name``) stays plain code, with no warning.
``~`` shows the last component only, as in Sphinx.
"""

from __future__ import annotations

import html
import re

ROLE = re.compile(r":(?:mod|class|func|meth|attr|data|exc|obj):<code>(~?)([\w.]+)</code>")


def _replace(match: re.Match) -> str:
    short, target = match.groups()
    shown = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
    if target.startswith("."):  # relative to a module the hook cannot see: code only
        return f"<code>{html.escape(shown)}</code>"
    return f'<autoref identifier="{html.escape(target)}" optional><code>{html.escape(shown)}</code></autoref>'


def on_page_content(html_text: str, **kwargs) -> str:
    return ROLE.sub(_replace, html_text)
