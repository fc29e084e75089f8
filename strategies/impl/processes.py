"""processes: C child processes started in setup + requests, one Session per child process.

The model (``forkserver`` children, all C started in setup, a round's URLs taken from one shared counter
and its outcomes sent back in one message per child, at most ``strategies.PROCESSES_MAX``, ``started`` taken
in the child) is ``strategies.shared._processes``, the same admission as ``processes-raw``'s; the stack is
``strategies.shared._requests``: each
child has a Session with a pool of one connection (it does one request at a time), reused under
``keepalive``, a fresh connection per request under ``close``.

Over https: tuned, the Session's one context (``strategies.tls.client_context``), made in ``start`` (in each child, as it starts);
as-written, ``requests.get(url, verify=CA)``, a context per request made inside requests, as the recipe has it
(``strategies.shared._requests``).

as-written: the recipe's ``ProcessPoolExecutor(C)`` + ``requests.get(url)`` per task, its C children as the
harness's C children (the admission every model shares). Defaults kept:
requests makes a Session per call, so every request opens and closes its own connection; the C children
are the only cap, and they are still started in ``start``.
"""

from __future__ import annotations

from strategies.base import ClientConfig
from strategies.shared._processes import ProcessesFetcher
from strategies.shared._requests import RequestsStack


def start(config: ClientConfig) -> ProcessesFetcher:
    return ProcessesFetcher(config, RequestsStack)
