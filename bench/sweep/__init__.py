"""The sweep layer: what runs and how it is measured, behind the pytest entry points in ``bench/``.

- ``options``: the plan from the command line; ``plan``: the workloads, the cases and every default;
- ``harness``: the session's server, workers and rows; ``cells``: one cell's rounds, interleaved;
- ``target``: the server, bundled, external or behind a shaped link (``netns``);
- ``ladder``: the model ladder's measurement (each codec strategy's rungs, ``python -m bench.ladder``);
- ``noise``: what else ran on our cores; ``load_generator``: the raw-socket client of the server benchmark
  (``python -m bench.sweep.load_generator``, used by ``bench/test_server_capacity.py`` when wrk is missing).

Rules this layer keeps: it writes its rows through ``bench.record`` and imports nothing of
``bench.report`` (the entry point makes REPORT.md and the results page after the sweep); of
``bench.analysis`` only the claim's definition (``bench.analysis.claim``: which strategies the as-written
profile runs) and a row's interval (``bench.analysis.comparison.mean_interval``: when a row is precise enough
to stop), so that the sweep and the report mean one thing by them (``tests/test_layers.py``).
"""
