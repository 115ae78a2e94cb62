"""The project's docs (docs/*.md next to the package in a checkout) as HTML pages, so the UI can
link a statistic to the section that defines it and the link works offline.

Headings get GitHub-style ids ("## Overfitting guards" -> #overfitting-guards) and links to
sibling docs ("cli.md#…") point at their rendered page. Raw HTML in the markdown is not passed
through (markdown-it's html option off), so a page holds nothing but rendered text.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from pathlib import Path

from bridge.errors import NotFound

__all__ = ["DOCS_DIR", "render_doc", "slug"]

_ROOT = Path(__file__).resolve().parents[2]
# a checkout (the editable install setup.sh makes) has docs/ beside the package; an installed wheel
# has none, and site-packages/docs, if some other package put one there, is not ours
DOCS_DIR: Path | None = _ROOT / "docs" if (_ROOT / "pyproject.toml").is_file() else None
_NAME = re.compile(r"[a-z][a-z0-9-]{0,60}")
_SIBLING = re.compile(r"([a-z][a-z0-9-]{0,60})\.md(#[\w-]*)?")


def slug(text: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def render_doc(name: str) -> str:
    """The HTML page of docs/<name>.md.

    Raises:
        NotFound: not a doc name, or no such doc (e.g. an install without the docs folder).
    """
    if not _NAME.fullmatch(name):
        raise NotFound(f"no doc {name!r}", doc=name)
    if DOCS_DIR is None:
        raise NotFound(f"no doc {name}.md: this install has no docs folder (they come with a checkout of the "
                       "repository, in docs/)", doc=name)
    path = DOCS_DIR / f"{name}.md"
    if not path.is_file():
        raise NotFound(f"no doc {name}.md in {DOCS_DIR}", doc=name)
    stat = path.stat()
    return _render(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _render(path: str, _mtime: int, _size: int) -> str:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    text = Path(path).read_text(encoding="utf-8")
    tokens = md.parse(text)
    title = Path(path).stem
    seen: dict[str, int] = {}
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and i + 1 < len(tokens):
            s = slug(tokens[i + 1].content)
            n = seen.get(s, 0)
            seen[s] = n + 1
            tok.attrSet("id", s if n == 0 else f"{s}-{n}")
            if tok.tag == "h1" and title == Path(path).stem:
                title = tokens[i + 1].content
        for child in tok.children or ():
            href = child.attrGet("href") if child.type == "link_open" else None
            m = _SIBLING.fullmatch(href) if isinstance(href, str) else None
            if m:
                child.attrSet("href", f"/docs/{m.group(1)}{m.group(2) or ''}")
    body = md.renderer.render(tokens, md.options, {})
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{html.escape(title)}</title><link rel=stylesheet href=/static/app.css></head>"
            "<body><header><span class=brand><a href=/>bridge ui</a></span><span class=muted>docs/"
            f"{html.escape(Path(path).name)}</span></header><main class=doc>{body}</main></body></html>")
