"""Citations of the documentation resolve: every ``docs/<page>.md §<n>`` in the code, configs, tests,
benchmarks, experiment scripts, Makefile, pyproject.toml and README names an existing page and a numbered
heading of it (``## 5.`` or ``### 5.1``; both ends of a range such as ``§2–4``), and nothing there points at
the former spec files or at a path outside the repository (docs/design.md §1)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = ("diffinv", "data_gen", "conf", "tests", "benchmarks")
SCANNED_FILES = ("Makefile", "pyproject.toml", "README.md")

NUMBER = r"\d+(?:\.\d+)*"
SECTION = rf"§({NUMBER})(?:\s*[–-]\s*({NUMBER}))?"
# `docs/math.md §5`, `docs/math.md §5.1`, `docs/problems.md §2–4`, `docs/problems.md §1, §5`
CITATION = re.compile(rf"docs/([\w/-]+)\.md((?:\s*,?\s*{SECTION})*)")
SECTION_RE = re.compile(SECTION)
HEADING = re.compile(rf"^#{{2,6}}\s+({NUMBER})\.?\s")

# What the code must no longer cite: the former spec files (by their upper-case names), a path outside the
# repository, and README sections (the README is not numbered; cite docs/usage.md instead).
FORBIDDEN = {
    "a former spec file (cite docs/<page>.md instead)": re.compile(r"\b(?:MATH|PROBLEMS|DESIGN)\.md\b"),
    "a path outside the repository": re.compile(r"\.\./+shared\b|(?<![\w.-])/work/"),
    "a README section (cite docs/usage.md §n instead)": re.compile(r"\bREADME,\s+[A-Za-z]"),
}


def scanned_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout (the scan covers tracked files)")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout
    paths = []
    for name in filter(None, out.split("\0")):
        rel = Path(name)
        if (
            rel.parts[0] in SCANNED_DIRS
            or name in SCANNED_FILES
            or (rel.parent == Path("experiments") and rel.suffix == ".py")
        ):
            paths.append(rel)
    return paths


def text_lines(rel: Path) -> list[str]:
    try:
        text = (ROOT / rel).read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError):  # binary data, or deleted but not yet committed
        return []
    return [] if "\0" in text else text.splitlines()


def headings(page: Path) -> set[str]:
    return {
        m.group(1) for line in page.read_text(encoding="utf-8").splitlines() if (m := HEADING.match(line))
    }


def test_the_scan_sees_the_code_and_its_citations():
    files = scanned_files()
    assert Path("diffinv/core/formulations.py") in files and Path("README.md") in files
    cited = sum(len(CITATION.findall(line)) for rel in files for line in text_lines(rel))
    assert cited > 50, f"only {cited} citations found: is the pattern still right?"


def test_every_cited_page_and_section_exists():
    cache: dict[str, set[str] | None] = {}
    missing = []
    for rel in scanned_files():
        for lineno, line in enumerate(text_lines(rel), 1):
            for match in CITATION.finditer(line):
                page = f"docs/{match.group(1)}.md"
                if page not in cache:
                    path = ROOT / page
                    cache[page] = headings(path) if path.is_file() else None
                known = cache[page]
                where = f"{rel}:{lineno}: {match.group(0).strip()}"
                if known is None:
                    missing.append(f"{where}: {page} does not exist")
                    continue
                for section in SECTION_RE.finditer(match.group(2)):
                    for number in filter(None, section.groups()):
                        if number not in known:
                            missing.append(f"{where}: {page} has no heading '{number}'")
    assert not missing, f"{len(missing)} citation(s) point nowhere:\n" + "\n".join(missing)


def test_nothing_cites_the_former_spec_files_or_paths_outside_the_repository():
    this_file = Path(__file__).resolve().relative_to(ROOT)  # states the patterns themselves
    found = []
    for rel in scanned_files():
        if rel == this_file:
            continue
        for lineno, line in enumerate(text_lines(rel), 1):
            for what, pattern in FORBIDDEN.items():
                if match := pattern.search(line):
                    found.append(f"{rel}:{lineno}: '{match.group(0)}' is {what}")
    assert not found, f"{len(found)} reference(s) to fix:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("see docs/math.md §5.1.", [("math", "5.1", "")]),
        ("(docs/problems.md §2–4, docs/design.md §7)", [("problems", "2", "4"), ("design", "7", "")]),
        ("docs/problems.md §1, §5", [("problems", "1", ""), ("problems", "5", "")]),
        ("docs/design.md §3-4", [("design", "3", "4")]),
        ("docs/usage.md", []),
    ],
    ids=["subsection", "range-and-another-page", "list", "hyphen-range", "page-only"],
)
def test_the_citation_pattern(line, expected):
    got = [
        (m.group(1), s.group(1), s.group(2) or "")
        for m in CITATION.finditer(line)
        for s in SECTION_RE.finditer(m.group(2))
    ]
    assert got == expected
