"""The README and docs/ link only to files inside this repository, and every link and anchor resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown import heading_anchors, links

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_three_project_documents_are_in_docs() -> None:
    assert {"rules.md", "architecture.md", "operations.md"} <= {p.name for p in DOCS}


def test_the_readme_links_to_the_three_documents() -> None:
    assert {"docs/rules.md", "docs/architecture.md", "docs/operations.md"} <= set(links(ROOT / "README.md"))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves_to_a_file_or_heading_inside_the_repository(doc: Path) -> None:
    for link in links(doc):
        assert not re.match(r"^[a-z]+:|^/", link), f"{doc.name}: {link} points outside the repository"
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {link} does not resolve"
        if anchor:
            assert anchor in heading_anchors(path), f"{doc.name}: {link}: no such heading in {path.name}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_no_document_refers_to_files_beside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for outside in ("/work/", "../shared", "SPEC.md", "ARCHITECTURE.md"):
        assert outside not in text, f"{doc.name} mentions {outside}"
