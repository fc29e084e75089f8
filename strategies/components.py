"""``python -m strategies.components [PIECE ...]``, the documented command: ``strategies.probes.components``."""

import sys

from strategies.probes.components import main

if __name__ == "__main__":
    sys.exit(main())
