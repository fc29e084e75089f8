"""The results JSON's schema: one typed definition that the sweep builds, the report reads and a test checks.

    python -m bench.schema                 # the schema, as text, generated from the definitions below
    python -m bench.schema results/latest.json   # check a run file against it (exit 1 and the paths if not)

Rules this module keeps:
- every key of the results JSON is declared here, with its type; ``validate`` checks a run against it
  (unknown keys are errors too, so nothing is written that is not documented);
- a change of meaning or a removed key bumps ``SCHEMA_VERSION``; ``bench.record.upgrade`` brings the older
  versions it lists in ``READABLE_VERSIONS`` up to today's shape, or ``bench.record.runfile.load_run``
  refuses them;
- no I/O but the command line (``bench/schema.py`` runs it as ``python -m bench.schema``); no import of
  the sweep's machinery or of the readers.

History: 1 (tuned only); 2 added ``profile``, ``options.profiles``, ``summary.peak_in_flight_max`` and
``summary.cpu_busy``; 3 measures a cell interleaved: rounds gained ``started_at``, ``pass``, ``position``,
``noise`` and ``disturbed``, rows ``rounds_stopped``, options ``max_rounds`` and ``schedule_seed``, the run
``system_check``, ``commit_info`` and ``resumed``; ``options.interrupted`` became the signal's name or null.
Optional keys added since, readable by any version-3 reader that ignores them: ``instructions``, ``explain``,
``era`` (rows and options), ``seed`` and ``rate_kbps`` (rows), ``server.kind``, ``rtt``, ``link``, ``note``,
``options.server_url`` and ``options.link``. 4 records faults: a row may be ``not_run`` (the sweep never
reached it), a failed or not-run row says its ``cause``, a round the server's loop lag (``server_loop_lag_s``)
and whether it stalled (``server_stalled``), a summary its ``stalled_rounds``, the run its ``server_restarts``
and ``options.stopped``; every key it adds is optional, so a version-3 file is a valid version-4 file but
for its number (``bench.record.upgrade`` fills the defaults). Since 4, optional: a row's interpreter
(``python``) and the run's ``options.pythons`` (``--python``). 5 adds HTTPS: a row's ``scheme`` (every row
before it fetched over plain HTTP), what its handshakes negotiated (``tls_version``, ``tls_cipher``,
``tls_resumed``) and each round's ``scheme`` and an HTTPS round's handshakes at the server (``tls``, ``tls_cpu``); the run's
``tls_server`` and ``options.schemes``; all optional, filled for older runs by ``bench.record.upgrade``.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

SCHEMA_VERSION = 5

#: ``not_run``: the sweep stopped before it reached the row (its server gone for good, Ctrl-C, SIGTERM).
Status = Literal["ok", "flagged", "failed", "skipped", "not_run"]
Stopped = Literal["precise", "max_rounds", "budget", "failed"]
#: Why a row failed or was not run: ``strategy``, the strategy raised (its worker lives on: a result of the
#: strategy's own); ``worker``, its worker process died, hung past its deadline or was killed (by the
#: strategy, or by the machine: the reason says which signal); ``server``, the server died or stopped
#: answering; ``harness``, the sweep itself failed the row (an error of its own, pytest's timeout);
#: ``interrupted``, the sweep was stopped (Ctrl-C, SIGTERM, pytest's --maxfail) before the row ended.
Cause = Literal["strategy", "worker", "server", "harness", "interrupted"]
#: What a row fetched over: plain HTTP, or HTTPS against the bundled server's TLS twin (``local_server --tls``).
Scheme = Literal["http", "https"]
#: bundled (started by the sweep), external (--server-url) or link (--link: bundled, in a namespace).
ServerKind = Literal["bundled", "external", "link"]


class Flag(TypedDict):
    """A flag (the row is not clean) or a note (a remark that leaves it clean): a code and its numbers."""
    code: str
    detail: str


class RoundTls(TypedDict):
    """What an HTTPS round's handshakes negotiated, as the server counted them (``strategies.worker.runner.round_tls``:
    its /stats reset before the round and read after it, less the sweep's own read): its one protocol
    version, the completed handshakes by cipher suite, full and resumed."""
    version: str
    ciphers: dict[str, int]
    full: int
    resumed: int


class TlsCpu(TypedDict):
    """The server's CPU seconds in ``do_handshake`` for an HTTPS round's full and resumed handshakes
    (``bench.sweep.cells``: the counted window's CPU per handshake times the round's handshakes)."""
    full_cpu_s: float
    resumed_cpu_s: float


class Noise(TypedDict):
    """What else ran on our cores during a round (``bench.sweep.noise``), in % of the cores' time."""
    interval_s: float
    steal_pct: float | None
    others_cpu_pct: float | None
    resolution_pct: float | None
    frequency_mhz: float | None


