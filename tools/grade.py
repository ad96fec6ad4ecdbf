"""Grade a class's notebooks: every learner x exercise, without opening thirty notebooks.

    python -m tools.grade DIR [--lesson NN] [--timeout S] [--jobs N]   (make grade SUBMISSIONS=DIR)

``DIR`` holds the learners' copies of ``notebooks/student/NN_*.ipynb``, under any file names,
directly or one level down in per-learner folders (``DIR/alice/lesson.ipynb`` is alice's). The
grader writes ``DIR/grades.csv`` (one row per learner x exercise) and ``DIR/report.html`` (a
coloured table, messages on hover and click) and changes nothing else in ``DIR``.

Which lesson a file is comes from its content: the cells that define an exercise's names, the
untouched stubs, the check calls; the title and the file name only when no exercise is left. The
class's lesson is ``--lesson`` or, without it, the lesson most submissions are.

Each notebook runs in a fresh kernel, in a scratch folder that holds a copy of it, with
``BAM_FAST=1``, network connections refused and one time limit for all the learner's cells and
checks of the notebook (the lesson's own set-up is not counted: it is trusted code). The
kernel runs the lesson's own code, not the learner's: the set-up cells of the student copy that
the exercise needs (found by following the names it reads), then the learner's exercise cell,
then the lesson's check cell (a learner who edited the check still gets the real one). Other
cells the learner wrote or changed never run, so one broken plot or a stray ``sys.exit()``
elsewhere cannot hide a finished exercise. Statuses, per exercise:

    passed          the check ran without raising
    failed          the check raised: its first message line
    not attempted   the exercise cell is still the student copy's stub (decided from the text)
    error           the learner's exercise cell raised: its exception line
    timed out       the notebook's time limit ran out in this exercise (or before it)
    missing         no cell of the notebook defines the exercise (deleted)
    unreadable      the file is empty, not JSON, or not a notebook
    wrong lesson    the notebook is another lesson's, or no lesson's
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import nbformat

from bam import cli
from bam.cli import error_line
from tools import grade_report
from tools.course import cells, notebook
from tools.course.layout import REPO_ROOT, lessons
from tools.course.rules import CHECK_CALL
from tools.course.student import exercise_cells, make_student
from tools.grade_types import Exercise, Lesson, Outcome, Submission

DEFAULT_TIMEOUT_S = 120
KERNEL_START_S = 300
SETUP_TIMEOUT_S = 300  # per cell of the lesson's own set-up, not counted in --timeout
MESSAGE_CHARS = 500  # a check's first line names the fault and the fix; keep both

# First cell of every graded kernel: refuse network connections (a lesson that downloads would
# hang or differ between learners) and leave no helper names behind. It guards against
# accidents; it is not a sandbox against a learner who means harm.
NETWORK_OFF = """\
import socket as _socket

def _refuse(*args, **kwargs):
    raise OSError("network access is off while grading")

for _name in ("connect", "connect_ex"):
    setattr(_socket.socket, _name, _refuse)
_socket.getaddrinfo = _socket.create_connection = _refuse
del _socket, _refuse, _name
"""


# ---------------------------------------------------------------- what the lessons ask


def _names_in_order(tree: ast.Module) -> list[str]:
    """Names the top-level statements define, in order (``class``/``def`` first seen first)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.name)
        elif isinstance(node, ast.Assign):
            found += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return found


def load_lesson(path: Path) -> Lesson:
    """The exercises of the lesson notebook at ``path`` (its student copy is made in memory)."""
    nb = notebook.read(path)
    where = path.name
    student = make_student(nb, where)
    exercises, dependent = exercise_cells(nb, where)
    title = re.match(r"#\s*\d\d\s*·\s*(.+)", nb.cells[0].source) if nb.cells else None
    found = []
    for index in sorted(exercises):
        tree = cells.parse_cell(nb.cells[index].source, f"{where}, cell {index}")
        bound = cells.bound_names(tree)
        ordered = _names_in_order(tree) or sorted(bound)
        check = next(c for c in student.cells[index + 1 :] if c.cell_type == "code").source
        calls = tuple(ln.strip() for ln in check.splitlines() if CHECK_CALL.search(ln))
        setup = tuple(
            cell.source
            for i, cell in enumerate(student.cells[:index])
            if cell.cell_type == "code" and i not in exercises | dependent
        )
        found.append(
            Exercise(
                path.name[:2],
                ordered[0],
                frozenset(bound),
                student.cells[index].source,
                check,
                calls,
                setup,
            )  # fmt: skip
        )
    return Lesson(path.name[:2], title.group(1).strip() if title else path.stem, tuple(found))


