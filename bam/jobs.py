"""Runs of a grid in worker processes, through submitit: here, or as a Slurm job array.

``executor="local"`` with ``workers=N`` runs N at a time on this machine (each on its own GPU
where there are several, else on its share of the CPU cores); ``executor="slurm"`` submits them
as a Slurm job array, at most N running at once. A worker that dies loses only its own run,
which the next call of ``bam.grid.run_grid`` trains again.
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bam.cli import error_line
from bam.errors import BamError, MissingDependency
from bam.results_file import Config, Trainer, progress_line, train_and_record

EXECUTORS = ("local", "slurm")


class GridIncomplete(BamError):
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
        raise MissingDependency(
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
        if executor == "local" and _killed(job):
            failed.append(f"{name} seed {seed} (job {job.job_id}: {KILLED})")
            continue
        try:
            row = job.result()
        except Exception as error:  # the job died or raised: its run is simply not recorded
            failed.append(f"{name} seed {seed} (job {job.job_id}: {error_line(error)})")
            continue
        if log and executor == "slurm":
            log(progress_line(row))
    if failed:
        raise GridIncomplete(
            f"{len(failed)} of {len(runs)} runs failed: {'; '.join(failed)}. The others are in "
            f"{results}; run the same command again to train only the missing runs (logs in "
            f"{folder})"
        )


KILLED = "its worker process ended without a result (killed? out of memory?)"


def _killed(job) -> bool:
    """A local worker whose process has ended without writing its result: killed, not failed
    (a run that raises still writes one). Told at once: submitit would first wait 15 s for a
    result file that a slow shared disk might not show yet, which a local disk always does."""
    return job.state != "RUNNING" and not job.paths.result_pickle.exists()


def _run_local(pool, runs, results, train, workers, threads, log) -> list:
    """Keep ``workers`` jobs running until every run has been started; return all the jobs."""
    import torch

    gpus = torch.cuda.device_count()
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    jobs: list = []
    running: dict[int, Any] = {}  # worker slot -> its job
    finished = 0

    def wait_for_one() -> None:
        """Until a running job ends: log it and free its slot."""
        nonlocal finished
        while True:
            for slot, job in list(running.items()):
                if job.done():
                    del running[slot]
                    finished += 1
                    if log:
                        log(f"[{finished}/{len(runs)}] {_outcome(job)}")
                    return
            time.sleep(0.2)  # submitit's own wait polls once a second

    for name, config, seed in runs:
        if len(running) == workers:
            wait_for_one()
        slot = min(set(range(workers)) - set(running))
        if gpus:
            pool.update_parameters(visible_gpus=(slot % gpus,), gpus_per_node=1)
        job = pool.submit(_worker_job, train, name, config, seed, str(results), threads)
        running[slot] = job
        jobs.append(job)
    while running:  # the last ones, logged as they end
        wait_for_one()
    return jobs


def _outcome(job) -> str:
    if _killed(job):
        return f"job {job.job_id} failed: {KILLED}"
    try:
        return progress_line(job.result())
    except Exception as error:
        return f"job {job.job_id} failed: {error_line(error)}"