#: One measured round: the worker's figures (``strategies.worker.runner.RoundResult``) and the sweep's: its start
#: (``started_at``, Unix seconds), its ``pass`` of the cell's schedule (1 = the first measured pass) and its
#: ``position`` in it (counting every round of the cell, warm-ups included), the cores' noise, and
#: ``timer_s``, the sweep's own time of the round trip (what pytest-benchmark is given for the row).
#: Functional form: ``pass`` is a Python keyword.
Round = TypedDict("Round", {
    "strategy": str,
    "requests": int,
    "concurrency": int,
    "policy": str,
    "profile": str,
    "delay_ms": int,
    "size": int,
    "method": str,
    "ok": int,
    "errors": int,
    "error_kinds": dict[str, int],
    "error_samples": list[str],
    "wall_s": float,
    "cpu_s": float,
    "peak_rss_kb": int,
    "pss_kb": int | None,
    "latency_ms": dict[str, float | None],
    "cold_start_s": float,
    "import_s": float,
    "peak_in_flight": int | None,
    "server_cpu_s": float | None,
    "extra": dict[str, Any],
    "req_per_s": float | None,
    "cpu_us_per_req": float | None,
    "started_at": float,
    "position": int,
    "pass": int,
    "noise": Noise | None,
    "disturbed": str | None,
    "timer_s": float,
    "overhead_pct": float | None,
    #: The server's longest loop gap during the round (its /stats ``loop_lag_max_s``, reset before the round
    #: and read after it); null when the server could not be read after it (it went).
    "server_loop_lag_s": NotRequired[float | None],
    #: Why the round counts as run on a stalled server (``bench.sweep.noise.server_stall``), or null.
    "server_stalled": NotRequired[str | None],
    #: ``http`` or ``https`` (``strategies.worker.runner.RoundResult.scheme``).
    "scheme": NotRequired[Scheme],
    #: An HTTPS round's handshakes at the server; null over HTTP, or when the server could not be read after it.
    "tls": NotRequired[RoundTls | None],
    #: The server's CPU in an HTTPS round's handshakes (absent over HTTP; null when the server was not read).
    "tls_cpu": NotRequired[TlsCpu | None],
})


class RateSummary(TypedDict):
    median: float
    min: float
    max: float


class Summary(TypedDict):
    """A row's figures across its rounds (``bench.record.rows.summarise``)."""
    n_rounds: int
    req_per_s: RateSummary
    wall_s: float | None
    cpu_us_per_req: float | None
    peak_rss_kb: int | None
    latency_ms: dict[str, float | None]
    errors: int
    disturbed_rounds: int
    peak_in_flight_min: int | None
    peak_in_flight_max: int | None
    cpu_busy: float | None
    server_cpu_ratio: float | None
    overhead_pct: float | None
    ideal_s: float | None
    efficiency: float | None
    #: Rounds run on a stalled server; absent where the rounds did not record the server's loop lag.
    stalled_rounds: NotRequired[int]


class BenchmarkStats(TypedDict):
    """pytest-benchmark's own statistics of the row's rounds (seconds)."""
    min: float
    max: float
    mean: float
    stddev: float
    median: float
    iqr: float
    rounds: int


class InstructionCount(TypedDict):
    """``--instructions`` (``strategies.probes.instructions.InstructionCount.to_dict``): the untimed callgrind pass's
    instructions over the fetch of N and of 3N requests, the figure per request, and its errors (``clean``:
    none failed, so the figure may be compared)."""
    strategy: str
    requests: int
    concurrency: int
    policy: str
    profile: str
    delay_ms: int
    size: int
    method: str
    instructions_n: int
    instructions_3n: int
    processes: int
    seconds: float
    valgrind: str
    errors: int
    error_kinds: dict[str, int]
    instructions_per_request: float
    clean: bool


