"""bench.sweep.load_generator against the bundled server on loopback: every request it sends is counted once.

The server counts the requests it read (``/stats``), so each fault route checks the generator's books:
none of them yields a response, so every request the server saw is one of the generator's errors, except
the few still outstanding at the deadline (at most one per connection). Before the generator read
responses through ``strategies.http1``, a connection closed or reset before its response was reconnected
silently: ``fault/close`` and ``fault/reset`` ran for seconds with zero requests and zero errors.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.sweep.load_generator import run
from local_server.api import fetch_stats, reset_stats

pytestmark = pytest.mark.timeout(60)

#: Short runs: a fault costs the server one accept and one read, so even 0.3 s makes hundreds of requests.
SECONDS = 0.3
CONNECTIONS = 4
MODES = ("keepalive", "close")


@pytest.mark.parametrize("mode", MODES)
def test_healthy_requests_are_counted_without_errors(server_url: str, mode: str) -> None:
    reset_stats(server_url)
    result = run(server_url, SECONDS, CONNECTIONS, mode)
    served = fetch_stats(server_url)["requests"]
    assert result["requests"] > 0
    assert (result["errors"], result["non_2xx"]) == (0, 0)
    assert result["requests"] <= served <= result["requests"] + CONNECTIONS


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fault", ["close", "reset", "truncate", "garbage"])
def test_a_request_without_a_complete_response_is_an_error(server_url: str, fault: str, mode: str) -> None:
    # fault/close on a kept-alive connection is the lost request that used to go uncounted.
    reset_stats(server_url)
    result = run(server_url, SECONDS, CONNECTIONS, mode, path=f"/fault/{fault}")
    served = fetch_stats(server_url)["requests"]
    assert result["requests"] == 0
    assert result["errors"] > 0
    assert result["errors"] <= served <= result["errors"] + CONNECTIONS


def test_a_non_2xx_response_is_a_request_counted_apart(server_url: str) -> None:
    result = run(server_url, SECONDS, CONNECTIONS, "keepalive", path="/status/500")
    assert result["requests"] > 0
    assert result["non_2xx"] == result["requests"]
    assert result["errors"] == 0


def test_cli_prints_one_json_line(server_url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.sweep.load_generator", server_url, "--seconds", str(SECONDS),
                           "--connections", "2", "--path", "/fault/close"],
                          capture_output=True, text=True, timeout=30, check=True)
    (line,) = done.stdout.splitlines()
    result = json.loads(line)
    assert set(result) == {"requests", "non_2xx", "errors", "seconds"}
    assert result["requests"] == 0
    assert result["errors"] > 0
