"""The command line, ``python -m tools.course COMMAND``: parses arguments, calls the job.

``bam.cli.run`` (in ``__main__``) reports what goes wrong in one line on stderr: exit status 2
for bad input (a malformed notebook, a bad address), 1 for a lesson whose cell fails and for a
stale student copy or time line (``student``, ``sync``) under ``--check``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bam import cli
from bam.errors import BamError

from .layout import REPO_ROOT, lessons
from .refresh import refresh
from .repo import repository, set_repo
from .student import write_copies
from .sync import sync

PROG = "python -m tools.course"


def parser() -> cli.Parser:
    """The argument parser: one sub-command per job."""
    parser = cli.Parser(
        prog=PROG,
        description="Course tooling: clean lesson notebooks, write student copies, "
        "point the course at a fork.",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="course repository root")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, helptext in (
        ("refresh", "run notebooks in fast mode, keep only '# NBVAL_CHECK_OUTPUT' outputs"),
        ("strip", "clean notebooks without running them"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    cmd = sub.add_parser("student", help="write notebooks/student/ from the lessons")
    cmd.add_argument("--check", action="store_true", help="write nothing; fail if a copy is stale")
    cmd = sub.add_parser(
        "sync", help="write lessons.toml's time lines and the lessons' answers into the guide"
    )
    cmd.add_argument("--check", action="store_true", help="write nothing; fail if one is stale")
    cmd = sub.add_parser("set-repo", help="point the course at https://github.com/OWNER/REPO")
    cmd.add_argument("url")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one command; raises ValueError for bad input, ``BamError`` for a lesson that fails
    to run or a stale student copy."""
    args = parser().parse_args(argv)
    root = args.root.resolve()
    if args.command in ("refresh", "strip"):
        changed = refresh(args.notebooks, run=args.command == "refresh")
        for path in args.notebooks:
            print(f"{path}: {'updated' if path in changed else 'unchanged'}")
    elif args.command == "student":
        _student(root, args.check)
    elif args.command == "sync":
        _sync(root, args.check)
    else:
        for path in set_repo(args.url, root):
            print(f"{path.relative_to(root).as_posix()}: updated")
        print(f"repository: {repository(root)}")


def _student(root: Path, check: bool) -> None:
    stale = write_copies(root, check=check)
    names = [p.relative_to(root).as_posix() for p in stale]
    if check:
        if stale:
            raise BamError(
                f"student copies out of date: {', '.join(names)}; run `{PROG} student` "
                "(make student) and commit the result"
            )
        print("student copies up to date")
        return
    for name in names:
        print(f"{name}: {'written' if (root / name).exists() else 'removed'}")
    print(f"{len(lessons(root))} student copies, {len(names)} changed")


def _sync(root: Path, check: bool) -> None:
    stale = [p.relative_to(root).as_posix() for p in sync(root, check=check)]
    if check:
        if stale:
            raise BamError(
                f"out of date with notebooks/lessons.toml or the lessons' answers: "
                f"{', '.join(stale)}; run `{PROG} sync` (make student) and commit the result"
            )
        print("time lines and answers up to date")
        return
    for name in stale:
        print(f"{name}: written")
    print(f"{len(stale)} files changed")
