"""Lesson 08's grid: BAM against its peers and its own ablations, over seeds, resumable.

    peers, ablations = lesson_grid("cpu")
    rows = run_lesson_grid("cpu")                # trains what the results file lacks
    print(format_table(summarize(rows, "test_error"), "test error (%)"))

The machinery lives in modules of its own, and its names are importable from here too, as the
lesson does: ``bam.grid`` (``run_grid``: configurations x seeds, resumable), ``bam.jobs``
(the same in worker processes, through submitit), ``bam.results_file`` (one JSON line per
finished run) and ``bam.summary`` (mean +- std over seeds, differences with their standard
errors, the table).

Command line (``bam.commands.experiments``): ``python -m bam.experiments --setting cpu``, and e.g.
``--executor local --workers 4`` or ``--executor slurm --workers 16 --option
slurm_partition=gpu --option gpus_per_node=1 --option timeout_min=240``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bam.grid import run_grid, train_config
from bam.jobs import EXECUTORS, GridIncomplete, run_jobs
from bam.results_file import Config, append_result, read_results, run_key, train_and_record
from bam.runtime import runs_dir
from bam.summary import Summary, difference, format_table, pooled_std, summarize
from bam.tables import text_table
from bam.train import SHAPES_RECIPE

__all__ = [
    "EXECUTORS",
    "IDENTITY",
    "SEEDS",
    "SETTINGS",
    "GridIncomplete",
    "Summary",
    "append_result",
    "difference",
    "format_table",
    "lesson_grid",
    "lesson_results",
    "pooled_std",
    "read_results",
    "run_grid",
    "run_jobs",
    "run_key",
    "run_lesson_grid",
    "summarize",
    "text_table",
    "train_and_record",
    "train_config",
]

SETTINGS: dict[str, Config] = {
    # Two tiny runs: the grid machinery, end to end, in seconds (BAM_FAST=1).
    "fast": {
        "dataset": "shapes",
        "train_size": 256,
        "test_size": 200,
        "epochs": 1,
        "batch_size": 32,
        "lr": 0.05,
    },
    # Shapes on a 2-core CPU with the course's recipe: the 34 runs of the paper's modules took
    # 71 minutes as two one-thread processes side by side (--parts peers, --parts ablations),
    # the 31 of the identity starts 52 minutes as three to five.
    "cpu": {"dataset": "shapes", **SHAPES_RECIPE},
    # CIFAR-100, the dataset of the paper's ablations, on a GPU.
    "gpu": {"dataset": "cifar100", "epochs": 30},
}
# (seeds of the peers, seeds of the ablations) per setting.
SEEDS = {"fast": ([0], [0]), "cpu": ([0, 1, 2], [0, 1]), "gpu": ([0, 1, 2], [0, 1, 2])}


IDENTITY = ", identity init"


def lesson_grid(setting: str) -> tuple[dict[str, Config], dict[str, Config]]:
    """Lesson 08's grid: ``(peers, ablations)``, label -> configuration, on ResNet-20.

    Peers: the plain network, SE, CBAM, BAM, and the three attention networks started as the
    identity (``create(..., init="identity")``). Ablations: BAM with one setting changed from the
    paper's defaults (r = 16, d = 4, both branches, sum, at the bottlenecks), each built as the
    paper's module is and again started as the identity (labels ending in ``IDENTITY``); the
    defaults themselves are the two "+ BAM" peers. In fast mode: the plain network and BAM.
    """
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    base = SETTINGS[setting]

    def run(model: str, init: str = "default", **attention) -> Config:
        config = {"model": model, **base}
        if attention:
            config["attention"] = attention
        if init != "default":  # the runs of the default keep the identity they shipped with
            config["init"] = init
        return config

    if setting == "fast":
        return {"ResNet-20": run("resnet20"), "+ BAM": run("bam_resnet20")}, {}
    peers = {
        "ResNet-20": run("resnet20"),
        "+ SE": run("se_resnet20"),
        "+ CBAM": run("cbam_resnet20"),
        "+ BAM": run("bam_resnet20"),
        # Like for like: SE and CBAM start as the identity too (gates at sigmoid(5)).
        **{
            f"+ {name}{IDENTITY}": run(f"{name.lower()}_resnet20", "identity")
            for name in ("BAM", "SE", "CBAM")
        },
    }
    ablations = {}
    for init, suffix in (("default", ""), ("identity", IDENTITY)):
        ablations |= {
            **{f"r = {r}{suffix}": run("bam_resnet20", init, reduction=r) for r in (4, 8, 32)},
            **{f"d = {d}{suffix}": run("bam_resnet20", init, dilation=d) for d in (1, 2, 6)},
            f"channel only{suffix}": run("bam_resnet20", init, branches="channel"),
            f"spatial only{suffix}": run("bam_resnet20", init, branches="spatial"),
            f"product{suffix}": run("bam_resnet20", init, combine="product"),
            f"max{suffix}": run("bam_resnet20", init, combine="max"),
            f"every block{suffix}": run("bamblock_resnet20", init),
        }
    return peers, ablations


def lesson_results(setting: str) -> Path:
    """The results file of lesson 08's grid, where the lesson looks for it: in ``runs_dir()``."""
    return runs_dir() / f"08_ablations_{setting}.jsonl"


def run_lesson_grid(
    setting: str,
    results: str | os.PathLike | None = None,
    parts: Sequence[str] = ("peers", "ablations"),
    log: Callable | None = print,
    seeds: Sequence[int] | None = None,
    only: Sequence[str] | None = None,
    **workers: Any,
) -> list[dict]:
    """Run (or finish, or just load) lesson 08's grid, or some of its ``parts``; return the
    rows. ``results`` defaults to ``lesson_results(setting)``, where the lesson looks.
    ``seeds`` replaces the seeds of every part (default: ``SEEDS[setting]``); ``only`` keeps
    the configurations with these labels.
    ``workers`` go to ``run_grid`` (``executor``, ``workers``, ``options``)."""
    grids = dict(zip(("peers", "ablations"), lesson_grid(setting), strict=True))
    if only is not None:
        check_labels(setting, parts, only)
        grids = {part: {k: v for k, v in grids[part].items() if k in only} for part in grids}
    part_seeds = SEEDS[setting] if seeds is None else [seeds, seeds]
    seeds = dict(zip(("peers", "ablations"), part_seeds, strict=True))
    results = results or lesson_results(setting)
    rows, failures = [], []
    for part in parts:
        try:
            rows += run_grid(grids[part], seeds[part], results, log=log, **workers)
        except GridIncomplete as error:  # the other part still runs
            failures.append(f"{part}: {error}")
    if failures:
        raise GridIncomplete(" ".join(failures))
    return rows


def check_labels(setting: str, parts: Sequence[str], labels: Sequence[str]) -> None:
    """Raise ValueError, listing the labels there are, if a label is in none of ``parts``."""
    grids = dict(zip(("peers", "ablations"), lesson_grid(setting), strict=True))
    known = {label for part in parts for label in grids[part]}
    unknown = sorted(set(labels) - known)
    if unknown:
        raise ValueError(
            f"no configuration labelled {', '.join(map(repr, unknown))} in "
            f"{', '.join(parts)}; the labels are: {', '.join(map(repr, sorted(known)))}"
        )


if __name__ == "__main__":  # the command itself is bam.commands.experiments
    from bam import cli
    from bam.commands import experiments

    cli.run(experiments.main, experiments.PROG)
