"""A grid of configurations x seeds, trained one run at a time, resumable, summarised honestly.

    rows = run_grid({"plain": {"model": "resnet20"}, "bam": {"model": "bam_resnet20"}},
                    seeds=[0, 1, 2], results="runs/grid.jsonl")
    print(format_table(summarize(rows)))

Every finished run is appended to ``results`` as one JSON line (written, flushed and fsynced
before the next run starts, under a lock on the file, so that runs finishing at the same time in
several processes never mix their lines). The identity of a run is its configuration and its
seed, not its label: calling ``run_grid`` again skips every run the file already holds, so an
interrupted grid resumes where it stopped, and a grid that grew only trains what is new.

A configuration is a JSON-serialisable dict. The default trainer, ``train_config``, reads:
``model`` (a ``bam.models.create`` name), ``attention`` (keyword arguments for the attention
modules, e.g. ``{"reduction": 8}``), ``dataset``, ``train_size``, ``test_size``, ``data_seed``
(which images; fixed across seeds, so seeds vary only the initialisation and the batches), and
any keyword of ``bam.train.fit`` (``epochs``, ``batch_size``, ``lr``, ...).

Runs can go to worker processes instead, one job per configuration x seed, through submitit:
``executor="local"`` with ``workers=N`` runs N at a time on this machine (each on its own GPU
where there are several, else on its share of the CPU cores); ``executor="slurm"`` submits them
as a Slurm job array, at most N running at once. A worker that dies loses only its own run,
which the next call trains again.

Command line (the grid of lesson 08): ``python -m bam.experiments --setting cpu``, and e.g.
``--executor local --workers 4`` or ``--executor slurm --workers 16 --option
slurm_partition=gpu --option gpus_per_node=1 --option timeout_min=240``.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import shlex
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bam.runtime import runs_dir
from bam.train import SHAPES_RECIPE

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
            run to a worker process through submitit (see ``run_jobs``).
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
                log(f"[{i}/{len(todo)}] {_progress(row)}")
    elif todo:
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


def _progress(row: dict) -> str:
    reserved = set(RESERVED)
    shown = ", ".join(
        f"{k} {_short(v)}" for k, v in row.items() if k not in reserved and _is_number(v)
    )
    return f"{row['name']} seed {row['seed']}: {shown} ({row['seconds']:.0f} s)"


# ----------------------------------------------------------------------------- workers
EXECUTORS = ("local", "slurm")


class GridIncomplete(RuntimeError):
    """Some runs of a grid failed in their workers; the finished ones are in the results file."""


def _worker_job(
    train: Trainer,
    name: str,
    config: Config,
    seed: int,
    results: str,
    threads: int | None,
) -> dict:
    """What one worker process runs: a single run, recorded in ``results`` before returning."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return train_and_record(train, name, config, seed, results)


def run_jobs(
    runs: Sequence[tuple[str, Config, int]],
    results: str | os.PathLike,
    train: Trainer,
    executor: str,
    workers: int,
    options: Mapping[str, Any],
    threads: int | None = None,
    log: Callable[[str], None] | None = print,
) -> None:
    """Train ``runs`` (label, config, seed) in submitit jobs, ``workers`` at a time.

    Locally, each worker is a process of its own, with ``threads`` CPU threads (default: the
    cores shared out equally) and, where there are GPUs, worker k on GPU k mod (number of
    GPUs). On Slurm the runs are one job array of at most ``workers`` running tasks; ``options``
    go to ``executor.update_parameters``. Job logs go to ``jobs/`` beside ``results``. Raises
    ``GridIncomplete`` naming the runs whose job failed.
    """
    try:
        import submitit
    except ImportError as error:
        raise ImportError(
            "running a grid with workers needs submitit: pip install 'bam-course[grid]'"
        ) from error
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS} or None, got {executor!r}")
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    results = Path(results).resolve()
    folder = results.parent / "jobs" / results.stem
    # The workers import this package: make sure they find the copy this process uses.
    here = shlex.quote(str(Path(__file__).resolve().parents[1]))
    setup = [f"export PYTHONPATH={here}${{PYTHONPATH:+:$PYTHONPATH}}"]
    if executor == "slurm":
        pool = submitit.AutoExecutor(folder=folder, cluster="slurm")
        pool.update_parameters(slurm_setup=setup, slurm_array_parallelism=workers, **options)
        with pool.batch():
            jobs = [
                pool.submit(_worker_job, train, name, config, seed, str(results), None)
                for name, config, seed in runs
            ]
    else:
        pool = submitit.LocalExecutor(folder=folder)
        # submitit's local default stops a job after 2 minutes; a training run takes longer.
        pool.update_parameters(**{"setup": setup, "timeout_min": 7 * 24 * 60, **options})
        jobs = _run_local(pool, runs, results, train, workers, threads, log)
    failed = []
    for (name, _, seed), job in zip(runs, jobs, strict=True):
        try:
            row = job.result()
        except Exception as error:  # the job died or raised: its run is simply not recorded
            failed.append(f"{name} seed {seed} (job {job.job_id}: {_first_line(error)})")
            continue
        if log and executor == "slurm":
            log(_progress(row))
    if failed:
        raise GridIncomplete(
            f"{len(failed)} of {len(runs)} runs failed: {'; '.join(failed)}. The others are in "
            f"{results}; run the same command again to train only the missing runs (logs in "
            f"{folder})"
        )


