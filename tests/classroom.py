"""A small class of lesson-01 submissions, made from the lessons themselves, for the grader's tests.

Every learner starts from the student copy, as a real one does, and changes only what the case
needs; ``CASES`` says what the grader must report for each one.

    python tests/classroom.py DIR N     a class of N notebooks for timing the grader: the cases
                                        that run a kernel, but the endless loop, round-robin
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from tools.course.notebook import dumps, read
from tools.course.solutions import BEGIN, END
from tools.course.student import exercise_cells, make_student

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "01_channel_attention.ipynb"
OTHER = ROOT / "notebooks" / "02_spatial_attention.ipynb"
EXERCISE = "MyChannelGate"
# How long the class may take per notebook: the endless loop uses all of it.
TIMEOUT_S = 10


def solution(lesson: Path = LESSON) -> tuple[int, str]:
    """The index and the solved text of the lesson's exercise cell, markers removed."""
    nb = read(lesson)
    (index,) = exercise_cells(nb)[0]
    lines = [ln for ln in nb.cells[index].source.splitlines() if ln.strip() not in (BEGIN, END)]
    return index, "\n".join(lines)


def learner(change=None, lesson: Path = LESSON, solved: bool = True) -> nbformat.NotebookNode:
    """The student copy of ``lesson``, solved unless ``solved`` is False, then ``change(nb, i)``."""
    nb = make_student(read(lesson))
    index, text = solution(lesson)
    if solved:
        nb.cells[index].source = text
    if change:
        change(nb, index)
    return nb


def edit(old: str, new: str):
    """A change that rewrites part of the solved exercise: a learner's wrong answer."""

    def change(nb, index):
        assert old in nb.cells[index].source, old
        nb.cells[index].source = nb.cells[index].source.replace(old, new)

    return change


def append(code: str):
    def change(nb, index):
        nb.cells[index].source += "\n" + code

    return change


def delete_exercise(nb, index):
    del nb.cells[index]


def tamper_check(nb, index):
    """A wrong answer whose learner made the check cell print a success of their own."""
    edit("nn.BatchNorm2d(channels),", "")(nb, index)
    nb.cells[index + 1].source = 'print("check passed")'


def noise_elsewhere(nb, index):
    """A finished exercise in a notebook whose other cells fail: those never run."""
    nb.cells.insert(3, nbformat.v4.new_code_cell("1 / 0"))
    nb.cells.append(nbformat.v4.new_code_cell("import sys\nsys.exit(1)"))


WRONG_POOL = edit("x.mean((2, 3), keepdim=True)", "F.avg_pool2d(x, x.size(2))")
NO_FINAL_BN = edit("            nn.BatchNorm2d(channels),\n", "")

# name: (notebook or raw bytes, status, a regex the message must match)
CASES = {
    "ada": (learner(), "passed", r"^$"),
    "ben": (learner(solved=False), "not attempted", r"^$"),
    "cy": (learner(WRONG_POOL), "failed", r"pool|column|window"),
    "dee": (learner(NO_FINAL_BN), "failed", r"BatchNorm2d\(32\)|layers|BatchNorm"),
    "eve": (learner(tamper_check), "failed", r"BatchNorm"),
    "fay": (learner(edit("self.mlp(", "self.mpl(")), "failed", r"mpl"),
    "gus": (learner(append("undefined_helper()")), "error", r"^NameError: .*undefined_helper"),
    "hal": (learner(append("while True:\n    pass")), "timed out", rf"{TIMEOUT_S:g} s limit"),
    "ivy": (learner(append("import sys\nsys.exit(0)")), "error", r"^SystemExit"),
    "jo": (
        learner(append("import os\nfor name in os.listdir('.'):\n    os.remove(name)")),
        "passed",
        r"^$",
    ),
    "kim": (learner(delete_exercise), "missing", r"deleted"),
    "lou": (learner(lesson=OTHER), "wrong lesson", r"lesson 02"),
    "max": (learner(noise_elsewhere), "passed", r"^$"),
    "ned": (b"", "unreadable", r"^empty file$"),
    "oz": (b'{"cells": [', "unreadable", r"^not JSON"),
    "pia": (b'{"hello": "world"}', "unreadable", r"not a notebook"),
}


def write_class(folder: Path, names=None) -> dict[str, tuple[str, str]]:
    """Write the class into ``folder`` (some nested in per-learner folders); returns
    ``{relative path: (status, message regex)}``."""
    expected = {}
    for number, (name, (content, status, message)) in enumerate(CASES.items()):
        if names is not None and name not in names:
            continue
        # Odd learners hand in a folder, even ones a file named after themselves.
        rel = f"{name}/lesson01.ipynb" if number % 2 else f"{name}.ipynb"
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(dumps(content), encoding="utf-8")
        expected[rel] = (status, message)
    return expected


def learner_of(relpath: str) -> str:
    return re.split(r"[/.]", relpath)[0]


def write_timing_class(folder: Path, size: int) -> None:
    runs = [n for n, (c, status, _) in CASES.items() if not isinstance(c, bytes)]
    runs = [
        n
        for n in runs
        if CASES[n][1] not in ("timed out", "not attempted", "missing", "wrong lesson")
    ]
    for number in range(size):
        name = runs[number % len(runs)]
        path = folder / f"learner{number:02d}" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(CASES[name][0]), encoding="utf-8")


if __name__ == "__main__":
    write_timing_class(Path(sys.argv[1]), int(sys.argv[2]))
