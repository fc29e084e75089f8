"""The import graph keeps the layers: read from the source with ``ast``, never by importing it.

Every module of ``local_server``, ``strategies`` and ``bench`` is parsed; each ``import``/``from ... import``
anywhere in it (inside functions too: an import in a function is still a dependency) is an edge to the
project module it names, or to the top-level name of a library. ``RULES`` is the table of what may not
import what; a rule is *direct* (the module's own imports) or *transitive* (anything reachable through the
project's modules). Add a layer's rules as rows of the table.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("local_server", "strategies", "bench")
#: strategies' sub-packages, each a layer: the strategy modules, their shared code, the worker machinery, the
#: probes, the eras, the interpreters, and what a row name runs on (variants: today's, an era's or an
#: interpreter's); the CLI and the components' documented entry point sit above them all.
STRATEGY_LAYERS = ("strategies.impl", "strategies.shared", "strategies.worker", "strategies.probes",
                   "strategies.eras", "strategies.pythons", "strategies.variants", "strategies.__main__",
                   "strategies.components")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules and the libraries (top-level names) that module ``name`` imports."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, one level up per extra dot
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "__future__":
                continue
            # ``from bench.report import charts`` imports the module bench.report.charts when there is one.
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in MODULES else module
                       for alias in node.names]
        else:
            continue
        for target in targets:
            found.add(target if target in MODULES else _project_module(target) or target.split(".")[0])
    found.discard(name)
    return found


def _project_module(target: str) -> str | None:
    """The longest project module that ``target`` (a dotted name) is or is inside of."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@dataclass(frozen=True)
class Rule:
    """Modules within ``sources`` (packages or modules, by dotted prefix; ``except_sources`` left out) may
    not import anything within ``forbidden`` but what is within ``allowed``."""

    text: str
    sources: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    except_sources: tuple[str, ...] = ()
    #: Also through the project's modules: the rule holds for everything the module brings in.
    transitive: bool = False

    def applies_to(self, module: str) -> bool:
        return _within(module, self.sources) and not _within(module, self.except_sources)

    def breaks(self, target: str) -> bool:
        return _within(target, self.forbidden) and not _within(target, self.allowed)


