"""gevent: ``monkey.patch_all()`` + requests, C greenlets a round, one shared Session.

The model (C greenlets per round, each taking the next URL when its request is done, ``started`` taken in
the greenlet) is ``strategies.shared._greenlets``, the same admission as ``gevent-raw``'s; the stack is
``strategies.shared._requests``: one Session shared by the C greenlets, its urllib3 pool sized to C and blocking.
The default ``pool_maxsize=10`` made this model open 897 connections for 2000 keep-alive requests at C=50,
and a Session per greenlet never sees its connection again (2000 connections for 2000 requests).
``monkey.patch_all()`` is the module's first statement: every socket requests/urllib3 ever makes in this
process is a cooperative one.

Over https: tuned, the Session's one context (``strategies.tls.client_context``), made in ``start`` (gevent's patched ssl);
as-written, ``requests.get(url, verify=CA)``, a context per request made inside requests, as the recipe has it
(``strategies.shared._requests``).

as-written: ``gevent.spawn(requests.get, url)`` per URL, then ``joinall``. Defaults kept: requests makes a
Session per call, so every request opens and closes its own connection and no urllib3 pool is shared (its
``pool_maxsize=10`` never binds); gevent itself has no cap. The spawning of a greenlet per URL
became the harness's C greenlets taking URLs in turn, the admission every model shares, so at most C
greenlets request at once. requests keeps its own timeouts (per connect and per read).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

from strategies.base import ClientConfig
from strategies.shared._greenlets import GeventFetcher
from strategies.shared._requests import RequestsStack


def start(config: ClientConfig) -> GeventFetcher:
    return GeventFetcher(config, RequestsStack)
