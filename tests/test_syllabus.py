"""A learner alone: each lesson says its time and prerequisites, each exercise its difficulty and
hints, each question its answer; the numbers live in notebooks/lessons.toml and the answers in
the lessons, and the lessons and the instructors' guide are copies kept in step by `sync`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bam.errors import BamError
from tools.course import cli
from tools.course.answers import BEGIN, END, GUIDE, questions
from tools.course.layout import REPO_ROOT, lessons, student_path
from tools.course.notebook import read, write
from tools.course.solutions import solution_blocks
from tools.course.syllabus import LEVEL_LINE, TIME_LINE, exercises, introduction, load
from tools.course.sync import sync

SYLLABUS = load()
TABLED = [p for p in lessons() if p.name[:2] in SYLLABUS.lessons]
HINT = re.compile(r"<details><summary>(Hint(?: \d+)?)</summary>(.*?)</details>", re.S)
CODE_SPAN = re.compile(r"`([^`]+)`")


def test_lessons_00_to_05_are_in_the_table():
    assert {f"0{n}" for n in range(6)} <= set(SYLLABUS.lessons)


def test_the_lessons_and_the_guide_are_in_step_with_the_table_and_the_answers():
    stale = [p.relative_to(REPO_ROOT).as_posix() for p in sync(check=True)]
    assert not stale, f"run `python -m tools.course sync` (make student): {stale} are stale"


def hints_after(nb, index: int) -> list[tuple[str, str]]:
    """``(summary, text)`` of the folded hints in the first markdown cell after the exercise in
    cell ``index`` and its check."""
    cell = next(c for c in nb.cells[index + 1 :] if c.cell_type == "markdown")
    return HINT.findall(cell.source)


def solution_lines(source: str) -> list[str]:
    """The lines of a cell's solution blocks that say something (no markers, brackets alone)."""
    lines = source.splitlines()
    inside = [lines[i].strip() for b, e in solution_blocks(source) for i in range(b + 1, e)]
    return [line for line in inside if len(line) >= 8 and not line.startswith("#")]


@pytest.mark.parametrize("lesson", TABLED, ids=[p.name for p in TABLED])
def test_every_exercise_has_a_difficulty_and_hints_and_text_that_do_not_give_the_code(lesson):
    nb = read(lesson)
    for index, name in exercises(nb):
        intro = nb.cells[introduction(nb, index)].source
        assert LEVEL_LINE.search(intro), f"{name}: no difficulty line under its heading"
        found = hints_after(nb, index)
        summaries = [summary for summary, _ in found]
        assert summaries == [f"Hint {n}" for n in range(1, len(found) + 1)], summaries
        assert len(found) >= 2, f"{name}: {len(found)} hint(s), a learner alone needs two"
        hints = " ".join(" ".join(text.split()) for _, text in found)
        solution = solution_lines(nb.cells[index].source)
        given = [line for line in solution if line in hints]
        assert not given, f"{name}: its hints show lines of the solution: {given}"
        # Hints may name tools, not quote the solution; the exercise's text may name what to
        # build (`padding=dilation`, `module.channel`), not give a call of the solution.
        for where, text, quotes in (
            ("hints", hints, lambda span: len(span) >= 12),
            ("text", intro, lambda span: len(span) >= 12 and "(" in span),
        ):
            given = [
                span
                for span in CODE_SPAN.findall(text)
                if quotes(span) and any(span in line for line in solution)
            ]
            assert not given, f"{name}: its {where} quote the solution's code: {given}"


@pytest.mark.parametrize("lesson", TABLED, ids=[p.name for p in TABLED])
def test_every_question_has_a_folded_answer(lesson):
    found = questions(read(lesson), lesson.name)
    assert found, f"{lesson.name} has no numbered questions under '## Questions'"
    assert all(q.answer for q in found), [q.number for q in found if not q.answer]


def test_the_guide_has_one_answer_section_per_lesson():
    guide = (REPO_ROOT / GUIDE).read_text(encoding="utf-8")
    for lesson in lessons():
        # A lesson that starts folding its answers gets a copied section: drop its old one.
        found = re.findall(rf"^### {lesson.name[:2]} · .*$", guide, re.M)
        assert len(found) == 1, f"lesson {lesson.name[:2]}'s answers in the guide: {found}"


@pytest.mark.parametrize("lesson", TABLED, ids=[p.name for p in TABLED])
def test_student_copies_keep_times_difficulties_hints_and_answers(lesson):
    def shown(path: Path) -> list[str]:
        text = "\n".join(c.source for c in read(path).cells if c.cell_type == "markdown")
        found = TIME_LINE.findall(text) + LEVEL_LINE.findall(text)
        return found + re.findall(r"<details>.*?</details>", text, re.S)

    assert shown(student_path(lesson)) == shown(lesson)


