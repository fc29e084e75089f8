"""Where a request's CPU goes: one profiled, untimed round, its CPU attributed to a few stable categories.

``--explain`` (``python -m strategies run``, the sweep) has the strategy's worker run, after the timed
rounds, the row's workload twice more: once unprofiled (the *reference*: this process's CPU per request
without a profiler) and once under the profiler (the worker's ``explain`` command,
``WorkerProcess.explain_round``). The profiled round's CPU is attributed to ``CATEGORIES`` in µs per request.

The profiler is yappi (CPU clock, builtins profiled), because it attributes CPU where the models put it.
Measured on known programs (``tests/test_explain.py`` keeps them):
- OS threads: yappi hooks every thread, those that exist when it starts (a pool's) and those started later;
  two threads spinning while the main thread loops on a socketpair: each function's self time as spun, and
  the self times summed = the process's CPU within 0.2 %. cProfile sees only the thread it was enabled in;
- greenlets: three gevent greenlets, two spinning N iterations and one 2N, each ``gevent.sleep(0)`` every
  1000: with ``set_context_backend("greenlet")`` the 2N one was charged 0.072 s, the two others 0.072 s
  together; with the thread backend 0.0002 s against 0.13 s (one greenlet charged another's CPU, as
  cProfile would). The greenlet backend is used whenever the strategy has imported greenlet;
- py-spy (sampling from outside, ``--nonblocking``) was tried: on a program parsing responses and looping
  on a socketpair it found the true split within 0.05 in plain code, threads and greenlets, at a negligible
  cost, but it counts a thread's samples whenever the thread is runnable (not its CPU), cannot tell a
  socket call's CPU from its Python caller's without ``--native``, which must pause the process at every
  sample (pausing moved two spinning threads' shares from 0.29 and 0.27 to 0.50 and 0.05), and needs ptrace.

The price of yappi is its overhead, and readers must weigh it: it reads the thread's CPU clock (a system
call) on every call and return, builtins included, about 2 µs per call here. Measured at C=10 keep-alive,
N=500 (``overhead``: profiled CPU over the reference's): 5-9x for asyncio, aiohttp and select, 10-15x for
the strategies on requests, which make ~3,600 calls per request (asyncio's streams 170-220, select 94). So
the categories are the CPU *as profiled*: a category made of many small calls is inflated more than one
of few costly calls. On a known program (our codec parsing responses, then a send/recv loop on a
socketpair) the profile gave the parsing 0.94 of the two's CPU, against 0.62 unprofiled. Removing one
cost per call mended that program (0.63) but not the strategies: the cost per call differs between them
(1.8-2.0 µs select, asyncio, threads; 2.4-2.7 µs gevent, whose switches cost the profiler more), and the
single figure that leaves the reference CPU took requests' glue code to zero under gevent. So no
correction is applied, and each explanation carries what is needed to read it: the profiled and the
reference CPU per request, the ``overhead``, the calls per request in all and per category (exact counts,
untouched by the overhead) and the average cost per call (``call_cost_ns``). Compare categories within a
strategy with its calls in mind; compare strategies by the reference CPU, by the calls, and by the costly
categories (socket calls, epoll), which the overhead touches least.

Attribution: every function's *self* time (yappi's ``tsub``), split by caller (yappi's per-caller child
statistics), is mapped to a category by ``RULES``, an ordered list of (category, module patterns, name
pattern); the first that matches decides. A module is written origin-qualified:
``stdlib:asyncio/base_events.py``, ``site:requests/sessions.py``, ``project:strategies/http1.py`` (paths
relative to the standard library, site-packages or this project) or ``c:_socket.socket`` (a builtin, by its
C type or module). A rule may say ``INHERIT`` instead of a category: builtins like ``len`` or
``bytes.join`` and the standard library's generic helpers (``re``, ``os.environ``, ``functools``…) mean
nothing by themselves, so their self time goes to the category of the caller that spent it (its caller's,
if that one inherits too, up to ``INHERIT_DEPTH``; past it, or with no caller, ``other``).

What the breakdown does not cover: child processes and the server. ``processes`` does its requests in a
pool of children, which are not profiled: only the parent's share (submitting, pickling, collecting) is
broken down, and the children's CPU during the profiled round is reported as a whole
(``children_us_per_req``; the profiler does not run in them, so it is their real cost).

Rules this module keeps:
- the categories and the mapping are data, here and only here (``CATEGORIES``, ``RULES``); the report and
  the chart read them from this module;
- yappi is imported only when a profile starts (in the worker, after the strategy's own imports: gevent's
  ``patch_all`` must come first), so the runner, the report and the charts do not need it installed;
- the profiled round is never a timed one: it is its own worker command, after the timed rounds, and its
  figures are recorded apart (a row's ``explain``), never mixed into the rounds.
"""