class InstructionFailure(TypedDict):
    """The callgrind pass failed (or cannot count this workload): the row's timed rounds stand."""
    error: str


class ExplainFunction(TypedDict):
    """One of a category's costliest functions in the profiled round."""
    function: str
    us_per_req: float
    calls_per_req: float


class Explain(TypedDict):
    """``--explain`` (``strategies.probes.explain.explanation``): the profiled round's CPU per request by category,
    as profiled (summing, with ``unattributed_us_per_req``, to ``cpu_us_per_req``), beside the same
    process's CPU in an unprofiled round just before (``reference_cpu_us_per_req``) and the overhead."""
    requests: int
    started_at: float
    wall_s: float
    errors: int
    profiler: str
    cpu_us_per_req: float
    reference_cpu_us_per_req: float
    overhead: float | None
    calls_per_req: float
    call_cost_ns: float | None
    unattributed_us_per_req: float
    children_us_per_req: float
    categories: dict[str, float]
    calls: dict[str, float]
    top: dict[str, list[ExplainFunction]]


class ExplainFailure(TypedDict):
    """The profiled round failed: the row's timed rounds stand, only this section is missing."""
    error: str


class EraRecord(TypedDict):
    """The era an ``S@era`` row ran in (``strategies.eras``): its interpreter's version, the versions of the
    strategy's libraries in the era's virtualenv, and the digest of the constraints it was built from."""
    name: str
    python: str
    digest: str
    libraries: dict[str, str | None]


class PythonRecord(TypedDict):
    """The interpreter an ``S@py3.13`` row ran on (``strategies.pythons``): today's worker and libraries in a
    virtualenv of that interpreter. ``version`` and ``digest`` are null when it could not be had here (the
    row is skipped); ``gil_enabled`` is ``sys._is_gil_enabled()`` in the worker once its strategy started
    (null before 3.13, or when no worker started)."""
    tag: str
    version: str | None
    free_threaded: bool
    gil_enabled: bool | None
    digest: str | None
    libraries: dict[str, str | None]


class Row(TypedDict):
    """One row of the sweep: a case (strategy, profile, policy, C) on one workload, whatever became of it."""
    id: str
    strategy: str
    workload: str
    profile: str
    policy: str
    concurrency: int
    requests: int
    delay_ms: int
    size: int
    method: str
    status: Status | None  # None only in a row log cut by a kill: read back as failed
    flags: list[Flag]
    notes: list[Flag]
    reason: str
    rounds: list[Round]
    rounds_stopped: Stopped | None
    summary: Summary | None
    cold_start_s: float | None
    harness_overhead_pct: float | None
    pytest_benchmark_stats: BenchmarkStats | None
    #: A failed or not-run row's cause (null otherwise, and for a failed row of a version before 4).
    cause: NotRequired[Cause | None]
    #: ``--instructions``: the untimed callgrind pass (``strategies.probes.instructions``).
    instructions: NotRequired[InstructionCount | InstructionFailure | None]
    #: ``--explain``: the untimed, profiled round's CPU by category, or why it failed.
    explain: NotRequired[Explain | ExplainFailure | None]
    #: The web workload: each request's delay and size were drawn from this seed (``bench.record.shapes``);
    #: ``delay_ms`` and ``size`` are then the distributions' medians.
    seed: NotRequired[int]
    #: The slow-link workload: every body was paced at this many kbit/s (1 kbit = 1000 bits).
    rate_kbps: NotRequired[int]
    #: ``--era``: the era of an ``S@era`` row (today's rows have none: the run's ``machine`` and ``libraries``).
    era: NotRequired[EraRecord]
    #: What the row fetched over; compared only with rows of the same scheme (``bench.record.rows.CellKey``).
    scheme: NotRequired[Scheme]
    #: HTTPS: the protocol version the server spoke (it speaks exactly one: its /stats ``tls.version``).
    tls_version: NotRequired[str | None]
    #: HTTPS: the cipher suite negotiated, as the sweep's own check of the TLS server got it (OpenSSL's name).
    #: The server picks from what a client offers, and every strategy offers the defaults of OpenSSL or
    #: pyOpenSSL, so it is the row's unless a library offers otherwise.
    tls_cipher: NotRequired[str | None]
    #: HTTPS: the share of the row's handshakes (all its rounds, at the server) that resumed a session, 0 to 1;
    #: null when none completed (every request failed) or the counts are unknown.
    tls_resumed: NotRequired[float | None]
    #: ``--python``: the interpreter of an ``S@py3.13`` row (today's rows: the run's ``machine``).
    python: NotRequired[PythonRecord]


