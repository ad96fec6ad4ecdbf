"""The command line, ``python -m tools.course COMMAND``: parses arguments, reports in one line.

Errors the tools explain (a malformed notebook, a failing cell, a bad address) end as one
``error: ...`` line on stderr and exit status 2; a stale copy (``student``, ``sync``) under
``--check`` exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .layout import REPO_ROOT, lessons
from .refresh import refresh
from .repo import repository, set_repo
from .student import write_copies
from .sync import sync

PROG = "python -m tools.course"


def parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-command per job."""
    parser = argparse.ArgumentParser(
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status (0 done, 1 stale copies, 2 an error)."""
    args = parser().parse_args(argv)
    root = args.root.resolve()
    try:
        if args.command in ("refresh", "strip"):
            changed = refresh(args.notebooks, run=args.command == "refresh")
            for path in args.notebooks:
                print(f"{path}: {'updated' if path in changed else 'unchanged'}")
        elif args.command == "student":
            return _student(root, args.check)
        elif args.command == "sync":
            return _sync(root, args.check)
        else:
            for path in set_repo(args.url, root):
                print(f"{path.relative_to(root).as_posix()}: updated")
            print(f"repository: {repository(root)}")
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _student(root: Path, check: bool) -> int:
    stale = write_copies(root, check=check)
    names = [p.relative_to(root).as_posix() for p in stale]
    if check:
        if stale:
            print(
                f"error: student copies out of date: {', '.join(names)}\n"
                f"Run `{PROG} student` (make student) and commit the result.",
                file=sys.stderr,
            )
            return 1
        print("student copies up to date")
        return 0
    for name in names:
        print(f"{name}: {'written' if (root / name).exists() else 'removed'}")
    print(f"{len(lessons(root))} student copies, {len(names)} changed")
    return 0


def _sync(root: Path, check: bool) -> int:
    stale = [p.relative_to(root).as_posix() for p in sync(root, check=check)]
    if check:
        if stale:
            print(
                f"error: out of date with notebooks/lessons.toml or the lessons' answers: "
                f"{', '.join(stale)}\nRun `{PROG} sync` (make student) and commit the result.",
                file=sys.stderr,
            )
            return 1
        print("time lines and answers up to date")
        return 0
    for name in stale:
        print(f"{name}: written")
    print(f"{len(stale)} files changed")
    return 0
