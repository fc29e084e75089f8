"""The report layer: REPORT.md, the charts and the README's generated section, made from a run alone.

- ``document``: REPORT.md (``make_report``), run as ``python -m bench.report`` (``__main__``);
- ``sections``: its Markdown, one module per topic, mirroring ``bench.analysis``; no plotting library;
- ``charts``: its PNGs, the only module family here that imports matplotlib;
- ``readme``: the README's generated section; ``compare``: two runs side by side (``python -m
  bench.compare``, ``bench/compare.py``).

Rules this layer keeps: it reads runs through ``bench.record`` and judges them through ``bench.analysis``;
of the sweep it reads only the thresholds and levels its text quotes (``bench.sweep.plan``, ``.noise``,
``.cells``: what made a round disturbed or a row precise); the sweep never imports it
(``tests/test_layers.py``).
"""
