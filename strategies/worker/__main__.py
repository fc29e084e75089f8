"""``python -m strategies.worker NAME``: the worker process (``strategies.worker.host``), as the runner spawns it."""

import sys

from strategies.worker.host import main

sys.exit(main(sys.argv))
