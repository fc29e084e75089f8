"""The worker machinery: each strategy runs in a process of its own, driven over a pipe.

- ``host``: the worker process (``python -m strategies.worker NAME``): it imports one strategy, then runs
  rounds on command and answers in JSON lines;
- ``runner``: the parent's side (``WorkerProcess``): spawns a worker, sends it commands, reads its replies,
  with a deadline on every wait;
- ``treestats``: CPU time and peak memory of a process and its children, read by the host.

Rules this package keeps: it imports the contract (``strategies.base``), the workload and the registry, never
a strategy module by name (the host imports the one it is told to, by the registry's module path); nothing
here imports a strategy's libraries, so the parent side runs where they are not installed. This file
imports nothing: ``python -m strategies.worker`` must import the strategy before anything that imports
socket, threading or select (gevent patches them at its import).
"""
