"""Which exercises of your student copies pass, and what the first failing check says.

    python -m tools.progress [FOLDER] [--lesson NN]      (make progress)

``FOLDER`` (default ``notebooks/student/``) holds your copies of the lessons, under any file
names. Each copy is checked as the grader checks a class (``tools.grade``): in a fresh kernel,
in fast mode, with a time limit, your exercise cells and then the lesson's own checks, so that
an unfinished plot elsewhere in the notebook does not hide a finished exercise. Saving the
notebook is enough; it does not need to have run. Nothing in ``FOLDER`` changes.

Per exercise: passed, failed, not started (its cell is still the stub), or what the grader says
when the exercise could not be checked (error, timed out, missing). The first exercise of each
lesson that did not pass prints its message in one line. The command reports, it does not
judge: exit status 0 whatever the checks say, 2 when there is nothing to check.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bam import cli
from bam.tables import text_table
from tools import grade
from tools.course.layout import REPO_ROOT, STUDENT_DIR
from tools.grade_types import Lesson, Outcome, Submission

PROG = "python -m tools.progress"
DEFAULT_FOLDER = REPO_ROOT / "notebooks" / STUDENT_DIR
# The grader's "not attempted" is a teacher's word for a class; a learner's stub is not started.
LABELS = {"not attempted": "not started"}


def progress(
    folder: Path, lesson_number: str | None = None
) -> list[tuple[Submission, Lesson | None]]:
    """Every lesson copy in ``folder`` (only lesson ``lesson_number``'s if given), checked, in
    lesson order; an unreadable notebook comes with no lesson and its outcome under ``"*"``.
    Notebooks of no lesson with exercises (lesson 00, a scratch notebook) are left out."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; pass the folder of your lesson copies")
    lessons = grade.load_lessons()
    if lesson_number is not None and lesson_number not in lessons:
        raise ValueError(
            f"lesson {lesson_number!r} has no exercises; lessons with exercises: "
            f"{', '.join(sorted(lessons))}"
        )
    found, unreadable = [], []
    for sub in grade.find_submissions(folder):
        try:
            nb = grade.read_submission(sub.path)
        except (grade.Unreadable, OSError) as err:
            sub.outcomes = {"*": Outcome("unreadable", cli.error_line(err))}
            unreadable.append((sub, None))
            continue
        sub.lesson = grade.identify(nb, sub.path, lessons)
        if sub.lesson and lesson_number in (None, sub.lesson):
            found.append((sub, nb, lessons[sub.lesson]))
    if not found:
        which = f"lesson {lesson_number}" if lesson_number else "a lesson with exercises"
        raise ValueError(f"no copy of {which} in {folder}")
    found.sort(key=lambda item: (item[0].lesson, item[0].relpath))
    print(f"checking {len(found)} lesson copies in {folder} ...", flush=True)
    grade.check(found)
    return [(sub, lesson) for sub, _, lesson in found] + unreadable


def report(checked: list[tuple[Submission, Lesson | None]]) -> str:
    """The table, one row per exercise, and a last line: how many pass, and which is next."""
    copies = Counter(sub.lesson for sub, _ in checked)
    rows, messages, total, passed, upcoming = [], [], 0, 0, None
    for sub, lesson in checked:
        if lesson is None:
            outcome = sub.outcomes["*"]
            rows.append([sub.relpath, "", outcome.status])
            messages.append(outcome.message)
            continue
        label = sub.lesson if copies[sub.lesson] == 1 else f"{sub.lesson} ({sub.relpath})"
        shown = False  # the first message of the lesson only: fix that one first
        for number, (name, outcome) in enumerate(sub.outcomes.items()):
            status = LABELS.get(outcome.status, outcome.status)
            rows.append([label if number == 0 else "", name, status])
            messages.append("" if shown else outcome.message)
            shown = shown or bool(outcome.message)
            total += 1
            passed += outcome.status == "passed"
            if outcome.status != "passed" and upcoming is None:
                upcoming = f"lesson {sub.lesson}, exercise `{name}`"
    table = text_table(["lesson", "exercise", "status"], rows, left=3)
    lines = [line.rstrip() for line in table.splitlines()]
    lines[2:] = [f"{line}  {m}" if m else line for line, m in zip(lines[2:], messages, strict=True)]
    if upcoming is None:
        lines.append(f"all {total} exercises pass")
    else:
        lines.append(f"{passed} of {total} exercises pass; next: {upcoming}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=DEFAULT_FOLDER,
        metavar="FOLDER",
        help="your lesson copies (default: notebooks/student/)",
    )
    parser.add_argument("--lesson", metavar="NN", help="check only this lesson's copy")
    args = parser.parse_args(argv)
    print(report(progress(args.folder, args.lesson)))


if __name__ == "__main__":
    cli.run(main, PROG)