RULES = (
    Rule("the server imports nothing of the strategies or the sweep", ("local_server",), ("strategies", "bench")),
    Rule("the strategies import nothing of the sweep", ("strategies",), ("bench",)),
    Rule("the registry, the contract, the workload, the codecs and the virtualenv builder import none of the "
         "strategies' layers",
         ("strategies",), STRATEGY_LAYERS, except_sources=STRATEGY_LAYERS),
    Rule("a strategy module imports the contract (its TLS context included), the shared code and the codecs, "
         "nothing else of strategies",
         ("strategies.impl",), ("strategies",), allowed=("strategies.base", "strategies.tls", "strategies.shared",
                                                        "strategies.http1", "strategies.select_client",
                                                        "strategies.impl")),
    Rule("a strategy module reaches no worker machinery, probe, era, interpreter or registry, even indirectly",
         ("strategies.impl",), ("strategies.worker", "strategies.probes", "strategies.eras", "strategies.pythons",
                                "strategies.variants", "strategies.venvs", "strategies.__main__",
                                "strategies.components"), transitive=True),
    Rule("the shared code imports no strategy module and no machinery above it", ("strategies.shared",),
         ("strategies",), allowed=("strategies.base", "strategies.tls", "strategies.shared", "strategies.http1")),
    Rule("the worker machinery imports no strategy module by name (the host imports the registry's), no era or "
         "interpreter, and of the probes only the profiler its explain command runs",
         ("strategies.worker",), ("strategies.impl", "strategies.shared", "strategies.eras", "strategies.pythons",
                                  "strategies.variants", "strategies.venvs", "strategies.probes",
                                  "strategies.__main__", "strategies.components"),
         allowed=("strategies.probes.explain",)),
    Rule("the profiler the worker runs imports nothing of the project", ("strategies.probes.explain",),
         PACKAGES, transitive=True),
    Rule("the eras run today's worker machinery on the registry, never a strategy module, a probe or an "
         "interpreter's rows",
         ("strategies.eras",), ("strategies.impl", "strategies.shared", "strategies.probes", "strategies.pythons",
                                "strategies.variants", "strategies.__main__", "strategies.components")),
    Rule("the interpreters run today's worker on the registry, naming rows as the eras do (eras.split), never a "
         "strategy module or a probe",
         ("strategies.pythons",), ("strategies.impl", "strategies.shared", "strategies.probes",
                                   "strategies.variants", "strategies.__main__", "strategies.components")),
    Rule("what a row name runs on is the registry's, an era's or an interpreter's worker, never a strategy "
         "module or a probe",
         ("strategies.variants",), ("strategies.impl", "strategies.shared", "strategies.probes",
                                    "strategies.__main__", "strategies.components")),
    Rule("the virtualenv builder the eras and the interpreters share imports nothing of the project",
         ("strategies.venvs",), PACKAGES, transitive=True),
    Rule("the sweep and the report read the strategies through the registry, the contract, the worker machinery, "
         "the probes and the eras, never a strategy module or the shared code by name",
         ("bench",), ("strategies.impl", "strategies.shared")),
    Rule("sans-IO codecs import no socket", ("local_server.protocol", "strategies.http1"), ("socket",),
         transitive=True),
    Rule("the record layer imports nothing of the layers that make or read it", ("bench.record",),
         ("bench.sweep", "bench.analysis", "bench.report")),
    Rule("the analyses import nothing of the sweep or the report", ("bench.analysis",),
         ("bench.sweep", "bench.report")),
    Rule("the sweep imports nothing of the report (the entry point makes it)", ("bench.sweep",), ("bench.report",)),
    Rule("the sweep reads of the analyses only the claim's definition and the interval a row stops on",
         ("bench.sweep",), ("bench.analysis",), allowed=("bench.analysis.claim", "bench.analysis.comparison")),
    Rule("the report reads of the sweep only the thresholds and levels it quotes", ("bench.report",),
         ("bench.sweep",), allowed=("bench.sweep.plan", "bench.sweep.noise", "bench.sweep.cells")),
    Rule("no module outside the charts imports matplotlib", PACKAGES, ("matplotlib",),
         except_sources=("bench.report.charts",)),
    Rule("text and data reach no plotting library, even through what they import",
         ("bench.record", "bench.analysis", "bench.report.sections", "bench.report.compare",
          "bench.report.readme", "bench.sweep"), ("matplotlib", "plotly"), transitive=True),
    Rule("no module outside the results page imports plotly or markdown-it", PACKAGES, ("plotly", "markdown_it"),
         except_sources=("bench.report.page",)),
    Rule("REPORT.md, its charts and the README's section are made without the page, even indirectly",
         ("bench.report.document", "bench.report.sections", "bench.report.charts", "bench.report.readme",
          "bench.report.compare"), ("bench.report.page",), transitive=True),
    Rule("the ladder's entry point (python -m bench.ladder) runs its measurement and its report, nothing else",
         ("bench.ladder",), ("bench",), allowed=("bench.sweep.ladder", "bench.record.ladder",
                                                 "bench.report.charts.ladder", "bench.report.sections.ladder")),
    Rule("the documented entry points bench.schema and bench.compare only run their module's main",
         ("bench.schema", "bench.compare"), ("bench",), allowed=("bench.record.schema", "bench.report.compare")),
)


def _reachable(module: str) -> dict[str, list[str]]:
    """Everything ``module`` imports, directly or through project modules: name -> one chain to it."""
    chains: dict[str, list[str]] = {module: [module]}
    todo = [module]
    while todo:
        current = todo.pop()
        for target in sorted(GRAPH.get(current, ())):
            if target not in chains:
                chains[target] = [*chains[current], target]
                if target in GRAPH:
                    todo.append(target)
    del chains[module]
    return chains