from __future__ import annotations

import re
import sys
import sysconfig
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOCKET = "socket system calls"
LOOP = "event loop / scheduling"
HTTP = "HTTP parse and build"
GLUE = "library glue"
HARNESS = "harness"
OTHER = "other"
#: Every category, in the order tables and the chart's stacks list them.
CATEGORIES = (LOOP, HTTP, SOCKET, GLUE, HARNESS, OTHER)
#: A rule's verdict for functions that take their caller's category.
INHERIT = "inherit"



@dataclass(frozen=True)
class Rule:
    """Functions whose origin-qualified module matches one of ``modules`` (each a regular expression matched
    at the start) and whose name matches ``names`` (in full) are ``category`` (or ``INHERIT``)."""

    category: str
    modules: tuple[str, ...]
    names: str = ".*"


#: The first rule that matches decides; the specific come before the general.
RULES: tuple[Rule, ...] = (
    # Builtins with a meaning of their own. The loop's wait (epoll, select) is scheduling, not socket I/O;
    # the process pool's pickled messages are scheduling work over processes.
    Rule(SOCKET, (r"c:_socket(\.socket)?$",)),
    Rule(LOOP, (r"c:(select|_thread|_queue|_contextvars|_asyncio|greenlet|_pickle)(\.\w+)?$", r"c:gevent\.",
                r"c:uvloop\.")),
    Rule(HTTP, (r"c:httptools\.", r"c:aiohttp\._http")),
    Rule(OTHER, (r"c:(marshal|_imp)$",)),  # an import during the round
    Rule(INHERIT, (r"c:",)),
    # Our code: the codecs, the select client's loop and its multiplexers (the server's), the deadlines'
    # queue, and the strategies themselves (the harness).
    Rule(HTTP, (r"project:strategies/(http1|shared/_codec)\.py$",)),
    # The deadlines' queue is the event loops' timer, as asyncio.timeout's handles are asyncio's.
    Rule(LOOP, (r"project:strategies/select_client\.py$", r"project:local_server/backends\.py$",
                r"project:strategies/shared/_deadlines\.py$")),
    Rule(HARNESS, (r"project:",)),
    # The standard library: socket.py is thin wrappers over the socket calls (create_connection, makefile).
    Rule(SOCKET, (r"stdlib:socket\.py$",)),
    Rule(HTTP, (r"stdlib:http/client\.py$", r"stdlib:email/", r"stdlib:urllib/parse\.py$")),
    Rule(LOOP, (r"stdlib:asyncio/", r"stdlib:selectors\.py$", r"stdlib:concurrent/futures/",
                r"stdlib:threading\.py$", r"stdlib:queue\.py$", r"stdlib:multiprocessing/",
                r"stdlib:contextvars\.py$")),
    Rule(OTHER, (r"stdlib:importlib/", r"<frozen importlib")),  # an import during the round
    Rule(INHERIT, (r"stdlib:", r"<frozen ", r"<string>$")),  # 3.11 freezes os, codecs...; <string>: a
    # dataclass's or namedtuple's generated __init__/__new__
    # Libraries: their codecs, their loops, and the rest of them (glue).
    Rule(HTTP, (r"site:httptools/", r"site:h11/", r"site:yarl/", r"site:urllib3/util/url\.py$",
                r"site:urllib3/_collections\.py$",
                r"site:aiohttp/_?(http_parser|http_writer|http_exceptions)",
                r"site:twisted/web/(http_headers|http)\.py$", r"site:twisted/protocols/basic\.py$",
                r"site:tornado/(http1connection|httputil)\.py$")),
    Rule(HTTP, (r"site:twisted/web/_newclient\.py$",),
         r"(HTTPParser|HTTPClientParser|LengthEnforcingConsumer|_ChunkedEncoder)\..*|Request\._?write.*"),
    Rule(LOOP, (r"site:(gevent|greenlet|uvloop|anyio|sniffio|trio|outcome|sortedcontainers)/",
                r"site:twisted/internet/",
                r"site:twisted/python/(context|failure)\.py$",
                r"site:tornado/(ioloop|gen|concurrent|iostream|locks|queues)\.py$", r"site:tornado/platform/")),
    Rule(GLUE, (r"site:",)),
)

#: How many callers up an inheriting function's category is looked for: deep enough for a builtin called by
#: a generic helper called by the code that means something (``len`` ← ``re`` ← ``http.client``).
INHERIT_DEPTH = 4

