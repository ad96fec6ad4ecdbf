"""What a lesson takes and assumes, kept in ``notebooks/lessons.toml`` and written into the lessons.

A learner alone needs to know, before starting, how long a lesson takes and what it builds on,
and, before an exercise, how hard it is. Those numbers live in one file; ``sync`` writes the
lines a learner reads from it, so that a lesson cannot say something the table does not:

- the first markdown cell gets ``**Time:** about 45 min: ... **Assumes:** ... **Leads to:** ...``,
  after the Colab badge;
- the markdown cell that introduces an exercise gets ``**★★ medium** · about 25 min`` under its
  heading (the last heading line that says "Exercise").

A lesson's time is the sum of measured parts, not a guess typed in: its prose and code read at
the table's rates (counted from the notebook, so the figure follows the text), its running time,
its exercises' minutes and the questions, rounded to 5 minutes. Lessons absent from the table are
left alone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import tomllib

from .cells import parse_cell
from .layout import REPO_ROOT
from .solutions import solution_blocks

TABLE = Path("notebooks") / "lessons.toml"
LEVELS = {1: "★ easy", 2: "★★ medium", 3: "★★★ hard"}
TIME_LINE = re.compile(r"^\*\*Time:\*\* .*$", re.M)
LEVEL_LINE = re.compile(r"^\*\*★+ (?:easy|medium|hard)\*\* · about \d+ min$", re.M)
EXERCISE_HEADING = re.compile(r"^#+ .*\bExercise\b.*$", re.M | re.I)
BADGE_LINE = re.compile(r"^\[!\[Open in Colab\].*$", re.M)
# What a reader does not read on the way through: folded hints and answers, link targets.
FOLDED = re.compile(r"<details>.*?</details>", re.S)
LINK_TARGET = re.compile(r"\]\([^)]*\)")


@dataclass(frozen=True)
class Exercise:
    name: str
    difficulty: int
    minutes: int

    def line(self) -> str:
        """The line under the exercise's heading: ``**★★ medium** · about 25 min``."""
        return f"**{LEVELS[self.difficulty]}** · about {self.minutes} min"


@dataclass(frozen=True)
class Lesson:
    number: str
    run_minutes: float
    assumes: str
    leads_to: str
    exercises: tuple[Exercise, ...]


@dataclass(frozen=True)
class Syllabus:
    words_per_minute: float
    code_lines_per_minute: float
    questions_minutes: int
    lessons: dict[str, Lesson]

    def reading_minutes(self, nb: nbformat.NotebookNode) -> float:
        """Minutes to read ``nb``'s prose and the code it shows (not the exercises' solutions)."""
        words, lines = prose_words(nb), code_lines(nb)
        return words / self.words_per_minute + lines / self.code_lines_per_minute

    def minutes(self, nb: nbformat.NotebookNode, lesson: Lesson) -> int:
        """The lesson's time: reading, running, exercises and questions, rounded to 5 min."""
        total = (
            self.reading_minutes(nb)
            + lesson.run_minutes
            + sum(e.minutes for e in lesson.exercises)
            + self.questions_minutes
        )
        return max(5, 5 * int(total / 5 + 0.5))

    def time_line(self, nb: nbformat.NotebookNode, lesson: Lesson) -> str:
        """The first cell's line: time, what the lesson assumes, where it leads."""
        parts = [f"about {say(self.minutes(nb, lesson))}"]
        exercises = sum(e.minutes for e in lesson.exercises)
        if exercises:
            what = "the exercise" if len(lesson.exercises) == 1 else "the exercises"
            parts.append(f"{exercises} on {what}, {self.questions_minutes} on the questions")
        return (
            f"**Time:** {': '.join(parts)}. **Assumes:** {lesson.assumes} "
            f"**Leads to:** {lesson.leads_to}"
        )


