"""Where things are in a checkout: the repository root, the lessons and their student copies."""

from __future__ import annotations

from pathlib import Path

# tools/course/layout.py -> the checkout's root. These tools work on a checkout, not on an
# installed package.
REPO_ROOT = Path(__file__).resolve().parents[2]
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
STUDENT_DIR = "student"


def lessons(root: Path = REPO_ROOT) -> list[Path]:
    """The lesson notebooks ``notebooks/NN_topic.ipynb``, in lesson order."""
    return sorted((root / "notebooks").glob(LESSON_GLOB))


def student_path(lesson: Path) -> Path:
    """Where the student copy of ``lesson`` lives: ``notebooks/student/NN_topic.ipynb``."""
    return lesson.parent / STUDENT_DIR / lesson.name


def student_copies(root: Path = REPO_ROOT) -> list[Path]:
    """The student copies that exist now, in lesson order."""
    return sorted((root / "notebooks" / STUDENT_DIR).glob(LESSON_GLOB))
