"""The committed form of a notebook: what cleaning keeps, and how the file is read and written.

A committed notebook keeps outputs only in code cells marked ``# NBVAL_CHECK_OUTPUT``, which
nbval compares on every run. Those cells also keep an execution count (their position among the
code cells): nbval skips the comparison for a cell without one. Every other output, execution
count and per-cell metadata (timings, scroll state) is dropped, the kernelspec is set to
``python3`` and the file is written as nbformat 4, indent 1, trailing newline, so that
re-running a lesson changes nothing in git unless a checked output changed.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
# The cell tag nbval and nbclient honour: an error in the cell does not fail the run.
RAISES = "raises-exception"
# Per-cell metadata worth keeping; everything else (execution timings, scroll state) goes.
# "mystnb" holds the caption the rendered course gives a cell's figure (make site).
KEPT_CELL_METADATA = ("tags", "slideshow", "mystnb")
MEMORY_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def is_check_cell(cell: dict) -> bool:
    """True for a code cell that nbval compares: a comment line ``# NBVAL_CHECK_OUTPUT``."""
    if cell.get("cell_type") != "code":
        return False
    return any(
        line.strip().startswith("#") and line.strip().lstrip("#").strip() == "NBVAL_CHECK_OUTPUT"
        for line in cell.get("source", "").splitlines()
    )


def caption(cell: dict) -> str | None:
    """The caption the rendered course puts under a cell's figure (``mystnb.figure.caption``)."""
    return cell.get("metadata", {}).get("mystnb", {}).get("figure", {}).get("caption")


def checked_outputs(outputs: list, count: int, where: str, allow_errors: bool) -> list:
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
            cell.outputs = checked_outputs(cell.outputs, ordinal, where, allow)
        else:
            cell.execution_count = None
            cell.outputs = []
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """The committed text of ``nb``: nbformat 4, indent 1, sorted keys, trailing newline."""
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def read(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``, as nbformat 4."""
    return nbformat.read(path, as_version=4)


def write(nb: nbformat.NotebookNode, path: Path) -> bool:
    """Write ``nb`` to ``path`` in its committed text; True if the file changed."""
    text = dumps(nb)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
