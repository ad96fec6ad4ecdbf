"""Regenerate every result that ships in ``bam/results/`` and write its manifest.

    python -m tools.artifacts                    # make artifacts: train what is missing, record
    python -m tools.artifacts train --new-only   # train only what does not ship yet
    python -m tools.artifacts record             # only re-record what runs/artifacts/ holds
    python -m tools.artifacts figure             # only redraw the README's figure

Training runs in ``runs/artifacts/`` (resumable: an interrupted build continues where it
stopped) as one-thread jobs, two side by side (``--workers``), since one thread per process is
what makes a CPU run repeatable and two such processes use a 2-core machine fully. The jobs go
to the course's worker pool, ``bam.jobs.run_calls`` (submitit; logs in
``runs/artifacts/jobs/``): each job is a command line, which its worker runs by calling the
command's ``main``, so the command recorded is the command run, and typing it reruns the job
by hand. Each job writes its provenance (command, commit, torch version, threads) when it
first starts. Recording
turns the finished runs into the shipped files: float16 state dicts, per-epoch histories, the
grid as JSON lines, and ``manifest.json`` with every file's SHA-256; it prints every figure
that differs from the manifest it replaces. What ``runs/artifacts/`` does not hold (a network
not retrained, grid runs not retrained) is carried over from the shipped files unchanged, with
the provenance of the build that made it.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from bam import cli
from bam.errors import BamError

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "artifacts"
GRID = "08-shapes-grid"
GRID_PARTS = ("peers", "ablations")


@dataclass(frozen=True)
class Network:
    """One shipped network: a model of ``bam.models`` trained on Shapes with one seed, built
    with ``create(model, init=init)``."""

    model: str
    seed: int
    lessons: tuple[str, ...]
    init: str = "default"

    @property
    def name(self) -> str:
        started = "" if self.init == "default" else f"-{self.init}"
        return f"shapes-{self.model}{started}-s{self.seed}"


# Lesson 06 compares three seeds of each; lesson 05 starts from the plain seed 0 and lesson 07
# looks inside both BAMs' seed 0 (all train exactly lesson 06's seed-0 calls).
NETWORKS = tuple(
    Network(model, seed, lessons, init)
    for seed in (0, 1, 2)
    for model, init, lessons in (
        ("resnet20", "default", ("05", "06") if seed == 0 else ("06",)),
        ("bam_resnet20", "default", ("06", "07") if seed == 0 else ("06",)),
        ("bam_resnet20", "identity", ("06", "07") if seed == 0 else ("06",)),
    )
)


def training_call(net: Network, recipe: dict, sizes: tuple[int | None, int | None]) -> str:
    """The call that trains ``net``, as the lessons write it (what the manifest records)."""
    size = [f", size={s}" if s is not None else "" for s in sizes]
    args = ", ".join(f"{k}={v!r}" for k, v in recipe.items())
    init = "" if net.init == "default" else f", init={net.init!r}"
    return (
        f"seed_everything({net.seed}); model = create({net.model!r}, num_classes=10{init}); "
        f"fit(model, load('shapes', 'train'{size[0]}), load('shapes', 'test'{size[1]}), "
        f"{args}, seed={net.seed})"
    )


def train_network(
    net: Network, work: Path, recipe: dict, sizes: tuple[int | None, int | None] = (None, None)
) -> Path:
    """Train (or finish, or find finished) ``net`` in ``work``; return its checkpoint folder."""
    from bam.data import load
    from bam.models import create
    from bam.runtime import seed_everything
    from bam.train import fit

    train_set, test_set = (
        load("shapes", "train", size=sizes[0]),
        load("shapes", "test", size=sizes[1]),
    )
    seed_everything(net.seed)
    model = create(net.model, num_classes=train_set.num_classes, init=net.init)
    folder = work / net.name
    fit(model, train_set, test_set, **recipe, seed=net.seed, checkpoint=folder, progress=False)
    return folder


# ----------------------------------------------------------------------------- provenance
def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def provenance(command: str, threads: int) -> dict:
    """Where and how a job ran: the command, the commit (and whether the tree had changes
    not committed), torch, the thread count, when it started."""
    return {
        "command": command,
        "commit": _git("rev-parse", "HEAD") or "unknown",
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "torch": torch.__version__,
        "threads": threads,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _provenance_path(work: Path, job: str) -> Path:
    return work / f"{job}.provenance.json"


def read_provenance(work: Path, job: str) -> dict:
    path = _provenance_path(work, job)
    if not path.is_file():
        raise BamError(f"{path} is missing: run `python -m tools.artifacts train` first")
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- training jobs
def grid_jobs() -> dict[str, tuple[str, int]]:
    """The grid's training jobs, one per part and seed: name -> (part, seed)."""
    from bam.experiments import SEEDS

    seeds = dict(zip(GRID_PARTS, SEEDS["cpu"], strict=True))
    return {f"08-grid-{part}-s{seed}": (part, seed) for part in GRID_PARTS for seed in seeds[part]}