def _first_line(error: Exception) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(error).__name__


def _run_local(pool, runs, results, train, workers, threads, log) -> list:
    """Keep ``workers`` jobs running until every run has been started; return all the jobs."""
    import torch

    gpus = torch.cuda.device_count()
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    jobs: list = []
    running: dict[int, Any] = {}  # worker slot -> its job
    finished = 0
    for name, config, seed in runs:
        while len(running) == workers:
            for slot, job in list(running.items()):
                if job.done():
                    del running[slot]
                    finished += 1
                    if log:
                        log(f"[{finished}/{len(runs)}] {_outcome(job)}")
            if len(running) == workers:
                time.sleep(0.2)
        slot = min(set(range(workers)) - set(running))
        if gpus:
            pool.update_parameters(visible_gpus=(slot % gpus,), gpus_per_node=1)
        job = pool.submit(_worker_job, train, name, config, seed, str(results), threads)
        running[slot] = job
        jobs.append(job)
    for job in running.values():
        job.wait()
        finished += 1
        if log:
            log(f"[{finished}/{len(runs)}] {_outcome(job)}")
    return jobs


def _outcome(job) -> str:
    try:
        return _progress(job.result())
    except Exception as error:
        return f"job {job.job_id} failed: {_first_line(error)}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


@dataclass
class Summary:
    """One configuration over its seeds: mean and sample standard deviation of a metric."""

    name: str
    config: Config
    runs: int
    mean: float
    std: float  # sample standard deviation (n - 1); nan for a single run
    values: list[float]


def summarize(rows: Sequence[dict], metric: str = "test_acc") -> list[Summary]:
    """Mean +- std of ``metric`` per configuration, in the order configurations first appear."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        if metric not in row:
            raise ValueError(f"a row of {row.get('name')!r} has no {metric!r}: {sorted(row)}")
        groups.setdefault(run_key(row["config"], 0), []).append(row)
    summaries = []
    for group in groups.values():
        values = [float(row[metric]) for row in sorted(group, key=lambda r: r["seed"])]
        std = statistics.stdev(values) if len(values) > 1 else math.nan
        summaries.append(
            Summary(
                group[0]["name"],
                group[0]["config"],
                len(values),
                statistics.mean(values),
                std,
                values,
            )
        )
    return summaries


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Columns padded to their widest cell: the first ``left`` aligned left, the rest right."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i < left else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


def format_table(
    summaries: Sequence[Summary],
    metric: str = "test accuracy (%)",
    scale: float = 100.0,
    extra: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A plain-text table: label, runs, ``mean +- std`` (times ``scale``), and extra columns
    (``extra[column][label]``, e.g. the paper's figure for that configuration)."""
    extra = extra or {}
    rows = []
    for s in summaries:
        spread = "" if math.isnan(s.std) else f" +- {scale * s.std:.2f}"
        cells = [s.name, str(s.runs), f"{scale * s.mean:.2f}{spread}"]
        rows.append(cells + [extra[column].get(s.name, "") for column in extra])
    return text_table(["configuration", "runs", metric, *extra], rows)


# ----------------------------------------------------------------------------- training
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
    from bam.runtime import seed_everything
    from bam.train import evaluate, fit

    config = dict(config)
    model_name = config.pop("model")
    attention = config.pop("attention", {})
    dataset = config.pop("dataset", "shapes")
    data_seed = config.pop("data_seed", 0)
    train_set = _dataset(dataset, "train", config.pop("train_size", None), data_seed)
    test_set = _dataset(dataset, "test", config.pop("test_size", None), data_seed)
    seed_everything(seed)
    model = create(model_name, num_classes=train_set.num_classes, **attention)
    history = fit(model, train_set, seed=seed, progress=False, **config)
    test_loss, test_acc = evaluate(model, test_set, normalize_like=train_set)
    return {
        "test_acc": test_acc,
        "test_error": 1 - test_acc,
        "test_loss": test_loss,
        "train_loss": history.train_loss[-1],
        "params": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(sum(history.train_time), 2),
    }