def load_lessons(root: Path = REPO_ROOT) -> dict[str, Lesson]:
    """Every lesson with at least one exercise, by number."""
    loaded = (load_lesson(p) for p in lessons(root))
    return {lesson.number: lesson for lesson in loaded if lesson.exercises}


# ---------------------------------------------------------------- reading a submission


class Unreadable(Exception):
    """The file is not a notebook; the message says what it is instead."""


def read_submission(path: Path) -> nbformat.NotebookNode:
    data = path.read_bytes()
    if not data.strip():
        raise Unreadable("empty file")
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Unreadable(f"not JSON ({err}); was the notebook saved completely?") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise Unreadable("JSON, but not a notebook (no list of cells)")
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as err:  # nbformat raises several types for malformed notebooks
        raise Unreadable(f"not a readable notebook ({type(err).__name__}: {err})") from None


def _normal(source: str) -> str:
    """Source with trailing spaces and surrounding blank lines removed, for comparing text."""
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _binds(source: str, names: frozenset[str]) -> bool:
    """True if the cell binds any of ``names`` at module level (by regex if it does not parse)."""
    try:
        return bool(cells.bound_names(cells.parse_cell(source, "cell")) & names)
    except ValueError:  # a syntax error: the learner's cell still counts as their attempt
        return any(
            re.search(rf"^(?:class|def)\s+{re.escape(n)}\b|^{re.escape(n)}\s*=", source, re.M)
            for n in names
        )


