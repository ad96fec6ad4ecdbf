"""What every command shares (``python -m bam.<command>``, ``python -m tools.<tool>``): a parser
whose errors are one line, argument types that refuse impossible values, and ``run``, which
turns the package's own errors into one line on stderr and an exit status instead of a
traceback. A command's ``main`` lives in ``bam.commands``; its module ends with

    if __name__ == "__main__":
        cli.run(train.main, train.PROG)    # train: bam.commands.train

Exit status: 0 done, 1 a ``bam.errors.BamError`` (a file that cannot be used, data that is
missing, runs that failed), 2 bad input (an argument argparse refuses, or a ``ValueError``),
130 interrupted. ``--debug`` on the command line, or ``BAM_DEBUG=1``, shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from bam.errors import BamError

DEBUG_VARIABLE = "BAM_DEBUG"
BAD_INPUT, FAILED, INTERRUPTED = 2, 1, 130


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with a ``--debug`` flag and errors in one line: the usage
    text argparse prints before an error is left to ``--help``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument(
            "--debug",
            action="store_true",
            help=f"show the traceback of an error (also {DEBUG_VARIABLE}=1)",
        )

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"{self.prog}: {message} (--help lists the options)\n")


def _number(kind: type, low: float, inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


positive_int = _number(int, 1, True, "a whole number of 1 or more")
non_negative_int = _number(int, 0, True, "a whole number of 0 or more")
positive_float = _number(float, 0.0, False, "a number above 0")
non_negative_float = _number(float, 0.0, True, "a number of 0 or more")


def debugging(argv: Sequence[str]) -> bool:
    """True when ``--debug`` is among ``argv`` or ``BAM_DEBUG=1``."""
    return "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "0") == "1"


# A traceback's first line, in Python's words and in IPython's ("ValueError   Traceback (most
# recent call last)"); the line that ends it names the exception's class, perhaps with its module.
TRACEBACK = "Traceback (most recent call last)"
EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?::\s|:?$)")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def error_line(error: BaseException | str) -> str:
    """What went wrong, in one line: the first line of the message, or the error's type when it
    has none; for a report that carries a traceback (a worker's, a kernel's), the exception line
    that ends the traceback, e.g. ``ValueError: lr must be positive``.

    A message says what went wrong first and gives details after (``--debug`` shows them all).
    A report is different: its first lines only say that something failed somewhere, and its
    last ones where the logs are; the exception line between is what a reader needs.
    """
    lines = [line.rstrip() for line in COLOUR.sub("", str(error)).splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if TRACEBACK in line]
    if starts:
        # The frames below the start are indented, or (IPython's) begin with no class name.
        ends = (line for line in lines[starts[-1] + 1 :] if EXCEPTION_LINE.match(line))
        found = next(ends, None)
        if found:
            return found
    if lines:
        return lines[0].strip()
    return type(error).__name__ if isinstance(error, BaseException) else ""


def run(main: Callable[[list[str]], object], prog: str, argv: Sequence[str] | None = None):
    """Call ``main(argv)`` and exit: 0 when it returns, else the status of its error (see the
    module docstring) after printing ``PROG: message`` on stderr, or the traceback when
    debugging. Errors of other kinds keep their traceback: they are bugs to report."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debugging(argv)
    try:
        main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        sys.exit(INTERRUPTED)
    except (BamError, ValueError) as error:
        if debug:
            raise
        print(f"{prog}: {error_line(error)}", file=sys.stderr)
        sys.exit(BAD_INPUT if isinstance(error, ValueError) else FAILED)
    sys.exit(0)
