"""The docs stand on their own: they cite no document outside the repository, and every
repository path or doc they link exists."""

from __future__ import annotations

import re

from tests.conftest import REPO

DOCS = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md", REPO / "ts-client" / "README.md"]


def test_docs_cite_nothing_outside_the_repository():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for word in ("DESIGN.md", "NOTES.md", "PRD", "STYLE.md"):
            assert word not in text, f"{doc.name} cites {word}, which is not in the repository"


def test_linked_docs_exist():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).is_file(), f"{doc.name} links {target}"
        for target in re.findall(r"\bdocs/([a-z-]+\.md)\b", doc.read_text(encoding="utf-8")):
            assert (REPO / "docs" / target).is_file(), f"{doc.name} names docs/{target}"


def test_every_environment_variable_the_code_reads_is_documented():
    ops = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    code = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "bridge").rglob("*.py"))
    code += "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "ts-client" / "src").rglob("*.ts"))
    names = set(re.findall(r"\b((?:QUANTBOT|QB)_[A-Z_]+)\b", code))
    assert names and all(f"`{n}`" in ops for n in names), sorted(n for n in names if f"`{n}`" not in ops)