#: Functions kept per category in the JSON, the costliest first: enough to see what a category is made of.
TOP_FUNCTIONS = 5

#: Where this project's packages live (a checkout, or site-packages once installed), and its top-level
#: directories: code in them is ours (``project:``) wherever it is installed.
_PROJECT = Path(__file__).resolve().parents[2]
_OURS = ("strategies", "bench", "local_server", "tests")
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
#: yappi names a builtin method ``<method 'recv' of '_socket.socket' objects>`` and a builtin function of a
#: class ``<function socket.close at 0x...>``: each is read back as (C type, name).
_METHOD = re.compile(r"<method '(\w+)' of '([\w.]+)' objects>")
_FUNCTION = re.compile(r"<function ([\w.]+)\.(\w+) at 0x[0-9a-f]+>")
#: ... and a builtin method of an object ``<built-in method __new__ of type object at 0x...>``.
_BOUND = re.compile(r"<built-in method (\w+) of ([\w.]+) object at 0x[0-9a-f]+>")
_COMPILED = tuple((rule.category, re.compile("|".join(f"(?:{m})" for m in rule.modules)), re.compile(rule.names))
                  for rule in RULES)


@dataclass(frozen=True)
class Function:
    """A profiled function: its origin-qualified module (see the docstring) and its name."""

    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module.split(':', 1)[-1]}:{self.name}"


def function_of(module: str, name: str, builtin: bool) -> Function:
    """The ``Function`` of a profiler's (module, name): builtins by C type, files by origin and relative path."""
    if builtin:
        for pattern, type_group, name_group in ((_METHOD, 2, 1), (_FUNCTION, 1, 2), (_BOUND, 2, 1)):
            match = pattern.fullmatch(name)
            if match:
                return Function(f"c:{match.group(type_group)}", match.group(name_group))
        return Function(f"c:{module}", name)
    if module.startswith("<"):
        return Function(module, name)
    path = Path(module).resolve()
    if path.is_relative_to(_PROJECT) and path.relative_to(_PROJECT).parts[0] in _OURS:
        return Function(f"project:{path.relative_to(_PROJECT).as_posix()}", name)
    if "site-packages" in path.parts:
        return Function("site:" + "/".join(path.parts[path.parts.index("site-packages") + 1:]), name)
    if path.is_relative_to(_STDLIB):
        return Function(f"stdlib:{path.relative_to(_STDLIB).as_posix()}", name)
    return Function(module, name)


def rule_of(function: Function) -> str:
    """The category (or ``INHERIT``) the first matching rule gives ``function``; ``OTHER`` if none does."""
    for category, module, name in _COMPILED:
        if module.match(function.module) and name.fullmatch(function.name):
            return category
    return OTHER


@dataclass(frozen=True)
class Call:
    """Self time of ``function`` spent while called from ``caller`` (None: no caller the profiler saw)."""

    function: Function
    caller: Function | None
    self_s: float
    calls: int


@dataclass
class Breakdown:
    """Self seconds and calls per category (every category present, in ``CATEGORIES`` order) and the
    costliest functions of each, as (function, seconds, calls)."""

    seconds: dict[str, float]
    calls: dict[str, int]
    top: dict[str, list[tuple[str, float, int]]]

    @property
    def total_s(self) -> float:
        return sum(self.seconds.values())


def categorise(calls: Iterable[Call]) -> Breakdown:
    """Attribute every call's self time to a category by ``RULES``, inheriting ones through their callers."""
    calls = list(calls)
    main_caller = _main_callers(calls)
    cache: dict[Function, str] = {}

    def resolve(function: Function | None, depth: int) -> str:
        if function is None or depth > INHERIT_DEPTH:
            return OTHER
        if function not in cache:
            rule = rule_of(function)
            cache[function] = rule if rule != INHERIT else resolve(main_caller.get(function), depth + 1)
        return cache[function]

    seconds, counts = dict.fromkeys(CATEGORIES, 0.0), dict.fromkeys(CATEGORIES, 0)
    per_function: dict[tuple[str, Function], list[float]] = {}
    for call in calls:
        rule = rule_of(call.function)
        category = rule if rule != INHERIT else resolve(call.caller, 1)
        seconds[category] += call.self_s
        counts[category] += call.calls
        spent = per_function.setdefault((category, call.function), [0.0, 0])
        spent[0] += call.self_s
        spent[1] += call.calls
    top: dict[str, list[tuple[str, float, int]]] = {category: [] for category in CATEGORIES}
    for (category, function), (self_s, count) in sorted(per_function.items(), key=lambda item: -item[1][0]):
        if len(top[category]) < TOP_FUNCTIONS and self_s > 0:
            top[category].append((str(function), self_s, int(count)))
    return Breakdown(seconds, counts, top)


