"""Calls in worker processes, through submitit: here, ``workers`` at a time, or as a Slurm job
array. The one worker pool of the course: lesson 08's grid sends its runs to it (``run_jobs``)
and ``make artifacts`` its training jobs (``tools.artifacts``).

``executor="local"`` with ``workers=N`` runs N at a time on this machine (each on its own GPU
where there are several, else on its share of the CPU cores); ``executor="slurm"`` submits them
as a Slurm job array, at most N running at once. A worker that dies loses only its own call;
the others still run, and the failures are named together once all have ended, so that the
caller can run again what is missing (a grid and the artifacts' jobs both resume).
"""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bam.cli import error_line
from bam.errors import BamError, MissingDependency
from bam.results_file import Config, Trainer, progress_line, train_and_record

EXECUTORS = ("local", "slurm")

# A call for a worker: the name that reports give it, and a picklable function of no arguments.
Call = tuple[str, Callable[[], Any]]


class GridIncomplete(BamError):
    """Some runs of a grid failed in their workers; the finished ones are in the results file."""


def _worker_job(call: Callable[[], Any], threads: int | None) -> Any:
    """What one worker process runs: ``call()`` on ``threads`` CPU threads."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    return call()


def run_calls(
    calls: Sequence[Call],
    folder: str | os.PathLike,
    executor: str = "local",
    workers: int = 1,
    options: Mapping[str, Any] | None = None,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = print,
    describe: Callable[[Any], str] = str,
) -> list[str]:
    """Run every call in a submitit job, ``workers`` at a time; return the failures, each as
    ``NAME (job ID: what went wrong)`` in one line (none: all succeeded).

    Locally, each worker is a process of its own, with ``threads`` CPU threads (default: the
    cores shared out equally) and, where there are GPUs, worker k on GPU k mod (number of
    GPUs); a line ``[k/n] describe(result)`` is logged as each ends. On Slurm the calls are one
    job array of at most ``workers`` running tasks, and each result is logged once all have
    ended. ``options`` go to ``executor.update_parameters``; ``env`` is exported in every
    worker before Python starts (what OpenMP reads once, such as ``OMP_WAIT_POLICY``). Job
    logs go to ``folder``.
    """
    try:
        import submitit
    except ImportError as error:
        raise MissingDependency(
            "running jobs in workers needs submitit: pip install 'bam-course[grid]'"
        ) from error
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS} or None, got {executor!r}")
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    # The workers import this package: make sure they find the copy this process uses.
    here = shlex.quote(str(Path(__file__).resolve().parents[1]))
    setup = [f"export PYTHONPATH={here}${{PYTHONPATH:+:$PYTHONPATH}}"]
    setup += [f"export {key}={shlex.quote(value)}" for key, value in (env or {}).items()]
    if executor == "slurm":
        pool = submitit.AutoExecutor(folder=folder, cluster="slurm")
        pool.update_parameters(
            slurm_setup=setup, slurm_array_parallelism=workers, **(options or {})
        )
        with pool.batch():
            jobs = [pool.submit(_worker_job, call, None) for _, call in calls]
    else:
        pool = submitit.LocalExecutor(folder=folder)
        # submitit's local default stops a job after 2 minutes; a training run takes longer.
        pool.update_parameters(**{"setup": setup, "timeout_min": 7 * 24 * 60, **(options or {})})
        jobs = _run_local(pool, calls, workers, threads, log, describe)
    failed = []
    for (name, _), job in zip(calls, jobs, strict=True):
        if executor == "local" and _killed(job):
            failed.append(f"{name} (job {job.job_id}: {KILLED})")
            continue
        try:
            result = job.result()
        except Exception as error:  # the job died or raised: the caller runs it again
            failed.append(f"{name} (job {job.job_id}: {error_line(error)})")
            continue
        if log and executor == "slurm":
            log(describe(result))
    return failed


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
    """Train ``runs`` (label, config, seed) through ``run_calls``, each recorded in ``results``
    by its worker. Job logs go to ``jobs/`` beside ``results``. Raises ``GridIncomplete``
    naming the runs whose job failed."""
    results = Path(results).resolve()
    folder = results.parent / "jobs" / results.stem
    calls = [
        (f"{name} seed {seed}", partial(train_and_record, train, name, config, seed, str(results)))
        for name, config, seed in runs
    ]
    failed = run_calls(
        calls, folder, executor, workers, options, threads, log=log, describe=progress_line
    )
    if failed:
        raise GridIncomplete(
            f"{len(failed)} of {len(runs)} runs failed: {'; '.join(failed)}. The others are in "
            f"{results}; run the same command again to train only the missing runs (logs in "
            f"{folder})"
        )


KILLED = "its worker process ended without a result (killed? out of memory?)"


def _killed(job) -> bool:
    """A local worker whose process has ended without writing its result: killed, not failed
    (a call that raises still writes one). Told at once: submitit would first wait 15 s for a
    result file that a slow shared disk might not show yet, which a local disk always does."""
    return job.state != "RUNNING" and not job.paths.result_pickle.exists()


def _run_local(pool, calls, workers, threads, log, describe) -> list:
    """Keep ``workers`` jobs running until every call has been started; return all the jobs."""
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
                        log(f"[{finished}/{len(calls)}] {_outcome(job, describe)}")
                    return
            time.sleep(0.2)  # submitit's own wait polls once a second

    for _, call in calls:
        if len(running) == workers:
            wait_for_one()
        slot = min(set(range(workers)) - set(running))
        if gpus:
            pool.update_parameters(visible_gpus=(slot % gpus,), gpus_per_node=1)
        job = pool.submit(_worker_job, call, threads)
        running[slot] = job
        jobs.append(job)
    while running:  # the last ones, logged as they end
        wait_for_one()
    return jobs


def _outcome(job, describe: Callable[[Any], str]) -> str:
    if _killed(job):
        return f"job {job.job_id} failed: {KILLED}"
    try:
        return describe(job.result())
    except Exception as error:
        return f"job {job.job_id} failed: {error_line(error)}"
