"""threads: C threads started in setup + requests, one shared Session.

The model (C threads started in setup and handed every round, each taking the next URL when its request is
done, ``started`` taken in the thread) is ``strategies.shared._threads``, the same admission as ``threads-raw``'s;
the stack is ``strategies.shared._requests``: one Session shared by the C threads (requests' idiom), its urllib3
pool sized to C and blocking, so at most C connections, each reused under ``keepalive``.

Over https: tuned, the Session's one context (``strategies.tls.client_context``), made in ``start``;
as-written, ``requests.get(url, verify=CA)``, a context per request made inside requests, as the recipe has it
(``strategies.shared._requests``).

as-written: the recipe's ``ThreadPoolExecutor(C)`` + ``requests.get(url)`` per task, its C threads as the
harness's C threads (the executor's queue is the admission, which every model shares). Defaults kept:
requests makes a Session per call, so every request opens and closes its own connection, and no urllib3
pool is shared (its ``pool_maxsize=10`` never binds); the C threads are the only cap, and they are still
started in ``start``.
"""

from __future__ import annotations

from strategies.base import ClientConfig
from strategies.shared._requests import RequestsStack
from strategies.shared._threads import ThreadsFetcher


def start(config: ClientConfig) -> ThreadsFetcher:
    return ThreadsFetcher(config, RequestsStack)
