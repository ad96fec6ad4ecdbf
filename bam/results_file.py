"""A grid's results file: one JSON line per finished run, appended safely and read back.

A run is a configuration trained with a seed; its identity (``run_key``) is the two together,
which is how ``bam.grid.run_grid`` knows which runs a file already holds. Lines are written,
flushed and fsynced under a lock on the file, so that runs finishing at the same time in
several processes (``bam.jobs``) never mix their lines. Here too: training one run into the
file (``train_and_record``), and the line that shows a finished run while a grid runs, both
shared by a grid trained in this process and one trained in worker processes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no file locks, so one writer at a time (no workers)
    fcntl = None

Config = dict[str, Any]
Trainer = Callable[[Config, int], dict[str, float]]
RESERVED = ("name", "config", "seed", "seconds")


def run_key(config: Config, seed: int) -> str:
    """The identity of a run: its configuration (key order does not matter) and its seed."""
    return json.dumps({"config": config, "seed": seed}, sort_keys=True)


def read_results(path: str | os.PathLike) -> list[dict]:
    """Every finished run in a results file, in the order they finished ([] if there is none).

    A last line cut short (the process died while writing it) is ignored: that run did not
    finish. Any other line that is not JSON is an error that names the line.
    """
    path = Path(path)
    if not path.exists():
        return []
    # The text after the last newline ("" for a complete file) is a run still being written.
    complete = path.read_text().split("\n")[:-1]
    rows = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path}, line {number}, is not a JSON result ({error}); fix or delete that "
                "line (the runs on the other lines are kept)"
            ) from error
    return rows


def _drop_unfinished_line(f) -> None:
    """Cut a partial last line (from a process killed mid-write) so the next append is clean;
    ``f`` is the results file, open for reading and appending."""
    f.seek(0)
    data = f.read()
    if data and not data.endswith(b"\n"):
        f.truncate(data.rfind(b"\n") + 1)


def append_result(path: str | os.PathLike, row: dict) -> None:
    """Append one finished run as a JSON line, flushed and fsynced before returning.

    The file is locked meanwhile: writers in other processes wait their turn, and a line that a
    killed writer left unfinished is cut first (the lock dies with its holder).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        _drop_unfinished_line(f)
        f.write((json.dumps(row, sort_keys=True) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())


def train_and_record(
    train: Trainer, name: str, config: Config, seed: int, results: str | os.PathLike
) -> dict:
    """Train one run, append its row to ``results`` and return the row."""
    start = time.perf_counter()
    metrics = train(config, seed)
    clash = set(metrics) & set(RESERVED)
    if clash:
        raise ValueError(f"the trainer returned reserved keys {sorted(clash)}; rename them")
    row = {"name": name, "config": config, "seed": seed, **metrics}
    row["seconds"] = round(time.perf_counter() - start, 2)
    append_result(results, row)
    return row


def progress_line(row: dict) -> str:
    """One finished run in a line: its label, seed, numeric metrics and seconds."""
    reserved = set(RESERVED)
    shown = ", ".join(
        f"{k} {_short(v)}" for k, v in row.items() if k not in reserved and _is_number(v)
    )
    return f"{row['name']} seed {row['seed']}: {shown} ({row['seconds']:.0f} s)"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
