"""The command lines of the package, one module per command: ``bam.commands.train`` is
``python -m bam.train``.

A command module parses the arguments, refuses bad input before any work starts, and calls the
library; its ``main(argv)`` returns what the command computed (the tests call it directly).
``python -m bam.train`` runs the two lines at the end of ``bam/train.py``, which hand
``bam.commands.train.main`` to ``bam.cli.run``: one runner gives every command its one-line
errors and exit statuses.

The commands live here rather than in the library modules so that a library module imports
only what its functions need: ``bam.localisation``'s measures do not pull in the shipped
networks its command loads, so the exercises' checks, which use those measures, do not either.
"""
