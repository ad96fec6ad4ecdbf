"""Every committed notebook follows docs/authoring.md: clean, python3 kernel, badge, set-up cell."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools.course.cells import bound_names, parse_cell, read_names
from tools.course.layout import REPO_ROOT, STUDENT_DIR, lessons, student_copies, student_path
from tools.course.notebook import KERNELSPEC, RAISES, dumps, read
from tools.course.rules import problems
from tools.course.solutions import blank_solutions, solution_blocks
from tools.course.student import (
    exercise_cells,
    first_cell_after_exercises,
    make_student,
    write_copies,
)

NOTEBOOKS = lessons() + student_copies()
REPO = "https://github.com/bam-course/bam-course"


@pytest.mark.skipif(not NOTEBOOKS, reason="no lesson notebooks yet")
@pytest.mark.parametrize(
    "path", NOTEBOOKS, ids=[p.relative_to(REPO_ROOT).as_posix() for p in NOTEBOOKS]
)
def test_notebook_follows_the_authoring_rules(path):
    found = problems(path)
    assert not found, f"{path.relative_to(REPO_ROOT)}:\n  " + "\n  ".join(found)


LESSONS = lessons()


def visible_text(nb: nbformat.NotebookNode) -> str:
    """Everything a reader of ``nb`` can see: sources, outputs, metadata."""
    parts = [json.dumps(nb.metadata, ensure_ascii=False)]
    for cell in nb.cells:
        parts += [cell.source, json.dumps(cell.metadata, ensure_ascii=False)]
        for out in cell.get("outputs", []):
            parts += [out.get("text", ""), out.get("evalue", ""), *out.get("traceback", [])]
            parts += [
                v if isinstance(v, str) else json.dumps(v) for v in out.get("data", {}).values()
            ]
    return "\n".join(parts)


def secret_lines(lesson: nbformat.NotebookNode) -> set[str]:
    """Solution lines (10 characters or more) that appear nowhere else in the lesson."""
    inside, outside = set(), set()
    for cell in lesson.cells:
        lines = [line.strip() for line in cell.source.splitlines()]
        blocks = solution_blocks(cell.source) if cell.cell_type == "code" else []
        hidden = {i for begin, end in blocks for i in range(begin, end + 1)}
        for i, line in enumerate(lines):
            (inside if i in hidden else outside).add(line)
        if blocks:  # what a stub keeps of a whole definition (its header, docstring) is shown
            outside |= {line.strip() for line in blank_solutions(cell.source).splitlines()}
    # Short lines (")", "return x") say nothing about the solution; markers are not solution.
    return {line for line in inside - outside if len(line) >= 10 and not line.startswith("#")}


@pytest.mark.skipif(not LESSONS, reason="no lesson notebooks yet")
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.name for p in LESSONS])
def test_no_student_copy_shows_a_solution(lesson):
    copy = student_path(lesson)
    if not copy.exists():
        pytest.skip(f"no student copy of {lesson.name} yet")
    shown = visible_text(read(copy))
    leaked = [line for line in secret_lines(read(lesson)) if line in shown]
    assert not leaked, f"{copy.name} shows solution lines: {leaked}"


@pytest.mark.skipif(not LESSONS, reason="no lesson notebooks yet")
@pytest.mark.parametrize("lesson", LESSONS, ids=[p.name for p in LESSONS])
def test_every_student_exercise_defines_what_its_check_needs(lesson):
    # The stub keeps the name (and signature) that the check cell after the exercise uses, so
    # the check says "not written yet" rather than NameError.
    copy = student_path(lesson)
    if not copy.exists():
        pytest.skip(f"no student copy of {lesson.name} yet")
    solution, student = read(lesson), read(copy)
    for index in sorted(exercise_cells(solution)[0]):
        where = f"{lesson.name}, cell {index}"
        check = next(c for c in solution.cells[index + 1 :] if c.cell_type == "code")
        needed = read_names(parse_cell(check.source, where)) & bound_names(
            parse_cell(solution.cells[index].source, where)
        )
        defined = bound_names(parse_cell(student.cells[index].source, where))
        assert needed, f"{where}: the check after the exercise uses nothing it defines"
        assert needed <= defined, f"{where}: the student copy does not define {needed - defined}"


def test_make_test_runs_every_student_copy_up_to_its_last_exercise_dependent_cell():
    # conftest.py marks the cells from first_cell_after_exercises on; make test leaves them out.
    for lesson in lessons():
        copy = read(student_path(lesson))
        first = first_cell_after_exercises(copy)
        code = [c for c in copy.cells if c.cell_type == "code"]
        assert all(RAISES not in c.metadata.get("tags", []) for c in code[first:]), lesson.name
        exercises, dependent = exercise_cells(read(lesson))
        if not exercises:
            assert first == 0, lesson.name  # nothing differs: the lesson's run is the copy's
            continue
        cells = [i for i, c in enumerate(read(lesson).cells) if c.cell_type == "code"]
        last = max(cells.index(i) for i in exercises | dependent)
        assert first == last + 1, lesson.name


def test_every_lesson_has_a_student_copy_and_no_copy_lacks_a_lesson():
    names = {p.name for p in lessons()}
    copies = {p.name for p in NOTEBOOKS if p.parent.name == STUDENT_DIR}
    assert copies == names, "run `python -m tools.course student`"


def good_lesson(name: str = "03_demo.ipynb") -> nbformat.NotebookNode:
    """A small lesson that follows every rule (its check cell already ran)."""
    check = new_code_cell("# NBVAL_CHECK_OUTPUT\nchecks.double(double)", execution_count=3)
    check.outputs = [new_output("stream", name="stdout", text="double: ok\n")]
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# 03 · Demo\n[![Open in Colab](https://colab.research.google.com/assets/"
                "colab-badge.svg)](https://colab.research.google.com/github/bam-course/"
                f"bam-course/blob/main/notebooks/{name})\n\n- double a number"
            ),
            new_code_cell(
                'import sys\n\nif "google.colab" in sys.modules:\n'
                f'    %pip install -q "bam-course @ git+{REPO}"'
            ),
            new_code_cell(
                "from bam import checks\n\n\ndef double(x):\n"
                "    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION"
            ),
            check,
        ],
        metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}},
    )


def problems_of(tmp_path: Path, nb: nbformat.NotebookNode, name: str = "03_demo.ipynb") -> list:
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "pyproject.toml").write_text(f'[project.urls]\nRepository = "{REPO}"\n')
    path = tmp_path / "notebooks" / name
    path.write_text(dumps(nb))
    return problems(path, tmp_path)


def test_a_lesson_that_follows_the_rules_and_its_student_copy_pass(tmp_path):
    assert problems_of(tmp_path, good_lesson()) == []
    write_copies(tmp_path)
    assert problems(tmp_path / "notebooks" / "student" / "03_demo.ipynb", tmp_path) == []


def break_output(nb):
    nb.cells[2].outputs = [new_output("stream", name="stdout", text="noise\n")]


def break_count(nb):
    nb.cells[2].execution_count = 5


def break_kernelspec(nb):
    del nb.metadata["kernelspec"]


def break_title(nb):
    nb.cells[0].source = nb.cells[0].source.replace("# 03 · Demo", "# Demo")


def break_badge_path(nb):
    nb.cells[0].source = nb.cells[0].source.replace("03_demo", "02_other")


def break_badge(nb):
    nb.cells[0].source = "# 03 · Demo\n\n- double a number"


def break_install_repo(nb):
    nb.cells[1].source = nb.cells[1].source.replace("bam-course/bam-course", "someone/fork")


def break_markers(nb):
    nb.cells[2].source = nb.cells[2].source.replace("    # END SOLUTION", "")


def break_markdown_markers(nb):
    nb.cells.append(new_markdown_cell("# BEGIN SOLUTION\nthe answer\n# END SOLUTION"))


def break_check_after_exercise(nb):
    nb.cells.insert(3, new_code_cell("print(double(2))"))


def break_unrun_check(nb):
    nb.cells[3].outputs, nb.cells[3].execution_count = [], None


def break_figure_caption(nb):
    nb.cells.append(new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"))


def break_no_check(nb):
    nb.cells[3].source = "checks.double(double)"
    nb.cells[3].outputs, nb.cells[3].execution_count = [], None


@pytest.mark.parametrize(
    ("breaks", "complaint"),
    [
        (break_output, "not clean"),
        (break_count, "not clean"),
        (break_kernelspec, "kernelspec"),
        (break_title, "title"),
        (break_badge_path, "badge links to"),
        (break_badge, "no Open in Colab badge"),
        (break_install_repo, "Colab set-up cell"),
        (break_markers, "has no"),
        (break_markdown_markers, "solution markers in a markdown cell"),
        (break_check_after_exercise, "must call a bam.checks check"),
        (break_unrun_check, "has no stored output"),
        (break_no_check, "no '# NBVAL_CHECK_OUTPUT' cell"),
        (break_figure_caption, "shows a figure without a caption"),
    ],
)
def test_a_lesson_that_breaks_a_rule_is_reported(tmp_path, breaks, complaint):
    nb = good_lesson()
    breaks(nb)
    found = problems_of(tmp_path, nb)
    assert any(complaint in problem for problem in found), found


def test_a_student_copy_with_solution_markers_is_reported(tmp_path):
    (tmp_path / "notebooks" / "student").mkdir(parents=True)
    nb = good_lesson()
    nb.cells[0].source = nb.cells[0].source.replace("notebooks/", "notebooks/student/")
    found = problems_of(tmp_path, nb, "student/03_demo.ipynb")
    assert found == ["cell 2: solution markers in a student copy"]


def test_a_solution_line_in_a_student_copy_output_is_found():
    lesson = good_lesson()
    assert secret_lines(lesson) == {"return 2 * x"}
    copy = make_student(lesson)
    assert "return 2 * x" not in visible_text(copy)
    copy.cells[3].outputs = [new_output("stream", name="stdout", text="hint: return 2 * x\n")]
    assert "return 2 * x" in visible_text(copy)
