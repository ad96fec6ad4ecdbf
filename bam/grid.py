"""A grid of configurations x seeds, trained one run at a time, resumable.

    rows = run_grid({"plain": {"model": "resnet20"}, "bam": {"model": "bam_resnet20"}},
                    seeds=[0, 1, 2], results="runs/grid.jsonl")

Every finished run is appended to ``results`` as one JSON line (written, flushed and fsynced
before the next run starts, under a lock on the file, so that runs finishing at the same time in
several processes never mix their lines). The identity of a run is its configuration and its
seed, not its label: calling ``run_grid`` again skips every run the file already holds, so an
interrupted grid resumes where it stopped, and a grid that grew only trains what is new.

A configuration is a JSON-serialisable dict. The default trainer, ``train_config``, reads:
``model`` (a ``bam.models.create`` name), ``init`` (how its attention starts: "default" or
"identity"), ``attention`` (keyword arguments for the attention modules, e.g.
``{"reduction": 8}``), ``dataset``, ``train_size``, ``test_size``, ``data_seed``
(which images; fixed across seeds, so seeds vary only the initialisation and the batches), and
any keyword of ``bam.train.fit`` (``epochs``, ``batch_size``, ``lr``, ...).

Runs can also go to worker processes, one job per configuration x seed (``bam.jobs``).
``bam.summary`` turns the rows into means and standard deviations over seeds.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
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


def run_grid(
    configs: Mapping[str, Config],
    seeds: Sequence[int],
    results: str | os.PathLike,
    train: Trainer | None = None,
    log: Callable[[str], None] | None = print,
    executor: str | None = None,
    workers: int = 1,
    options: Mapping[str, Any] | None = None,
    threads: int | None = None,
) -> list[dict]:
    """Train every configuration with every seed, skipping runs ``results`` already holds.

    Args:
        configs: label -> configuration. The label names the row in tables; the configuration
            (with the seed) is what identifies a run.
        seeds: the seeds every configuration is trained with.
        results: the JSON-lines file that finished runs are appended to.
        train: ``train(config, seed) -> metrics``; defaults to ``train_config``.
        log: where progress lines go (``None``: nowhere).
        executor: None trains here, one run after the other; "local" or "slurm" sends each
            run to a worker process through submitit (see ``bam.jobs.run_jobs``).
        workers: how many runs train at once with an executor.
        options: submitit parameters for the executor (``timeout_min``, ``slurm_partition``...).
        threads: CPU threads of each local worker; default: an equal share of the cores.

    Runs go seed by seed (every configuration with the first seed, then the second, ...).
    Returns the rows of this grid (label, config, seed, seconds and the metrics) in that order.
    With an executor, a run whose worker failed raises ``GridIncomplete`` once the others are
    done; they are kept, and calling ``run_grid`` again trains only what is missing.
    """
    train = train or train_config
    if executor is None and workers != 1:
        raise ValueError(f"workers={workers} needs an executor: 'local' or 'slurm'")
    keys = {}
    for name, config in configs.items():
        key = run_key(config, 0)
        if key in keys:
            raise ValueError(f"{name!r} and {keys[key]!r} have the same configuration: {config}")
        keys[key] = name
    results = Path(results)
    done = {run_key(row["config"], row["seed"]): row for row in read_results(results)}
    # Seed by seed: a grid stopped half-way has every configuration with the same seeds.
    grid = [(name, config, seed) for seed in seeds for name, config in configs.items()]
    todo = [run for run in grid if run_key(run[1], run[2]) not in done]
    if log and len(todo) < len(grid):
        log(f"{len(grid) - len(todo)} of {len(grid)} runs already in {results}; skipping them")
    if executor is None:
        for i, (name, config, seed) in enumerate(todo, 1):
            row = train_and_record(train, name, config, seed, results)
            done[run_key(config, seed)] = row
            if log:
                log(f"[{i}/{len(todo)}] {progress_line(row)}")
    elif todo:
        from bam.jobs import run_jobs

        run_jobs(todo, results, train, executor, workers, options or {}, threads, log)
        done = {run_key(row["config"], row["seed"]): row for row in read_results(results)}
    # Label rows with this grid's names, even where an earlier grid named the config otherwise.
    return [{**done[run_key(config, seed)], "name": name} for name, config, seed in grid]


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


@functools.lru_cache(maxsize=8)
def _dataset(name: str, split: str, size: int | None, seed: int):
    from bam.data import load

    return load(name, split, size=size, seed=seed)


def train_config(config: Config, seed: int) -> dict[str, float]:
    """Train one configuration with ``bam.train.fit``; return its final metrics.

    Metrics: ``test_acc``, ``test_error`` (1 - accuracy) and ``test_loss`` of the trained
    model, ``train_loss`` of the last epoch, ``params`` and ``train_seconds``. The test set is
    evaluated once, at the end (a grid compares final results, not curves). The model is built
    after seeding, so ``seed`` fixes its initial weights as well as the batches.
    """
    from bam.models import create
    from bam.profile import count_params
    from bam.runtime import seed_everything
    from bam.train import evaluate, fit

    config = dict(config)
    model_name = config.pop("model")
    attention = config.pop("attention", {})
    init = config.pop("init", "default")
    dataset = config.pop("dataset", "shapes")
    data_seed = config.pop("data_seed", 0)
    train_set = _dataset(dataset, "train", config.pop("train_size", None), data_seed)
    test_set = _dataset(dataset, "test", config.pop("test_size", None), data_seed)
    seed_everything(seed)
    model = create(model_name, num_classes=train_set.num_classes, init=init, **attention)
    history = fit(model, train_set, seed=seed, progress=False, **config)
    test_loss, test_acc = evaluate(model, test_set, normalize_like=train_set)
    return {
        "test_acc": test_acc,
        "test_error": 1 - test_acc,
        "test_loss": test_loss,
        "train_loss": history.train_loss[-1],
        "params": count_params(model),
        "train_seconds": round(sum(history.train_time), 2),
    }
