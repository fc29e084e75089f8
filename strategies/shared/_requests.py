"""What the requests-based strategies share: one way to build a Session and one way to make a request.

Kept in one place so that ``sequential``, ``threads`` and ``processes`` differ only in their concurrency
model (diff them: that is the point), never in how a request is made, timed or reported.

Rules this module keeps:
- the urllib3 pool is sized to C and blocks (``pool_block=True``) rather than overflow: the default
  ``pool_maxsize=10`` silently opens and discards extra connections when more than 10 threads share a
  Session, so keep-alive would not be keep-alive above C=10;
- ``close`` sends ``Connection: close`` on every request, and a connection serves exactly one request:
  urllib3 would put it back in its pool when the server did not echo the header (legal), and reuse it
  while the server is closing it (RemoteDisconnected). RFC 9112 section 9.6 forbids a client that sent
  ``close`` to send another request on that connection, so the pool closes it instead (``_OneShotPool``);
- requests' ``timeout`` bounds the connect and every single read (requests has no total timeout): a stall
  is caught after ``timeout_s`` of silence;
- retries stay at requests' default of 0: a failed request is an error in its slot, never re-sent;
- ``as-written`` (``request_as_written``) is the tutorials' ``requests.get(url)``: requests makes a Session
  for the call and closes it after, so every request opens its own connection and none is pooled; only the
  timeout (the workload's, the same for every strategy) is added to the recipe;
- https, tuned: one ``ssl.SSLContext`` (``strategies.tls.client_context``), made in ``new_session``, that
  is in ``start`` (in each child for ``processes``), given to the pool manager (``_ContextAdapter``,
  requests' documented way to bring a context of one's own). Its CA is in it already, so the adapter hands
  urllib3 no CA path: with a path (``verify=CA``, requests' ``verify=True``, which names certifi's bundle,
  or ``REQUESTS_CA_BUNDLE`` from the environment, which overrides a Session's ``verify``) urllib3 loads
  that file into the context again for every new connection. Verification is the context's: certificate
  required, host name checked;
- https, as-written: the recipe ``requests.get(url, verify=CA)``; urllib3 then makes a context and loads
  the CA file for every connection, which is a connection per request here: the recipe's cost, kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

from strategies.base import ClientConfig, Outcome
from strategies.tls import client_context

if TYPE_CHECKING:
    import ssl

    from urllib3._base_connection import BaseHTTPConnection


class _OneShotPool(HTTPConnectionPool):
    """A urllib3 pool whose connections each carry one request: returned connections are closed."""

    def _put_conn(self, conn: BaseHTTPConnection | None) -> None:
        if conn is not None:
            conn.close()
        # The free slot goes back, so pool_block still bounds connections to C. Named, not ``super()``: the
        # https pool below shares this method, and HTTPSConnectionPool keeps HTTPConnectionPool's.
        HTTPConnectionPool._put_conn(self, None)


class _OneShotHTTPSPool(HTTPSConnectionPool):
    """``_OneShotPool`` for https."""

    _put_conn = _OneShotPool._put_conn


class _ContextAdapter(HTTPAdapter):
    """An adapter whose pool manager makes every TLS connection with ``context`` (certificate required,
    host name checked, the CA in it): verification is the context's, no CA path is passed on."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any):
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, ssl_context=self._context, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"  # what the context does; never CERT_NONE
        conn.ca_certs = conn.ca_cert_dir = None


def new_session(config: ClientConfig, pool_size: int) -> requests.Session:
    session = requests.Session()
    # One host, so one urllib3 pool (pool_connections=1) of pool_size connections.
    sizes: dict[str, Any] = {"pool_connections": 1, "pool_maxsize": pool_size, "pool_block": True}
    adapter = _ContextAdapter(client_context(config), **sizes) if config.tls else HTTPAdapter(**sizes)
    if config.policy == "close":
        adapter.poolmanager.pool_classes_by_scheme = {"http": _OneShotPool, "https": _OneShotHTTPSPool}
        session.headers["Connection"] = "close"
    session.mount(f"{config.scheme}://", adapter)
    if config.method == "POST":
        session.headers.update(FORM_HEADERS)
    return session


#: ``ClientConfig.body`` is form-encoded; the tuned Session sets this header once, the recipe per call.
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def request(session: requests.Session, config: ClientConfig, url: str) -> Outcome:
    """One request on the tuned, shared Session."""
    return _timed(session.request, config, url, {})


def request_as_written(config: ClientConfig, url: str) -> Outcome:
    """One request as the tutorials write it: ``requests.request(method, url)`` (with ``verify=CA`` over
    https), a Session per call."""
    return _timed(requests.request, config, url, FORM_HEADERS if config.method == "POST" else {},
                  **as_written_tls(config))


def as_written_tls(config: ClientConfig) -> dict[str, Any]:
    """The recipe's ``verify=CA`` over https with a CA file; nothing else (requests' default: certifi's
    bundle, or the environment's)."""
    return {"verify": config.ca_file} if config.tls and config.ca_file else {}


class RequestsStack:
    """How a requests-based strategy makes one request under its profile: ``RequestsStack(config, C)(url)``,
    the ``strategies.base.Stack`` of the models that block a worker per request.

    ``tuned``: ``request`` on one Session whose pool holds ``pool_size`` connections, shared by every
    caller; ``as-written``: ``request_as_written``, no Session to share. One object, so the strategies
    that share it branch on the profile nowhere (diff them: only the model differs).
    """

    def __init__(self, config: ClientConfig, pool_size: int):
        self._config = config
        self._session = None if config.as_written else new_session(config, pool_size)

    def __call__(self, url: str) -> Outcome:
        if self._session is None:
            return request_as_written(self._config, url)
        return request(self._session, self._config, url)

    def worker(self) -> RequestsStack:
        """Every worker calls the one RequestsStack: its Session's pool is the library's, shared by all (as
        the recipe shares it); urllib3 checks each pooled connection itself before reusing it."""
        return self

    def begin_round(self) -> None:
        pass

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _timed(send: Callable[..., requests.Response], config: ClientConfig, url: str,
           headers: dict[str, str], **tls: Any) -> Outcome:
    started = time.perf_counter()
    try:
        response = send(config.method, url, data=config.body or None, headers=headers or None,
                        timeout=config.timeout_s, **tls)
        return Outcome.ok(response.status_code, response.content, started)
    except Exception as exc:  # noqa: BLE001 - every failure is this slot's outcome, never fetch's exception
        return Outcome.failed(exc, started)
