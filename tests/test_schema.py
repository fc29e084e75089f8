"""bench.record.schema: the committed results validate against the one typed definition; the validator catches
what departs from it; older files are read, unknown ones refused."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from bench.record import schema
from bench.record.ladder import LADDER_FILE, load_ladder
from bench.record.runfile import load_run
from bench.record.upgrade import READABLE_VERSIONS
from strategies.probes import instructions

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "report_fixture.json"


#: The committed runs; a folder's model ladder (``bench.record.ladder``) is another document, checked below.
COMMITTED = sorted(p for p in (ROOT / "results").rglob("*.json") if p.name != LADDER_FILE)
LADDERS = sorted((ROOT / "results").rglob(LADDER_FILE))


@pytest.mark.slow  # reads every committed run (up to 9 MB of JSON each)
@pytest.mark.parametrize("path", COMMITTED, ids=[str(p.relative_to(ROOT)) for p in COMMITTED])
def test_every_committed_run_validates_and_is_read_in_todays_shape(path: Path) -> None:
    run = json.loads(path.read_text())
    assert run["schema_version"] in READABLE_VERSIONS
    assert schema.validate(run) == []  # what a version adds is optional: an older file is a valid one
    assert run["commit_info"] is None or len(run["commit_info"]["id"]) == 40
    read = load_run(path)
    assert read["schema_version"] == schema.SCHEMA_VERSION
    assert schema.validate(read) == []
    assert read["server_restarts"] == []
    assert read["options"]["stopped"] is None
    assert all(row["cause"] is None for row in read["rows"])
    assert not read["partial"]


@pytest.mark.parametrize("path", LADDERS, ids=[str(p.relative_to(ROOT)) for p in LADDERS])
def test_every_committed_ladder_validates(path: Path) -> None:
    ladder = load_ladder(path)  # ValueError naming the departure if it does not
    assert ladder["steps"]


def test_the_validator_names_each_departure() -> None:
    run = json.loads((ROOT / "results" / "latest.json").read_text())
    row = run["rows"][0]
    row["status"] = "fine"
    row["surprise"] = 1
    del row["reason"]
    problems = schema.validate(run)
    assert any(p.startswith("run.rows[0].status: 'fine' not one of") for p in problems)
    assert "run.rows[0]: undeclared 'surprise'" in problems
    assert "run.rows[0]: missing 'reason'" in problems


def test_an_older_version_is_read_in_todays_shape() -> None:
    run = load_run(FIXTURE)  # schema_version 2
    assert run["schema_version"] == schema.SCHEMA_VERSION
    assert run["commit_info"] is None
    assert all(row["rounds_stopped"] is None for row in run["rows"])


def test_an_unknown_version_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"schema_version": 99, "rows": []}))
    with pytest.raises(ValueError, match="schema_version 99"):
        load_run(path)


def test_the_schema_is_documented_from_the_definitions() -> None:
    text = schema.describe()
    assert "Round\n" in text or "Round:" in text
    for key in ("started_at", "position", "pass", "noise", "rounds_stopped", "schedule_seed", "commit_info"):
        assert f"  {key}: " in text


def test_the_instruction_count_is_declared_as_the_pass_writes_it() -> None:
    """Row.instructions is ``strategies.probes.instructions.InstructionCount.to_dict()``: every key declared, so
    that a field added there is declared here before a sweep with --instructions can write it."""
    written = {field.name for field in dataclasses.fields(instructions.InstructionCount)} | {"instructions_per_request", "clean"}
    assert set(typing.get_type_hints(schema.InstructionCount)) == written
