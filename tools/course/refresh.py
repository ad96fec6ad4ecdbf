"""The ``refresh`` and ``strip`` commands: run a lesson in fast mode (or not), then clean it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import nbformat

from bam.errors import BamError

from .notebook import clean, read, write

CELL_TIMEOUT_S = 300


def execute(nb: nbformat.NotebookNode, folder: Path, name: str) -> None:
    """Run every cell of ``nb`` in a fresh ``python3`` kernel, cwd ``folder``, ``BAM_FAST=1``."""
    # Imported here: cleaning without running (``strip``, the rules, student copies) needs no
    # kernel machinery.
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
        raise BamError(f"{name} failed while running; nothing was written.\n{err}") from None


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
