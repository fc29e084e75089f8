"""What the strategy modules share, so that two strategies differ only in what they are about.

The models' code (``_threads``, ``_greenlets``, ``_processes``, ``_aio``, ``_twisted``: how C workers wait and
take a round's URLs), the stacks' code (``_requests``: the requests-based rows' Session and pool;
``_codec`` and ``_blocking_codec``: our sans-IO codec per worker), and the pieces under both (``_rounds``:
one round's URLs as the workers share them; ``_deadlines``: total deadlines on an event loop). The leading
underscore says "not a strategy" and keeps the names apart from the libraries (``requests``, ``twisted``)
and from the strategy modules of the same model (``strategies.impl.threads``).
Rules: nothing here imports a strategy module, the worker machinery, the probes or the eras.
"""