def find_exercise(nb: nbformat.NotebookNode, exercise: Exercise) -> str | None:
    """The learner's cell for ``exercise``: the last code cell that binds its names, else an
    untouched stub (a stub that binds nothing, as when the whole class is the solution)."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    binding = [src for src in code if exercise.names and _binds(src, exercise.names)]
    if binding:
        return binding[-1]
    stub = _normal(exercise.stub)
    return next((src for src in code if _normal(src) == stub), None)


def _has_check(nb: nbformat.NotebookNode, exercise: Exercise) -> bool:
    lines = {ln.strip() for c in nb.cells if c.cell_type == "code" for ln in c.source.splitlines()}
    return any(call in lines for call in exercise.check_calls)


def identify(nb: nbformat.NotebookNode, path: Path, lessons: dict[str, Lesson]) -> str | None:
    """The lesson a notebook is: most exercises or checks found; else its title, else its name."""
    scores = {
        number: sum(
            find_exercise(nb, ex) is not None or _has_check(nb, ex) for ex in lesson.exercises
        )
        for number, lesson in lessons.items()
    }
    best = max(scores.values(), default=0)
    if best and list(scores.values()).count(best) == 1:
        return max(scores, key=scores.get)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    for hint in (re.match(r"\s*#\s*(\d\d)\s*·", first), re.match(r"(\d\d)_", path.name)):
        if hint and hint.group(1) in lessons and (not best or scores[hint.group(1)] == best):
            return hint.group(1)
    return None


# ---------------------------------------------------------------- running it


def _message(error: BaseException | str) -> str:
    """The error's line (``bam.cli.error_line``), cut to fit a cell of the report."""
    line = error_line(error)
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def _error(cell: nbformat.NotebookNode) -> tuple[str, str] | None:
    """``(ename, first line of evalue)`` of the error a cell raised, or None."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), _message(out.get("evalue", ""))
    return None


def _needed(setup: Sequence[str], sources: Sequence[str]) -> list[int]:
    """Indices of the set-up cells that ``sources`` need: a backward slice on names.

    A cell is kept if it binds a name that ``sources`` or a kept cell reads; figures, demos and
    prints are skipped. Lessons seed in their imports cell, which every exercise needs. A source
    that does not parse needs every set-up cell.
    """
    try:
        wanted = set().union(*(cells.read_names(cells.parse_cell(s, "cell")) for s in sources))
    except ValueError:
        return list(range(len(setup)))
    kept = []
    for index in reversed(range(len(setup))):
        tree = cells.parse_cell(setup[index], f"set-up cell {index}")
        if cells.bound_names(tree) & wanted:
            kept.append(index)
            wanted |= cells.read_names(tree)
    return sorted(kept)


def kernel_env(threads: int) -> dict[str, str]:
    """The graded kernel's environment: fast mode, this checkout's ``bam``, no proxies out."""
    path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "BAM_FAST": "1", "PYTHONPATH": path, "OMP_WAIT_POLICY": "PASSIVE"}
    env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    env.update({k: "http://127.0.0.1:9" for k in ("http_proxy", "https_proxy", "HTTP_PROXY")})
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    return env


async def run_exercises(
    submission: Submission,
    todo: list[tuple[Exercise, str]],
    timeout_s: float,
    env: dict[str, str],
) -> None:
    """Run each ``(exercise, learner cell)`` and its check in a fresh kernel, in a scratch copy."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    scratch = Path(tempfile.mkdtemp(prefix="bam-grade-"))
    shutil.copy(submission.path, scratch / "submission.ipynb")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": dict(notebook.KERNELSPEC)})
    client = NotebookClient(
        nb,
        kernel_name="python3",
        allow_errors=True,
        startup_timeout=KERNEL_START_S,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(scratch)}},
    )

    budget = [timeout_s]  # what the learner's cells and the checks may still use

    async def run(source: str, counted: bool = True) -> nbformat.NotebookNode:
        """Run one cell; the lesson's own set-up does not count against the notebook's limit,
        so that a slow start on a busy machine is not taken for the learner's endless loop."""
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
        if counted and budget[0] <= 0:
            raise CellTimeoutError("time limit reached")
        client.timeout = max(1, round(budget[0])) if counted else SETUP_TIMEOUT_S
        start = time.monotonic()
        try:
            await client.async_execute_cell(cell, len(nb.cells) - 1)
        except CellTimeoutError:
            if counted:
                raise
            raise RuntimeError(
                f"the lesson's set-up did not finish in {SETUP_TIMEOUT_S} s"
            ) from None
        finally:
            if counted:
                budget[0] -= time.monotonic() - start
        return cell

    done: set[str] = set()  # set-up cells already run in this kernel
    current = 0
    try:
        # The kernel's own start-up warnings and a learner's C-level prints are not the report.
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        async with client.async_setup_kernel(env=env, **quiet):
            await run(NETWORK_OFF, counted=False)
            for exercise, source in todo:
                submission.outcomes[exercise.name] = await _run_one(run, exercise, source, done)
                current += 1
    except CellTimeoutError:
        _give_up(submission, todo, current, "timed out",
                 f"did not finish within the notebook's {timeout_s:g} s limit (an endless loop?)",
                 "not run: the notebook's time limit ran out before this exercise")  # fmt: skip
    except DeadKernelError:
        _give_up(submission, todo, current, "error",
                 "the kernel died while this exercise ran (the code ended Python, e.g. os._exit)",
                 "not run: the kernel died in an earlier exercise")  # fmt: skip
    except RuntimeError as err:  # the kernel did not start, or the lesson's set-up hung
        _give_up(submission, todo, current, "error", _message(err),
                 f"not run: {_message(err)}")  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def _run_one(run, exercise: Exercise, source: str, done: set[str]) -> Outcome:
    """Set-up cells (those not run yet), the learner's cell, the check: the exercise's outcome."""
    for index in _needed(exercise.setup, [source, exercise.check]):
        setup = exercise.setup[index]
        if setup in done:
            continue
        done.add(setup)
        failure = _error(await run(setup, counted=False))
        if failure:
            return Outcome("error", f"the lesson's set-up failed first: {': '.join(failure)}")
    failure = _error(await run(source))
    if failure:
        ename, evalue = failure
        hint = ""
        if ename == "NameError":
            hint = " (only the lesson's set-up runs before your cell: define helpers inside it)"
        return Outcome("error", f"{ename}: {evalue}{hint}" if evalue else ename)
    failure = _error(await run(exercise.check))
    if failure is None:
        return Outcome("passed")
    ename, evalue = failure
    if not evalue:
        return Outcome("failed", ename)
    # The check's own verdicts read as they are; anything else raised on the way is named.
    return Outcome("failed", evalue if ename in check_failures() else f"{ename}: {evalue}")


