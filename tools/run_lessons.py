"""Run every lesson top to bottom with its real workload (no ``BAM_FAST``) and time it.

    python -m tools.run_lessons                 # all lessons, executed copies in build/lessons/
    python -m tools.run_lessons 06 07 --out DIR

Each lesson runs in a fresh kernel, in a copy of ``notebooks/``, with ``BAM_RUNS`` pointing at an
empty folder so that nothing a previous run cached is reused: what a learner meets the first
time. Prints (and writes to ``OUT/times.md``) a table of wall times beside what each lesson
trains live and what it loads.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bam import cli

REPO = Path(__file__).resolve().parents[1]
# What each lesson does with its default switches (RETRAIN = False).
WORKLOAD = {
    "00": ("nothing", "nothing"),
    "01": ("nothing", "nothing"),
    "02": ("nothing", "nothing"),
    "03": ("nothing", "nothing"),
    "04": ("nothing", "nothing"),
    "05": ("3 fine-tunings, 2 epochs on 5,000 images", "the ResNet-20 (seed 0)"),
    "06": (
        "ResNet-20 and both BAM-ResNet-20s, seed 0, 4 epochs",
        "the 9 runs it compares",
    ),
    "07": ("nothing", "both BAM-ResNet-20s (seed 0)"),
    "08": ("a 2-run demo grid, 1 epoch on 256 images", "the 65-run grid"),
}


def run(lesson: Path, out: Path, timeout: int) -> float:
    """Execute ``lesson`` in a fresh kernel from a scratch copy of notebooks/; return seconds."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(lesson, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(lesson.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, out / lesson.name)
    return seconds


PROG = "python -m tools.run_lessons"


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "lessons")
    parser.add_argument("--timeout", type=cli.positive_int, default=1200, help="seconds per cell")
    args = parser.parse_args(argv)
    wanted = set(args.lessons)
    lessons = sorted(
        p
        for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")
        if not wanted or p.name[:2] in wanted
    )
    if not lessons:
        parser.error(f"no lesson matches {sorted(wanted)}; lessons are numbered 00 to 08")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.pop("BAM_FAST", None)
    scratch = Path(tempfile.mkdtemp(prefix="bam-lessons-"))
    os.environ["BAM_RUNS"] = str(scratch / "runs")
    rows, total = [], 0.0
    for lesson in lessons:
        copy = scratch / "notebooks" / lesson.name
        copy.parent.mkdir(exist_ok=True)
        shutil.copy(lesson, copy)
        seconds = run(copy, args.out, args.timeout)
        total += seconds
        live, loaded = WORKLOAD.get(lesson.name[:2], ("?", "?"))
        rows.append(f"| {lesson.stem} | {seconds / 60:.1f} min | {live} | {loaded} |")
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            "| lesson | wall time | trains live | loads |",
            "|---|---|---|---|",
            *rows,
            f"| all {len(lessons)} | {total / 60:.1f} min | | |",
        ]
    )
    (args.out / "times.md").write_text(table + "\n")
    print(table)
    print(f"executed copies in {args.out}; torch threads: default, python {sys.version.split()[0]}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    cli.run(main, PROG)
