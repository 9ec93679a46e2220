"""Turning failures into one clear line for command-line users (no Python traceback)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException


class SmallIRError(Exception):
    """A user-facing error: bad input, an unsupported configuration, a missing tool."""


@contextmanager
def report_errors(tool: str) -> Iterator[None]:
    """Prints `tool: error: message` and exits 1; SMALL_IR_TRACEBACK=1 shows the traceback."""
    try:
        yield
    except SystemExit:
        raise
    except (ParseError, VerifyException, DiagnosticException) as error:
        _fail(tool, str(error).strip(), error)
    except Exception as error:  # every other failure still gets one readable line
        _fail(tool, f"{type(error).__name__}: {error}" if not isinstance(error, SmallIRError | ValueError) else str(error), error)


def _fail(tool: str, message: str, error: BaseException) -> None:
    if os.environ.get("SMALL_IR_TRACEBACK"):
        raise error
    print(f"{tool}: error: {message}", file=sys.stderr)
    sys.exit(1)
