"""The grader: a class of lesson-01 notebooks, good and bad, gives the right grade for each."""

from __future__ import annotations

import builtins
import csv
import hashlib
import html.parser
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classroom  # noqa: E402

from tools import grade, grade_report, grade_types  # noqa: E402
from tools.course.cells import bound_names, parse_cell, read_names  # noqa: E402
from tools.course.layout import REPO_ROOT  # noqa: E402
from tools.course.notebook import read  # noqa: E402
from tools.course.student import make_student  # noqa: E402

LESSONS = grade.load_lessons()
# The class is graded in about a dozen Jupyter kernels: make test-integration runs these.
CLASS = pytest.mark.integration


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole class graded once through the command line; the originals' digests before."""
    folder = tmp_path_factory.mktemp("class")
    expected = classroom.write_class(folder)
    before = digest(folder)
    grade.main([str(folder), "--timeout", str(classroom.TIMEOUT_S), "--jobs", "2"])
    return folder, expected, before


def read_csv(folder: Path) -> list[dict[str, str]]:
    with open(folder / "grades.csv", newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


# ---------------------------------------------------------------- the class, cell by cell


@CLASS
def test_csv_has_one_row_per_learner_and_exercise_with_stable_columns(graded):
    folder, expected, _ = graded
    with open(folder / "grades.csv", encoding="utf-8") as file:
        assert file.readline().strip() == "learner,submission,lesson,exercise,status,message"
    table = read_csv(folder)
    assert sorted(r["submission"] for r in table) == sorted(expected)
    assert {r["exercise"] for r in table} == {classroom.EXERCISE}


@CLASS
@pytest.mark.parametrize("name", classroom.CASES)
def test_each_submission_gets_its_status_and_message(graded, name):
    folder, expected, _ = graded
    (row,) = [r for r in read_csv(folder) if r["learner"] == name]
    status, message = expected[row["submission"]]
    assert (row["status"], row["learner"]) == (status, name), row["message"]
    assert re.search(message, row["message"]), row["message"]
    assert "\n" not in row["message"]


@CLASS
def test_the_lesson_comes_from_the_content(graded):
    folder, _, _ = graded
    lessons = {r["learner"]: r["lesson"] for r in read_csv(folder)}
    assert lessons["lou"] == "02"  # a lesson-02 notebook handed in as lesson01.ipynb
    assert lessons["kim"] == "01"  # exercise deleted: known by its check cell
    assert lessons["ned"] == ""  # unreadable


@CLASS
def test_the_originals_are_never_modified(graded):
    folder, _, before = graded
    after = digest(folder)
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) == {"grades.csv", "report.html"}