class Pinning(TypedDict):
    server: list[int] | None
    worker: list[int] | None
    note: str


class Machine(TypedDict):
    hostname: str
    cpu_count: int | None
    cpu_model: str
    python: str
    implementation: str
    platform: str
    pinning: Pinning


class Options(TypedDict):
    """The plan the sweep ran (``bench.sweep.plan.Plan.options``); ``None``: the per-profile defaults applied."""
    concurrency: list[int] | None
    strategies: list[str] | None
    workloads: list[str]
    policies: list[str]
    profiles: list[str]
    rounds: int
    max_rounds: int
    warmup_rounds: int
    schedule_seed: int
    requests: int | None
    quick: bool
    benchmark_disabled: bool
    server_backend: str
    instructions: NotRequired[bool]
    explain: NotRequired[bool]
    #: --server-url as normalized (an external server), or null.
    server_url: NotRequired[str | None]
    #: --link as given (e.g. "10mbit"), or null.
    link: NotRequired[str | None]
    #: ``--era``: the era whose rows ran beside today's (``strategies.eras``), or null.
    era: NotRequired[str | None]
    #: ``--schemes`` as given; null: HTTP, and HTTPS where the default sweep adds it (``bench.sweep.plan.HTTPS_SCOPE``).
    schemes: NotRequired[list[Scheme] | None]
    #: ``--python``: the interpreters whose rows ran beside today's, as given (versions or paths).
    pythons: NotRequired[list[str]]
    wall_s: NotRequired[float]
    #: The signal that stopped the sweep ("SIGINT", "SIGTERM"), or null when it ran to the end.
    interrupted: NotRequired[str | None]
    #: Why the sweep stopped itself before its end (its server gone for good), or null.
    stopped: NotRequired[str | None]


class RttFigures(TypedDict):
    """Milliseconds over ``Rtt.samples`` round trips."""
    median: float
    p90: float
    min: float


class Rtt(TypedDict):
    """The round trip to the server, timed before any row (``bench.sweep.target.check_server``): ``connect_ms``, a
    TCP connect (the network alone); ``request_ms``, a ``GET /stats`` on one kept-alive connection (the
    network, the server's loop and our codec)."""
    samples: int
    connect_ms: RttFigures
    request_ms: RttFigures


class Link(TypedDict):
    """``--link``: the tbf both ends of the veth pair are shaped with (``bench.sweep.netns``)."""
    rate_bit_s: int
    burst_bytes: int
    limit_bytes: int
    namespace: str
    host_address: str
    server_address: str


class TlsRecord(TypedDict):
    """How an HTTPS server serves (its /stats ``tls``) and what the sweep's check negotiated with it."""
    version: str
    tickets: bool
    cipher: str | None


class ServerRecord(TypedDict):
    """The server the run measured against (the run's ``server``, ``bench.sweep.target``); ``backend`` and ``pid``
    are its /stats'. Not ``local_server.server.Server``, the server itself."""
    backend: str
    pid: int
    url: str
    kind: NotRequired[ServerKind]
    rtt: NotRequired[Rtt]
    link: NotRequired[Link | None]
    #: An HTTPS server's settings (the run's ``tls_server``).
    tls: NotRequired[TlsRecord]
    #: What the sweep knows of the server beyond its /stats (e.g. an external server is not pinned).
    note: NotRequired[str]


class CommitInfo(TypedDict):
    """The project's commit, as pytest-benchmark records it: null outside a git checkout."""
    id: str
    dirty: bool
    branch: str | None


class CellRecord(TypedDict):
    """A cell (``bench.record.rows.CellKey``) as the run records it."""
    workload: str
    profile: str
    policy: str
    concurrency: int


class ServerRestart(TypedDict):
    """The sweep found its bundled server gone and started a new one (``bench.sweep.harness``): when (Unix
    seconds), during which cell (null: between cells), why (its exit status or signal, or what it did not
    answer, and its last stderr lines), and the new server's URL and pid."""
    at: float
    cell: CellRecord | None
    why: str
    url: str
    pid: int


class Resumed(TypedDict):
    server: ServerRecord
    machine: Machine
    system_check: dict[str, Any] | None


