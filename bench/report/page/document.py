"""``index.html``: the page's template with its style, plotly.js, its script and the data inlined.

Rules this module keeps: the page is one file that needs no network (``bench.report.page``); the data is
JSON with every ``<`` escaped, so that no string of a run can end its ``<script>``; each placeholder of the
template appears exactly once, or nothing is written; ``write_index`` says in one line what it wrote, or why
it wrote nothing, and never fails a report.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

from bench.report.page.data import PageData, page_data
from bench.report.page.runs import find_runs

ASSETS = Path(__file__).with_name("assets")
PAGE = "index.html"
#: The page's budget (issue #21): the data of every committed run and plotly.js within 8 MiB.
MAX_BYTES = 8 * 1024 * 1024


def render(data: PageData) -> str:
    """The page: the template with its CSS, plotly.js, the page's script and the data inlined."""
    import plotly.offline

    embedded = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    parts = {"/*@CSS@*/": (ASSETS / "page.css").read_text(), "/*@PLOTLY@*/": str(plotly.offline.get_plotlyjs()),
             "/*@PAGE@*/": (ASSETS / "page.js").read_text(), "@DATA@": embedded}
    pieces = re.split("(" + "|".join(map(re.escape, parts)) + ")", (ASSETS / "template.html").read_text())
    if sorted(pieces[1::2]) != sorted(parts):
        raise ValueError(f"{ASSETS / 'template.html'}: each of {', '.join(parts)} must appear exactly once")
    return "".join(parts.get(piece, piece) if i % 2 else piece for i, piece in enumerate(pieces))


def missing() -> str | None:
    """Why the page cannot be made here (a library it needs is not installed), or None."""
    absent = [name for name in ("plotly", "markdown_it") if importlib.util.find_spec(name) is None]
    return f"missing {', '.join(absent)}: pip install 'concbench[bench]'" if absent else None


def write_index(root: Path, also: Path | None = None) -> Path | None:
    """``root/index.html`` over every run under ``root``, and ``also`` (the run a report read) when it is
    elsewhere; says what it wrote in one line, or why it made nothing (then returns None). A report or a
    sweep passes its folder's ``runs.results_root``: ``results/`` for ``results/c10k``."""
    why = missing()
    if why is not None:
        print(f"bench.report.page: skipped ({why})", file=sys.stderr)
        return None
    sources = find_runs(root, also)
    if not sources:
        print(f"bench.report.page: skipped (no run under {root})", file=sys.stderr)
        return None
    html = render(page_data(sources, root))
    path = root / PAGE
    path.write_text(html, encoding="utf-8")
    size = len(html.encode())
    over = f", over its {MAX_BYTES / 2**20:g} MiB budget" if size > MAX_BYTES else ""
    runs = f"{len(sources)} run{'s' if len(sources) != 1 else ''}"
    print(f"bench.report.page: {path} ({runs}, {size / 2**20:.1f} MiB{over})", file=sys.stderr)
    return path
