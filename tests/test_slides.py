"""Slides: where slides start, the marks written into lessons, and an offline deck per lesson."""

from __future__ import annotations

import re

import nbformat
import pytest

from tools import slides
from tools.course.layout import REPO_ROOT
from tools.course.notebook import clean, dumps, read
from tools.course.solutions import BEGIN
from tools.course.student import exercise_cells, make_student

LESSON = REPO_ROOT / "notebooks" / "01_channel_attention.ipynb"


def notebook(*cells: tuple[str, str]) -> nbformat.NotebookNode:
    make = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    return nbformat.v4.new_notebook(cells=[make[kind](source) for kind, source in cells])


def test_a_slide_starts_at_the_title_and_each_section_code_gets_a_sub_slide():
    nb = notebook(
        ("markdown", "# 01 · Title\n\ngoals"),
        ("code", 'import sys\n\nif "google.colab" in sys.modules:\n    %pip install x'),
        ("code", "import torch"),
        ("markdown", "## A section\n\ntext"),
        ("markdown", "more text on the same slide"),
        ("code", "plot()"),
        ("code", "table()"),
        ("markdown", "what the figure shows"),
        ("markdown", "### A sub-section"),
        ("markdown", "  ## an indented heading still opens a section"),
        ("markdown", "#hashtag, not a heading"),
    )
    assert slides.slide_types(nb) == [
        "slide", "skip", "subslide", "slide", "-", "subslide", "subslide", "subslide",
        "subslide", "slide", "-",
    ]  # fmt: skip


def test_marking_a_lesson_is_deterministic_and_keeps_it_clean(tmp_path):
    copy = tmp_path / LESSON.name
    unmarked = read(LESSON)
    for cell in unmarked.cells:
        cell.metadata.pop("slideshow", None)
    copy.write_text(dumps(clean(unmarked, copy.name)), encoding="utf-8")
    assert slides.mark_files([copy]) == [copy]
    assert copy.read_text(encoding="utf-8") == LESSON.read_text(encoding="utf-8")  # as committed
    text = copy.read_text(encoding="utf-8")
    assert slides.mark_files([copy]) == []  # the same marks again: nothing changes
    nb = read(copy)
    assert dumps(clean(nbformat.from_dict(nb), copy.name)) == text
    kinds = [cell.metadata["slideshow"]["slide_type"] for cell in nb.cells]
    assert kinds == slides.slide_types(read(LESSON))
    assert kinds.count("slide") == 1 + sum(
        c.cell_type == "markdown" and c.source.startswith("## ") for c in nb.cells
    )
    # The student copy made from a marked lesson keeps the marks.
    student = make_student(nb, copy.name)
    assert [c.metadata["slideshow"]["slide_type"] for c in student.cells] == kinds


def test_marks_already_in_a_lesson_are_used_as_they_are():
    nb = read(LESSON)
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": "-"}
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    shown = slides.for_slides(nb, LESSON.name)
    assert all(c.metadata["slideshow"]["slide_type"] == "-" for c in shown.cells[1:])


def test_slides_show_the_stub_not_the_solution_and_no_test_markers():
    nb = read(LESSON)
    (index,) = exercise_cells(nb)[0]
    shown = slides.for_slides(nb, LESSON.name)
    assert BEGIN not in shown.cells[index].source
    assert "self.mlp" not in shown.cells[index].source
    assert "raise NotImplementedError" in shown.cells[index].source
    assert not any("NBVAL_CHECK_OUTPUT" in c.source for c in shown.cells)
    assert "NBVAL_CHECK_OUTPUT" in "".join(c.source for c in nb.cells)  # the lesson is unchanged


def test_the_command_line_explains_a_bad_notebook(tmp_path):
    with pytest.raises(ValueError, match="not a notebook file"):
        slides.main(["build", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path)])


@pytest.fixture(scope="module")
def deck(tmp_path_factory):
    """Lesson 01 in fast mode, unmarked, built into a temporary folder."""
    out = tmp_path_factory.mktemp("slides")
    slides.main(["build", str(LESSON), "--out", str(out), "--fast"])
    return out, (out / f"{LESSON.stem}.slides.html").read_text(encoding="utf-8")


@pytest.mark.integration  # nbconvert builds a reveal.js deck from a run of lesson 01
def test_a_deck_has_a_slide_per_section_and_the_figures_of_the_run(deck):
    _, page = deck
    nb = read(LESSON)
    sections = 1 + sum(c.cell_type == "markdown" and c.source.startswith("## ") for c in nb.cells)
    # reveal.js nests: one outer <section> per slide, each holding its sub-slides.
    outer = re.findall(r'<section\s+data-slide-type="slide"|<section>\s*<section', page)
    assert page.count("<section") >= sections and len(outer) >= 1
    figures = sum(
        "plt.show()" in c.source for c in nb.cells if c.cell_type == "code"
    )  # the lesson's figure cells
    assert page.count("data:image/png;base64,") >= figures > 0
    assert "Running on cpu" in page  # outputs of the executed run
    assert "google.colab" not in page  # the set-up cell is skipped


@pytest.mark.integration  # nbconvert builds a reveal.js deck from a run of lesson 01
def test_a_deck_loads_nothing_from_the_network(deck):
    out, page = deck
    # What a browser fetches to show the page: scripts, images, style sheets (not links).
    loaded = re.findall(r'src="([^"]+)"|<link[^>]*href="([^"]+)"', page)
    loaded = [a or b for a, b in loaded]
    assert loaded and not [url for url in loaded if re.match(r"(https?:)?//", url)]
    for url in loaded:
        if not url.startswith(("#", "data:")):
            assert (out / url.split("?")[0]).is_file(), url
    index = (out / "index.html").read_text()
    assert f'<a href="{LESSON.stem}.slides.html">01 · Channel attention</a>' in index
