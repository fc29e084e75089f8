"""The analysis layer: what the results say, computed from the typed records alone.

Rules this layer keeps: pure functions of a run (``bench.record``; the model ladder's own JSON for
``ladder``), typed; it imports nothing of
``bench.sweep`` or ``bench.report`` and no plotting library (``tests/test_layers.py``); the words that state a
result (a mechanism, a bound) are computed here with it, the documents that print them are the report's.
"""
