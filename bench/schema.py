"""``python -m bench.schema [RUN.json ...]``, as docs/methodology.md documents it: the results schema as text, or each
file checked against it. The schema itself is ``bench.record.schema``."""

from __future__ import annotations

from bench.record.schema import main

if __name__ == "__main__":
    raise SystemExit(main())
