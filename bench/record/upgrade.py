"""A run of any readable schema version, brought to today's shape once, when it is read.

Rules this module keeps:
- every default a reader would otherwise apply is filled in here, once (a row of version 1 is ``tuned``;
  a server without ``kind`` was the bundled one), so that readers index the typed records
  (``bench.record.schema``) directly and never guess;
- nothing is invented: a row the sweep never finished is failed, its rounds kept and summarised, none added;
  a figure an older version did not record stays absent (rounds before version 3 have no ``noise``);
- a version not in ``READABLE_VERSIONS`` is refused by the reader (``bench.record.runfile.load_run``).
"""

from __future__ import annotations

from typing import Any, cast

from bench.record.rows import summarise
from bench.record.schema import SCHEMA_VERSION, Row, Run

#: Older versions this code still reads, and how each is brought up to date (``upgrade``).
READABLE_VERSIONS = (1, 2, 3, 4, SCHEMA_VERSION)

#: The reason an unfinished row is given when a run is read: the sweep stopped (Ctrl-C, a kill) mid-row.
UNFINISHED = "interrupted: the sweep stopped before this row finished"


def upgrade(run: dict[str, Any]) -> Run:
    """A run (the JSON as read) in today's shape: a row the sweep never finished is failed (its rounds kept,
    none invented), and the run is marked ``partial``; version 1 knew only the tuned profile; before version
    3 rounds were not interleaved (their new fields are absent, the row-level ones null); before version 4
    no run recorded a fault's cause, a restart or a stop of its own (none, null: no sweep before it
    restarted its server or stopped itself), nor the server's loop lag (absent); before version 5 every row
    fetched over plain HTTP (``scheme`` http, ``options.schemes`` ["http"], so a resumed run adds no HTTPS
    row it never planned)."""
    unfinished = [row for row in run["rows"] if row.get("status") is None]
    for row in unfinished:
        row.update(status="failed", reason=UNFINISHED, cause="interrupted",
                   summary=summarise(cast(Row, row)) if row["rounds"] else None)
    options = run["options"]
    run["partial"] = bool(unfinished) or bool(options.get("interrupted")) or bool(options.get("stopped"))
    if run["schema_version"] == 1:
        run["options"].setdefault("profiles", ["tuned"])
        for row in run["rows"]:
            row.setdefault("profile", "tuned")
            for round_ in row["rounds"]:
                round_.setdefault("profile", "tuned")
            if row.get("summary"):
                row["summary"] = summarise(cast(Row, row))
    if run["schema_version"] < 3:
        options["interrupted"] = "SIGINT" if options.get("interrupted") else None
        options.setdefault("max_rounds", options["rounds"])
        run.setdefault("commit_info", None)
        run.setdefault("system_check", None)
        for row in run["rows"]:
            row.setdefault("rounds_stopped", None)
    if run["schema_version"] < 4:
        options.setdefault("stopped", None)
        run.setdefault("server_restarts", [])
        for row in run["rows"]:
            row.setdefault("cause", None)
    if run["schema_version"] < 5:
        options.setdefault("schemes", ["http"])
    for row in run["rows"]:  # a row log of version 5 has it already; every row before it was plain HTTP
        row.setdefault("scheme", "http")
    server = run.get("server")
    if isinstance(server, dict):  # ``kind`` came in version 3: every server before it was the bundled one
        server.setdefault("kind", "bundled")
    run["schema_version"] = SCHEMA_VERSION
    return cast(Run, run)
