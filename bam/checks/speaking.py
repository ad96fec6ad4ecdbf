"""How a check speaks to a learner: its verdicts, and where in the learner's code they point.

``CheckFailed`` (an ``AssertionError``) carries a message written for the learner; in Jupyter it
shows as that message and the line of the learner's code at fault, with no traceback.
``NotWrittenYet`` reports an unfinished stub with the same words for every check. Importing the
checks in a notebook also installs a handler that names the exercise a cell waits for when it
runs into an unfinished stub.
"""

from __future__ import annotations

import linecache
import sys
import sysconfig
from pathlib import Path


class CheckFailed(AssertionError):
    """A check's verdict that an exercise is not right yet; its message is for the learner.

    In Jupyter it shows as the message alone, plus the line of the learner's own code that raised
    when there is one (IPython calls ``_render_traceback_`` instead of printing the traceback,
    which would be a screen of the checks' source). In plain Python it is an ordinary
    ``AssertionError`` with its traceback and its cause.
    """

    def _render_traceback_(self) -> list[str]:
        lines = [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self.args[0] if self.args else ''}"]
        frame = learner_frame(self.__cause__) if self.__cause__ is not None else None
        if frame is not None:
            lines.append(f"  in {_describe_frame(frame)}")
        return lines


class NotWrittenYet(CheckFailed):
    """The exercise still holds the student copy's ``raise NotImplementedError``."""


# Learners meet these as bam.checks.CheckFailed (plain Python prints the module in a traceback).
CheckFailed.__module__ = NotWrittenYet.__module__ = "bam.checks"


def _library_folders() -> tuple[str, ...]:
    """Where code that is not the learner's lives: the ``bam`` package, torch, the standard
    library."""
    import torch as _torch

    folders = {Path(__file__).resolve().parents[1], Path(_torch.__file__).resolve().parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        folders.add(Path(sysconfig.get_paths()[key]).resolve())
    return tuple(str(folder) for folder in folders)


LIBRARY_FOLDERS = _library_folders()


def _is_learners(filename: str) -> bool:
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return False  # frozen modules, <string> from exec of library code
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return not path.startswith(LIBRARY_FOLDERS)


def learner_frame(err: BaseException):
    """The innermost frame of ``err``'s traceback that runs the learner's code, or None."""
    found, tb = None, err.__traceback__
    while tb is not None:
        if _is_learners(tb.tb_frame.f_code.co_filename):
            found = tb
        tb = tb.tb_next
    return found


def _cell_name(filename: str) -> str | None:
    """``In[13]`` for the code of a notebook cell, None elsewhere."""
    shell = _ipython()
    named = shell.compile.format_code_name(filename) if shell is not None else None
    return named[1] if named else None


def _describe_frame(tb) -> str:
    """``MyBAM.forward, In[14] line 17: spatial = self.final(x).expand_as(x)``."""
    code, line = tb.tb_frame.f_code, tb.tb_lineno
    where = _cell_name(code.co_filename) or Path(code.co_filename).name
    text = linecache.getline(code.co_filename, line).strip()
    return f"{code.co_qualname}, {where} line {line}: {text}"


def _stub_name(err: BaseException) -> str | None:
    """The qualified name of the unfinished stub that raised ``err``, or None.

    A stub of the student copy raises a bare ``NotImplementedError`` from the learner's code; a
    NotImplementedError that torch raises (with a message) is a real error, not a stub.
    """
    if not isinstance(err, NotImplementedError) or err.args:
        return None
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None or not _is_learners(tb.tb_frame.f_code.co_filename):
        return None
    code = tb.tb_frame.f_code
    cell = _cell_name(code.co_filename)
    return f"{code.co_qualname}" + (f" (cell {cell})" if cell else "")


def raise_if_unfinished(err: BaseException) -> None:
    """Raise ``NotWrittenYet`` if ``err`` comes from an unfinished stub: the same words for every
    check, naming the function the learner still has to write."""
    stub = _stub_name(err)
    if stub is not None:
        raise NotWrittenYet(
            f"{stub} is not written yet: fill in the body marked # YOUR CODE HERE, run that "
            "cell, then run this check again."
        ) from None


def _ipython():
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def _explain_unfinished_cell(shell, etype, value, tb, tb_offset=None) -> None:
    """IPython handler for a NotImplementedError in a cell: one line naming the exercise it waits
    for when a stub raised it, the usual traceback otherwise."""
    stub = _stub_name(value)
    if stub is not None:
        message = (
            f"{stub} is not written yet, and this cell uses it: finish that exercise (the body "
            "marked # YOUR CODE HERE), run its cell and its check, then run this cell again."
        )
        value._render_traceback_ = lambda: [f"\x1b[1;31mNotImplementedError\x1b[0m: {message}"]
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _install_notebook_handler() -> None:
    """In a notebook, report unfinished exercises in one line (see ``_explain_unfinished_cell``).

    Importing the checks is what a lesson does before its exercises, so the handler comes with
    them. It is not installed over another custom handler.
    """
    shell = _ipython()
    if shell is not None and shell.custom_exceptions in ((), (NotImplementedError,)):
        shell.set_custom_exc((NotImplementedError,), _explain_unfinished_cell)


_install_notebook_handler()
