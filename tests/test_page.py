"""bench.report.page: results/index.html, built from two small runs made here and driven in headless Chromium.

The runs are the report fixture (tests/data/report_fixture.json) with an as-written copy of its latency/close
cells, a 2017 twin of its latency/close/C=10 cell (``S@2017``: half the req/s), and a second run of the same
rows with gevent 1.5 times faster. The browser is Debian's ``chromium`` driven by playwright's Python API
(``executable_path``; playwright's own browsers are never installed). Every request the page makes is
routed: one that leaves the file system fails the test, as does any console error or page error.
"""

from __future__ import annotations

import copy
import json
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.analysis import verdict
from bench.analysis.comparison import mean_interval
from bench.record.rows import CellKey, finish_row, rows_by_cell
from bench.record.runfile import load_run
from bench.report.__main__ import main as report_main
from bench.report.page import data, document
from bench.report.page.runs import find_runs, results_root

pytestmark = pytest.mark.slow  # a browser

FIXTURE = Path(__file__).parent / "data" / "report_fixture.json"
COMMITTED = Path(__file__).parent.parent / "results"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: What works for Debian's chromium here, as root, without a display or a network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A_NAME, B_NAME = "20260101T000000Z-test", "20260102T000000Z-test"


def _twin(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(row)
    out.update(changes)
    for r in out["rounds"]:
        r["profile"] = out["profile"]
    return finish_row(out)


def _runs() -> tuple[dict[str, Any], dict[str, Any]]:
    a = load_run(FIXTURE)
    a["created"] = "2026-01-01T00:10:00+00:00"
    extra = []
    for row in a["rows"]:
        if (row["workload"], row["policy"]) == ("latency", "close"):
            extra.append(_twin(row, profile="as-written", id=row["id"] + "-as-written"))
        if (row["workload"], row["policy"], row["concurrency"]) == ("latency", "close", 10):
            old = _twin(row, id=row["id"] + "@2017", strategy=row["strategy"] + "@2017",
                        era={"name": "2017", "python": "3.6.15", "digest": "0", "libraries": {}})
            for r in old["rounds"]:
                r["req_per_s"] /= 2
            extra.append(finish_row(old))
    a["rows"] += extra
    b = copy.deepcopy(a)
    b["created"] = "2026-01-02T00:10:00+00:00"
    for row in b["rows"]:
        if row["strategy"] == "gevent":
            for r in row["rounds"]:
                r["req_per_s"] *= 1.5
            finish_row(row)
    return a, b


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """A results folder with run A (``runs/``, its REPORT.md) and run B (``again/runs/``), and the page that
    ``python -m bench.report`` writes for it."""
    if document.missing():
        pytest.skip(f"bench.report.page: {document.missing()}")
    root = tmp_path_factory.mktemp("results")
    a, b = _runs()
    for folder, name, run in (("runs", A_NAME, a), ("again/runs", B_NAME, b)):
        (root / folder).mkdir(parents=True)
        (root / folder / f"{name}.json").write_text(json.dumps(run))
    assert report_main([str(root / "runs" / f"{A_NAME}.json"), "--out", str(root)]) == 0
    assert (root / "REPORT.md").exists()
    assert (root / "index.html").exists()
    return root, {"default": load_run(root / "runs" / f"{A_NAME}.json"),
                  "again": load_run(root / "again" / "runs" / f"{B_NAME}.json")}


def _data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.DOTALL)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_the_page_names_every_run_and_links_it(built: tuple[Path, dict[str, Any]]) -> None:
    root, _ = built
    data = _data((root / "index.html").read_text())
    runs = {r["id"]: r for r in data["runs"]}
    assert list(runs) == ["default", "again"]
    assert runs["default"]["json"] == f"runs/{A_NAME}.json"
    assert runs["default"]["report"] == "REPORT.md"
    assert runs["again"]["json"] == f"again/runs/{B_NAME}.json"
    assert runs["again"]["report"] is None
    assert set(data["compare"]) == {"default>again", "again>default"}
    # the same words as REPORT.md, from the same code
    text = (root / "REPORT.md").read_text()
    assert all(f"| {' | '.join(line)} |" in text for line in runs["default"]["readings"]["rows"])


