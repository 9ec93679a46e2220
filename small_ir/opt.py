"""`small-opt`: xdsl-opt with small-ir's dialects, passes and `c` target (found through the universe)."""

from __future__ import annotations

import sys

from xdsl.xdsl_opt_main import xDSLOptMain

from small_ir.errors import report_errors


def main(args: list[str] | None = None) -> int:
    with report_errors("small-opt"):
        xDSLOptMain(args=args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
