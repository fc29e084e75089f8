"""``python -m bench.compare A.json B.json [--out compare.md]``, as docs/methodology.md documents it: two runs side by
side. The comparison itself is ``bench.report.compare``."""

from __future__ import annotations

from bench.report.compare import main

if __name__ == "__main__":
    raise SystemExit(main())