@functools.cache
def check_failures() -> frozenset[str]:
    """Exception names that mean "the check says no": AssertionError and the checks' own types
    (read from ``bam.checks`` itself, so that a new exception type there is known at once)."""
    import bam.checks

    own = {
        name
        for name, value in vars(bam.checks).items()
        if isinstance(value, type) and issubclass(value, Exception)
    }
    return frozenset({"AssertionError", *own})


def _give_up(
    submission: Submission,
    todo: list[tuple[Exercise, str]],
    current: int,
    status: str,
    here: str,
    later: str,
) -> None:
    for index, (exercise, _) in enumerate(todo):
        if index >= current:
            submission.outcomes[exercise.name] = Outcome(
                status, here if index == current else later
            )


def plan(
    submission: Submission, nb: nbformat.NotebookNode, lesson: Lesson
) -> list[tuple[Exercise, str]]:
    """Decide what the text decides (missing, not attempted); return what must run."""
    todo = []
    for exercise in lesson.exercises:
        source = find_exercise(nb, exercise)
        if source is None:
            submission.outcomes[exercise.name] = Outcome(
                "missing", f"no cell defines {exercise.name}: was the exercise cell deleted?"
            )
        elif _normal(source) == _normal(exercise.stub):
            submission.outcomes[exercise.name] = Outcome("not attempted")
        else:
            todo.append((exercise, source))
    return todo


