"""The benchmark sweep and its report, in layers that import one way (``tests/test_layers.py``):

    sweep/  ->  record/  <-  analysis/  <-  report/

- ``sweep``: what runs and how it is measured (plan, harness, cells, server target, noise);
- ``record``: the results' typed schema, rows and run files: the one place the results JSON enters;
- ``analysis``: what the results say (the claim's verdict, costs, models, rankings, C10k, eras, CPU);
- ``report``: REPORT.md's sections, the charts, the README's generated section, two runs compared.

At this level only what pytest and the documented commands need: ``conftest.py``, ``test_sweep.py`` and
``test_server_capacity.py`` (``pytest bench/ --benchmark-only``), ``schema.py``/``compare.py``
(``python -m bench.schema``, ``python -m bench.compare``) and ``ladder.py`` (``python -m bench.ladder``, the
model ladder: measured by ``sweep.ladder``, then drawn and printed by ``report``, as ``conftest.py`` does for
the sweep); ``python -m bench.report`` is the report package.
"""
