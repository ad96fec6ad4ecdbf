"""The course tooling: clean notebooks, student copies that still run, one repository address."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bam.errors import BamError
from tools.course import cli
from tools.course.layout import REPO_ROOT
from tools.course.notebook import KERNELSPEC, RAISES, checked_outputs, is_check_cell, read, write
from tools.course.refresh import refresh
from tools.course.repo import repository
from tools.course.solutions import blank_solutions, solution_blocks
from tools.course.student import exercise_cells, write_copies

REPO = "https://github.com/bam-course/bam-course"
OTHER_REPO = "https://github.com/bam-course/bam-course-extras"  # set-repo leaves it alone
BADGE = "[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
SETUP = (
    "# On Colab only: install the course package. Colab's own torch is kept.\n"
    "import sys\n\n"
    'if "google.colab" in sys.modules:\n'
    '    %pip install -q "bam-course @ git+https://github.com/bam-course/bam-course"'
)
# Words that occur only inside the fixture's solutions: a student copy must never show them.
SECRETS = ("math.pi * radius**2", "SOLUTION_PRINTS_THIS", "2 * value  # doubled")


def lesson_notebook(name: str = "01_demo.ipynb") -> nbformat.NotebookNode:
    """A tiny lesson: two exercises, their checks, a dependent cell and an independent one."""
    return new_notebook(
        cells=[
            new_markdown_cell(
                f"# 01 · Demo\n{BADGE}(https://colab.research.google.com/github/"
                f"bam-course/bam-course/blob/main/notebooks/{name})\n\n- compute an area"
            ),
            new_code_cell(SETUP),
            new_code_cell(
                "import math\nimport os\nfrom types import SimpleNamespace\n\n"
                "checks = SimpleNamespace(\n"
                "    area=lambda f: print(round(f(1.0), 4)), double=lambda f: print(f(21))\n"
                ")"
            ),
            new_code_cell(
                "# NBVAL_CHECK_OUTPUT\n"
                "# BEGIN SOLUTION\n"
                "def area(radius):\n"
                "    return math.pi * radius**2\n\n\n"
                'print("SOLUTION_PRINTS_THIS")\n'
                "# END SOLUTION"
            ),
            new_code_cell("# NBVAL_CHECK_OUTPUT\nchecks.area(area)"),
            new_code_cell(
                "def double(value):\n"
                '    """Twice the value."""\n'
                "    # BEGIN SOLUTION\n"
                "    return 2 * value  # doubled\n"
                "    # END SOLUTION"
            ),
            new_code_cell("# NBVAL_CHECK_OUTPUT\nchecks.double(double)"),
            new_code_cell("ring = area(2.0) - area(1.0)"),
            new_code_cell("print(f'{ring:.3f}')"),
            new_code_cell(
                "# NBVAL_CHECK_OUTPUT\n"
                "print('independent', math.sqrt(16), os.environ.get('BAM_FAST'))"
            ),
        ]
    )


def make_tree(root: Path, repo: str = REPO) -> Path:
    """A course tree: pyproject, README, one lesson (not yet run); returns the lesson path."""
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "bam-course"\n\n[project.urls]\nRepository = "{repo}"\n'
    )
    (root / "README.md").write_text(
        f"# BAM course\n{BADGE}(https://colab.research.google.com/github/bam-course/"
        f"bam-course/blob/main/notebooks/01_demo.ipynb)\n\n"
        f"    git clone {repo}.git\n    pip install {repo}/archive/main.zip\n\n"
        f"Not ours: {OTHER_REPO}\n"
    )
    lesson = root / "notebooks" / "01_demo.ipynb"
    nbformat.write(lesson_notebook(), lesson)
    return lesson


def outputs_text(cell: dict) -> str:
    return json.dumps(cell.get("outputs", []))


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    """The fixture lesson after `refresh` and `student` (runs a kernel once for the module)."""
    root = tmp_path_factory.mktemp("course")
    lesson = make_tree(root)
    assert refresh([lesson]) == [lesson]
    write_copies(root)
    return root


def test_refresh_runs_in_fast_mode_and_keeps_only_checked_outputs(refreshed):
    nb = read(refreshed / "notebooks" / "01_demo.ipynb")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [bool(c.outputs) for c in code] == [
        False,
        False,
        True,
        True,
        False,
        True,
        False,
        False,
        True,
    ]
    assert "independent 4.0 1" in outputs_text(code[-1])  # BAM_FAST=1 inside the kernel
    assert "3.1416" in outputs_text(code[3])
    for position, cell in enumerate(code, start=1):
        expected = position if is_check_cell(cell) else None
        assert cell.execution_count == expected
    assert nb.metadata == {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    assert all(cell.metadata == {} for cell in nb.cells)


def test_refresh_writes_a_stable_file(refreshed):
    path = refreshed / "notebooks" / "01_demo.ipynb"
    text = path.read_text()
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n   "cell_type"')
    assert refresh([path], run=False) == []
    assert refresh([path]) == []  # running again changes nothing
    assert path.read_text() == text


def test_strip_drops_outputs_counts_and_timing_metadata(tmp_path):
    nb = lesson_notebook()
    nb.metadata = {"widgets": {"state": {}}, "colab": {"name": "x"}}
    plain, check = nb.cells[2], nb.cells[4]
    plain.execution_count = 7
    plain.metadata = {"execution": {"iopub.status.busy": "2024-01-01"}, "tags": ["keep"]}
    plain.outputs = [nbformat.v4.new_output("stream", name="stdout", text="noise\n")]
    check.execution_count = 9
    check.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="3.1416\n"),
        nbformat.v4.new_output("display_data", {"image/png": "iVBOR", "text/plain": "<Figure>"}),
    ]
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, path)
    cli.main(["strip", str(path)])
    stripped = read(path)
    assert stripped.metadata.kernelspec == KERNELSPEC and "widgets" not in stripped.metadata
    plain, check = stripped.cells[2], stripped.cells[4]
    assert (plain.outputs, plain.execution_count, plain.metadata) == ([], None, {"tags": ["keep"]})
    assert check.execution_count == 4  # its place among the code cells: what nbval expects
    assert "image/png" not in outputs_text(check) and "3.1416" in outputs_text(check)


@pytest.mark.parametrize(
    ("output", "complaint"),
    [
        (("stream", {"name": "stderr", "text": "100%|####|\n"}), "writes to stderr"),
        (("execute_result", {"data": {"text/plain": "<Net object at 0x7f3a12bc4d90>"}}), "memory"),
        (("error", {"ename": "ValueError", "evalue": "bad", "traceback": []}), "holds an error"),
    ],
)
def test_checked_outputs_that_cannot_be_compared_are_refused(tmp_path, output, complaint):
    nb = lesson_notebook()
    kind, fields = output
    if kind == "execute_result":
        fields = {**fields, "execution_count": 1}
    nb.cells[4].execution_count = 1
    nb.cells[4].outputs = [nbformat.v4.new_output(kind, **fields)]
    path = tmp_path / "01_demo.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match=complaint):
        refresh([path], run=False)


def test_refresh_stops_on_a_failing_cell_and_writes_nothing(tmp_path):
    nb = new_notebook(cells=[new_code_cell("1 / 0")])
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    with pytest.raises(BamError, match="failed while running; nothing was written"):
        cli.main(["refresh", str(path)])
    assert path.read_text() == before


def test_refresh_rejects_a_path_that_is_not_a_notebook(tmp_path):
    with pytest.raises(ValueError, match="not a notebook"):
        refresh([tmp_path / "missing.ipynb"])


def test_solution_blocks_become_placeholders_at_their_indentation():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\nprint(1)"
    assert blank_solutions(source) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\nprint(1)"
    )


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("# BEGIN SOLUTION\nx = 1", "has no"),
        ("x = 1\n# END SOLUTION", "without a"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
        ("if x:\n    # BEGIN SOLUTION\n    y = 1\n# END SOLUTION", "not indented"),
    ],
)
def test_unbalanced_solution_markers_are_reported(source, complaint):
    with pytest.raises(ValueError, match=complaint):
        solution_blocks(source, "lesson, cell 3")


def test_cells_that_use_an_exercise_are_found_and_independent_ones_are_not():
    exercises, dependent = exercise_cells(lesson_notebook())
    assert exercises == {3, 5}
    assert dependent == {4, 6, 7, 8}  # checks, `ring = area(...)`, and `print(ring)` after it


def test_a_class_scaffold_defines_its_class_and_only_using_it_raises():
    # Lessons give the class line, docstring and method signatures; only the bodies are blanks.
    scaffold = (
        "class Gate:\n"
        '    """Doubles its input."""\n\n'
        "    def __init__(self, scale: int = 2) -> None:\n"
        "        # BEGIN SOLUTION\n"
        "        self.scale = scale\n"
        "        # END SOLUTION\n\n"
        "    def forward(self, x):\n"
        "        # BEGIN SOLUTION\n"
        "        return self.scale * x\n"
        "        # END SOLUTION"
    )
    nb = new_notebook(
        cells=[
            new_code_cell(scaffold),
            new_code_cell("# NBVAL_CHECK_OUTPUT\ncheck(Gate)"),
            new_code_cell("gate = Gate()"),
        ]
    )
    assert exercise_cells(nb) == ({0}, {1, 2})
    student = blank_solutions(scaffold)
    assert "self.scale" not in student and student.count("raise NotImplementedError") == 2
    namespace: dict = {}
    exec(compile(student, "student", "exec"), namespace)  # the class line still defines Gate
    assert namespace["Gate"].__doc__ == "Doubles its input."
    with pytest.raises(NotImplementedError):
        namespace["Gate"]()


def test_a_solution_block_holding_whole_definitions_keeps_their_headers_and_docstrings():
    # A lesson may put a whole class between the markers; its stub still has the class line,
    # the comments and docstrings, the method signatures and super().__init__().
    source = (
        "# BEGIN SOLUTION\n"
        "class Gate(nn.Module):\n"
        "    # y = s * x  (the lesson's equation)\n\n"
        "    def __init__(self, scale: int = 2) -> None:\n"
        '        """Doubles by default."""\n'
        "        super().__init__()\n"
        "        self.scale = scale\n\n"
        "    def forward(self, x):\n"
        "        return self.scale * x\n\n\n"
        "def helper(x):\n"
        "    return x\n"
        "# END SOLUTION"
    )
    assert blank_solutions(source) == (
        "class Gate(nn.Module):\n"
        "    # y = s * x  (the lesson's equation)\n\n"
        "    def __init__(self, scale: int = 2) -> None:\n"
        '        """Doubles by default."""\n'
        "        super().__init__()\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError\n\n"
        "    def forward(self, x):\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError\n\n\n"
        "def helper(x):\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError"
    )


def test_a_solution_block_mixing_definitions_and_statements_is_blanked_whole():
    source = "# BEGIN SOLUTION\ndef helper(x):\n    return x\nanswer = helper(2)\n# END SOLUTION"
    assert blank_solutions(source) == "# YOUR CODE HERE\nraise NotImplementedError"


def test_student_copy_hides_every_solution(refreshed):
    text = (refreshed / "notebooks" / "student" / "01_demo.ipynb").read_text()
    for secret in (*SECRETS, "BEGIN SOLUTION", "END SOLUTION"):
        assert secret not in text
    assert text.count("# YOUR CODE HERE") == 2 and text.count("raise NotImplementedError") == 2


def test_student_copy_tags_exercises_and_their_dependents_and_keeps_the_rest(refreshed):
    lesson = read(refreshed / "notebooks" / "01_demo.ipynb")
    copy = read(refreshed / "notebooks" / "student" / "01_demo.ipynb")
    tagged = {i for i, c in enumerate(copy.cells) if RAISES in c.metadata.get("tags", [])}
    assert tagged == {3, 4, 5, 6, 7, 8}
    assert all(copy.cells[i].outputs == [] for i in tagged)
    assert copy.cells[9].outputs == lesson.cells[9].outputs  # the independent check stays
    assert "blob/main/notebooks/student/01_demo.ipynb" in copy.cells[0].source


def test_student_copy_runs_its_exercises_raise_and_later_cells_still_run(refreshed):
    from nbclient import NotebookClient

    folder = refreshed / "notebooks" / "student"
    copy = read(folder / "01_demo.ipynb")
    NotebookClient(
        copy, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    errors = {
        i: c.outputs[-1].ename
        for i, c in enumerate(copy.cells)
        if c.get("outputs") and c.outputs[-1].output_type == "error"
    }
    assert errors == {
        3: "NotImplementedError",
        4: "NameError",
        6: "NotImplementedError",
        7: "NameError",
        8: "NameError",
    }
    assert "independent 4.0" in outputs_text(copy.cells[9])


def run_nbval(root: Path, notebook: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", notebook],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "BAM_FAST": "1"},
    )


@pytest.mark.integration  # nbval runs twice, each in a pytest of its own
def test_student_copy_passes_nbval_which_still_compares_the_independent_check(refreshed):
    result = run_nbval(refreshed, "notebooks/student/01_demo.ipynb")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "9 passed" in result.stdout  # one test per code cell

    tampered = refreshed / "tampered"
    (tampered / "notebooks").mkdir(parents=True)
    nb = read(refreshed / "notebooks" / "student" / "01_demo.ipynb")
    nb.cells[9].outputs[0].text = "independent 5.0 1\n"
    write(nb, tampered / "notebooks" / "01_demo.ipynb")
    result = run_nbval(tampered, "notebooks/01_demo.ipynb")
    assert result.returncode == 1 and "1 failed, 8 passed" in result.stdout


def test_student_is_idempotent_and_check_finds_a_stale_copy(refreshed):
    assert write_copies(refreshed) == []
    cli.main(["--root", str(refreshed), "student", "--check"])
    lesson = refreshed / "notebooks" / "01_demo.ipynb"
    original = lesson.read_text()
    try:
        nb = read(lesson)
        nb.cells.append(new_markdown_cell("## Summary"))
        write(nb, lesson)
        with pytest.raises(BamError, match="out of date: notebooks/student/01_demo.ipynb"):
            cli.main(["--root", str(refreshed), "student", "--check"])
    finally:
        lesson.write_text(original)
    assert write_copies(refreshed, check=True) == []


def test_committed_student_copies_match_the_lessons():
    stale = [p.relative_to(REPO_ROOT).as_posix() for p in write_copies(check=True)]
    assert stale == [], f"out of date: {stale}; run `python -m tools.course student` (make student)"


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/someone/my-course",
        "https://github.com/someone/my-course.git",
        "https://github.com/someone/my-course/",
    ],
)
def test_set_repo_rewrites_pyproject_badges_install_cells_and_readme(tmp_path, url):
    lesson = make_tree(tmp_path)
    refresh([lesson], run=False)
    write_copies(tmp_path)
    cli.main(["--root", str(tmp_path), "set-repo", url])
    new = "https://github.com/someone/my-course"
    assert repository(tmp_path) == new
    for path in (
        lesson,
        tmp_path / "notebooks" / "student" / "01_demo.ipynb",
        tmp_path / "README.md",
    ):
        text = path.read_text()
        assert "bam-course/bam-course" not in text.replace(OTHER_REPO, ""), path
        assert "colab.research.google.com/github/someone/my-course/blob/main/notebooks/" in text
    assert f"git+{new}" in lesson.read_text()
    readme = (tmp_path / "README.md").read_text()
    assert f"git clone {new}.git" in readme and f"pip install {new}/archive/main.zip" in readme
    assert f"Not ours: {OTHER_REPO}\n" in readme
    assert write_copies(tmp_path, check=True) == []  # lesson and copy were rewritten alike


@pytest.mark.parametrize(
    "url",
    [
        "http://github.com/someone/repo",
        "https://gitlab.com/someone/repo",
        "https://github.com/someone",
        "https://github.com/someone/repo/tree/main",
        "git@github.com:someone/repo.git",
        "",
    ],
)
def test_set_repo_rejects_addresses_that_are_not_github_repositories(tmp_path, url):
    make_tree(tmp_path)
    before = (tmp_path / "pyproject.toml").read_text()
    with pytest.raises(ValueError, match="expected https://github.com/OWNER/REPO"):
        cli.main(["--root", str(tmp_path), "set-repo", url])
    assert (tmp_path / "pyproject.toml").read_text() == before


def test_checked_print_chunks_are_stored_as_one_output():
    # A kernel may deliver one print in several stream messages; the stored text must not
    # depend on how it was split, or every refresh would change the committed file.
    chunks = [nbformat.v4.new_output("stream", name="stdout", text=t) for t in ("ab", "c\n")]
    kept = checked_outputs(chunks, 1, "cell 1", allow_errors=False)
    assert [o["text"] for o in kept] == ["abc\n"]


def test_the_command_line_runs_from_the_checkout_and_lists_its_commands():
    result = subprocess.run(
        [sys.executable, "-m", "tools.course", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m tools.course")
    for command in ("refresh", "strip", "student", "set-repo"):
        assert re.search(rf"^\s+{command}\s+\w", result.stdout, re.MULTILINE), command
