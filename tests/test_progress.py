"""``python -m tools.progress``: a learner's own copies, checked as the grader checks a class."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import classroom  # noqa: E402

from bam import cli  # noqa: E402
from tools import progress  # noqa: E402
from tools.course.notebook import dumps, read  # noqa: E402
from tools.grade_types import Outcome, Submission  # noqa: E402

NOTEBOOKS = classroom.ROOT / "notebooks"
SPATIAL = NOTEBOOKS / "02_spatial_attention.ipynb"
BAM_MODULE = NOTEBOOKS / "03_bam_module.ipynb"
# Lesson 02's check names the padding a dilated convolution needs.
NO_PADDING = classroom.edit("padding=dilation, dilation", "padding=1, dilation")


def write(folder: Path, name: str, nb) -> None:
    (folder / name).write_text(dumps(nb), encoding="utf-8")


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """One learner's folder: lesson 01 solved, 02 solved wrongly, 03 not started, lesson 00 and
    a notes file beside them, as in notebooks/student/."""
    folder = tmp_path_factory.mktemp("mine")
    write(folder, "01_channel_attention.ipynb", classroom.learner())
    write(folder, "02_spatial_attention.ipynb", classroom.learner(NO_PADDING, lesson=SPATIAL))
    write(folder, "03_bam_module.ipynb", classroom.learner(lesson=BAM_MODULE, solved=False))
    write(folder, "00_welcome.ipynb", read(NOTEBOOKS / "00_welcome.ipynb"))
    (folder / "notes.txt").write_text("try r = 8\n")
    return folder


def rows(output: str) -> dict[str, str]:
    """exercise -> the rest of its table row."""
    table = output.splitlines()[2:-1]
    return {line.split()[1]: line.split(None, 2)[2] for line in table if line[:2].isdigit()}


def test_each_copy_gets_its_status_and_the_failing_check_says_why(copies, capsys):
    progress.main([str(copies)])
    output = capsys.readouterr().out
    found = rows(output)
    assert list(found) == ["MyChannelGate", "MySpatialGate", "MyBAM"]
    assert found["MyChannelGate"] == "passed"
    assert found["MySpatialGate"].startswith("failed  MySpatialGate(")
    assert "padding=dilation" in found["MySpatialGate"]
    assert found["MyBAM"] == "not started"
    assert (
        output.splitlines()[-1]
        == "1 of 3 exercises pass; next: lesson 02, exercise `MySpatialGate`"
    )


def test_one_lesson_is_checked_with_lesson(copies, capsys):
    progress.main([str(copies), "--lesson", "03"])
    output = capsys.readouterr().out
    assert list(rows(output)) == ["MyBAM"]
    assert output.splitlines()[-1] == "0 of 1 exercises pass; next: lesson 03, exercise `MyBAM`"


def test_only_the_first_failure_of_a_lesson_shows_its_message():
    lesson = progress.grade.load_lessons()["04"]
    first, second, *rest = (ex.name for ex in lesson.exercises)
    sub = Submission(Path("04_bug_hunt.ipynb"), "me", "04_bug_hunt.ipynb", "04")
    sub.outcomes = {
        first: Outcome("passed"),
        second: Outcome("failed", "first message"),
        **{name: Outcome("error", "later message") for name in rest},
    }
    text = progress.report([(sub, lesson)])
    assert "first message" in text and "later message" not in text
    assert text.splitlines()[-1].endswith(f"next: lesson 04, exercise `{second}`")


@pytest.mark.parametrize(
    ("folder", "options", "message"),
    [
        (".", [], "no copy of a lesson with exercises in"),
        (".", ["--lesson", "00"], "lesson '00' has no exercises"),
        ("nowhere", [], "is not a folder"),
    ],
)
def test_nothing_to_check_is_one_line_and_status_2(tmp_path, capsys, folder, options, message):
    write(tmp_path, "00_welcome.ipynb", read(NOTEBOOKS / "00_welcome.ipynb"))
    with pytest.raises(SystemExit) as exit_:
        cli.run(progress.main, progress.PROG, [str(tmp_path / folder), *options])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
