"""The rules a committed lesson or student copy follows (docs/authoring.md), as a list of faults."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from .layout import REPO_ROOT, STUDENT_DIR
from .notebook import KERNELSPEC, caption, clean, dumps, is_check_cell
from .repo import BADGE, colab_link, install_line, repository
from .solutions import BEGIN, END, solution_blocks

# A line that calls an exercise check: ``checks.check_x(...)`` or ``check_x(...)``.
CHECK_CALL = re.compile(r"\bchecks\.\w+\(|\bcheck_\w+\(")
SHOWS_FIGURE = re.compile(r"\bplt\.show\(\)")


def problems(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """What is wrong with a committed lesson or student copy (empty when it follows the rules).

    The rules are those of docs/authoring.md: clean (``strip`` changes nothing), the python3
    kernelspec, a first markdown cell with the title and the Colab badge of this very notebook in
    this repository, the Colab install cell second, balanced solution markers in code cells only
    (none in a student copy), a check cell after every exercise, a caption for every figure,
    and at least one checked output.
    """
    path = Path(path)
    relpath = path.resolve().relative_to(root.resolve()).as_posix()
    is_student = path.parent.name == STUDENT_DIR
    repo = repository(root)
    found = []
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as err:
        found.append(f"not a valid nbformat 4 notebook: {err.message}")
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        found.append(f"metadata.kernelspec must be {KERNELSPEC} (else Jupyter asks for a kernel)")
    try:
        if dumps(clean(copy.deepcopy(nb), relpath)) != text:
            found.append(
                f"not clean (outputs, execution counts or metadata): run "
                f"`python -m tools.course strip {relpath}` or `refresh`"
            )
    except ValueError as err:
        found.append(str(err))
    cells = nb.cells
    first = cells[0] if cells else None
    if first is None or first.cell_type != "markdown":
        found.append("the first cell must be markdown: title, Open in Colab badge, goals")
    else:
        number = path.name[:2]
        if not re.match(rf"#\s+{number}\s+·\s+\S", first.source):
            found.append(f"the first cell must start with the title '# {number} · Title'")
        badge = BADGE.search(first.source)
        want = colab_link(relpath, repo)
        if not badge:
            found.append(f"the first cell has no Open in Colab badge linking to {want}")
        elif badge.group("link") != want:
            found.append(f"the Colab badge links to {badge.group('link')}, expected {want}")
    if len(cells) < 2 or cells[1].cell_type != "code" or install_line(repo) not in cells[1].source:
        found.append(f"the second cell must be the Colab set-up cell with `{install_line(repo)}`")
    checked = 0
    for index, cell in enumerate(cells):
        where = f"cell {index}"
        marked = any(line.strip() in (BEGIN, END) for line in cell.source.splitlines())
        if cell.cell_type != "code":
            if marked:
                found.append(f"{where}: solution markers in a {cell.cell_type} cell")
            continue
        checked += is_check_cell(cell)
        if SHOWS_FIGURE.search(cell.source) and not caption(cell):
            found.append(
                f"{where}: shows a figure without a caption: set its metadata "
                "mystnb.figure.caption to what the figure shows"
            )
        if is_student:
            if marked:
                found.append(f"{where}: solution markers in a student copy")
            continue
        try:
            blocks = solution_blocks(cell.source, where)
        except ValueError as err:
            found.append(str(err))
            continue
        following = next((c for c in cells[index + 1 :] if c.cell_type == "code"), None)
        if blocks and (following is None or not CHECK_CALL.search(following.source)):
            found.append(f"{where}: the code cell after an exercise must call a bam.checks check")
        if is_check_cell(cell) and cell.get("execution_count") is None:
            found.append(
                f"{where}: '# NBVAL_CHECK_OUTPUT' cell has no stored output, so nbval checks "
                f"nothing: run `python -m tools.course refresh {relpath}`"
            )
    if not is_student and not checked:
        found.append("no '# NBVAL_CHECK_OUTPUT' cell: a lesson checks at least one output")
    return found