class Run(TypedDict):
    """A sweep's results file (``results/runs/*.json``, ``results/latest.json``)."""
    schema_version: int
    #: UTC, ISO 8601, when the results were last written; null in a row log.
    created: str | None
    machine: Machine
    commit_info: CommitInfo | None
    libraries: dict[str, str | None]
    options: Options
    server: ServerRecord
    #: The bundled HTTPS server (``local_server --tls``) the HTTPS rows fetched from, when the run has any.
    tls_server: NotRequired[ServerRecord]
    #: ``bench.sweep.noise.system_check`` before the sweep.
    system_check: dict[str, Any] | None
    resumed: NotRequired[list[Resumed]]
    #: Every restart of the bundled server during the run, in order.
    server_restarts: NotRequired[list[ServerRestart]]
    rows: list[Row]
    #: Set when a run is read (``bench.record.runfile.load_run``), never written: it stopped before its end.
    partial: NotRequired[bool]


def validate(value: Any, kind: Any = Run, path: str = "run") -> list[str]:
    """Every place where ``value`` departs from ``kind`` (a type of this module), as ``path: problem``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return []
    if origin in (typing.Union, types.UnionType):
        problems = [validate(value, option, path) for option in args]
        return [] if any(not p for p in problems) else min(problems, key=len)
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} not one of {args}"]
    if origin is NotRequired:
        return validate(value, args[0], path)
    if typing.is_typeddict(kind):
        return _validate_typeddict(value, kind, path)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        return [p for i, item in enumerate(value) for p in validate(item, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        return [p for k, item in value.items() for p in validate(item, args[1], f"{path}.{k}")]
    return [] if _is(value, kind) else [f"{path}: expected {getattr(kind, '__name__', kind)}, got {value!r}"]


def _is(value: Any, kind: Any) -> bool:
    if kind is None or kind is type(None):
        return value is None
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _validate_typeddict(value: Any, kind: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({kind.__name__}), got {type(value).__name__}"]
    hints = typing.get_type_hints(kind, include_extras=True)
    problems = [f"{path}: missing {key!r}" for key in sorted(_required(kind) - value.keys())]
    problems += [f"{path}: undeclared {key!r}" for key in sorted(value.keys() - hints.keys())]
    for key in value.keys() & hints.keys():
        problems += validate(value[key], hints[key], f"{path}.{key}")
    return problems


def _required(kind: Any) -> set[str]:
    """The keys a TypedDict requires. Not ``__required_keys__``: with postponed annotations (PEP 563) Python
    3.11 cannot see ``NotRequired`` in them and calls every key required."""
    hints = typing.get_type_hints(kind, include_extras=True)
    return {key for key, hint in hints.items() if typing.get_origin(hint) is not NotRequired}


def describe(kind: Any = Run) -> str:
    """The schema as text, each TypedDict once, from the definitions (``python -m bench.schema``)."""
    seen: dict[str, str] = {}
    _describe(kind, seen)
    return f"results JSON, schema_version {SCHEMA_VERSION}\n\n" + "\n\n".join(seen.values())


def _describe(kind: Any, seen: dict[str, str]) -> None:
    if typing.is_typeddict(kind) and kind.__name__ not in seen:
        hints = typing.get_type_hints(kind, include_extras=True)
        seen[kind.__name__] = ""
        lines = [f"{kind.__name__}: {(kind.__doc__ or '').strip()}".rstrip(": ")]
        for key, hint in hints.items():
            optional = "" if key in _required(kind) else " (optional)"
            lines.append(f"  {key}: {_name(hint)}{optional}")
        seen[kind.__name__] = "\n".join(lines)
    for arg in typing.get_args(kind) if not typing.is_typeddict(kind) else typing.get_type_hints(kind).values():
        _describe(arg, seen)


def _name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(map(_name, args))
    if origin is Literal:
        return " | ".join(map(json.dumps, args))
    if origin is NotRequired:
        return _name(args[0])
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(map(_name, args))}]"
    return "any" if hint is Any else getattr(hint, "__name__", str(hint))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(describe())
        return 0
    status = 0
    for name in args:
        problems = validate(json.loads(Path(name).read_text()))
        print(f"{name}: {'valid' if not problems else f'{len(problems)} problems'}")
        print("\n".join(f"  {p}" for p in problems[:50]))
        status |= bool(problems)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
