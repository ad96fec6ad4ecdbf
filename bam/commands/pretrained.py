"""``python -m bam.pretrained``: what ships in ``bam/results/``, one line each."""

from __future__ import annotations

from bam import cli
from bam.pretrained import available, info

PROG = "python -m bam.pretrained"


def main(argv: list[str] | None = None) -> None:
    """``python -m bam.pretrained``: list what ships, with each artifact's headline result."""
    parser = cli.Parser(prog=PROG, description="List the networks and results that ship.")
    parser.parse_args(argv)
    for name in available():
        entry = info(name)
        print(f"{name:32} {entry['kind']:10} {entry['what']}")
