"""The model ladder's JSON (``model_ladder.json``): its typed definition, and where it is read and written.

The ladder (``python -m bench.ladder``, measured by ``bench.sweep.ladder``) is not a sweep: one file per run,
``SCHEMA`` its version, every key declared below and checked on reading with the run schema's ``validate``::

    {"schema": "concbench.model-ladder/1", "created": "...Z", "command": "python -m bench.ladder ...",
     "machine": Machine, "commit_info": CommitInfo | null, "libraries": {name: version | null},
     "load_average": {"start": [1, 5, 15 min], "end": [...] | null},
     "workload": {"policy", "delay_ms", "size", "requests", "rounds", "instructions_requests", "levels"},
     "adds": {step: what it adds}, "passes": [{"concurrency", "number", "noise": Noise}],
     "steps": [{"strategy", "model", "concurrency", "step", "instructions_per_request" | null,
                "rate": {"median", "low", "high", "rounds": [req/s of each round, in order],
                         "cpu_us_per_request": [the client's CPU of each round]} | null,
                "errors", "error_kinds"}]}

Rules this module keeps:
- the JSON enters here only (``load_ladder``): a file of another schema, or one that departs from these
  types, is refused with the places it departs (``ValueError``), never half-read;
- a step's ``rounds`` are in the order they ran, and round k of every step of one strategy and C ran in
  the same pass of the interleaved schedule (``bench.sweep.ladder``): a reader may pair them by index;
- no I/O but the one file's reading and writing; nothing of the sweep, the analyses or the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypedDict

from bench.record.schema import CommitInfo, Machine, Noise, validate

SCHEMA = "concbench.model-ladder/1"
#: The file's name in a results folder; the report reads it from the folder it writes to.
LADDER_FILE = "model_ladder.json"

StepName = Literal["bare", "codec", "deadline", "record", "strategy"]
#: The ladder's steps, cheapest first: the four rungs of ``strategies.shared._codec.RUNGS``, then the strategy.
STEP_NAMES: tuple[StepName, ...] = ("bare", "codec", "deadline", "record", "strategy")


class LadderRate(TypedDict):
    """Requests per second over a step's timed rounds: the median, the range, each round in order; and each
    round's client CPU (the worker's process tree, user + sys) in µs per request, in the same order."""
    median: float
    low: float
    high: float
    rounds: list[float]
    cpu_us_per_request: list[float]


class LadderStep(TypedDict):
    """One step of one codec strategy at one C: its instructions per request (callgrind) and req/s, and every
    failed request of its rounds and counts, by kind (a step with errors is shown with them)."""
    strategy: str
    model: str
    concurrency: int
    step: StepName
    instructions_per_request: float | None
    rate: LadderRate | None
    errors: int
    error_kinds: dict[str, int]


class LadderWorkload(TypedDict):
    """What every round fetched: ``requests`` per timed round, ``rounds`` of them per step, and the N of the
    instruction counts (``None``: not counted); the C ``levels``."""
    policy: str
    delay_ms: int
    size: int
    requests: int
    rounds: int
    instructions_requests: int | None
    levels: list[int]


class LoadAverage(TypedDict):
    """``os.getloadavg()`` when the run started and when it ended (``None`` for a run cut short): how loaded
    the machine was, for the reader of its req/s."""
    start: list[float]
    end: list[float] | None


class LadderPass(TypedDict):
    """One pass of the timed rounds at one C (a round of every strategy's every step), and what else ran on
    the pinned cores meanwhile (``bench.sweep.noise``, as the sweep measures each round)."""
    concurrency: int
    number: int
    noise: Noise


class Ladder(TypedDict):
    schema: str
    created: str
    command: str
    machine: Machine
    commit_info: CommitInfo | None
    libraries: dict[str, str | None]
    load_average: LoadAverage
    workload: LadderWorkload
    #: step -> what it adds to the one below, for the table's readers.
    adds: dict[str, str]
    steps: list[LadderStep]
    passes: list[LadderPass]


def check_ladder(data: object, where: str = "ladder") -> Ladder:
    """``data`` as a ``Ladder``, or ValueError naming where it departs from the schema."""
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{where}: not a model ladder ({SCHEMA}): schema {found!r}")
    problems = validate(data, Ladder, "ladder")
    if problems:
        raise ValueError(f"{where}: {len(problems)} problems: " + "; ".join(problems[:5]))
    ladder: Ladder = json.loads(json.dumps(data))  # a copy: the caller's data stays theirs
    return ladder


def load_ladder(path: Path) -> Ladder:
    """The ladder in ``path`` (``model_ladder.json``), checked (``check_ladder``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    return check_ladder(data, str(path))


def ladder_in(folder: Path) -> Ladder | None:
    """The ladder a results folder holds (``folder/model_ladder.json``), or None; ValueError if it is broken."""
    path = folder / LADDER_FILE
    return load_ladder(path) if path.exists() else None


def write_ladder(ladder: Ladder, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / LADDER_FILE
    path.write_text(json.dumps(ladder, indent=1) + "\n", encoding="utf-8")
    return path


def find_step(ladder: Ladder, strategy: str, concurrency: int, step: StepName) -> LadderStep | None:
    return next((s for s in ladder["steps"]
                 if s["strategy"] == strategy and s["concurrency"] == concurrency and s["step"] == step), None)


def ladder_strategies(ladder: Ladder) -> list[str]:
    """The strategies in the order they were measured (the table's)."""
    return list(dict.fromkeys(s["strategy"] for s in ladder["steps"]))


def ladder_levels(ladder: Ladder) -> list[int]:
    return sorted({s["concurrency"] for s in ladder["steps"]})


def model_of(ladder: Ladder, strategy: str) -> str:
    return next(s["model"] for s in ladder["steps"] if s["strategy"] == strategy)