def check(
    notebooks: Sequence[tuple[Submission, nbformat.NotebookNode, Lesson]],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    jobs: int | None = None,
) -> None:
    """Give each submission an outcome per exercise of its lesson, in the lesson's order: what
    the text decides (``plan``), then a fresh kernel per notebook for the rest, ``jobs``
    notebooks at once (default: one per CPU core). The grader checks a class's copies of one
    lesson with it, ``tools.progress`` one learner's copies of every lesson."""
    work = [(sub, todo) for sub, nb, lesson in notebooks if (todo := plan(sub, nb, lesson))]
    if work:
        jobs = jobs or max(1, min(len(work), os.cpu_count() or 1))
        env = kernel_env(threads=max(1, (os.cpu_count() or 1) // jobs))
        _run_to_end(_run_all(work, timeout_s, env, jobs))
    for sub, _, lesson in notebooks:
        sub.outcomes = {ex.name: sub.outcomes[ex.name] for ex in lesson.exercises}


# ---------------------------------------------------------------- a class


def find_submissions(folder: Path) -> list[Submission]:
    """Every ``*.ipynb`` in ``folder`` and one level down (checkpoints and hidden files skipped)."""
    found = []
    for path in sorted([*folder.glob("*.ipynb"), *folder.glob("*/*.ipynb")]):
        relpath = path.relative_to(folder)
        if any(part.startswith(".") for part in relpath.parts) or not path.is_file():
            continue
        learner = relpath.parts[0] if len(relpath.parts) > 1 else path.stem
        found.append(Submission(path, learner, relpath.as_posix()))
    return found


def grade(
    folder: Path,
    lesson_number: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    jobs: int | None = None,
    root: Path = REPO_ROOT,
) -> tuple[Lesson, list[Submission]]:
    """Grade every notebook in ``folder``; returns the class's lesson and the submissions."""
    lessons = load_lessons(root)
    if lesson_number is not None and lesson_number not in lessons:
        raise ValueError(
            f"lesson {lesson_number!r} has no exercises; lessons with exercises: "
            f"{', '.join(sorted(lessons))}"
        )
    submissions = find_submissions(folder)
    if not submissions:
        raise ValueError(f"no notebooks (*.ipynb) in {folder} or in its sub-folders")
    notebooks = {}
    for sub in submissions:
        try:
            notebooks[sub.relpath] = read_submission(sub.path)
            sub.lesson = identify(notebooks[sub.relpath], sub.path, lessons)
        except (Unreadable, OSError) as err:
            sub.outcomes = {"*": Outcome("unreadable", _message(err))}
    if lesson_number is None:
        counts = Counter(s.lesson for s in submissions if s.lesson).most_common()
        if not counts:
            raise ValueError(f"no notebook in {folder} is a lesson with exercises")
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            raise ValueError(
                f"as many notebooks of lesson {counts[0][0]} as of {counts[1][0]}: "
                "say which lesson to grade with --lesson NN"
            )
        lesson_number = counts[0][0]
    lesson = lessons[lesson_number]
    to_check = []
    for sub in submissions:
        if sub.outcomes:  # unreadable: the same outcome for every exercise
            outcome = sub.outcomes.pop("*")
            sub.outcomes = {ex.name: outcome for ex in lesson.exercises}
        elif sub.lesson != lesson_number:
            message = (
                f"this is lesson {sub.lesson} ({lessons[sub.lesson].title}), not {lesson_number}"
                if sub.lesson
                else f"no exercise, title or file name of any lesson: not lesson {lesson_number}"
            )
            sub.outcomes = {ex.name: Outcome("wrong lesson", message) for ex in lesson.exercises}
        else:
            to_check.append((sub, notebooks[sub.relpath], lesson))
    check(to_check, timeout_s, jobs)
    return lesson, submissions


def _run_to_end(coroutine) -> None:
    """``asyncio.run``, also where an event loop already runs (a notebook, Playwright's sync
    API): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _run_all(work, timeout_s: float, env: dict[str, str], jobs: int) -> None:
    slots = asyncio.Semaphore(jobs)

    async def one(sub: Submission, todo) -> None:
        async with slots:
            start = time.monotonic()
            await run_exercises(sub, todo, timeout_s, env)
            sub.seconds = time.monotonic() - start

    await asyncio.gather(*(one(sub, todo) for sub, todo in work))


# ---------------------------------------------------------------- command line


PROG = "python -m tools.grade"


def main(argv: Sequence[str] | None = None) -> None:
    """Grade the folder, write grades.csv and report.html; ValueError for what cannot be graded
    (``bam.cli.run`` reports it in one line)."""
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("submissions", type=Path, metavar="DIR", help="the learners' notebooks")
    parser.add_argument("--lesson", metavar="NN", help="the class's lesson (default: most found)")
    parser.add_argument(
        "--timeout", type=cli.positive_float, default=DEFAULT_TIMEOUT_S, metavar="S",
        help=f"time limit per notebook, in seconds (default {DEFAULT_TIMEOUT_S})",
    )  # fmt: skip
    parser.add_argument(
        "--jobs",
        type=cli.positive_int,
        metavar="N",
        help="notebooks graded at once (default: CPU cores)",
    )
    args = parser.parse_args(argv)
    folder = args.submissions
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; pass the folder of submissions")
    start = time.monotonic()
    lesson, submissions = grade(folder, args.lesson, args.timeout, args.jobs)
    seconds = time.monotonic() - start
    grade_report.write_csv(folder / "grades.csv", submissions)
    grade_report.write_html(folder / "report.html", lesson, submissions, seconds)
    print(grade_report.summary(lesson, submissions, seconds))
    print(f"wrote {folder / 'grades.csv'} and {folder / 'report.html'}")


if __name__ == "__main__":
    cli.run(main, PROG)
