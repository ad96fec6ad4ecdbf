"""``python -m bam.profile MODEL ...``: parameters and multiply-adds of each backbone with and
without BAM (``bam.profile.overhead``)."""

from __future__ import annotations

from bam import cli
from bam.profile import build, overhead

PROG = "python -m bam.profile"


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(
        prog=PROG,
        description="Parameters and multiply-adds with and without BAM.",
    )
    parser.add_argument(
        "model", nargs="+", help="e.g. resnet20, preact_resnet18, torchvision.resnet50"
    )
    parser.add_argument("--num-classes", type=cli.positive_int, default=None)
    args = parser.parse_args(argv)
    for name in args.model:
        base, with_bam, size = build(name, args.num_classes)
        print(f"{name} (input {'x'.join(map(str, size[2:]))}):\n{overhead(base, with_bam, size)}\n")
