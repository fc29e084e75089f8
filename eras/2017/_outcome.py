"""What every recipe of the era shares with today's contract (``strategies/base.py``), in Python 3.6.

- ``Config``: today's ``ClientConfig`` as the worker receives it (``strategies.workload.config_to_dict``);
- ``Outcome``: what one request gave, a status and body or an error, and its latency, measured by the
  recipe from just before the request is issued to its last body byte. An error reads
  ``"ExceptionType: message"``, as today's, so that today's verification counts it under the same kind.
No imports but time: gevent's recipes import this after ``patch_all()``, the others before their library.
"""

import time


class Config:
    def __init__(self, data):
        self.concurrency = data["concurrency"]
        self.policy = data["policy"]
        self.timeout_s = data["timeout_s"]
        self.method = data["method"]
        self.body = data["body"].encode("latin-1")  # config_to_dict sends it as latin-1 text
        self.profile = data["profile"]

    @property
    def as_written(self):
        return self.profile == "as-written"


class Outcome:
    __slots__ = ("body", "error", "latency_s", "status")

    def __init__(self, status, body, error, latency_s):
        self.status, self.body, self.error, self.latency_s = status, body, error, latency_s

    def to_list(self):
        import base64

        body = None if self.body is None else base64.b64encode(self.body).decode("ascii")
        return [self.status, body, self.error, self.latency_s]


def ok(status, body, started):
    return Outcome(status, body, None, time.perf_counter() - started)


def failed(error, started):
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return Outcome(None, None, text or "unknown error", time.perf_counter() - started)


#: ``ClientConfig.body`` is form-encoded, as today.
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
