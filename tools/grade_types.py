"""What grading works with: a lesson's exercises, a learner's submission and the outcome of
each exercise, the statuses an outcome can have and the columns of ``grades.csv``.

The grader (``tools.grade``) makes them and the report (``tools.grade_report``) writes them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

STATUSES = (
    "passed",
    "failed",
    "not attempted",
    "error",
    "timed out",
    "missing",
    "unreadable",
    "wrong lesson",
)
COLUMNS = ("learner", "submission", "lesson", "exercise", "status", "message")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lesson: what it defines, its stub, its check and its set-up cells."""

    lesson: str
    name: str  # the first name the solution defines, e.g. "MyChannelGate"
    names: frozenset[str]  # every module-level name the solution binds
    stub: str  # the exercise cell of the student copy
    check: str  # the check cell that follows it
    check_calls: tuple[str, ...]  # the check's call lines, e.g. "check_channel_gate(MyChannelGate)"
    setup: tuple[str, ...]  # the student copy's code cells before it that run in a lesson


@dataclass(frozen=True)
class Lesson:
    number: str  # "01"
    title: str  # "Channel attention"
    exercises: tuple[Exercise, ...]


@dataclass
class Outcome:
    status: str
    message: str = ""


@dataclass
class Submission:
    path: Path  # the original, never written
    learner: str
    relpath: str
    lesson: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # exercise name -> outcome
    seconds: float = 0.0
