"""pytest's set-up for the whole checkout: a student copy whose code cells are its lesson's
(a lesson without exercises) is not run a second time under nbval: it would run the same code."""

from __future__ import annotations

import json
from pathlib import Path


def code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def runs_its_lesson_s_code(copy: Path) -> bool:
    """True for a student copy whose code cells equal those of its lesson."""
    lesson = copy.parent.parent / copy.name
    return (
        copy.parent.name == "student"
        and lesson.is_file()
        and code_cells(copy) == code_cells(lesson)
    )


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    if collection_path.suffix == ".ipynb" and runs_its_lesson_s_code(collection_path):
        return True
    return None  # let pytest decide