@dataclass(frozen=True)
class Job:
    """One training job: the command ``python -m module *argv`` (run from the repository
    root), and that command's ``main``, which the job's worker calls with ``argv``."""

    module: str
    argv: tuple[str, ...]
    main: Callable[[list[str]], None]

    def shown(self) -> str:
        """The command as the provenance records it, paths relative to the repository."""
        args = [os.path.relpath(a, REPO) if "/" in a else a for a in self.argv]
        return " ".join(["OMP_NUM_THREADS=1", Path(sys.executable).name, "-m", self.module, *args])


def jobs() -> dict[str, Job]:
    """Every training job by name.

    The networks first (the lessons that load them can be worked on while the grid trains),
    then the grid by part and seed: run two at a time, the two largest jobs (the ablations'
    two seeds) start together and end about together."""
    from bam.commands import experiments

    found = {net.name: Job("tools.artifacts", ("network", net.name), main) for net in NETWORKS}
    for job, (part, seed) in grid_jobs().items():
        found[job] = Job(
            "bam.experiments",
            ("--setting", "cpu", "--parts", part, "--seeds", str(seed),
             "--results", str(WORK / f"{job}.jsonl")),
            experiments.main,
        )  # fmt: skip
    return found


def shipped_grid_rows(results: Path | None = None) -> list[dict]:
    """The runs of the grid that ships, its digest checked ([] if none ships)."""
    from bam.pretrained import RESULTS, grid, manifest

    results = results or RESULTS
    return grid(GRID, results) if GRID in manifest(results)["artifacts"] else []


def keep_shipped(job: str, work: Path = WORK, results: Path | None = None) -> bool:
    """Let ``job`` train only what does not ship yet; True if nothing is left for it.

    A network is left to the job unless it ships. A grid job's results file starts with the
    shipped runs of its part and seed, which the job then skips (``record`` recognises them as
    the shipped runs, and keeps their provenance).
    """
    from bam.experiments import lesson_grid
    from bam.pretrained import RESULTS, manifest
    from bam.results_file import append_result, run_key

    results = results or RESULTS
    if job not in grid_jobs():
        return job in manifest(results)["artifacts"]
    part, seed = grid_jobs()[job]
    configs = dict(zip(GRID_PARTS, lesson_grid("cpu"), strict=True))[part]
    wanted = {run_key(config, seed) for config in configs.values()}
    shipped = [r for r in shipped_grid_rows(results) if run_key(r["config"], r["seed"]) in wanted]
    path = work / f"{job}.jsonl"
    if len(shipped) < len(wanted) and not path.exists():
        for row in shipped:
            append_result(path, row)
    return len(shipped) == len(wanted)


def run_job(name: str, job: Job, work: Path) -> str:
    """What a worker runs for ``job``: record its provenance at its first start, run it."""
    path = _provenance_path(work, name)
    if not path.exists():  # the first start is when (and at which commit) it trained
        path.write_text(json.dumps(provenance(job.shown(), threads=1), indent=1))
    began = time.perf_counter()
    job.main(list(job.argv))
    return f"finished {name} in {time.perf_counter() - began:.0f} s"


