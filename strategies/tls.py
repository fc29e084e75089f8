"""TLS for every strategy: the one client context, and what counts as a TLS failure.

Rules this module keeps:
- verification is always on: ``client_context`` is ``ssl.create_default_context`` (``CERT_REQUIRED``, host
  name checked) trusting ``ClientConfig.ca_file``, or the system's store when it is None; no strategy ever
  turns either check off (a client that trusts anything measures the wrong thing);
- TLS 1.2 at least (the server speaks one version, 1.3 unless told 1.2) and ALPN ``http/1.1``: every
  strategy offers the same, so rows differ in the model and library, not in what they negotiated;
- making a context costs milliseconds (OpenSSL 3's ``load_verify_locations``, cpython#95031): a tuned
  strategy makes it once, in ``start``; an as-written recipe keeps its library's own way (per call where the
  recipe makes a client per call), and its module docstring says which;
- ``is_tls_failure`` decides the error kind ``tls`` from the exception chain, never from message text: an
  ``ssl.SSLError`` (certificate verification, host name, an alert, a protocol version), pyOpenSSL's
  ``SSL.Error`` and service_identity's verification errors (Twisted's), found through ``__cause__``,
  ``__context__``, exceptions in ``args`` and the wrappers' own attributes (aiohttp's
  ``certificate_error``/``os_error``, Twisted's ``reasons``). A connection that merely ends inside TLS
  (``SSLEOFError``, ``SSLZeroReturnError``, pyOpenSSL's ``SysCallError``/``ZeroReturnError``), and a
  non-blocking call that must wait (``SSLWantReadError``/``SSLWantWriteError``), are not TLS failures:
  Python's ``ssl`` reports a TCP reset after TLS records as an EOF, so the fault routes' resets and closes
  keep the kinds they have over plain HTTP;
- one library gives no type to tell by: pyreqwest reports rustls' refusals as a ``ConnectError`` whose
  ``details["causes"]`` are messages only, so there (and only for that type) the kind is read off rustls'
  own error texts (``_RUSTLS_FAILURES``: a certificate refused, an alert, an incompatible peer);
- imports only ssl and sys, nothing of strategies (``strategies.base`` imports it on a failure, so it must
  not import base back): nothing here loads a library a strategy does not use.
"""

from __future__ import annotations

import ssl
import sys
from typing import Any, Protocol

__all__ = ["ALPN", "MINIMUM_VERSION", "TLS_KIND", "client_context", "is_tls_failure"]

#: The error kind of a TLS failure: ``Outcome.failed`` starts such an error's text with it.
TLS_KIND = "tls"


class _Configured(Protocol):
    """What ``client_context`` reads of a ``strategies.base.ClientConfig``."""

    @property
    def ca_file(self) -> str | None: ...


#: What every strategy offers by ALPN: the bundled server speaks HTTP/1.1 only.
ALPN = ["http/1.1"]
#: The lowest version any strategy accepts.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2

#: How deep ``is_tls_failure`` follows a chain: wrappers nest three or four deep (requests' SSLError around
#: urllib3's MaxRetryError around its SSLError around ssl's); the bound only guards against cycles.
_MAX_DEPTH = 12
#: Errors that only say a connection ended inside TLS (the kinds of a plain EOF or reset, not ``tls``), or
#: that a non-blocking read or write must wait (anyio's streams leave such an ``SSLWantReadError`` in the
#: ``__context__`` of a reset or a timeout that interrupted the wait: a wait, not a failure).
_ENDINGS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
#: How rustls' TLS errors start as text (its ``Error``'s Display): what a pyreqwest ``ConnectError`` says of
#: a certificate refused (``invalid peer certificate: UnknownIssuer``, ``NotValidForName``, ``Expired``), an
#: alert received, or a handshake that found nothing in common.
_RUSTLS_FAILURES = ("invalid peer certificate", "received fatal alert", "peer is incompatible", "peer misbehaved",
                    "no certificates presented")


def client_context(config: _Configured) -> ssl.SSLContext:
    """A verifying client context for ``config``: its CA (or the system's), TLS >= 1.2, ALPN http/1.1."""
    context = ssl.create_default_context(cafile=config.ca_file)
    context.minimum_version = MINIMUM_VERSION
    context.set_alpn_protocols(ALPN)
    return context


def is_tls_failure(error: BaseException) -> bool:
    """True when ``error`` or an exception it wraps is a TLS failure (see the module's rules)."""
    seen: set[int] = set()
    todo: list[Any] = [error]
    while todo and len(seen) < _MAX_DEPTH:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        if _is_tls_error(exc):
            return True
        todo += [e for e in (exc.__cause__, exc.__context__) if e is not None]
        todo += [arg for arg in exc.args if isinstance(arg, BaseException)]
        for name in ("certificate_error", "os_error"):  # aiohttp's ClientConnector*Error
            wrapped = getattr(exc, name, None)
            if isinstance(wrapped, BaseException):
                todo.append(wrapped)
        for reason in getattr(exc, "reasons", None) or ():  # Twisted's ResponseNeverReceived and kin: Failures
            value = getattr(reason, "value", None)
            if isinstance(value, BaseException):
                todo.append(value)
    return False


def _is_tls_error(exc: BaseException) -> bool:
    if isinstance(exc, ssl.SSLError):
        return not isinstance(exc, _ENDINGS)
    # Twisted's TLS: pyOpenSSL and service_identity, looked up only when already imported (if neither is
    # loaded, no error can be one of theirs).
    openssl = sys.modules.get("OpenSSL.SSL")
    if openssl is not None and isinstance(exc, openssl.Error):
        return not isinstance(exc, (openssl.SysCallError, openssl.ZeroReturnError))
    identity = sys.modules.get("service_identity.exceptions")
    if identity is not None and isinstance(exc, (identity.VerificationError, identity.CertificateError)):
        return True
    reqwest = sys.modules.get("pyreqwest.exceptions")
    if reqwest is not None and isinstance(exc, reqwest.ConnectError):
        causes = (getattr(exc, "details", None) or {}).get("causes") or ()
        return any(str(cause.get("message", "")).startswith(_RUSTLS_FAILURES) for cause in causes)
    return False
