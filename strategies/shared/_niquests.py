"""What the niquests strategies share: how a tuned Session is built and how a request is sent.

niquests (jawah/niquests) is requests' API on urllib3-future: ``niquests`` runs its ``Session`` in C threads
(``strategies.impl.niquests_threads``), ``niquests-async`` its ``AsyncSession`` on asyncio
(``strategies.impl.niquests_async``). Both make a request the same way, so the pair differs only in the model.

Rules this module keeps:
- tuned: one session with ``pool_connections=1, pool_maxsize=C, retries=0``: one host, so one pool, of C
  connections. urllib3-future's pool never overflows (its ``block=False`` is "retained for urllib3
  compatibility"): a request beyond ``pool_maxsize`` waits for a connection, so the default
  ``pool_maxsize=10`` is a hard cap of 10 in flight for a session shared by more callers (measured: one
  default ``Session()`` in 50 threads, peak 10). ``pool_maxsize=C`` alone lifts it (measured peak 50 at C=50,
  no adapter mounted);
- tuned sets ``trust_env = False``: with it (the default) ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` from the
  environment override the session's own ``verify=`` (measured on this machine, which sets both), and env
  proxies or ``.netrc`` could change what is measured. Its CPU cost was within noise either way;
- ``close`` sends ``Connection: close`` on every request (tuned): the pool drops a connection the server
  closes, so every request opens its own (measured: 100 connections for 100 requests);
- ``timeout=timeout_s`` is niquests' ``Timeout(connect=t, read=t)``: per read, no total (a 4 s trickle with
  2 s completed, as with requests); the defaults (30 s for GET, 120 s for POST) are replaced in both
  profiles, as every recipe here gets the workload's timeout;
- retries stay 0 (niquests' default too): a failed request is an error in its slot, never re-sent;
- over plain http, HTTP/1.1 only: niquests speaks HTTP/2 or 3 only after TLS negotiates it (ALPN, Alt-Svc);
  tuned turns both off (``disable_http2``, ``disable_http3``) so that over https it offers HTTP/1.1 only, as
  every strategy does; as-written keeps its offer (the bundled server answers HTTP/1.1 either way);
- over https: ``verify=ca_file`` per request (``send_kwargs``), in both profiles; niquests' own TLS
  configuration (not ``strategies.tls``' context: it takes a path or PEM), verification on.
"""

from __future__ import annotations

from typing import Any

import niquests

from strategies.base import ClientConfig

#: ``ClientConfig.body`` is form-encoded.
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def headers(config: ClientConfig) -> dict[str, str]:
    """The headers every request sends: the form's for POST; ``Connection: close`` under ``close``, tuned (a
    recipe's session per call closes its connection anyway)."""
    sent = dict(FORM_HEADERS) if config.method == "POST" else {}
    if config.policy == "close" and not config.as_written:
        sent["Connection"] = "close"
    return sent


def tuned(session: Any) -> Any:
    """``session`` (a ``Session`` or ``AsyncSession``, made with the pool of C) with the environment ignored."""
    session.trust_env = False  # an attribute, not a constructor argument
    return session


# Tuned offers HTTP/1.1 only, as every strategy does (``disable_http2``, ``disable_http3``): niquests negotiates
# h2 by ALPN and would try HTTP/3 after an Alt-Svc by default (over plain http it speaks HTTP/1.1 regardless).


def new_session(pool_size: int) -> niquests.Session:
    return tuned(niquests.Session(pool_connections=1, pool_maxsize=pool_size, retries=0,
                                  disable_http2=True, disable_http3=True))


def new_async_session(pool_size: int) -> niquests.AsyncSession:
    return tuned(niquests.AsyncSession(pool_connections=1, pool_maxsize=pool_size, retries=0,
                                       disable_http2=True, disable_http3=True))


def send_kwargs(config: ClientConfig) -> dict[str, Any]:
    """What ``request(method, url, **send_kwargs(config))`` takes, in both profiles and both models. Over
    https with a CA file, ``verify=`` it per request: the recipe's way (``niquests.get(url, verify=CA)``), and
    never overridden by ``REQUESTS_CA_BUNDLE`` (a session's ``verify=`` is, under ``trust_env``)."""
    kwargs: dict[str, Any] = {"data": config.body or None, "headers": headers(config) or None,
                              "timeout": config.timeout_s}
    if config.tls and config.ca_file:
        kwargs["verify"] = config.ca_file
    return kwargs