def difference(a: Summary, b: Summary, std: float | None = None) -> tuple[float, float]:
    """``a.mean - b.mean`` and its standard error.

    With ``std`` (a standard deviation that both configurations are taken to share, e.g. pooled
    over a whole grid): ``std * sqrt(1 / n_a + 1 / n_b)``. Without it, each one's own:
    ``sqrt(s_a^2 / n_a + s_b^2 / n_b)``, nan when either has a single run.
    """
    if std is not None:
        return a.mean - b.mean, std * math.sqrt(1 / a.runs + 1 / b.runs)
    return a.mean - b.mean, math.sqrt(a.std**2 / a.runs + b.std**2 / b.runs)


def pooled_std(summaries: Sequence[Summary]) -> float:
    """The seed-to-seed standard deviation pooled over configurations with two runs or more:
    ``sqrt(sum((n_i - 1) s_i^2) / sum(n_i - 1))``; nan when no configuration has two runs."""
    dof = sum(s.runs - 1 for s in summaries if s.runs > 1)
    if not dof:
        return math.nan
    return math.sqrt(sum((s.runs - 1) * s.std**2 for s in summaries if s.runs > 1) / dof)


# ----------------------------------------------------------------------------- lesson 08
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
    # Shapes on a 2-core CPU with the course's recipe: the 34 runs took 71 minutes as two
    # one-thread processes side by side (--parts peers, --parts ablations).
    "cpu": {"dataset": "shapes", **SHAPES_RECIPE},
    # CIFAR-100, the dataset of the paper's ablations, on a GPU.
    "gpu": {"dataset": "cifar100", "epochs": 30},
}
# (seeds of the peers, seeds of the ablations) per setting.
SEEDS = {"fast": ([0], [0]), "cpu": ([0, 1, 2], [0, 1]), "gpu": ([0, 1, 2], [0, 1, 2])}


def lesson_grid(setting: str) -> tuple[dict[str, Config], dict[str, Config]]:
    """Lesson 08's grid: ``(peers, ablations)``, label -> configuration, on ResNet-20.

    Peers: the plain network, SE, CBAM and BAM. Ablations: BAM with one setting changed from
    the paper's defaults (r = 16, d = 4, both branches, sum, at the bottlenecks); the default
    itself is the "+ BAM" peer. In fast mode: the plain network and BAM, nothing else.
    """
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    base = SETTINGS[setting]

    def bam(**attention) -> Config:
        return {"model": "bam_resnet20", **base, **({"attention": attention} if attention else {})}

    if setting == "fast":
        return {"ResNet-20": {"model": "resnet20", **base}, "+ BAM": bam()}, {}
    peers = {
        "ResNet-20": {"model": "resnet20", **base},
        "+ SE": {"model": "se_resnet20", **base},
        "+ CBAM": {"model": "cbam_resnet20", **base},
        "+ BAM": bam(),
    }
    ablations = {
        **{f"r = {r}": bam(reduction=r) for r in (4, 8, 32)},
        **{f"d = {d}": bam(dilation=d) for d in (1, 2, 6)},
        "channel only": bam(branches="channel"),
        "spatial only": bam(branches="spatial"),
        "product": bam(combine="product"),
        "max": bam(combine="max"),
        "every block": {"model": "bamblock_resnet20", **base},
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
    **workers: Any,
) -> list[dict]:
    """Run (or finish, or just load) lesson 08's grid, or some of its ``parts``; return the
    rows. ``results`` defaults to ``lesson_results(setting)``, where the lesson looks.
    ``workers`` go to ``run_grid`` (``executor``, ``workers``, ``options``)."""
    grids = dict(zip(("peers", "ablations"), lesson_grid(setting), strict=True))
    seeds = dict(zip(("peers", "ablations"), SEEDS[setting], strict=True))
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


def _option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; VALUE is read as JSON where it can be (numbers)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        prog="python -m bam.experiments",
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
        "--executor",
        choices=EXECUTORS,
        help="train each run in a submitit job: local processes or a Slurm job array "
        "(default: here, one run after the other)",
    )
    parser.add_argument("--workers", type=int, default=1, help="runs training at once")
    parser.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a submitit parameter, e.g. slurm_partition=gpu, gpus_per_node=1, timeout_min=240",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be 1 or more, got {args.workers}")
    if (args.workers > 1 or args.option) and not args.executor:
        parser.error("--workers and --option need --executor local or --executor slurm")
    import torch

    setting = args.setting or ("gpu" if torch.cuda.is_available() else "cpu")
    results = args.results or lesson_results(setting)
    print(f"results: {results} (one line per finished run; BAM_RUNS moves the folder)")
    workers = {}
    if args.executor:
        workers = {"executor": args.executor, "workers": args.workers, "options": dict(args.option)}
    try:
        rows = run_lesson_grid(setting, results, args.parts, **workers)
    except (GridIncomplete, ImportError) as error:
        raise SystemExit(f"python -m bam.experiments: {error}") from None
    print(format_table(summarize(rows, "test_error"), "test error (%)"))
    print(f"results in {results}")
    return rows


if __name__ == "__main__":
    main()
