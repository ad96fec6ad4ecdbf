"""The errors this package explains in their message.

Each says what went wrong and what to do, in one line, so the command lines print it as it is
(see ``bam.cli``) instead of a traceback. Python's ``ValueError`` stays the error for a bad
argument value; these are for the rest: files that cannot be used, data that is missing.
"""

from __future__ import annotations


class BamError(RuntimeError):
    """An error whose one-line message says what went wrong and what to do about it."""


class MissingDependency(BamError, ImportError):
    """An optional package a feature needs is not installed; the message names the extra."""
