"""One module per strategy, each with one entry, ``start(config) -> Fetcher`` (``strategies.base``).

The registry (``strategies.REGISTRY``) names each by its module path here. This folder holds only strategy
modules: what several share lives in ``strategies.shared`` (a model's workers, a stack's requests), the
HTTP codec and the select client beside the registry (``strategies.http1``, ``strategies.select_client``).
Rules: a strategy module imports the contract, the shared code and the codecs, never the worker machinery,
the probes or the eras; it may import another strategy module whose code it runs on another loop
(``uvloop_streams`` runs ``asyncio_streams``' code, ``epoll_strategy`` ``select_strategy``'s).
"""
