"""Which run files the results page shows, and what each is called there.

Rules this module keeps:
- the runs are every ``runs/*.json`` below the page's folder (and the run a report read, when it is
  elsewhere), each once: a ``latest.json`` is a copy of one of them, told apart by its content;
- a folder's *set* is its path below the page's folder (``default`` for the folder itself); a set's current
  run (the one its ``latest.json`` copies, else its newest) is named by the set alone (``#run=c10k``), its
  others ``set/stem``;
- the page's folder for a report's folder is the highest one above it that still holds runs
  (``results_root``): ``python -m bench.report results/c10k/latest.json`` remakes ``results/index.html``;
- file names only: no run is parsed here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """A run file found for the page, the set it belongs to and its name there."""

    path: Path
    set: str
    id: str


def _holds_runs(folder: Path) -> bool:
    return (folder / "runs").is_dir() or (folder / "latest.json").is_file()


def results_root(folder: Path) -> Path:
    """The page's folder for ``folder``: up from it while the folder above holds runs too (a ``runs/`` folder or
    a ``latest.json``): ``results`` for ``results/c10k``; ``folder`` itself when the one above holds none."""
    folder = folder.resolve()
    while folder.parent != folder and _holds_runs(folder.parent):
        folder = folder.parent
    return folder


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_runs(root: Path, also: Path | None = None) -> list[Source]:
    """Every run under ``root`` once, each set's current run first, sets in name order (``default`` first)."""
    by_set: dict[str, list[Path]] = {}
    for path in sorted(root.glob("**/runs/*.json")):
        folder = path.parent.parent.relative_to(root).as_posix()
        by_set.setdefault("default" if folder == "." else folder, []).append(path)
    digests = {path: _digest(path) for paths in by_set.values() for path in paths}
    if also is not None and also.exists() and _digest(also) not in digests.values():
        by_set.setdefault(also.parent.name or "run", []).append(also)
        digests[also] = _digest(also)
    out = []
    for name in sorted(by_set, key=lambda s: (s != "default", s)):
        paths = sorted(by_set[name], reverse=True)  # runs/<start, UTC>-host.json: the newest first
        latest = paths[0].parent.parent / "latest.json"
        copied = _digest(latest) if paths[0].parent.name == "runs" and latest.exists() else None
        current = next((p for p in paths if digests[p] == copied), paths[0])
        out += [Source(p, name, name if p == current else f"{name}/{p.stem}")
                for p in [current, *(p for p in paths if p != current)]]
    return out


def relative(path: Path, root: Path) -> str:
    """``path`` as the page links it: relative to the page's folder, or a file URI when outside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def report_link(source: Source, created: str | None, root: Path) -> str | None:
    """The set's REPORT.md, when it was made from this run (its first line names the run's ``created``)."""
    folder = source.path.parent.parent if source.path.parent.name == "runs" else source.path.parent
    path = folder / "REPORT.md"
    if not path.exists() or not created:
        return None
    first = path.read_text().split("\n", 1)[0]
    return relative(path, root) if first.endswith(created) else None
