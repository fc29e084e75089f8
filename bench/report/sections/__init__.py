"""REPORT.md's sections in Markdown, one module per topic (claim, run, eras, pythons, c10k, models, ladder, costs,
ranking, cpu), each printing what its ``bench.analysis`` module computed; ``markdown`` holds the pieces they share.

Rules this package keeps: text only: nothing here imports matplotlib, even indirectly
(``tests/test_layers.py``); a section is an empty list when the run has nothing for it.
"""
