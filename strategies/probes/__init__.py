"""The probes: where a strategy's CPU goes, beside the timed rounds and never inside them.

- ``explain``: one profiled round (yappi), its CPU attributed to a few categories; the worker's ``explain``
  command runs its profiler, ``--explain`` asks for it;
- ``instructions``: instructions per request under callgrind (``--instructions``), the worker spawned under
  valgrind;
- ``components``: each piece of the per-request path alone (``python -m strategies.components``);
- ``ladder_worker``: the model ladder's worker, a codec strategy with some of its features off
  (``python -m bench.ladder`` spawns it).

Rules: the probes may use the worker machinery (they spawn or extend workers); the worker machinery imports
of them only ``explain``, the profiler its ``explain`` command runs, which imports nothing of the project.
"""
