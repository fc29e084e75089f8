"""The results page: ``index.html``, one offline page over every run under a results folder (issue #21).

    python -m bench.report.page results [--also RUN.json]   # what ``python -m bench.report`` and the sweep run

- ``runs``: which run files the page shows, each once, and what each is called (``#run=c10k``);
- ``data``: everything the page shows, computed by the report's own analysis and sections;
- ``markup``: the sections' Markdown as HTML; ``document``: the page itself (``write_index``);
- ``assets/``: its template, style and script (``page.js``: filters, draws and formats, computes nothing).

Rules this package keeps:
- every figure, interval, verdict and sentence on the page is computed in Python, by the functions REPORT.md
  and compare.md are made with (``bench.analysis``, ``bench.report.sections``, ``bench.report.compare``);
  the page's JavaScript selects rows, draws them with plotly.js and formats numbers, nothing more;
- one file that needs no network: plotly.js (from the PyPI package ``plotly``) and the data are inlined, the
  data as JSON in a ``<script type="application/json">`` with every ``<`` escaped, so that no string in a
  run can end the script; links to each run's JSON and REPORT.md are relative to the page;
- it reads runs through ``bench.record`` only, and nothing of the report imports it but the entry points
  (``python -m bench.report``, the sweep's ``bench/conftest.py``): REPORT.md is made without it; it is the
  only module family that imports plotly or markdown-it (``tests/test_layers.py``);
- a run that cannot be read is left out with one line; without plotly or markdown-it the page is skipped
  with one line and the report goes on.
"""