def violations(rule: Rule) -> list[str]:
    out = []
    for module in sorted(m for m in MODULES if rule.applies_to(m)):
        reached = _reachable(module) if rule.transitive else {t: [module, t] for t in GRAPH[module]}
        out += [" -> ".join(chain) for target, chain in sorted(reached.items()) if rule.breaks(target)]
    return out


def test_the_graph_sees_every_package_and_its_layers() -> None:
    assert {name.split(".")[0] for name in MODULES} == set(PACKAGES)
    for layer in ("bench.record", "bench.analysis", "bench.report", "bench.report.charts", "bench.report.sections",
                  "bench.report.page", "bench.sweep", "strategies.impl", "strategies.shared", "strategies.worker",
                  "strategies.probes", "strategies.eras", "strategies.pythons", "strategies.variants",
                  "strategies.venvs"):
        assert layer in MODULES, layer
    assert "bench.record.schema" in GRAPH["bench.record.rows"]
    assert "matplotlib" in GRAPH["bench.report.charts.panels"] or "matplotlib" in GRAPH["bench.report.charts"]


@pytest.mark.parametrize("rule", RULES, ids=[rule.text for rule in RULES])
def test_rule(rule: Rule) -> None:
    assert any(rule.applies_to(m) for m in MODULES), f"{rule.text}: no module is a source (renamed?)"
    found = violations(rule)
    assert not found, f"{rule.text}:\n" + "\n".join(found)


def test_rules_catch_what_they_forbid() -> None:
    """The checker itself: a rule that the real graph breaks is reported, with its chain."""
    assert violations(Rule("probe", ("bench.report.charts.panels",), ("matplotlib",)))
    assert violations(Rule("probe", ("bench.report.document",), ("matplotlib",), transitive=True))
    assert not violations(Rule("probe", ("bench.report.document",), ("matplotlib",)))
    # The host imports the profiler inside a function: still an edge.
    assert violations(Rule("probe", ("strategies.worker.host",), ("strategies.probes",)))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one node (Tarjan), each a cycle's members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_modules() -> None:
    assert _cycles(GRAPH) == []


def test_no_import_cycles_between_layers() -> None:
    """Between bench's layers (its sub-packages) the imports go one way."""
    layers = ("bench.record", "bench.analysis", "bench.sweep", "bench.report")

    def layer(module: str) -> str | None:
        return next((name for name in layers if _within(module, (name,))), None)

    graph: dict[str, set[str]] = {name: set() for name in layers}
    for module, targets in GRAPH.items():
        source = layer(module)
        if source is not None:
            graph[source] |= {t for target in targets if (t := layer(target)) not in (None, source)}
    assert _cycles(graph) == [], graph


def test_no_import_cycles_between_the_strategies_layers() -> None:
    """Between strategies' layers the imports go one way: registry and contract <- shared <- impl, worker <-
    probes, worker <- eras <- pythons, eras and pythons <- variants. The profiler (probes.explain) is its own layer: the worker runs it, and it imports
    nothing of the project."""
    layers = ("strategies.probes.explain", *STRATEGY_LAYERS[:-2])

    def layer(module: str) -> str:
        return next((name for name in layers if _within(module, (name,))), "strategies")

    graph: dict[str, set[str]] = {name: set() for name in (*layers, "strategies")}
    for module, targets in GRAPH.items():
        if _within(module, ("strategies",)) and not _within(module, STRATEGY_LAYERS[-2:]):
            source = layer(module)
            graph[source] |= {t for target in targets if _within(target, ("strategies",))
                              and (t := layer(target)) != source}
    assert _cycles(graph) == [], graph
    assert graph["strategies.impl"] <= {"strategies", "strategies.shared"}, graph["strategies.impl"]


def test_the_cycle_checker_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
