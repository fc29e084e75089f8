"""The claim under test, as the tutorials worded it, and what each of its names can mean.

"gevent+requests > twisted > tornado > asyncio": two of its names are ambiguous, "gevent" (gevent+requests,
or grequests) and "asyncio" (raw streams, aiohttp, or requests in the default executor, all three in the
tutorial). A *reading* picks one strategy per name; every reading is judged (``bench.analysis.verdict``) and
run (``bench.sweep.plan.CLAIM_STRATEGIES``), so a new meaning is judged and run without another change.

Rules this module keeps: data only, no import of anything in bench.
"""

from __future__ import annotations

import itertools

#: The claim under test, fastest first, in the tutorial's words.
CLAIM = ("gevent", "twisted", "tornado", "asyncio")
#: The strategies each of the claim's names can mean; the first is the reading the suite started with.
MEANINGS = {
    "gevent": ("gevent", "grequests"),
    "twisted": ("twisted",),
    "tornado": ("tornado",),
    "asyncio": ("asyncio", "aiohttp", "asyncio-executor"),
}
#: Every reading of the claim: one strategy per name, fastest first as claimed.
READINGS: tuple[tuple[str, ...], ...] = tuple(itertools.product(*(MEANINGS[name] for name in CLAIM)))
#: Every strategy any reading uses.
MEMBERS = tuple(dict.fromkeys(name for reading in READINGS for name in reading))


def reading_name(reading: tuple[str, ...]) -> str:
    return " > ".join(reading)