# ------------------------------------------------------------------------- the machinery
BADGE = (
    "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/o/r/blob/main/notebooks/01_demo.ipynb)"
)
TABLE = """
[rates]
words_per_minute = 200
code_lines_per_minute = 10
questions_minutes = 10

[lessons.01]
run_minutes = 1.0
assumes = "lesson 00."
leads_to = "lesson 02."

[lessons.01.exercises]
double = { difficulty = 2, minutes = 20 }
"""
QUESTIONS = """## Questions

1. What is 2 + 2?

   <details><summary>Answer</summary>

   4, as
   everyone knows.

   </details>

2. And 3 + 3?

   <details><summary>Answer</summary>

   6.

   </details>

## What this lesson does not cover

Anything else."""
GUIDE_TEXT = f"# Guide\n\n## Answers\n\n{BEGIN}\n\nold\n\n{END}\n\n### 02 · Other\n1. kept\n"


def course(root: Path, questions_cell: str = QUESTIONS) -> Path:
    (root / "notebooks").mkdir()
    (root / "docs").mkdir()
    (root / "notebooks" / "lessons.toml").write_text(TABLE)
    (root / "docs" / "instructors.md").write_text(GUIDE_TEXT)
    lesson = root / "notebooks" / "01_demo.ipynb"
    cells = [
        new_markdown_cell(f"# 01 · Demo\n\n{BADGE}\n\nIn this lesson you will: double."),
        new_markdown_cell("Some prose first.\n\n## Exercise: double\n\nWrite `double`."),
        new_code_cell("def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION"),
        new_markdown_cell(questions_cell),
    ]
    write(new_notebook(cells=cells), lesson)
    return lesson


def test_sync_writes_the_lines_and_the_guide_and_then_finds_nothing_stale(tmp_path):
    lesson = course(tmp_path)
    assert sync(tmp_path) == [lesson, tmp_path / GUIDE]
    first, intro = read(lesson).cells[0].source, read(lesson).cells[1].source
    assert first.splitlines()[4] == (
        "**Time:** about 30 min: 20 on the exercise, 10 on the questions. "
        "**Assumes:** lesson 00. **Leads to:** lesson 02."
    )
    assert "## Exercise: double\n\n**★★ medium** · about 20 min\n\nWrite `double`." in intro
    guide = (tmp_path / GUIDE).read_text()
    assert f"{BEGIN}\n\n### 01 · Demo\n1. 4, as\n   everyone knows.\n2. 6.\n\n{END}" in guide
    assert guide.endswith("### 02 · Other\n1. kept\n")  # a hand-written section stays
    assert sync(tmp_path) == [] and sync(tmp_path, check=True) == []


def test_a_changed_table_makes_the_lesson_stale(tmp_path):
    lesson = course(tmp_path)
    sync(tmp_path)
    table = tmp_path / "notebooks" / "lessons.toml"
    table.write_text(table.read_text().replace("minutes = 20", "minutes = 40"))
    with pytest.raises(BamError, match="notebooks/01_demo.ipynb"):
        cli.main(["--root", str(tmp_path), "sync", "--check"])
    cli.main(["--root", str(tmp_path), "sync"])
    assert "**★★ medium** · about 40 min" in read(lesson).cells[1].source


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda t: t.replace("double = {", "triple = {"), "lists ['triple']"),
        (lambda t: t.replace("difficulty = 2", "difficulty = 4"), "expected one of"),
    ],
)
def test_a_table_that_does_not_fit_the_lesson_is_reported(tmp_path, change, complaint):
    course(tmp_path)
    table = tmp_path / "notebooks" / "lessons.toml"
    table.write_text(change(table.read_text()))
    with pytest.raises(ValueError, match=re.escape(complaint)):
        cli.main(["--root", str(tmp_path), "sync"])


def test_questions_answered_in_part_are_refused(tmp_path):
    unanswered = QUESTIONS.replace(
        "   <details><summary>Answer</summary>\n\n   6.\n\n   </details>\n\n", ""
    )
    course(tmp_path, unanswered)
    with pytest.raises(ValueError, match=re.escape("questions [2] have no folded answer")):
        cli.main(["--root", str(tmp_path), "sync"])


def test_a_lesson_without_folded_answers_keeps_its_section_in_the_guide(tmp_path):
    course(tmp_path, "## Questions\n\n1. Why?\n2. Why not?")
    sync(tmp_path)
    guide = (tmp_path / GUIDE).read_text()
    assert "### 01 · Demo" not in guide and "### 02 · Other\n1. kept" in guide
