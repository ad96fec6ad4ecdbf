"""``python -m tools.course``: see ``tools.course.cli``."""

from bam import cli

from .cli import PROG, main

cli.run(main, PROG)