class _Table(html.parser.HTMLParser):
    """The grades table of the report: rows of (text, class, title) per cell."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.inside = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "grades":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = {"text": "", "class": attrs.get("class", ""), "title": attrs.get("title")}
            self.rows[-1].append(self.cell)

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


@CLASS
def test_report_shows_every_grade_coloured_with_its_message(graded):
    folder, _, _ = graded
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page and "<script" not in page
    table = _Table()
    table.feed(page)
    header, *body, total = table.rows
    assert [c["text"] for c in header] == ["learner", "file", classroom.EXERCISE]
    rows = read_csv(folder)
    assert len(body) == len(rows)
    for row, cells in zip(rows, body, strict=True):
        learner, file, grade_cell = cells
        assert (learner["text"], file["text"]) == (row["learner"], row["submission"])
        assert grade_cell["class"] == row["status"].replace(" ", "-")
        assert grade_cell["text"].startswith(row["status"])
        assert (grade_cell["title"] or "") == row["message"]
        if row["message"]:
            assert row["message"] in grade_cell["text"]  # in the <details> that opens on click
    passed = sum(r["status"] == "passed" for r in rows)
    assert total[-1]["text"] == f"{passed} / {len(rows)} passed"
    for status, colour in grade_report.COLOURS.items():
        assert f"td.{status.replace(' ', '-')}" in page and colour in page


@CLASS
def test_report_lists_what_learners_got_stuck_on(graded):
    folder, _, _ = graded
    page = (folder / "report.html").read_text(encoding="utf-8")
    stuck = page.split("What learners got stuck on", 1)[1]
    for row in read_csv(folder):
        if row["status"] in grade_report.STUCK:
            assert row["learner"] in stuck


# ---------------------------------------------------------------- the parts, without a kernel


def test_every_lesson_stub_is_not_attempted_and_its_solution_runs():
    for number, lesson in LESSONS.items():
        path = next((REPO_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        untouched = make_student(read(path))
        sub = grade_types.Submission(path, "x", "x")
        assert grade.plan(sub, untouched, lesson) == [], number
        assert {o.status for o in sub.outcomes.values()} == {"not attempted"}
        solved = grade_types.Submission(path, "x", "x")
        todo = grade.plan(solved, read(path), lesson)
        assert [ex.name for ex, _ in todo] == [ex.name for ex in lesson.exercises], number
        assert grade.identify(untouched, Path("renamed.ipynb"), LESSONS) == number


def test_a_notebook_named_like_one_lesson_is_graded_as_the_lesson_it_contains():
    nb = classroom.learner(lesson=classroom.OTHER)
    assert grade.identify(nb, Path("01_channel_attention.ipynb"), LESSONS) == "02"


def test_the_title_identifies_a_notebook_whose_exercise_and_check_were_deleted():
    def strip(nb, index):
        del nb.cells[index : index + 2]

    nb = classroom.learner(strip)
    assert grade.identify(nb, Path("hand-in.ipynb"), LESSONS) == "01"


def test_the_set_up_that_runs_defines_every_name_a_check_reads():
    """A right answer passes: what a check hands the learner's code (lesson 04's buggy classes)
    is defined by the set-up the grader runs, not left out as if it needed an exercise."""
    for number, lesson in LESSONS.items():
        earlier = set(dir(builtins))
        for exercise in lesson.exercises:
            needed = grade._needed(exercise.setup, [exercise.stub, exercise.check])
            trees = [parse_cell(exercise.setup[i], "set-up") for i in needed]
            bound = set().union(*map(bound_names, trees))
            read_by_check = read_names(parse_cell(exercise.check, "check"))
            missing = read_by_check - bound - exercise.names - earlier
            assert not missing, f"lesson {number}, {exercise.name}: no set-up defines {missing}"
            earlier |= exercise.names


def test_only_the_setup_the_exercise_needs_runs():
    (exercise,) = LESSONS["01"].exercises
    needed = grade._needed(exercise.setup, [exercise.stub, exercise.check])
    assert [exercise.setup[i].splitlines()[0] for i in needed] == [
        "import matplotlib.pyplot as plt"
    ]
    # A learner who uses a name from a lesson cell gets that cell too.
    uses_pooled = exercise.stub + "\nprint(pooled.shape)"
    more = grade._needed(exercise.setup, [uses_pooled, exercise.check])
    assert any("pooled =" in exercise.setup[i] for i in more)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"  \n", "empty file"),
        (b"\x89PNG\r\n", "not JSON"),
        (b"[1, 2]", "not a notebook"),
        (b'{"cells": [42]}', "not a readable notebook"),
    ],
)
def test_a_file_that_is_no_notebook_says_what_it_is(tmp_path, data, message):
    path = tmp_path / "x.ipynb"
    path.write_bytes(data)
    with pytest.raises(grade.Unreadable, match=message):
        grade.read_submission(path)


def test_learners_are_files_or_folders_one_level_down(tmp_path):
    for rel in ("a.ipynb", "b/work.ipynb", "c/d/too_deep.ipynb", ".ipynb_checkpoints/a.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    found = [(s.learner, s.relpath) for s in grade.find_submissions(tmp_path)]
    assert found == [("a", "a.ipynb"), ("b", "b/work.ipynb")]


def test_the_command_line_explains_bad_arguments(tmp_path):
    # ValueError: bam.cli.run reports it in one line, exit status 2.
    with pytest.raises(ValueError, match="is not a folder"):
        grade.main([str(tmp_path / "nowhere")])
    with pytest.raises(ValueError, match="no notebooks"):
        grade.main([str(tmp_path)])
    classroom.write_class(tmp_path, names={"ben"})
    with pytest.raises(ValueError, match="has no exercises"):
        grade.main([str(tmp_path), "--lesson", "00"])


def test_grading_works_where_an_event_loop_already_runs(tmp_path):
    """As in a notebook or under Playwright's sync API, where asyncio.run alone would refuse."""
    import asyncio

    classroom.write_class(tmp_path, names={"ben", "ned"})  # decided from the text: no kernel

    async def inside_a_loop():
        return grade.main([str(tmp_path)])

    asyncio.run(inside_a_loop())
    assert [r["status"] for r in read_csv(tmp_path)] == ["not attempted", "unreadable"]
