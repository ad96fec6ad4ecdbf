"""``python -m bam.experiments``: lesson 08's grid, resumable, here or in worker processes
(``--executor``); see ``bam.experiments``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bam import cli
from bam.experiments import SETTINGS, check_labels, lesson_results, run_lesson_grid
from bam.jobs import EXECUTORS
from bam.summary import format_table, summarize

PROG = "python -m bam.experiments"


def option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; VALUE is read as JSON where it can be (numbers)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> list[dict]:
    parser = cli.Parser(
        prog=PROG,
        description="Run lesson 08's grid (BAM vs SE vs CBAM, and BAM's ablations); resumable.",
    )
    parser.add_argument(
        "--setting", choices=sorted(SETTINGS), help="default: gpu with CUDA, else cpu"
    )
    parser.add_argument(
        "--results", type=Path, help="default: 08_ablations_SETTING.jsonl in $BAM_RUNS or runs/"
    )
    parser.add_argument(
        "--parts", nargs="+", choices=("peers", "ablations"), default=["peers", "ablations"]
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=cli.non_negative_int,
        help="train these seeds of every configuration (default: 0 1 2 for the peers, "
        "0 1 for the ablations)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="LABEL",
        help="train only the configurations with these labels, e.g. '+ BAM' 'r = 4'",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="train each run in a submitit job: local processes or a Slurm job array "
        "(default: here, one run after the other)",
    )
    parser.add_argument("--workers", type=cli.positive_int, default=1, help="runs training at once")
    parser.add_argument(
        "--option",
        type=option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a submitit parameter, e.g. slurm_partition=gpu, gpus_per_node=1, timeout_min=240",
    )
    args = parser.parse_args(argv)
    if (args.workers > 1 or args.option) and not args.executor:
        parser.error("--workers and --option need --executor local or --executor slurm")
    import torch

    setting = args.setting or ("gpu" if torch.cuda.is_available() else "cpu")
    if args.only:
        try:
            check_labels(setting, args.parts, args.only)
        except ValueError as error:
            parser.error(str(error))
    results = args.results or lesson_results(setting)
    print(f"results: {results} (one line per finished run; BAM_RUNS moves the folder)")
    workers = {}
    if args.executor:
        workers = {"executor": args.executor, "workers": args.workers, "options": dict(args.option)}
    rows = run_lesson_grid(
        setting, results, args.parts, seeds=args.seeds, only=args.only, **workers
    )
    print(format_table(summarize(rows, "test_error"), "test error (%)"))
    print(f"results in {results}")
    return rows
