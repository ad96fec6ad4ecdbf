"""Slides to teach from: one reveal.js deck per lesson, with the figures of a real run, offline.

    python -m tools.slides build [NOTEBOOK ...] [--out DIR] [--fast]     (make slides)
    python -m tools.slides mark NOTEBOOK [NOTEBOOK ...]                   write the slide marks

``build`` runs each lesson (default: every lesson in notebooks/) in a fresh kernel in a copy,
then converts it with nbconvert's slides exporter into ``DIR/NN_topic.slides.html`` (default
``build/slides``), next to ``DIR/index.html`` and the reveal.js and MathJax files the decks load
from ``DIR/_assets``: open ``index.html`` from disk, no server and no network. Figures are
embedded in the decks. On the slides an exercise shows the stub the learners get, not its
solution, and the test marker ``# NBVAL_CHECK_OUTPUT`` is left out. Without ``--fast`` a lesson
runs its real workload, so build on the machine you teach from, after the heavy results are
cached (see docs/instructors.md); ``--fast`` (``BAM_FAST=1``) is for checking the tooling.

Where slides start comes from each cell's ``slideshow`` metadata. A lesson without any is
marked in the copy by ``slide_types``; ``mark`` writes the same marks into the lessons:
a new slide at the title and at every ``#`` or ``##`` section, a sub-slide (reveal.js's downward
slides) at every ``###`` heading and every code cell, so that code and its figure get the screen,
and at the prose that follows a code cell; the Colab set-up cell is skipped.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
from collections.abc import Sequence
from html import escape
from pathlib import Path

import nbformat

from bam import cli
from bam.cli import error_line
from bam.errors import BamError
from tools.course import layout, notebook
from tools.course.repo import BADGE
from tools.course.solutions import blank_solutions
from tools.course.student import exercise_cells

DEFAULT_OUT = layout.REPO_ROOT / "build" / "slides"
TEMPLATES = Path(__file__).resolve().parent / "templates"
CELL_TIMEOUT_S = 1800
SETUP_CELL = re.compile(r"""["']google\.colab["']\s+in\s+sys\.modules""")
CHECK_MARKER = re.compile(r"^\s*#\s*NBVAL_CHECK_OUTPUT\s*\n?", re.MULTILINE)
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


# ---------------------------------------------------------------- where slides start


def slide_types(nb: nbformat.NotebookNode) -> list[str]:
    """The reveal.js slide type of every cell, by the rule in the module docstring."""
    types, previous = [], None
    for index, cell in enumerate(nb.cells):
        heading = cell.source.lstrip().split("\n", 1)[0] if cell.cell_type == "markdown" else ""
        if cell.cell_type == "code" and SETUP_CELL.search(cell.source):
            kind = "skip"
        elif index == 0 or re.match(r"#{1,2}\s", heading):
            kind = "slide"
        elif re.match(r"#{3,}\s", heading) or cell.cell_type == "code" or previous == "code":
            kind = "subslide"
        else:
            kind = "-"
        types.append(kind)
        if kind != "skip":
            previous = cell.cell_type
    return types


def is_marked(nb: nbformat.NotebookNode) -> bool:
    return any("slideshow" in cell.metadata for cell in nb.cells)


def mark(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Set every cell's ``slideshow`` metadata by ``slide_types`` (in place); returns ``nb``."""
    for cell, kind in zip(nb.cells, slide_types(nb), strict=True):
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def mark_files(paths: Sequence[Path]) -> list[Path]:
    """Write the marks into the lesson files; returns those that changed."""
    changed = []
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"{path}: not a notebook file (expected an existing .ipynb)")
        if notebook.write(mark(notebook.read(path)), path):
            changed.append(path)
    return changed


# ---------------------------------------------------------------- building the decks


def assets(out: Path) -> tuple[str, str]:
    """Copy reveal.js and MathJax into ``out/_assets`` once; their URLs relative to a deck."""
    try:
        import jupyter_server_mathjax
        import sphinx_revealjs
    except ImportError:
        raise ValueError(
            "the slides need reveal.js and MathJax files: pip install -e '.[teach]'"
        ) from None
    sources = {
        "reveal.js": Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs",
        "mathjax": Path(jupyter_server_mathjax.__file__).parent / "static",
    }
    for name, source in sources.items():
        target = out / "_assets" / name
        if not target.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.scss", "*.map"))
    return "_assets/reveal.js", f"_assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"


def execute(nb: nbformat.NotebookNode, cwd: Path, fast: bool, timeout_s: int) -> None:
    """Run ``nb`` in place in a fresh ``python3`` kernel with working directory ``cwd``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = os.pathsep.join(p for p in (str(layout.REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    if fast:
        env["BAM_FAST"] = "1"
    client = NotebookClient(
        nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as err:
        raise RuntimeError(error_line(err)) from None


def for_slides(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """An executed lesson as the slides show it: stubs for solutions, no test markers, no
    Colab badge."""
    nb = copy.deepcopy(nb)
    if not is_marked(nb):
        mark(nb)
    exercises, _ = exercise_cells(nb, name)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":  # the Colab badge is an image from the network
            cell.source = BADGE.sub("", cell.source)
        if index in exercises:
            cell.source = blank_solutions(cell.source, f"{name}, cell {index}")
        if cell.cell_type == "code":
            cell.source = CHECK_MARKER.sub("", cell.source)
    return nb


def deck(nb: nbformat.NotebookNode, reveal: str, mathjax: str) -> str:
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        template_name="bam_reveal",
        extra_template_basedirs=[str(TEMPLATES)],
        reveal_url_prefix=reveal,
        mathjax_url=mathjax,
        reveal_width="1280",
        reveal_height="800",
        reveal_transition="none",
        reveal_theme="white",  # its fonts ship with reveal.js; "simple" loads Google's
    )
    heading = re.match(r"#\s+(.+)", nb.cells[0].source) if nb.cells else None
    title = heading.group(1).strip() if heading else "Lesson"
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


def build(
    lessons: Sequence[Path], out: Path, fast: bool = False, timeout_s: int = CELL_TIMEOUT_S
) -> tuple[list[Path], dict[str, str]]:
    """Write a deck per lesson and an index into ``out``; returns the decks and the failures."""
    out.mkdir(parents=True, exist_ok=True)
    reveal, mathjax = assets(out)
    written, failed = [], {}
    for lesson in lessons:
        print(f"running {lesson.name}{' (BAM_FAST=1)' if fast else ''} ...", flush=True)
        nb = notebook.read(lesson)
        if not is_marked(nb):
            mark(nb)  # in this copy only; `mark` writes them into the lesson
        try:
            execute(nb, lesson.resolve().parent, fast, timeout_s)
        except RuntimeError as err:
            failed[lesson.name] = str(err)
            print(f"  {lesson.name} failed, no deck: {err}", file=sys.stderr)
            continue
        target = out / f"{lesson.stem}.slides.html"
        target.write_text(deck(for_slides(nb, lesson.name), reveal, mathjax), encoding="utf-8")
        written.append(target)
    write_index(out)
    return written, failed


def write_index(out: Path) -> None:
    """``out/index.html``: a link to every deck in the folder."""
    items = []
    for path in sorted(out.glob("*.slides.html")):
        title = re.search(r"<title>(.*?) slides</title>", path.read_text(encoding="utf-8"))
        label = title.group(1) if title else path.stem
        items.append(f'<li><a href="{escape(path.name)}">{label}</a></li>')
    (out / "index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>BAM course: slides</title></head>\n<body><h1>BAM course: slides</h1>\n<ul>\n"
        + "\n".join(items)
        + "\n</ul></body></html>\n",
        encoding="utf-8",
    )


# ---------------------------------------------------------------- command line


PROG = "python -m tools.slides"


def main(argv: Sequence[str] | None = None) -> None:
    """Build the decks or mark the lessons; ValueError for a path that is not a lesson, a
    ``BamError`` when a lesson failed to run (``bam.cli.run`` reports either in one line)."""
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("build", help="run the lessons and write a reveal.js deck for each")
    cmd.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK")
    cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the decks")
    cmd.add_argument("--fast", action="store_true", help="run in fast mode (BAM_FAST=1)")
    cmd.add_argument(
        "--timeout", type=cli.positive_int, default=CELL_TIMEOUT_S, help="seconds per cell"
    )
    cmd = sub.add_parser("mark", help="write the slide marks into lesson notebooks")
    cmd.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    args = parser.parse_args(argv)
    if args.command == "mark":
        changed = mark_files(args.notebooks)
        for path in args.notebooks:
            print(f"{path}: {'marked' if path in changed else 'unchanged'}")
        return
    lessons = args.notebooks or layout.lessons()
    missing = [p for p in lessons if p.suffix != ".ipynb" or not p.is_file()]
    if missing:
        raise ValueError(f"{missing[0]}: not a notebook file (expected an existing .ipynb)")
    written, failed = build(lessons, args.out, args.fast, args.timeout)
    print(f"{len(written)} decks in {args.out}; open {args.out / 'index.html'}")
    if failed:
        raise BamError(f"no deck for {', '.join(failed)}: the lesson failed to run (see above)")


if __name__ == "__main__":
    cli.run(main, PROG)