def say(minutes: int) -> str:
    """``45 min``, ``1 h``, ``2 h 35 min``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def load(root: Path = REPO_ROOT) -> Syllabus:
    """The table, checked: every difficulty is one of the three levels."""
    path = root / TABLE
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    lessons = {}
    for number, entry in data["lessons"].items():
        exercises = tuple(
            Exercise(name, spec["difficulty"], spec["minutes"])
            for name, spec in entry.get("exercises", {}).items()
        )
        for exercise in exercises:
            if exercise.difficulty not in LEVELS:
                raise ValueError(
                    f"{TABLE}: lesson {number}, {exercise.name}: difficulty "
                    f"{exercise.difficulty}, expected one of {sorted(LEVELS)}"
                )
        lessons[number] = Lesson(
            number, entry["run_minutes"], entry["assumes"], entry["leads_to"], exercises
        )
    rates = data["rates"]
    return Syllabus(
        rates["words_per_minute"],
        rates["code_lines_per_minute"],
        rates["questions_minutes"],
        lessons,
    )


def prose_words(nb: nbformat.NotebookNode) -> int:
    """Words of markdown a reader reads through: no badge, link targets, folded text or the
    lines this module writes."""
    words = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            text = FOLDED.sub("", cell.source)
            for pattern in (BADGE_LINE, TIME_LINE, LEVEL_LINE, LINK_TARGET):
                text = pattern.sub("]" if pattern is LINK_TARGET else "", text)
            words += len(text.split())
    return words


def code_lines(nb: nbformat.NotebookNode) -> int:
    """Non-blank lines of the code cells a reader reads (exercise cells count as exercise time)."""
    return sum(
        sum(1 for line in cell.source.splitlines() if line.strip())
        for cell in nb.cells
        if cell.cell_type == "code" and not solution_blocks(cell.source)
    )


def exercises(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """``(cell index, name)`` of each exercise: the first class or function its cell defines."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and solution_blocks(cell.source):
            tree = parse_cell(cell.source, f"cell {index}")
            names = [
                node.name
                for node in tree.body
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            ]
            found.append((index, names[0] if names else f"cell {index}"))
    return found


def introduction(nb: nbformat.NotebookNode, index: int) -> int | None:
    """Index of the markdown cell that introduces the exercise in cell ``index``: the last one
    before it with an "Exercise" heading."""
    for before in range(index - 1, -1, -1):
        cell = nb.cells[before]
        if cell.cell_type == "markdown" and EXERCISE_HEADING.search(cell.source):
            return before
    return None


def apply(syllabus: Syllabus, nb: nbformat.NotebookNode, number: str, where: str) -> None:
    """Write the table's lines into lesson ``number`` (``nb``, changed in place)."""
    lesson = syllabus.lessons[number]
    found = exercises(nb)
    names = [name for _, name in found]
    listed = [e.name for e in lesson.exercises]
    if names != listed:
        raise ValueError(
            f"{where}: the exercises are {names}, {TABLE} lists {listed} for lesson {number}"
        )
    first = nb.cells[0]
    badge = BADGE_LINE.search(first.source)
    first.source = _put(first.source, TIME_LINE, syllabus.time_line(nb, lesson), badge, where)
    for (index, name), exercise in zip(found, lesson.exercises, strict=True):
        intro = introduction(nb, index)
        if intro is None:
            raise ValueError(f"{where}: no markdown cell with an 'Exercise' heading before {name}")
        cell = nb.cells[intro]
        heading = list(EXERCISE_HEADING.finditer(cell.source))[-1]
        cell.source = _put(cell.source, LEVEL_LINE, exercise.line(), heading, where)


def _put(text: str, line: re.Pattern, new: str, after: re.Match | None, where: str) -> str:
    """``text`` with the line that ``line`` matches replaced by ``new``; without one, ``new``
    goes in as a paragraph of its own right after the ``after`` match."""
    if line.search(text):
        return line.sub(lambda _: new, text, count=1)
    if after is None:
        raise ValueError(f"{where}: nowhere to put {new!r} (no Colab badge line)")
    head, tail = text[: after.end()], text[after.end() :].lstrip("\n")
    return f"{head}\n\n{new}\n\n{tail}" if tail else f"{head}\n\n{new}"
