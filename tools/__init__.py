"""Tooling beside the package, used from a checkout and not installed: the course's notebook
tooling (``tools.course``), grading, slides, the rendered site and the shipped artifacts.

Each tool is a command, ``python -m tools.NAME``, run from the checkout's root. Its ``main``
raises ``ValueError`` for bad input and ``bam.errors.BamError`` for work that failed, and its
``if __name__ == "__main__"`` block hands it to ``bam.cli.run``, the runner of the package's
commands too: one line on stderr, exit status 2 or 1, ``--debug`` for the traceback.
"""
