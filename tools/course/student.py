"""The ``student`` command: student copies of the lessons, which still run although unfinished.

``notebooks/student/NN_x.ipynb`` is made from ``notebooks/NN_x.ipynb``: every solution region
is replaced by its stub (``solutions``). The copy must still pass ``pytest --nbval-lax``,
although every unfinished exercise raises. So the generator follows the names a cell defines:
a cell with a solution region (the exercise) taints every module-level name it binds; a later
cell that reads a tainted name (the check right after the exercise, a plot that uses the
learner's layer, ...) depends on the exercise and taints what it binds in turn. Exercise cells
and dependent cells get the ``raises-exception`` tag, which nbval (and nbclient) honour: an
error there does not fail the run, and the cells after them still run. Their outputs and
execution counts are dropped, so nbval does not compare outputs that the unfinished exercise
changes; every other checked output is kept and still compared. Solution text never reaches the
copy: the regions are replaced, and the outputs of the cells that ran them are dropped.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from .cells import bound_names, parse_cell, read_names
from .layout import REPO_ROOT, STUDENT_DIR, lessons, student_path
from .notebook import RAISES, clean, dumps, read
from .solutions import blank_solutions, solution_blocks

# A lesson's Colab link (in its markdown) and the folder after which ``student/`` goes.
LESSON_COLAB_LINK = re.compile(
    r"(colab\.research\.google\.com/github/[^)\s]*?/blob/[^)\s]*?notebooks/)(?!student/)"
)


def exercise_cells(nb: nbformat.NotebookNode, name: str = "notebook") -> tuple[set[int], set[int]]:
    """Indices of the exercise cells and of the cells that depend on them (module docstring)."""
    exercises, dependent, tainted = set(), set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        if solution_blocks(cell.source, where):
            exercises.add(index)
            tainted |= bound_names(parse_cell(cell.source, where))  # what the solution binds
        elif tainted:
            tree = parse_cell(cell.source, where)
            if read_names(tree) & tainted:
                dependent.add(index)
                tainted |= bound_names(tree)
    return exercises, dependent


def make_student(lesson: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student copy of a (clean or not) lesson notebook; the lesson is left unchanged."""
    nb = copy.deepcopy(lesson)
    clean(nb, name)
    exercises, dependent = exercise_cells(nb, name)
    for index in sorted(exercises | dependent):
        cell = nb.cells[index]
        cell.source = blank_solutions(cell.source, f"{name}, cell {index}")
        tags = list(cell.metadata.get("tags", []))
        cell.metadata["tags"] = tags if RAISES in tags else [*tags, RAISES]
        cell.outputs, cell.execution_count = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = LESSON_COLAB_LINK.sub(rf"\g<1>{STUDENT_DIR}/", cell.source)
    return nb


def write_copies(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Write every lesson's student copy and remove orphans; returns what was (or, with
    ``check``, what would be) written or removed. With ``check`` nothing is written."""
    stale = []
    for lesson in lessons(root):
        target = student_path(lesson)
        text = dumps(make_student(read(lesson), str(lesson.relative_to(root))))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
    folder = root / "notebooks" / STUDENT_DIR
    if folder.is_dir():
        known = {student_path(lesson).name for lesson in lessons(root)}
        orphans = [p for p in sorted(folder.glob("*.ipynb")) if p.name not in known]
        stale += orphans
        if not check:
            for orphan in orphans:
                orphan.unlink()
    return stale


def first_cell_after_exercises(copy: nbformat.NotebookNode) -> int:
    """Index, among the code cells of a student copy, of the first one after its last exercise
    and the last cell that depends on one (0 for a copy without exercises). From there on the
    copy runs its lesson's code on its lesson's names: running the lesson tests those cells."""
    code = [cell for cell in copy.cells if cell.cell_type == "code"]
    marked = [i for i, cell in enumerate(code) if RAISES in cell.metadata.get("tags", [])]
    return max(marked, default=-1) + 1
