"""pytest's set-up for the whole checkout: in a student copy, the cells after its last exercise
(and the cells that depend on one) carry the ``after_exercises`` marker. They are its lesson's
code on its lesson's names, which running the lesson already tests: ``make test`` leaves them
out, ``make test-integration`` runs every copy whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.course.layout import STUDENT_DIR
from tools.course.notebook import read
from tools.course.student import first_cell_after_exercises


def pytest_collection_modifyitems(config, items) -> None:
    first: dict[Path, int] = {}
    for item in items:
        path = Path(item.path)
        if path.suffix != ".ipynb" or path.parent.name != STUDENT_DIR:
            continue
        if path not in first:
            first[path] = first_cell_after_exercises(read(path))
        if int(item.name.removeprefix("Cell ")) >= first[path]:  # nbval names "Cell N"
            item.add_marker(pytest.mark.after_exercises)
