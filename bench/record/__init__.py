"""The record layer: what a sweep's results are, on disk and in memory, and nothing that makes or reads them.

- ``schema``: the results JSON's typed definition (``python -m bench.schema``); ``validate`` checks a run;
- ``rows``: a row's summary, flags and notes from its rounds; its cell; whether it was measured;
- ``shapes``: what each request of a workload asks of the server, and a round's ideal time;
- ``ladder``: the model ladder's JSON (``model_ladder.json``), typed, read and written;
- ``environment``: the machine, the library versions and the commit a run records;
- ``runfile``: a run's files (the row log while it runs, the JSON after) and ``load_run``, where the JSON
  enters, brought to today's shape by ``upgrade``.

Rules this layer keeps: it imports nothing of ``bench.sweep``, ``bench.analysis`` or ``bench.report``
(``tests/test_layers.py``); mypy checks it strictly (``pyproject.toml``).
"""
