"""A grid of configurations x seeds, trained one run at a time, resumable.

    rows = run_grid({"plain": {"model": "resnet20"}, "bam": {"model": "bam_resnet20"}},
                    seeds=[0, 1, 2], results="runs/grid.jsonl")

Every finished run is appended to ``results`` as one JSON line before the next run starts
(``bam.results_file``: the file, written safely, and read back). The identity of a run is its
configuration and its seed, not its label: calling ``run_grid`` again skips every run the file
already holds, so an interrupted grid resumes where it stopped, and a grid that grew only
trains what is new.

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
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bam.jobs import run_jobs
from bam.results_file import (
    Config,
    Trainer,
    progress_line,
    read_results,
    run_key,
    train_and_record,
)


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
        run_jobs(todo, results, train, executor, workers, options or {}, threads, log)
        done = {run_key(row["config"], row["seed"]): row for row in read_results(results)}
    # Label rows with this grid's names, even where an earlier grid named the config otherwise.
    return [{**done[run_key(config, seed)], "name": name} for name, config, seed in grid]


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
