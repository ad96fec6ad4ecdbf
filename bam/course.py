"""Course tooling: clean lesson notebooks, generate student copies, point the course at a fork.

    python -m bam.course refresh NOTEBOOK [NOTEBOOK ...]   run in fast mode, keep checked outputs
    python -m bam.course strip NOTEBOOK [NOTEBOOK ...]     the same cleaning, without running
    python -m bam.course student [--check]                 write (or verify) notebooks/student/
    python -m bam.course set-repo https://github.com/OWNER/REPO

Clean notebooks. A committed notebook keeps outputs only in code cells marked
``# NBVAL_CHECK_OUTPUT``, which nbval compares on every run. Those cells also keep an execution
count (their position among the code cells): nbval skips the comparison for a cell without one.
Every other output, execution count and per-cell metadata (timings, scroll state) is dropped, the
kernelspec is set to ``python3`` and the file is written as nbformat 4, indent 1, trailing
newline, so that re-running a lesson changes nothing in git unless a checked output changed.

Student copies. ``notebooks/student/NN_x.ipynb`` is made from ``notebooks/NN_x.ipynb``: every
region from a ``# BEGIN SOLUTION`` line to its ``# END SOLUTION`` line becomes, at the indentation
of the ``BEGIN`` line, ``# YOUR CODE HERE`` and ``raise NotImplementedError``. The copy must still
pass ``pytest --nbval-lax``, although every unfinished exercise raises. So the generator follows
the names a cell defines: a cell with a solution region (the exercise) taints every module-level
name it binds; a later cell that reads a tainted name (the check right after the exercise, a
plot that uses the learner's layer, ...) depends on the exercise and taints what it binds in
turn. Exercise cells and dependent cells get the ``raises-exception`` tag, which nbval (and
nbclient) honour: an error there does not fail the run, and the cells after them still run.
Their outputs and execution counts are dropped, so nbval does not compare outputs that the
unfinished exercise changes; every other checked output is kept and still compared. Solution
text never reaches the copy: the regions are replaced, and the outputs of the cells that ran
them are dropped.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
CELL_TIMEOUT_S = 300
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
STUDENT_DIR = "student"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"
RAISES = "raises-exception"
# Per-cell metadata worth keeping; everything else (execution timings, scroll state) goes.
KEPT_CELL_METADATA = ("tags", "slideshow")
MEMORY_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
GITHUB_URL = re.compile(
    r"^https://github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]*))/([A-Za-z0-9._-]+?)(?:\.git)?/?$"
)
COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s\"')]+/[^/\s\"')]+/blob/"
)
INSTALL_LINK = re.compile(r"bam-course @ git\+https://github\.com/[^/\s\"'@]+/[^/\s\"'@\\]+")
CHECK_CALL = re.compile(r"\bchecks\.\w+\(|\bcheck_\w+\(")
REPOSITORY_LINE = re.compile(r'^(Repository\s*=\s*)"([^"]*)"', re.MULTILINE)


# ---------------------------------------------------------------- cleaning


def is_check_cell(cell: dict) -> bool:
    """True for a code cell that nbval compares: a comment line ``# NBVAL_CHECK_OUTPUT``."""
    if cell.get("cell_type") != "code":
        return False
    return any(
        line.strip().startswith("#") and line.strip().lstrip("#").strip() == "NBVAL_CHECK_OUTPUT"
        for line in cell.get("source", "").splitlines()
    )


def _clean_check_outputs(outputs: list, count: int, where: str, allow_errors: bool) -> list:
    """Text-only copies of a checked cell's outputs; refuse what nbval could not compare stably."""
    kept = []
    for out in outputs:
        kind = out["output_type"]
        if kind == "stream":
            if out["name"] != "stdout":
                raise ValueError(
                    f"{where}: a '# NBVAL_CHECK_OUTPUT' cell writes to {out['name']} "
                    f"({out['text'][:80]!r}); warnings and progress bars differ between runs. "
                    "Move that code out of the checked cell or silence it."
                )
            text = out["text"]
            if kept and kept[-1]["output_type"] == "stream":
                # The kernel splits one print into chunks differently from run to run.
                kept[-1]["text"] += text
            else:
                kept.append(nbformat.v4.new_output("stream", name="stdout", text=text))
        elif kind in ("execute_result", "display_data"):
            if "text/plain" not in out.get("data", {}):
                continue  # images and widgets: nbval does not compare them, git need not hold them
            text = out["data"]["text/plain"]
            if kind == "execute_result":
                kept.append(
                    nbformat.v4.new_output(kind, {"text/plain": text}, execution_count=count)
                )
            else:
                kept.append(nbformat.v4.new_output(kind, {"text/plain": text}))
        elif kind == "error":
            if not allow_errors:
                raise ValueError(
                    f"{where}: a '# NBVAL_CHECK_OUTPUT' cell holds an error "
                    f"({out['ename']}: {out['evalue']}); fix it or tag the cell "
                    f"'{RAISES}' if the error is the lesson."
                )
            kept.append(nbformat.v4.new_output("error", ename=out["ename"], evalue=out["evalue"]))
            text = f"{out['ename']}: {out['evalue']}"
        else:
            raise ValueError(f"{where}: unknown output type {kind!r}")
        if MEMORY_ADDRESS.search(text):
            raise ValueError(
                f"{where}: a '# NBVAL_CHECK_OUTPUT' output shows a memory address "
                f"({MEMORY_ADDRESS.search(text).group()}), which changes every run. "
                "Print shapes, counts or values instead of the object."
            )
    return kept


