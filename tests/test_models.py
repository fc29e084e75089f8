"""Model × stack (``bench.analysis.models``): the codec row of a model against its library rows, in one cell."""

from __future__ import annotations

from typing import Any

import pytest

from bench.analysis import models
from bench.record.rows import CellKey
from bench.report.sections import models as models_section


def row(strategy: str, cpu_us: list[float], rate: list[float], policy: str = "keepalive") -> dict[str, Any]:
    return {"id": f"throughput-{strategy}-tuned-{policy}-c10", "strategy": strategy, "workload": "throughput",
            "profile": "tuned", "policy": policy, "concurrency": 10, "status": "ok", "summary": {"errors": 0},
            "rounds": [{"cpu_us_per_req": c, "req_per_s": r} for c, r in zip(cpu_us, rate, strict=True)]}


def test_a_library_row_is_compared_with_its_models_codec_row() -> None:
    run = {"rows": [row("aiohttp", [300, 310, 290], [3000, 2900, 3100]),
                    row("asyncio", [100, 102, 98], [9000, 9100, 8900]),
                    row("threads", [600, 610, 590], [1500, 1490, 1510])]}
    (key, stacks), = models.model_cells(run).items()
    assert key == CellKey("throughput", "tuned", "keepalive", 10)
    assert [(s.model, s.strategy) for s in stacks] == [("threads", "threads"), ("asyncio", "asyncio"),
                                                       ("asyncio", "aiohttp")]
    threads, asyncio, aiohttp = stacks
    assert threads.cpu_ratio is None
    assert asyncio.cpu_ratio is None
    assert aiohttp.library_us == pytest.approx(200)
    assert aiohttp.cpu_ratio is not None
    assert aiohttp.cpu_ratio.low > 2.5
    assert aiohttp.cpu_ratio.high < 3.5
    assert aiohttp.rate_ratio is not None
    assert aiohttp.rate_ratio.ratio == pytest.approx(1 / 3, rel=0.05)
    section = "\n".join(models_section.section(run))
    assert "| asyncio | aiohttp | `aiohttp` | 300 | 3,000 | 200 |" in section


def test_failed_rows_and_cells_without_a_pair_are_left_out() -> None:
    broken = row("aiohttp", [300], [3000])
    broken["status"] = "failed"
    assert models.model_cells({"rows": [broken, row("asyncio", [100], [9000])]}) == {}


def test_a_second_codec_row_of_a_model_is_not_a_library() -> None:
    stacks = models.cell_stacks([row("epoll", [20, 21, 19], [9000, 9100, 8900]),
                                 row("select", [22, 23, 21], [8000, 8100, 7900])])
    assert [(s.model, s.stack, s.strategy) for s in stacks] == [("select", "codec", "select"),
                                                                ("select", "codec", "epoll")]
    assert all(s.cpu_ratio is None and s.library_us is None for s in stacks)
