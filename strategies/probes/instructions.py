"""Instructions per request: what a strategy's fetch costs in user-space instructions, counted by callgrind.

CPU seconds on a shared machine swing with its neighbours; instruction counts do not. ``count_instructions``
runs the strategy's worker under ``valgrind --tool=callgrind --trace-children=yes`` (so a pool's children and
fork server count too; the server is not under valgrind) and, in that one worker:

1. a warm-up round of N requests;
2. a counted round of N, then one of 3N: before each fetch every process of the worker's tree is zeroed
   (vgdb ``zero``), after it dumped (vgdb ``dump``), so a count covers the step the timed rounds time,
   ``fetcher.fetch(urls)``, plus the constant cost of reading the command and writing the reply;
3. instructions per request = (I(3N) - I(N)) / 2N, the Ir counts of the dumps summed over the tree: what is
   paid once per fetch (the command, a loop's start, a per-round task) cancels.

The figures below were measured on 2026-11-24 to choose the method, before the shared per-request path was made lean
(select 117k -> 57k, asyncio 243k -> 123k; docs/methodology.md, "What the shared code costs per request"): they compare
methods on one code base, and the comparisons stand.

Why zero/dump in one worker rather than two whole-process runs (N and 3N) subtracted, both measured on the
throughput workload (N=150, C=10, keep-alive): the whole-process difference also counts the harness's
per-URL work around the fetch (building URLs, verifying every body: urlsplit, parse_qs, blake2b), about
83,000 instructions per request for every strategy (select 200k whole-process against 117k fetch only,
asyncio 326k against 243k): it would add a third to asyncio's figure, 70 % to select's, and shrink every
ratio between strategies. At small N the start-ups' differences show too (select at N=50: 175k-262k
whole-process, within 0.5 % fetch only).
The price: vgdb wakes a worker blocked in ``read`` through ptrace (``/proc/sys/kernel/yama/ptrace_scope``
0, or CAP_SYS_PTRACE); where that is denied, the pass fails saying so.

Why the warm-up: without it the N round alone pays the first-request costs (C connections opened, lazy
imports, the interpreter's specialisation) and the difference under-counts: select 96k instead of 117k,
asyncio 221k instead of 243k, twisted 715k instead of 805k. A warm-up of one wave (C) sufficed in all three;
N, the first counted round's own size, spends every first-time cost a round of that size can have.

What it does not count:
- time blocked: waiting for the server, or in select/epoll, costs no instructions;
- the kernel's work beyond the syscall boundary: valgrind counts user-space instructions only, so a
  model that makes more or costlier system calls is flattered;
- the server's work (it runs outside valgrind);
- cycles: instructions are not time (cache misses, branch mispredictions, a GIL hand-off), and the figure is
  per architecture and Python build: compare figures from one machine and one interpreter only.

Rules this module keeps:
- every wait has a deadline, what is left of the pass's ``timeout_s``: the worker's start and each step,
  each vgdb command. Past it, or on any exception, the whole valgrind process tree is killed and reaped;
- a process that appears or ends during a counted fetch fails the pass: its instructions would be lost;
- callgrind's output and vgdb's FIFOs live in a temporary directory, removed afterwards;
- a pass with errors (any round, warm-up included) says so: ``clean`` is False, with ``errors`` and
  ``error_kinds``; its figure is never presented as clean.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from strategies.worker.runner import RoundResult, WorkerProcess
from strategies.workload import Workload

#: N. The figure rises about 5 % from N=50 to 150 (select 112k to 117k, asyncio 232k to 243k), then stays
#: within 3 % (N=300: 114k, 239k). The rise is the garbage collector: its older-generation collections walk
#: the round's live URLs and outcomes, so a longer round pays more per request (asyncio: 8.7k instructions
#: per request in gc at N=50, 19k at 150). At 150 two passes agree within 0.5 %, and Python under callgrind
#: (50-100x slower) does a pass in 6 s (select) to 45 s (gevent), the processes strategy's 13 processes 45-70 s.
DEFAULT_REQUESTS = 150

#: The whole pass. Over ten times the slowest pass measured (processes, C=10: 45-70 s), because the machine
#: is shared and C=100 starts ten times the children under valgrind.
DEFAULT_TIMEOUT_S = 900.0

#: The second counted round has this many times N requests: the difference is then 2N requests, twice the
#: first round, so the per-request figure rests on more requests than either start-up constant.
SCALE = 3

#: After its tree is closed, how long it may take to exit before it is killed. Shutting a pool of C children
#: down under valgrind takes seconds; the files written at exit are not needed (the dumps are).
EXIT_GRACE_S = 30.0

#: ``valgrind --version`` answers at once; this only bounds a broken install.
VERSION_TIMEOUT_S = 30.0

#: Bound on one vgdb command, which takes ~0.1 s: past it, vgdb could not wake the process.
VGDB_TIMEOUT_S = 30.0

#: Milliseconds vgdb waits for a process to notice its command before waking it through ptrace. The worker
#: is always blocked in ``read`` when we send one, so waiting longer only slows the pass.
VGDB_INVOKE_MS = 10


class InstructionsUnavailable(RuntimeError):
    """valgrind or vgdb is missing or broken: a caller turns this into a skip or a one-line message."""


class InstructionCountError(RuntimeError):
    """The pass failed: its deadline passed, a vgdb command failed, or the process tree changed mid-count."""


@dataclass(frozen=True)
class Valgrind:
    path: str
    vgdb: str
    #: e.g. ``valgrind-3.19.0``.
    version: str


def find_valgrind() -> Valgrind:
    """valgrind and its vgdb on PATH, with the version; ``InstructionsUnavailable`` saying what is missing."""
    path, vgdb = shutil.which("valgrind"), shutil.which("vgdb")
    if path is None or vgdb is None:
        missing = "valgrind" if path is None else "vgdb (valgrind's gdbserver client)"
        raise InstructionsUnavailable(f"{missing} not found on PATH: install valgrind (apt-get install valgrind)")
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, check=True,
                              timeout=VERSION_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InstructionsUnavailable(f"{path} --version failed: {exc}") from None
    return Valgrind(path, vgdb, done.stdout.strip())


@dataclass(frozen=True)
class InstructionCount:
    strategy: str
    #: N: requests in the first counted round; the second has SCALE * N.
    requests: int
    concurrency: int
    policy: str
    profile: str
    delay_ms: int
    size: int
    method: str
    #: Ir summed over the worker's process tree during the fetch of N, and of SCALE * N, requests.
    instructions_n: int
    instructions_3n: int
    #: Processes counted: the worker and its descendants (pool children, fork server, resource tracker).
    processes: int
    #: Wall time of the whole pass, start-up under valgrind included.
    seconds: float
    valgrind: str
    #: Failed requests over every round of the pass, warm-up included; by kind as in ``RoundResult``.
    errors: int
    error_kinds: dict[str, int]

    @property
    def instructions_per_request(self) -> float:
        return (self.instructions_3n - self.instructions_n) / ((SCALE - 1) * self.requests)

    @property
    def clean(self) -> bool:
        return self.errors == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(instructions_per_request=self.instructions_per_request, clean=self.clean)
        return data


def count_instructions(
    name: str, workload: Workload, *, cpus: set[int] | None = None, timeout_s: float = DEFAULT_TIMEOUT_S,
    command: Sequence[str] | None = None,
) -> InstructionCount:
    """Instructions per request of strategy ``name`` on ``workload`` (N = ``workload.requests``).

    ``command`` replaces the worker's command line by another worker of the same protocol, as
    ``WorkerProcess`` takes it (the model ladder's rungs, ``strategies.probes.ladder_worker``); ``name`` then
    names the count.

    Raises ``InstructionsUnavailable`` without valgrind, ``InstructionCountError`` or
    ``strategies.worker.runner.WorkerError`` when the pass fails; a pass whose requests failed returns, not clean.
    """
    if workload.paths or workload.requests < 1:
        raise ValueError("instructions are counted on a /work workload of N >= 1 requests, not explicit paths")
    valgrind = find_valgrind()
    started = time.perf_counter()
    rounds = [replace(workload, requests=workload.requests * k) for k in (1, SCALE)]
    with tempfile.TemporaryDirectory(prefix="concbench-callgrind-") as out:
        run = _CallgrindWorker(name, valgrind, Path(out), cpus, time.monotonic() + timeout_s, command)
        try:
            results = [run.round(workload)] + [run.round(counted, hint=_hint(counted)) for counted in rounds]
        except BaseException:
            run.close(failed=True)
            raise
        run.close(failed=False)
        counts = _dump_counts(Path(out).glob("callgrind.out.*.*"))  # dumps: callgrind.out.PID.PART
    processes = {len(counts.get(_hint(counted), [])) for counted in rounds}
    if processes != {len(run.counted_pids)}:
        raise InstructionCountError(f"expected one dump per process ({len(run.counted_pids)}) for each counted "
                                    f"round, found {sorted(processes)}")
    kinds: dict[str, int] = {}
    for result in results:
        for kind, count in result.error_kinds.items():
            kinds[kind] = kinds.get(kind, 0) + count
    return InstructionCount(
        strategy=name, requests=workload.requests, concurrency=workload.concurrency, policy=workload.policy,
        profile=workload.profile, delay_ms=workload.delay_ms, size=workload.size, method=workload.method,
        instructions_n=sum(counts[_hint(rounds[0])]), instructions_3n=sum(counts[_hint(rounds[1])]),
        processes=len(run.counted_pids), seconds=time.perf_counter() - started, valgrind=valgrind.version,
        errors=sum(result.errors for result in results), error_kinds=kinds,
    )


def _hint(workload: Workload) -> str:
    """The dump's name (callgrind writes it as ``desc: Trigger: dump HINT``): one word, one per round."""
    return f"concbench-{workload.requests}"


class _CallgrindWorker:
    """A strategy's worker under callgrind, the pass's deadline, and vgdb commands to its process tree."""

    def __init__(self, name: str, valgrind: Valgrind, out: Path, cpus: set[int] | None, deadline: float,
                 command: Sequence[str] | None = None):
        self.valgrind, self.out, self.deadline = valgrind, out, deadline
        self.counted_pids: frozenset[int] = frozenset()
        prefix = [valgrind.path, "--tool=callgrind", "--trace-children=yes", "--vgdb=yes", "-q",
                  f"--vgdb-prefix={out / 'vgdb'}", f"--callgrind-out-file={out / 'callgrind.out.%p'}"]
        self.worker = WorkerProcess(name, cpus=cpus, start_timeout_s=self._remaining("start"),
                                    command_prefix=prefix, command=command)

    def round(self, workload: Workload, hint: str | None = None) -> RoundResult:
        """One round; with ``hint``, its fetch counted by every process of the tree and dumped as ``hint``."""
        # Every step of the worker protocol gets what is left of the pass, not the runner's default minute.
        self.worker.start_timeout_s = self._remaining("prepare")
        self.worker.prepare_round(workload)
        if hint is not None:
            self.counted_pids = self._tree()
            self._vgdb("zero")
        self.worker.fetch_round(min(self._remaining("fetch"), workload.deadline_s()))
        if hint is not None:
            if self._tree() != self.counted_pids:
                raise InstructionCountError(f"{self.worker.name}: processes started or ended during the counted "
                                            f"fetch of {workload.requests}: their instructions would be lost")
            self._vgdb(f"dump {hint}")
        self.worker.start_timeout_s = self._remaining("measure")
        return self.worker.measure_round()

    def close(self, failed: bool) -> None:
        """Close the worker and reap its whole tree, killing what has not exited within EXIT_GRACE_S; after a
        failure, kill it all at once: the deadline may have passed, and its files are not needed."""
        tree = self._processes()
        if failed:
            _kill(tree)
        self.worker.start_timeout_s = EXIT_GRACE_S
        self.worker.close()
        _gone, alive = psutil.wait_procs(tree, timeout=EXIT_GRACE_S)
        _kill(alive)
        psutil.wait_procs(alive, timeout=EXIT_GRACE_S)

    def _tree(self) -> frozenset[int]:
        processes = self._processes()
        if not processes:
            raise InstructionCountError(f"{self.worker.name}: the worker has exited")
        return frozenset(process.pid for process in processes)

    def _processes(self) -> list[psutil.Process]:
        """The worker and its descendants; empty when the worker is gone."""
        try:
            root = psutil.Process(self.worker.pid)
            return [root, *root.children(recursive=True)] if self.worker.popen.poll() is None else []
        except psutil.Error:
            return []

    def _vgdb(self, command: str) -> None:
        for pid in sorted(self.counted_pids):
            timeout = min(self._remaining(f"vgdb {command}"), VGDB_TIMEOUT_S)
            try:
                subprocess.run(
                    [self.valgrind.vgdb, f"--vgdb-prefix={self.out / 'vgdb'}", f"--pid={pid}",
                     f"--max-invoke-ms={VGDB_INVOKE_MS}", *command.split()],
                    capture_output=True, text=True, check=True, timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                if timeout < VGDB_TIMEOUT_S:
                    raise InstructionCountError(f"vgdb {command}: the instruction count's deadline has passed") from None
                raise InstructionCountError(
                    f"vgdb {command} did not reach process {pid} in {timeout:.0f} s: it wakes a process blocked in a "
                    "system call through ptrace (is /proc/sys/kernel/yama/ptrace_scope above 0?)") from None
            except subprocess.CalledProcessError as exc:
                raise InstructionCountError(f"vgdb {command} to process {pid} failed: {exc.stderr.strip()}") from None

    def _remaining(self, step: str) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise InstructionCountError(f"{step}: the instruction count's deadline has passed")
        return remaining


def _kill(processes: Iterable[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _dump_counts(paths: Iterable[Path]) -> dict[str, list[int]]:
    """Dump name -> the Ir count of each file dumped under it (one per process)."""
    counts: dict[str, list[int]] = {}
    for path in paths:
        trigger, count = parse_callgrind(path.read_text(encoding="utf-8", errors="replace"))
        if trigger is not None and trigger.startswith("dump "):
            counts.setdefault(trigger.removeprefix("dump "), []).append(count)
    return counts


def parse_callgrind(text: str) -> tuple[str | None, int]:
    """(the trigger named in ``desc: Trigger:``, the Ir count) of one callgrind output file.

    The count is the ``summary:`` line's, at the position of ``Ir`` in the ``events:`` line: callgrind's
    own counter since the last zero. The ``totals:`` line, the sum of the file's cost lines, can exceed it
    in a dump taken mid-run, by costs from before the zero: in a select worker the N=20 round's dump said
    4.32 million in ``totals:`` against 2.05 million in ``summary:``, which halved the figure; a loop of known
    size counted the same by ``summary:`` in every dump. ``totals:`` is still required: it is written last,
    so a file without it is incomplete.
    """
    trigger, events, summary, complete = None, ["Ir"], None, False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "desc" and value.strip().startswith("Trigger:"):
            trigger = value.strip().removeprefix("Trigger:").strip()
        elif key == "events":
            events = value.split()
        elif key == "summary":
            summary = value.split()
        elif key == "totals":
            complete = True
    if summary is None or not complete or "Ir" not in events:
        raise InstructionCountError("a callgrind output file has no Ir summary or is incomplete")
    return trigger, int(summary[events.index("Ir")])