def clean(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """Strip ``nb`` in place to what is committed (see the module docstring); returns ``nb``."""
    nb.metadata = nbformat.from_dict(
        {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    )
    ordinal = 0
    for index, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in KEPT_CELL_METADATA if k in cell.metadata}
        )
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        ordinal += 1
        ran = cell.get("execution_count") is not None or bool(cell.get("outputs"))
        if is_check_cell(cell) and ran:
            where = f"{name}, cell {index}"
            allow = RAISES in cell.metadata.get("tags", [])
            cell.execution_count = ordinal
            cell.outputs = _clean_check_outputs(cell.outputs, ordinal, where, allow)
        else:
            cell.execution_count = None
            cell.outputs = []
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """The committed text of ``nb``: nbformat 4, indent 1, sorted keys, trailing newline."""
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Write ``nb`` to ``path``; True if the file changed."""
    text = dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def execute(nb: nbformat.NotebookNode, folder: Path, name: str) -> None:
    """Run every cell of ``nb`` in a fresh ``python3`` kernel, cwd ``folder``, ``BAM_FAST=1``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute(env={**os.environ, "BAM_FAST": "1"})
    except (CellExecutionError, CellTimeoutError) as err:
        raise RuntimeError(f"{name} failed while running; nothing was written.\n{err}") from None


def refresh(paths: Iterable[Path], run: bool = True) -> list[Path]:
    """Run (if ``run``) and clean each notebook; returns the files that changed."""
    changed = []
    for path in map(Path, paths):
        if path.suffix != ".ipynb" or not path.is_file():
            raise ValueError(f"{path}: not a notebook file (expected an existing .ipynb)")
        nb = read(path)
        if run:
            print(f"running {path} (BAM_FAST=1) ...", flush=True)
            execute(nb, path.resolve().parent, str(path))
        clean(nb, str(path))
        if write(nb, path):
            changed.append(path)
    return changed


# ---------------------------------------------------------------- student copies


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def solution_blocks(source: str, where: str = "cell") -> list[tuple[int, int]]:
    """``(begin, end)`` line indices of each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block."""
    blocks, begin = [], None
    for number, line in enumerate(source.splitlines()):
        if line.strip() == BEGIN:
            if begin is not None:
                raise ValueError(f"{where}: '{BEGIN}' on line {number + 1} inside another block")
            begin = number
        elif line.strip() == END:
            if begin is None:
                raise ValueError(f"{where}: '{END}' on line {number + 1} without a '{BEGIN}'")
            if _indent(line) != _indent(source.splitlines()[begin]):
                raise ValueError(
                    f"{where}: '{END}' on line {number + 1} is not indented as its BEGIN"
                )
            blocks.append((begin, number))
            begin = None
    if begin is not None:
        raise ValueError(f"{where}: '{BEGIN}' on line {begin + 1} has no '{END}'")
    return blocks


def blank_solutions(source: str, where: str = "cell") -> str:
    """``source`` with each solution block replaced by ``# YOUR CODE HERE`` + ``raise``.

    A block that holds whole definitions (``class`` and ``def`` statements only) keeps what the
    learner needs to see, and only the bodies are blanked: see ``skeleton``.
    """
    lines = source.splitlines()
    for begin, end in reversed(solution_blocks(source, where)):
        pad = _indent(lines[begin])
        kept = skeleton(lines[begin + 1 : end])
        blank = [f"{pad}# YOUR CODE HERE", f"{pad}raise NotImplementedError"]
        lines[begin : end + 1] = (
            blank if kept is None else [pad + line if line else line for line in kept]
        )
    return "\n".join(lines)


