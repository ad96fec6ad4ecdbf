"""pytest's set-up for the whole checkout: nbval does not run a student copy whose code cells
are its lesson's (a lesson without exercises): it would run the same code a second time."""

from __future__ import annotations

from pathlib import Path

from tools.course.student import same_code_as_lesson


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix == ".ipynb" and same_code_as_lesson(collection_path):
        return True
    return None  # let pytest decide