def run_jobs(workers: int = 2, only: list[str] | None = None, new_only: bool = False) -> None:
    """Run every job (or those matching the patterns ``only``), ``workers`` at a time, each in
    a one-thread worker process; log to WORK. ``new_only``: train only what does not ship yet.
    A job that fails leaves the others running; they are named once all have ended."""
    from bam.jobs import run_calls

    WORK.mkdir(parents=True, exist_ok=True)
    queue = {
        name: job
        for name, job in jobs().items()
        if only is None or any(fnmatch.fnmatch(name, pattern) for pattern in only)
    }
    if new_only:
        queue = {name: job for name, job in queue.items() if not keep_shipped(name)}
    start = time.perf_counter()
    print(f"{len(queue)} jobs: {', '.join(queue)}", flush=True)
    calls = [(name, partial(run_job, name, job, WORK)) for name, job in queue.items()]
    folder = WORK / "jobs"
    env = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    failed = run_calls(calls, folder, "local", workers, threads=1, env=env, log=print)
    if failed:
        raise BamError(
            f"{len(failed)} of {len(calls)} jobs failed: {'; '.join(failed)}. Run the same "
            f"command again to resume them (logs in {folder})"
        )
    print(f"all jobs done in {(time.perf_counter() - start) / 60:.1f} minutes")


# ----------------------------------------------------------------------------- recording
def record_network(
    net: Network,
    work: Path,
    out: Path,
    recipe: dict,
    sizes: tuple[int | None, int | None] = (None, None),
) -> dict[str, dict]:
    """Ship one trained network: its float16 state dict and its history, with their entries.

    The accuracy recorded is that of the float16 weights evaluated in float32 on the CPU (what
    ``bam.pretrained.load`` gives); the float32 weights' accuracy is recorded beside it, and a
    difference over 0.1 point is refused (the weights would have to ship in float32).
    """
    from bam.checkpoint import checkpoint_paths, read_checkpoint
    from bam.data import load
    from bam.history import History
    from bam.models import create
    from bam.pretrained import save_state_dict, sha256
    from bam.train import evaluate

    test_set = load("shapes", "test", size=sizes[1])
    ckpt, history_json = checkpoint_paths(work / net.name)
    state = read_checkpoint(ckpt)
    history = History.load(history_json)
    if len(history) != recipe["epochs"]:
        raise BamError(
            f"{net.name} has {len(history)} of {recipe['epochs']} epochs: train it first"
        )
    model = create(net.model, num_classes=test_set.num_classes)
    model.load_state_dict(state["model"])

    def accuracy(m):
        return evaluate(m.to("cpu"), test_set, amp=False, channels_last=False)

    loss32, acc32 = accuracy(model)
    weights = out / f"{net.name}.pt"
    save_state_dict(model, weights)
    shipped = create(net.model, num_classes=test_set.num_classes)
    shipped.load_state_dict(torch.load(weights, weights_only=True))
    loss16, acc16 = accuracy(shipped)
    if abs(acc16 - acc32) > 0.001:
        raise BamError(f"{net.name}: float16 weights give {acc16:.2%}, float32 {acc32:.2%}")
    history.save(out / f"{net.name}.history.json")

    made = provenance_of(net.name, work)
    common = {**made, "recipe": recipe, "seed": net.seed, "lessons": list(net.lessons)}
    started = "" if net.init == "default" else f", every BAM started as the {net.init}"
    what = f"{net.model} trained on Shapes with the course's CPU recipe{started}, seed {net.seed}"
    return {
        net.name: {
            "kind": "checkpoint",
            "what": what,
            "file": weights.name,
            "sha256": sha256(weights),
            "bytes": weights.stat().st_size,
            "model": net.model,
            "init": net.init,
            "num_classes": test_set.num_classes,
            "dtype": "float16",
            "call": training_call(net, recipe, sizes),
            "data": history.config["train_set"],
            "history": f"{net.name}.history",
            "results": {
                "test_acc": acc16,
                "test_loss": round(loss16, 6),
                "test_acc_float32_weights": acc32,
                "test_acc_during_training": history.test_acc[-1],
                "evaluated": f"float32 on the CPU, {len(test_set)} test images",
                "train_seconds": round(sum(history.train_time), 1),
            },
            **common,
        },
        f"{net.name}.history": {
            "kind": "history",
            "what": f"per-epoch losses, accuracies and times of {net.name}",
            "file": f"{net.name}.history.json",
            "sha256": sha256(out / f"{net.name}.history.json"),
            "bytes": (out / f"{net.name}.history.json").stat().st_size,
            "results": {"test_acc": history.test_acc, "train_loss": history.train_loss},
            **common,
        },
    }


def provenance_of(job: str, work: Path) -> dict:
    made = read_provenance(work, job)
    return {key: made[key] for key in ("command", "commit", "dirty", "torch", "threads", "started")}


