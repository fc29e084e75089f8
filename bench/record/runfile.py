"""A sweep's run on disk: rows appended as they finish, the complete JSON at the end, and reading either.

Rules this module keeps:
- a run is named when it starts: ``runs/<start, UTC>-<host>.json``. While it runs, its rows go to
  ``<same name>.jsonl``, one line per finished row after a first line holding the run's header (everything
  but ``rows``), flushed and fsynced, so a crash, a kill or Ctrl-C keeps every finished row;
- when the sweep ends (normally or interrupted), the complete JSON is written next to it, copied to
  ``latest.json``, and the ``.jsonl`` is removed: the JSON holds everything it held;
- ``load_run`` reads either file; a ``.jsonl`` with no JSON is a run that was killed, read as partial;
- ``--resume`` reopens a run under its own name: its rows are kept as they were, its missing rows are
  appended, and the JSON is rewritten (the one case where a run file is overwritten).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bench.record.schema import Run
from bench.record.upgrade import READABLE_VERSIONS, upgrade


class RunFile:
    def __init__(self, results_dir: Path, run: Run, path: Path | None = None) -> None:
        self.results_dir = results_dir
        self.path = path or _new_path(results_dir, run["machine"].get("hostname", "host"))
        self.log_path = self.path.with_suffix(".jsonl")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = {k: v for k, v in run.items() if k != "rows"}
        self._log: IO[str] = self.log_path.open("w", encoding="utf-8")
        for line in [header, *run["rows"]]:
            self._log.write(json.dumps(line) + "\n")
        self._sync()

    def append(self, row: Mapping[str, Any]) -> None:
        self._log.write(json.dumps(row) + "\n")
        self._sync()

    def write(self, run: Run) -> Path:
        """The complete JSON (also ``latest.json``); the row log is no longer needed."""
        run["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.path.write_text(json.dumps(run, indent=1) + "\n")
        shutil.copyfile(self.path, self.results_dir / "latest.json")
        self._log.close()
        self.log_path.unlink(missing_ok=True)
        return self.path

    def _sync(self) -> None:
        self._log.flush()
        os.fsync(self._log.fileno())


def _new_path(results_dir: Path, host: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    runs = results_dir / "runs"
    path, n = runs / f"{stamp}-{host}.json", 1
    while path.exists() or path.with_suffix(".jsonl").exists():  # two sweeps started in the same second
        n += 1
        path = runs / f"{stamp}-{host}-{n}.json"
    return path


def load_run(path: Path) -> Run:
    """A run from its JSON or, for a sweep that was killed, its ``.jsonl`` row log (then marked partial), in
    today's typed shape (``bench.record.upgrade``): the one place where the results JSON enters."""
    path = Path(path)
    run: dict[str, Any] = _read_log(path) if path.suffix == ".jsonl" else json.loads(path.read_text())
    version = run.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"{path}: schema_version {version!r}, this concbench reads "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    return upgrade(dict(run))


def _read_log(path: Path) -> dict[str, Any]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: empty row log")
    run: dict[str, Any] = json.loads(lines[0])
    rows = []
    for line in lines[1:]:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a log cut mid-write by a kill
            break
    run["rows"] = rows
    run["options"]["interrupted"] = True
    return run


def json_path_of(path: Path) -> Path:
    """Where a run given as JSON or row log is (re)written: always the ``.json`` name."""
    return Path(path).with_suffix(".json")