_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def skeleton(lines: Sequence[str]) -> list[str] | None:
    """The stubs of the definitions in ``lines`` (dedented), or None if they hold anything else.

    Each ``class`` or ``def`` keeps its decorators, its header (name, arguments, annotations),
    the comments and docstring that open its body, and, in a method, a first
    ``super().__init__(...)``; a class keeps the stubs of its methods and drops the rest; every
    function body becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError``.
    """
    code = textwrap.dedent("\n".join(lines))
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if not tree.body or not all(isinstance(node, _DEFINITIONS) for node in tree.body):
        return None
    source = code.splitlines()
    out: list[str] = []
    for node in tree.body:
        stub = _stub(node, source)
        if stub is None:
            return None
        out += [*([""] * 2 * bool(out)), *stub]  # two blank lines between top-level stubs
    return out


def _stub(node: ast.AST, source: list[str]) -> list[str] | None:
    first = node.body[0]
    if first.lineno == node.lineno:
        return None  # a one-line definition: nothing to keep apart from its body
    start = (node.decorator_list[0] if node.decorator_list else node).lineno - 1
    body = list(node.body)
    opening = [body.pop(0)] if _is_docstring(first) else []
    if (
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and body
        and _is_super_init(body[0])
    ):
        opening.append(body.pop(0))
    end = opening[-1].end_lineno if opening else first.lineno - 1
    out = [line.rstrip() for line in source[start:end]]  # header, comments, docstring
    while out and not out[-1]:
        out.pop()
    indent = _indent(source[first.lineno - 1])
    if isinstance(node, ast.ClassDef):
        methods = [m for m in body if isinstance(m, _DEFINITIONS)]
        for method in methods:
            stub = _stub(method, source)
            if stub is None:
                return None
            out += ["", *stub]
        if methods:
            return out
    return [*out, f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError"]


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _is_super_init(node: ast.stmt) -> bool:
    call = node.value if isinstance(node, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "__init__"
        and isinstance(call.func.value, ast.Call)
        and isinstance(call.func.value.func, ast.Name)
        and call.func.value.func.id == "super"
    )


def _python(source: str, where: str) -> ast.Module:
    """The cell's code as Python (IPython magics translated), parsed."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError as err:
        raise ValueError(f"{where}: cannot parse the cell ({err.msg}, line {err.lineno})") from None


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bound_names(tree: ast.Module) -> set[str]:
    """Module-level names a cell binds or mutates (``x = ...``, ``def f``, ``x.a = ...``)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, _SCOPES + _COMPREHENSIONS):
            if not isinstance(node, (ast.Lambda, *_COMPREHENSIONS)):
                names.add(node.name)  # the body binds locals only
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Attribute | ast.Subscript) and isinstance(
            node.ctx, ast.Store | ast.Del
        ):
            root = node
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name):
                names.add(root.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def _read_names(tree: ast.Module) -> set[str]:
    """Every name a cell reads, in function bodies too (they run when called)."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def exercise_cells(nb: nbformat.NotebookNode, name: str = "notebook") -> tuple[set[int], set[int]]:
    """Indices of the exercise cells and of the cells that depend on them (see module docstring)."""
    exercises, dependent, tainted = set(), set(), set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"{name}, cell {index}"
        if solution_blocks(cell.source, where):
            exercises.add(index)
            tainted |= _bound_names(_python(cell.source, where))  # what the solution binds
        elif tainted:
            tree = _python(cell.source, where)
            if _read_names(tree) & tainted:
                dependent.add(index)
                tainted |= _bound_names(tree)
    return exercises, dependent


def student_path(lesson: Path) -> Path:
    return lesson.parent / STUDENT_DIR / lesson.name


def make_student(lesson: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student copy of a (clean or not) lesson notebook; the lesson is left unchanged."""
    nb = copy.deepcopy(lesson)
    clean(nb, name)
    exercises, dependent = exercise_cells(nb, name)
    for index in sorted(exercises | dependent):
        cell = nb.cells[index]
        cell.source = blank_solutions(cell.source, f"{name}, cell {index}")
        tags = list(cell.metadata.get("tags", []))
        cell.metadata["tags"] = tags if RAISES in tags else [*tags, RAISES]
        cell.outputs, cell.execution_count = [], None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(
                r"(colab\.research\.google\.com/github/[^)\s]*?/blob/[^)\s]*?notebooks/)(?!student/)",
                rf"\g<1>{STUDENT_DIR}/",
                cell.source,
            )
    return nb


def lessons(root: Path = REPO_ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob(LESSON_GLOB))


def student(root: Path = REPO_ROOT, check: bool = False) -> list[Path]:
    """Write every lesson's student copy; with ``check``, write nothing and list stale copies."""
    stale = []
    for lesson in lessons(root):
        target = student_path(lesson)
        text = dumps(make_student(read(lesson), str(lesson.relative_to(root))))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not check:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
    if root.joinpath("notebooks", STUDENT_DIR).is_dir():
        known = {student_path(lesson).name for lesson in lessons(root)}
        orphans = [
            p
            for p in sorted((root / "notebooks" / STUDENT_DIR).glob("*.ipynb"))
            if p.name not in known
        ]
        stale += orphans
        if not check:
            for orphan in orphans:
                orphan.unlink()
    return stale


# ---------------------------------------------------------------- repository address


def parse_repo(url: str) -> str:
    """``https://github.com/OWNER/REPO`` from a GitHub address (``.git`` or ``/`` allowed)."""
    match = GITHUB_URL.match(url.strip())
    if not match or match.group(2) in (".", ".."):
        raise ValueError(
            f"not a GitHub repository address: {url!r}; "
            "expected https://github.com/OWNER/REPO (e.g. https://github.com/me/bam-course)"
        )
    return f"https://github.com/{match.group(1)}/{match.group(2)}"


def repository(root: Path = REPO_ROOT) -> str:
    """The course's repository: ``[project.urls] Repository`` in ``pyproject.toml``."""
    match = REPOSITORY_LINE.search((root / "pyproject.toml").read_text(encoding="utf-8"))
    if not match:
        raise ValueError(f"{root / 'pyproject.toml'} has no [project.urls] Repository line")
    return match.group(2)


def colab_link(notebook: str, repo: str) -> str:
    """The 'Open in Colab' target for ``notebook`` (a path from the repository root)."""
    slug = repo.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{slug}/blob/main/{notebook}"


def install_line(repo: str) -> str:
    return f'%pip install -q "bam-course @ git+{repo}"'


def set_repo(url: str, root: Path = REPO_ROOT) -> list[Path]:
    """Point pyproject, badges, install cells and README at ``url``; returns the changed files."""
    new = parse_repo(url)
    old = repository(root)
    slug = new.removeprefix("https://github.com/")
    files = [root / "pyproject.toml", root / "README.md"]
    files += lessons(root) + sorted((root / "notebooks" / STUDENT_DIR).glob(LESSON_GLOB))
    changed = []
    for path in files:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == "pyproject.toml":
            updated = REPOSITORY_LINE.sub(lambda m: f'{m.group(1)}"{new}"', text, count=1)
        else:
            updated = COLAB_LINK.sub(f"https://colab.research.google.com/github/{slug}/blob/", text)
            updated = INSTALL_LINK.sub(f"bam-course @ git+{new}", updated)
            old_links = re.compile(re.escape(old) + r"(\.git)?(?![\w-])")  # not a/b-extra
            updated = old_links.sub(lambda m: new + (m.group(1) or ""), updated)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return changed


# ---------------------------------------------------------------- hygiene

BADGE = re.compile(
    r"\[!\[Open in Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
    r"\((?P<link>[^)\s]+)\)"
)


def problems(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """What is wrong with a committed lesson or student copy (empty when it follows the rules).

    The rules are those of docs/authoring.md: clean (``strip`` changes nothing), the python3
    kernelspec, a first markdown cell with the title and the Colab badge of this very notebook in
    this repository, the Colab install cell second, balanced solution markers in code cells only
    (none in a student copy), a check cell after every exercise, and at least one checked output.
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
                f"`python -m bam.course strip {relpath}` or `refresh`"
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
                f"nothing: run `python -m bam.course refresh {relpath}`"
            )
    if not is_student and not checked:
        found.append("no '# NBVAL_CHECK_OUTPUT' cell: a lesson checks at least one output")
    return found


# ---------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bam.course", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="course repository root")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("refresh", "run notebooks in fast mode, keep only '# NBVAL_CHECK_OUTPUT' outputs"),
        ("strip", "clean notebooks without running them"),
    ):
        cmd = sub.add_parser(name, help=helptext)
        cmd.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK")
    cmd = sub.add_parser("student", help="write notebooks/student/ from the lessons")
    cmd.add_argument("--check", action="store_true", help="write nothing; fail if a copy is stale")
    cmd = sub.add_parser("set-repo", help="point the course at https://github.com/OWNER/REPO")
    cmd.add_argument("url")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    try:
        if args.command in ("refresh", "strip"):
            changed = refresh(args.notebooks, run=args.command == "refresh")
            for path in args.notebooks:
                print(f"{path}: {'updated' if path in changed else 'unchanged'}")
        elif args.command == "student":
            stale = student(root, check=args.check)
            names = [p.relative_to(root).as_posix() for p in stale]
            if args.check:
                if stale:
                    print(
                        f"error: student copies out of date: {', '.join(names)}\n"
                        "Run `python -m bam.course student` (make student) and commit the result.",
                        file=sys.stderr,
                    )
                    return 1
                print("student copies up to date")
            else:
                for name in names:
                    print(f"{name}: {'written' if (root / name).exists() else 'removed'}")
                print(f"{len(lessons(root))} student copies, {len(names)} changed")
        else:
            for path in set_repo(args.url, root):
                print(f"{path.relative_to(root).as_posix()}: updated")
            print(f"repository: {repository(root)}")
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