def _main_callers(calls: list[Call]) -> dict[Function, Function]:
    """Each function's caller that spent the most of its self time: where an inheriting caller inherits from."""
    best: dict[Function, tuple[float, Function]] = {}
    for call in calls:
        if call.caller is not None and call.self_s >= best.get(call.function, (-1.0, call.caller))[0]:
            best[call.function] = (call.self_s, call.caller)
    return {function: caller for function, (_, caller) in best.items()}


def unavailable_reason() -> str | None:
    """Why ``profiled`` cannot run here (yappi is not installed), or None."""
    from importlib.util import find_spec

    return None if find_spec("yappi") else "yappi is not installed: pip install 'concbench[bench]' (or pip install yappi)"


@dataclass
class Profile:
    """One profiled block: the profiler's description and this process's CPU during it. ``calls()`` reads
    the profile after the block, so that reading it is not charged to the round."""

    profiler: str = ""
    cpu_s: float = 0.0

    def calls(self) -> list[Call]:
        import yappi

        try:
            return _calls(yappi.get_func_stats())
        finally:
            yappi.clear_stats()


@contextmanager
def profiled() -> Iterator[Profile]:
    """Profile the block with yappi (CPU clock, every thread; greenlets when the process uses them)."""
    import yappi  # here, not at the top: see the rules above

    backend = "greenlet" if "greenlet" in sys.modules else "native_thread"
    yappi.clear_stats()
    yappi.set_clock_type("cpu")
    yappi.set_context_backend(backend)
    profile = Profile(profiler=f"yappi (cpu clock, {backend} contexts, builtins)")
    started = time.process_time()
    yappi.start(builtins=True, profile_threads=True)
    try:
        yield profile
    finally:
        yappi.stop()
        profile.cpu_s = time.process_time() - started


def _calls(stats: Any) -> list[Call]:
    """yappi's statistics as ``Call``s: each function's self time split over its callers (yappi's per-caller
    figures); what no caller accounts for is caller-less. Callees are matched by name, not by yappi's index,
    which differs between the threads' merged tables."""
    by_caller: dict[Function, list[Call]] = {}
    for stat in stats:
        caller = function_of(stat.module, stat.name, stat.builtin)
        for child in stat.children:
            callee = function_of(child.module, child.name, child.builtin)
            by_caller.setdefault(callee, []).append(Call(callee, caller, child.tsub, child.ncall))
    calls = []
    for stat in stats:
        function = function_of(stat.module, stat.name, stat.builtin)
        split = by_caller.get(function, [])
        calls += split
        rest = stat.tsub - sum(call.self_s for call in split)
        if rest > 0 or not split:
            calls.append(Call(function, None, max(rest, 0.0), 0 if split else stat.ncall))
    return calls


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("yappi")
    except PackageNotFoundError:
        return "?"


def explanation(profile: Profile, measured: dict[str, Any], reference_s: float, children_s: float) -> dict[str, Any]:
    """The JSON of one explained row. ``measured``: the worker's measurement of the profiled round (its
    requests, errors, wall time); ``reference_s``: this process's CPU in the unprofiled round just before it;
    ``children_s``: its child processes' CPU during the profiled round."""
    requests = measured["requests"] or 1
    calls = profile.calls()
    breakdown = categorise(calls)
    total_calls = sum(breakdown.calls.values())

    def per_request(seconds: float) -> float:
        return seconds / requests * 1e6

    return {
        "requests": measured["requests"],
        "wall_s": measured["wall_s"],
        "errors": measured["errors"],
        "profiler": profile.profiler.replace("yappi", f"yappi {_version()}", 1),
        "cpu_us_per_req": per_request(profile.cpu_s),
        "reference_cpu_us_per_req": per_request(reference_s),
        "overhead": profile.cpu_s / reference_s if reference_s > 0 else None,
        "calls_per_req": total_calls / requests,
        "call_cost_ns": (profile.cpu_s - reference_s) / total_calls * 1e9 if total_calls else None,
        "unattributed_us_per_req": per_request(profile.cpu_s - breakdown.total_s),
        "children_us_per_req": per_request(children_s),
        "categories": {category: per_request(seconds) for category, seconds in breakdown.seconds.items()},
        "calls": {category: count / requests for category, count in breakdown.calls.items()},
        "top": {category: [{"function": name, "us_per_req": per_request(seconds), "calls_per_req": count / requests}
                           for name, seconds, count in functions]
                for category, functions in breakdown.top.items() if functions},
    }