def test_a_sets_current_run_is_the_one_its_latest_json_copies(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    for name in ("20260101T000000Z-a", "20260102T000000Z-b"):
        (tmp_path / "runs" / f"{name}.json").write_text(name)
    shutil.copyfile(tmp_path / "runs" / "20260101T000000Z-a.json", tmp_path / "latest.json")
    found = find_runs(tmp_path, also=tmp_path / "latest.json")  # a copy: listed once
    assert [s.id for s in found] == ["default", "default/20260102T000000Z-b"]
    assert found[0].path.name == "20260101T000000Z-a.json"


def test_a_report_in_a_sets_folder_remakes_the_page_of_the_whole_results_folder(tmp_path: Path) -> None:
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "results" / "c10k" / "runs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    assert results_root(tmp_path / "results" / "c10k") == (tmp_path / "results").resolve()
    assert results_root(tmp_path / "results") == (tmp_path / "results").resolve()
    assert results_root(tmp_path / "elsewhere") == (tmp_path / "elsewhere").resolve()


def test_without_plotly_the_report_goes_on_and_the_page_is_skipped_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    find_spec = document.importlib.util.find_spec
    monkeypatch.setattr(document.importlib.util, "find_spec", lambda name: None if name == "plotly" else find_spec(name))
    assert report_main([str(FIXTURE), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "REPORT.md").exists()
    assert not (tmp_path / "index.html").exists()
    said = [line for line in capsys.readouterr().err.splitlines() if "bench.report.page" in line]
    assert said == ["bench.report.page: skipped (missing plotly: pip install 'concbench[bench]')"]


def test_no_string_in_a_run_can_end_the_script(built: tuple[Path, dict[str, Any]]) -> None:
    root, _ = built
    shown = data.page_data(find_runs(root), root)
    shown["runs"][0]["rows"][0]["reason"] = "</script><script>alert(1)</script>"
    html = document.render(shown)
    assert html.count("</script>") == 3  # the data's, plotly's and the page's own
    assert _data(html)["runs"][0]["rows"][0]["reason"].startswith("</script>")


def test_the_committed_page_is_within_its_budget_and_lists_every_committed_run() -> None:
    path = COMMITTED / document.PAGE
    assert path.stat().st_size <= document.MAX_BYTES
    data = _data(path.read_text())
    assert [r["json"] for r in data["runs"]] == [s.path.relative_to(COMMITTED).as_posix()
                                                 for s in find_runs(COMMITTED)]


# --- in the browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install 'concbench[dev]' (playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: apt-get install chromium (the page's browser tests)")
    with sync_api.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
            headless=True, viewport={"width": 1280, "height": 900})
        yield context
        context.close()


class Opened:
    """One page of the browser, every request routed and every console or page error kept."""

    def __init__(self, context: Any, url: str):
        self.errors: list[str] = []
        self.left: list[str] = []
        self.page = context.new_page()
        self.page.set_default_timeout(15_000)  # a step the page never completes fails in seconds, not 30
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.goto(url)
        self.drawn()

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.left.append(route.request.url)
            route.abort()

    def drawn(self) -> None:
        self.page.wait_for_function("document.body.dataset.drawn === '1'")

    def series(self) -> dict[str, list[tuple[int, float]]]:
        traces = self.page.evaluate(
            "document.getElementById('chart').data.filter(t => t.meta.kind === 'row')"
            ".map(t => [t.meta.strategy, t.x, t.y])")
        return {name: list(zip(xs, ys, strict=True)) for name, xs, ys in traces}


@pytest.fixture
def opened(browser: Any, built: tuple[Path, dict[str, Any]]) -> Iterator[Opened]:
    root, _ = built
    found = Opened(browser, (root / "index.html").as_uri())
    yield found
    found.page.close()
    assert found.errors == []
    assert found.left == []


def expected(run: dict[str, Any], workload: str, profile: str, policy: str, metric: str = "rps",
             hidden: tuple[str, ...] = (), era: str | None = "any") -> dict[str, list[tuple[int, float]]]:
    """The series the Python side selects for a view: the measured rows of the cell with a value."""
    value = {m.id: m for m in data.METRICS}[metric].value
    out: dict[str, list[tuple[int, float]]] = {}
    for row in run["rows"]:
        if (row["workload"], row["profile"], row["policy"]) != (workload, profile, policy):
            continue
        if row["strategy"] in hidden or row["status"] not in ("ok", "flagged") or not row["summary"]:
            continue
        if era != "any" and (row.get("era") or {}).get("name") != era:
            continue
        if (v := value(row)) is not None:
            out.setdefault(row["strategy"], []).append((row["concurrency"], v))
    return {name: sorted(points) for name, points in out.items()}


def _same(shown: dict[str, list[tuple[int, float]]], wanted: dict[str, list[tuple[int, float]]]) -> None:
    assert set(shown) == set(wanted)
    for name, points in wanted.items():
        assert [c for c, _ in shown[name]] == [c for c, _ in points], name
        assert all(math.isclose(a, b, rel_tol=1e-3) for (_, a), (_, b) in zip(shown[name], points, strict=True)), name


def test_no_request_leaves_the_file_system_and_the_guard_sees_one(opened: Opened) -> None:
    assert opened.page.evaluate("fetch('http://127.0.0.1:9/probe').then(() => 'sent', () => 'refused')") == "refused"
    assert opened.left == ["http://127.0.0.1:9/probe"]
    assert all("ERR_FAILED" in error for error in opened.errors)  # the refused probe, said on the console
    opened.left.clear()  # the probe was ours; the page's own requests and errors are checked at teardown
    opened.errors.clear()


def test_each_control_changes_the_plotted_series(opened: Opened, built: tuple[Path, dict[str, Any]]) -> None:
    _, runs = built
    a, page_ = runs["default"], opened.page
    _same(opened.series(), expected(a, "latency", "tuned", "keepalive"))  # the default view
    page_.get_by_label("close").check()
    opened.drawn()
    _same(opened.series(), expected(a, "latency", "tuned", "close"))
    for metric in data.METRICS:
        page_.get_by_label("metric").select_option(metric.id)
        opened.drawn()
        _same(opened.series(), expected(a, "latency", "tuned", "close", metric.id))
    page_.get_by_label("metric").select_option("rps")
    page_.get_by_label("as-written").check()
    opened.drawn()
    _same(opened.series(), expected(a, "latency", "as-written", "close"))
    page_.get_by_label("tuned").check()
    page_.get_by_label("today (Python", exact=False).uncheck()
    opened.drawn()
    assert set(opened.series()) == set(expected(a, "latency", "tuned", "close", era="2017"))
    page_.get_by_label("2017 (Python 3.6.15)").uncheck()
    opened.drawn()
    assert opened.series() == {}
    page_.get_by_label("2017 (Python 3.6.15)").check()
    page_.get_by_label("today (Python", exact=False).check()
    page_.get_by_label("gevent", exact=True).uncheck()
    opened.drawn()
    _same(opened.series(), expected(a, "latency", "tuned", "close", hidden=("gevent",)))
    page_.get_by_label("gevent", exact=True).check()
    page_.get_by_label("workload").select_option("throughput")
    opened.drawn()
    _same(opened.series(), expected(a, "throughput", "tuned", "close"))
    page_.get_by_label("run", exact=True).select_option("again")
    opened.drawn()
    _same(opened.series(), expected(runs["again"], "throughput", "tuned", "close"))
    assert "run=again" in page_.evaluate("location.hash")


def test_a_log_axis_is_labelled_in_full_over_the_plotted_range(opened: Opened) -> None:
    """plotly's own log axis labels its 2s and 5s with the digit alone; the page writes 1-2-5 in full."""
    page_ = opened.page
    for metric in (m for m in data.METRICS if m.log):
        page_.get_by_label("metric").select_option(metric.id)
        opened.drawn()
        values, labels = page_.evaluate(
            "(() => { const y = document.getElementById('chart').layout.yaxis; return [y.tickvals, y.ticktext]; })()")
        ys = [y for series in opened.series().values() for _, y in series if y > 0]
        if not ys:  # a metric these small runs did not measure (instructions): nothing drawn, no ticks
            assert values is None, metric.id
            continue
        assert all(math.isclose(float(label.replace(",", "")), v, rel_tol=1e-9) for v, label in zip(
            values, labels, strict=True)), (metric.id, labels)
        assert {f"{v:e}"[0] for v in values} <= {"1", "2", "5"}, (metric.id, values)
        assert min(values) <= 2.5 * min(ys), (metric.id, values, min(ys))
        assert max(values) >= max(ys) / 2.5, (metric.id, values, max(ys))
    page_.get_by_label("metric").select_option("rps")
    opened.drawn()


def test_the_cell_and_the_comparison_show_the_python_figures(opened: Opened, built: tuple[Path, dict[str, Any]]
                                                             ) -> None:
    _, runs = built
    page_ = opened.page
    page_.get_by_label("close").check()
    page_.get_by_label("concurrency C of the cell").select_option("10")
    rows = rows_by_cell(runs["default"])[CellKey("latency", "tuned", "close", 10)]
    cell = verdict.judge_cell(rows, tuple(r["strategy"] for r in rows))
    assert len(cell.links) > 4
    text = page_.locator("#cell-body").inner_text()
    assert all(link.interval_text in text for link in cell.links)
    page_.get_by_label("compare with run").select_option("again")
    opened.drawn()
    shown = page_.locator("#comparison").inner_text()
    assert "faster" in shown
    assert "Rows compared:" in shown


def _kept(value: float) -> float:
    """A number as the page's data keeps it (``data.DIGITS`` significant digits)."""
    return float(f"{value:.{data.DIGITS}g}")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def test_the_hover_text_of_a_known_row_carries_its_interval(opened: Opened, built: tuple[Path, dict[str, Any]]
                                                            ) -> None:
    _, runs = built
    row = next(r for r in runs["default"]["rows"] if r["id"] == "latency-close-c10-gevent")
    interval = mean_interval([r["req_per_s"] for r in row["rounds"]])
    assert interval is not None
    _, low, high = interval
    page_ = opened.page
    page_.get_by_label("close").check()
    opened.drawn()
    curve, point = page_.evaluate("""() => {
        const data = document.getElementById('chart').data;
        const curve = data.findIndex(t => t.meta.strategy === 'gevent' && t.meta.kind === 'row');
        return [curve, data[curve].x.indexOf(10)];
    }""")
    marker = page_.locator("#chart .scatterlayer .trace").nth(curve).locator(".points path").nth(point)
    box = marker.bounding_box()  # plotly's drag layer lies over the points: move the mouse there, as a reader does
    assert box is not None
    page_.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    label = page_.locator("#chart .hoverlayer .hovertext")
    label.wait_for()
    hover = label.text_content() or ""  # SVG text: its lines are tspans
    assert "gevent" in hover
    assert "C=10" in hover
    assert f"95 % interval [{_fmt(_kept(low))}, {_fmt(_kept(high))}]" in hover
    # the keyboard's way to the same text: the plotted rows' table
    page_.locator("#points-count").click()
    page_.locator(f"#points tr[data-row='{runs['default']['rows'].index(row)}']").focus()
    assert f"[{_fmt(_kept(low))}, {_fmt(_kept(high))}]" in page_.locator("#point").inner_text()


def test_the_fragment_restores_a_view(browser: Any, built: tuple[Path, dict[str, Any]]) -> None:
    root, runs = built
    opened = Opened(browser, (root / "index.html").as_uri()
                    + "#run=again&workload=latency&profile=tuned&policy=close&metric=cpu&hide=asyncio,aiohttp&c=1")
    page_ = opened.page
    assert page_.get_by_label("run", exact=True).input_value() == "again"
    assert page_.get_by_label("metric").input_value() == "cpu"
    assert page_.get_by_label("concurrency C of the cell").input_value() == "1"
    assert not page_.get_by_label("asyncio", exact=True).is_checked()
    _same(opened.series(), expected(runs["again"], "latency", "tuned", "close", "cpu", hidden=("asyncio", "aiohttp")))
    opened.page.close()
    assert opened.errors == []
    assert opened.left == []
