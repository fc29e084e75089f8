"""What each piece of the shared per-request path costs alone, in instructions.

``python -m strategies.components [PIECE ...]`` prints one line per piece. The model ladder (each codec
strategy's model alone, then each piece it adds, per model) moved to ``python -m bench.ladder``.

The strategies' instruction counts (``strategies.probes.instructions``) say what a whole request costs; this says
how much of it is ours rather than the model's. Each piece below is done K and then 3K times, each in a
fresh interpreter under ``valgrind --tool=callgrind`` that counts the piece alone (``count``), and its cost
is (I(3K) - I(K)) / 2K, so each piece's setup cancels. A piece with a baseline (``timeout``: the loop turn
it wraps) is reported net of it. With a fixed hash seed the figures repeat to within an instruction.

Rules this module keeps:
- a piece does what one request does, on the throughput workload's data (a 64-byte ``/work`` response, URLs
  that differ by their ``id``); no sockets, no server;
- every valgrind run has a deadline (``RUN_TIMEOUT_S``); its output lives in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from strategies.base import Outcome
from strategies.http1 import ResponseParser, build_request, split_url
from strategies.probes.instructions import find_valgrind, parse_callgrind
from strategies.shared._aio import LoopRunner

#: K. A piece costs 1,000-100,000 instructions, so 2K = 4,000 repetitions put the figure's rounding far
#: below a percent, and the slowest piece runs in seconds under callgrind.
DEFAULT_REPEATS = 2000

#: One valgrind run takes 2-5 s here; this only bounds a hung one.
RUN_TIMEOUT_S = 300.0

#: The C function (``os.getppid``) called just before and after a piece, where callgrind dumps its count: a
#: call nothing else in a piece makes, and cheap.
MARKER = "os_getppid"

#: What the bundled server sends for ``/work?size=64`` (``local_server``): the same headers and length.
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: concbench\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n"
            + b"0" * 64)
URL = "http://127.0.0.1:8080/work?delay_ms=0&size=64&id="


def _parse(k: int) -> None:
    for _ in range(k):
        parser = ResponseParser()
        parser.feed(RESPONSE)
        assert parser.response is not None
        assert parser.response.status == 200


def _build(k: int) -> None:
    for i in range(k):
        build_request("GET", "127.0.0.1:8080", f"/work?delay_ms=0&size=64&id={i}", keepalive=True)


def _split_url(k: int) -> None:
    for url in [f"{URL}{i}" for i in range(k)]:  # every URL new, as in a round
        split_url(url)


def _outcome(k: int) -> None:
    for _ in range(k):
        Outcome.ok(200, b"", time.perf_counter())


def _loop_turns(k: int, timeout_s: float | None) -> None:
    async def turns() -> None:
        for _ in range(k):
            if timeout_s is None:
                await asyncio.sleep(0)
            else:
                async with asyncio.timeout(timeout_s):
                    await asyncio.sleep(0)

    asyncio.run(turns())


def _admission(k: int) -> None:
    done = Outcome(200, b"", None, 0.0)

    async def request(url: str, started: float) -> Outcome:
        return done

    runner = LoopRunner(10)
    try:
        runner.fetch([f"{URL}{i}" for i in range(k)], request)
    finally:
        runner.close()


#: name -> (what it does, the piece, its baseline or None).
PIECES: dict[str, tuple[str, Callable[[int], None], Callable[[int], None] | None]] = {
    "parse": ("ResponseParser: feed a 64-byte response, read status and body", _parse, None),
    "build": ("build_request: a keep-alive GET", _build, None),
    "split_url": ("split_url: host, port and target of a new URL", _split_url, None),
    "outcome": ("Outcome.ok with its perf_counter", _outcome, None),
    "timeout": ("asyncio.timeout around one loop turn, net of the turn",
                lambda k: _loop_turns(k, 10.0), lambda k: _loop_turns(k, None)),
    "admission": ("LoopRunner.fetch of a request that returns at once: C=10 tasks taking turns",
                  _admission, None),
}


def count(name: str, repeats: int, out: Path, role: str = "piece") -> int:
    """Ir of piece ``name`` (or its baseline) done ``repeats`` times, under callgrind in a fresh interpreter.

    Only the piece is counted: the interpreter calls ``os.getppid`` (``MARKER``) just before and just after
    it, and callgrind dumps its count at each call (``--dump-before``), so the second dump holds the piece
    alone. Start-up, with its few hundred thousand instructions of noise from run to run, is in the first."""
    path = out / f"callgrind.{name}.{role}.{repeats}"
    command = [find_valgrind().path, "--tool=callgrind", "-q", f"--dump-before={MARKER}*",
               f"--callgrind-out-file={path}", sys.executable,
               "-m", "strategies.probes.components", "--run", name, "--role", role, "-k", str(repeats)]
    # A fixed hash seed: str hashes decide dict and set layouts, and with them a few percent of a count.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    subprocess.run(command, check=True, timeout=RUN_TIMEOUT_S, capture_output=True, env=env)
    parts = sorted(out.glob(f"{path.name}.*"))
    if [part.suffix for part in parts] != [".1", ".2"]:
        raise RuntimeError(f"expected two dumps around piece {name!r}, found {[part.name for part in parts]}")
    return parse_callgrind(parts[1].read_text(encoding="utf-8", errors="replace"))[1]


def per_call(name: str, repeats: int = DEFAULT_REPEATS) -> float:
    """Instructions one call of piece ``name`` costs: (I(3K) - I(K)) / 2K, net of its baseline."""
    roles = ["piece", "baseline"] if PIECES[name][2] is not None else ["piece"]
    with tempfile.TemporaryDirectory(prefix="concbench-components-") as tmp:
        out = Path(tmp)
        net = [count(name, 3 * repeats, out, role) - count(name, repeats, out, role) for role in roles]
    return (net[0] - sum(net[1:])) / (2 * repeats)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ladder"]:  # its old place: the ladder's harness is bench's (a server, pinning, a report)
        print("python -m strategies.components ladder is now python -m bench.ladder", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m strategies.components",
                                     description="Instructions per call of each shared piece (callgrind).")
    parser.add_argument("pieces", nargs="*", metavar="PIECE", help=f"any of {', '.join(PIECES)}; default all")
    parser.add_argument("-k", "--repeats", type=int, default=DEFAULT_REPEATS, help="K (default: %(default)s)")
    parser.add_argument("--run", choices=PIECES, help=argparse.SUPPRESS)  # under valgrind: the piece alone
    parser.add_argument("--role", choices=("piece", "baseline"), default="piece", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        _, piece, baseline = PIECES[args.run]
        run = baseline if args.role == "baseline" and baseline is not None else piece
        os.getppid()  # MARKER: callgrind dumps here, and again at the next call
        run(args.repeats)
        os.getppid()
        return 0
    unknown = [name for name in args.pieces if name not in PIECES]
    if unknown:
        parser.error(f"unknown piece {unknown[0]!r}: choose from {', '.join(PIECES)}")
    for name in args.pieces or PIECES:
        print(f"{name:10} {per_call(name, args.repeats):>9,.0f}  {PIECES[name][0]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