def grid_summary(rows: list[dict]) -> dict[str, dict]:
    """Per configuration: runs, mean and sample std of the test error (what lesson 08 shows)."""
    from bam.summary import summarize

    return {
        s.name: {
            "runs": s.runs,
            "mean_test_error": s.mean,
            "std_test_error": None if math.isnan(s.std) else s.std,
        }
        for s in summarize(rows, "test_error")
    }


def record_grid(
    files: list[Path],
    work: Path,
    out: Path,
    grids: dict[str, tuple[dict, list[int]]],
    shipped: list[dict] = (),
    shipped_parts: dict[str, dict] | None = None,
) -> dict:
    """Ship lesson 08's grid as one JSON-lines file, its runs in the order ``run_grid`` gives
    them (part by part, seed by seed, configurations in the lesson's order), whichever of
    ``files`` (results files of jobs, each with its provenance beside it) holds each run.

    A run none of them trained anew is taken from ``shipped``, the rows of the grid that ships
    (a row of a job's file identical to a shipped one is that shipped run, given to the job so
    that it would not train it again); ``shipped_parts``, the provenance of the jobs that made
    them, is then kept beside the new jobs'.
    """
    from bam.pretrained import sha256
    from bam.results_file import append_result, read_results, run_key

    old = {run_key(row["config"], row["seed"]): row for row in shipped}
    found: dict[str, dict] = {}
    new_parts = set()
    for path in files:
        for row in read_results(path):
            key = run_key(row["config"], row["seed"])
            if row != old.get(key) and key not in found:
                found[key] = row
                new_parts.add(path.stem)
    wanted = [
        (name, config, seed)
        for configs, seeds in grids.values()
        for seed in seeds
        for name, config in configs.items()
    ]
    missing = [
        f"{name} seed {seed}"
        for name, config, seed in wanted
        if run_key(config, seed) not in found and run_key(config, seed) not in old
    ]
    if missing:
        raise BamError(
            f"the grid lacks {len(missing)} of {len(wanted)} runs ({', '.join(missing[:3])}, ...): "
            "train it first"
        )
    carried = sum(run_key(config, seed) not in found for _, config, seed in wanted)
    rows = [
        {**(found.get(run_key(config, seed)) or old[run_key(config, seed)]), "name": name}
        for name, config, seed in wanted
    ]
    target = out / f"{GRID}.jsonl"
    target.unlink(missing_ok=True)
    for row in rows:
        append_result(target, row)
    made = {part: provenance_of(part, work) for part in sorted(new_parts)}
    if carried:
        made = {**(shipped_parts or {}), **made}
    return {
        GRID: {
            "kind": "grid",
            "what": "lesson 08's CPU grid on Shapes: ResNet-20 with SE, CBAM and BAM, each as "
            "its paper builds it and started as the identity, and BAM's ablations on both "
            "starts, the course's CPU recipe (one record per run)",
            "file": target.name,
            "sha256": sha256(target),
            "bytes": target.stat().st_size,
            "runs": len(rows),
            "runs_carried_over": carried,
            "call": "bam.experiments.run_lesson_grid('cpu')",
            "parts": made,
            "commit": sorted({m["commit"] for m in made.values()}),
            "torch": sorted({m["torch"] for m in made.values()}),
            "threads": 1,
            "seed": "per run: "
            + "; ".join(f"{part} {seeds}" for part, (_, seeds) in grids.items()),
            "results": grid_summary(rows),
        }
    }


def carry_network(net: Network, old: dict, source: Path, out: Path) -> dict[str, dict]:
    """The shipped entries of ``net`` (and its history), with their files copied from
    ``source`` to ``out`` after checking their digests."""
    from bam.pretrained import verified_path

    entries = {}
    for name in (net.name, f"{net.name}.history"):
        if name not in old:
            raise BamError(f"{net.name} is neither in {WORK} nor shipped: train it first")
        shutil.copy(verified_path(name, folder=source), out / old[name]["file"])
        entries[name] = old[name]
    return entries


def changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Every figure under "results" that differs between two manifests' entries."""
    found = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += changes(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return found


def record(work: Path = WORK, out: Path | None = None) -> dict:
    """Turn the finished jobs in ``work`` into the shipped files and the manifest."""
    from bam.experiments import SEEDS, lesson_grid
    from bam.pretrained import MANIFEST, RESULTS
    from bam.train import SHAPES_RECIPE

    out = out or RESULTS
    old_path = out / MANIFEST
    old = json.loads(old_path.read_text())["artifacts"] if old_path.is_file() else {}
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    entries: dict[str, dict] = {}
    for net in NETWORKS:
        if (work / net.name).is_dir():
            entries.update(record_network(net, work, staging, dict(SHAPES_RECIPE)))
        else:
            entries.update(carry_network(net, old, out, staging))
    peers, ablations = lesson_grid("cpu")
    grids = {"peers": (peers, SEEDS["cpu"][0]), "ablations": (ablations, SEEDS["cpu"][1])}
    # Every results file of a grid job; a part may have been split over several jobs.
    files = sorted(work.glob("08-grid-*.jsonl"))
    shipped_parts = old.get(GRID, {}).get("parts")
    entries.update(record_grid(files, work, staging, grids, shipped_grid_rows(out), shipped_parts))
    manifest = {
        "format": 1,
        "made_by": "make artifacts (python -m tools.artifacts)",
        "artifacts": entries,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    diff = changes(
        {k: v.get("results") for k, v in old.items()}, {k: v["results"] for k, v in entries.items()}
    )
    # Swap the folder in whole: a failed build never leaves a half-written bam/results/.
    backup = out.with_name(out.name + ".old")
    shutil.rmtree(backup, ignore_errors=True)
    if out.exists():
        out.rename(backup)
    staging.rename(out)
    shutil.rmtree(backup, ignore_errors=True)
    total = sum(e["bytes"] for e in entries.values())
    print(f"wrote {len(entries)} artifacts ({total / 1e6:.2f} MB) and {out / MANIFEST}")
    print("figures that changed:" if diff else "no figure changed", *diff, sep="\n  ")
    return manifest


FIGURE = REPO / "docs" / "figures" / "attention_maps.png"


def readme_figure(path: Path = FIGURE, name: str = "shapes-bam_resnet20-s0") -> None:
    """The README's figure: lesson 07's ``plot_attention`` of the shipped network on the first
    five Shapes test images."""
    import bam.pretrained
    import bam.viz as viz
    from bam.data import load

    test_set = load("shapes", "test", size=5)
    model = bam.pretrained.load(name, device="cpu")
    preds, maps = viz.collect(model, test_set.normalize(test_set.images))
    figure = viz.plot_attention(
        test_set.images, maps, test_set.labels, preds, masks=test_set.masks[:, 0],
        class_names=test_set.classes, max_images=5,
    )  # fmt: skip
    figure.savefig(path, dpi=100, bbox_inches="tight")
    print(f"wrote {path} from {name}")


PROG = "python -m tools.artifacts"


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(prog=PROG, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step")
    train = sub.add_parser("train", help="run the training jobs only")
    train.add_argument("--only", nargs="+", help="jobs matching these patterns (e.g. 'shapes-*')")
    train.add_argument("--new-only", action="store_true", help="train only what does not ship yet")
    sub.add_parser("record", help="record what runs/artifacts/ holds into bam/results/")
    sub.add_parser("figure", help="redraw the README's figure from the shipped network")
    one = sub.add_parser("network", help="train one shipped network (a job of `train`)")
    one.add_argument("name", choices=[n.name for n in NETWORKS])
    parser.add_argument(
        "--workers", type=cli.positive_int, default=2, help="jobs side by side (default 2)"
    )
    args = parser.parse_args(argv)
    from bam.train import SHAPES_RECIPE

    if args.step == "network":
        torch.set_num_threads(1)
        net = next(n for n in NETWORKS if n.name == args.name)
        train_network(net, WORK, dict(SHAPES_RECIPE))
        return
    if args.step == "figure":
        readme_figure()
        return
    start = time.perf_counter()
    if args.step in (None, "train"):
        run_jobs(args.workers, getattr(args, "only", None), getattr(args, "new_only", False))
    if args.step in (None, "record"):
        record()
        readme_figure()
    print(f"make artifacts: {(time.perf_counter() - start) / 60:.1f} minutes")


if __name__ == "__main__":
    # Run the module under its own name, not as __main__: the workers find its jobs by it.
    from tools import artifacts

    cli.run(artifacts.main, PROG)
