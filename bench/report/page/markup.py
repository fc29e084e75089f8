"""The report sections' Markdown as the page's HTML, by markdown-it (CommonMark and its tables).

Rules this module keeps: raw HTML in the Markdown is escaped, never passed through (``html: False``), but for
the ``<br>`` inside a table cell, the only HTML the report writes (``bench.report.sections.claim``); markdown-it
is imported only when called, so that REPORT.md is made without it (``bench.report.page.document.missing``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table")


def html(lines: list[str]) -> str:
    """A section's lines (``bench.report.sections``) as HTML."""
    return str(_markdown().render("\n".join(lines)))


def inline(text: str) -> str:
    """One table cell of REPORT.md's Markdown as HTML, its ``<br>`` kept."""
    return "<br>".join(_markdown().renderInline(part) for part in text.split("<br>"))
