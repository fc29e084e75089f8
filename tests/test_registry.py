"""The registry is the one place a strategy is declared: what derives from it, and what must agree with it.

A strategy is its module and its registry entry. These tests fail when something a new strategy also
needs is missing or disagrees: its pip extra in pyproject.toml, its rows in docs/strategies.md's tables, the
library versions a run records, a colour of its own.
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from bench.record.environment import LIBRARIES
from strategies import MODELS, REGISTRY
from strategies.base import POLICIES

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
#: Where the strategies' tables live (the README links it).
STRATEGIES_DOC = (ROOT / "docs" / "strategies.md").read_text()


def _requirement_name(requirement: str) -> str:
    """``gevent>=24.2`` -> ``gevent``; ``concbench[a,b]`` -> ``concbench``."""
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return match.group(0).lower()


def _section(title: str) -> str:
    """docs/strategies.md's text from a heading to the next heading of any level."""
    start = STRATEGIES_DOC.index(title)
    end = STRATEGIES_DOC.find("\n#", start + len(title))
    return STRATEGIES_DOC[start:end if end >= 0 else None]


@pytest.mark.parametrize("name", list(REGISTRY))
def test_its_extra_installs_what_it_imports(name: str) -> None:
    spec = REGISTRY[name]
    if not spec.requires:
        assert spec.extra is None, f"{name} imports nothing optional but names extra {spec.extra!r}"
        return
    assert spec.extra in EXTRAS, f"{name}: pyproject.toml has no extra {spec.extra!r}"
    installed = {_requirement_name(r) for r in EXTRAS[spec.extra]}
    assert {module.lower() for module in spec.requires} <= installed, (name, EXTRAS[spec.extra])


#: Extras ``all`` must not name, and why (pyproject.toml says it too).
NOT_IN_ALL = {
    # niquests requires urllib3-future, whose wheel installs a .pth startup hook that copies urllib3-future
    # over the installed urllib3 package: every requests-based strategy would then run on the fork.
    "niquests": "urllib3-future's wheel replaces urllib3 under requests",
}


def test_all_extra_installs_every_strategy() -> None:
    (everything,) = EXTRAS["all"]
    named = set(everything.split("[", 1)[1].rstrip("]").split(","))
    assert {spec.extra for spec in REGISTRY.values() if spec.extra} - set(NOT_IN_ALL) <= named
    assert not named & set(NOT_IN_ALL)


def test_requests_runs_on_urllib3_itself() -> None:
    """The urllib3 that requests imports is the distribution the runs record: not urllib3-future copied over it
    (niquests' dependency, installed from its wheel: docs/strategies.md, "niquests and urllib3")."""
    if importlib.util.find_spec("urllib3") is None:
        pytest.skip("urllib3 is not installed")
    import urllib3

    assert urllib3.__version__ == metadata.version("urllib3"), (
        f"import urllib3 is {urllib3.__version__}, the installed urllib3 is {metadata.version('urllib3')}: "
        "urllib3-future has replaced it; reinstall urllib3 and install niquests as docs/strategies.md says")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_library_it_names_is_recorded_with_its_version(name: str) -> None:
    spec = REGISTRY[name]
    assert set(spec.libraries) <= set(LIBRARIES)
    if spec.unavailable_reason() is None:  # installed: each of its libraries has a version to record
        for library in spec.libraries:
            assert metadata.version(library), library


def test_every_strategy_has_a_colour_of_its_own() -> None:
    colours = [spec.colour for spec in REGISTRY.values()]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", colour) for colour in colours), colours
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_readme_strategy_table_lists_it_with_its_module(name: str) -> None:
    module_file = Path(*REGISTRY[name].module.split(".")).with_suffix(".py").as_posix()
    rows = [line for line in _section("# The strategies").splitlines() if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, f"docs/strategies.md: no strategies-table row for {name}"
    assert f"`{module_file}`" in rows[0], f"docs/strategies.md: no strategies-table row for {name}"
    assert importlib.util.find_spec(REGISTRY[name].module) is not None


@pytest.mark.parametrize("title", ["## The two profiles", "## Every knob, per library"])
@pytest.mark.parametrize("name", list(REGISTRY))
def test_readme_knob_tables_name_it(name: str, title: str) -> None:
    table = [line for line in _section(title).splitlines() if line.startswith("|")]
    assert any(f"`{name}`" in line.split("|")[1] for line in table), f"docs/strategies.md {title!r}: no row for {name}"


@pytest.mark.parametrize("name", list(REGISTRY))
def test_it_names_its_model_and_stack(name: str) -> None:
    spec = REGISTRY[name]
    assert spec.model in MODELS, f"{name}: model {spec.model!r} is not one of {MODELS}"
    assert spec.stack, f"{name}: no stack"


@pytest.mark.parametrize("name", list(REGISTRY))
def test_its_as_written_rows_carry_the_policy_its_recipe_has(name: str) -> None:
    spec = REGISTRY[name]
    runnable = {policy for policy in POLICIES if spec.skip_reason(1, policy, "as-written") is None}
    assert runnable <= {spec.as_written_policy}
    other = "close" if spec.as_written_policy == "keepalive" else "keepalive"
    assert spec.skip_reason(1, other, "as-written")
