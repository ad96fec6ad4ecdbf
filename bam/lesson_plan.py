"""What lessons 06-08 train on the machine they run on, and how long that takes there.

Every decision takes the device (and ``RETRAIN``, fast mode) as arguments, so what a CUDA GPU
would be told is tested on a machine without one. The times are estimates from a rate measured
on the learner's own machine (``measure_rate``), never from figures of another machine.

    lesson06(device, retrain=False, fast=False)   # which data, which recipe, train or load
    lesson06_minutes({"resnet20": 80_000, "bam_resnet20": 65_000})   # its runs with RETRAIN
    lesson07_cifar(device, retrain=False, fast=False)   # look inside lesson 06's CIFAR run?
    grid_seeds(run_minutes, peers=7, ablations=22)   # lesson 08's GPU grid, sized to a budget
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch

from bam.data.dataset import ImageSet
from bam.history import History
from bam.models import create
from bam.runtime import runs_dir, seed_everything
from bam.train import CIFAR_RECIPE, SHAPES_RECIPE, fit

# Lesson 06 compares three networks over three seeds; on a GPU it trains them on CIFAR-10.
LESSON06_NETWORKS = {
    "plain": ("resnet20", "default"),
    "BAM": ("bam_resnet20", "default"),
    "BAM, identity init": ("bam_resnet20", "identity"),
}
LESSON06_SEEDS = (0, 1, 2)
CIFAR_IMAGES = (50_000, 10_000)  # CIFAR-10's (and CIFAR-100's) training and test sets
SHAPES_IMAGES = (10_000, 2_000)  # the Shapes sets the lessons load
# Lesson 08's GPU grid plans this much training and resumes where it stopped when called again:
# a free Colab session keeps its GPU for a few hours at most, and its limits vary.
GRID_BUDGET_MINUTES = 120
# Lesson 06's seed-0 BAM-ResNet-20 on CIFAR-10, which lesson 07 looks inside.
LESSON07_CIFAR_RUN = "06-cifar10-bam_resnet20-s0"
# An evaluation image costs about a third of a training image (a forward pass, no backward).
EVAL_COST = 1 / 3


@dataclass(frozen=True)
class Lesson06:
    """Lesson 06's choices: the data set it wants, the recipe, whether every run is trained
    here (``train_all``) or the shipped Shapes runs are loaded, and how many epochs the live
    seed-0 runs take (half the recipe when they are compared with shipped full-length runs)."""

    dataset: str
    recipe: dict
    train_all: bool
    live_epochs: int
    why: str


def lesson06(
    device: torch.device | str, retrain: bool = False, fast: bool = False, cifar: bool = True
) -> Lesson06:
    """Lesson 06's plan on ``device``: the shipped Shapes runs unless ``retrain``; with
    ``retrain``, CIFAR-10 and the GPU recipe on CUDA (``cifar=False`` when it cannot be had:
    Shapes then), the Shapes recipe elsewhere. Fast mode keeps the choice with a toy recipe."""
    device = torch.device(device)
    if fast:
        recipe = dict(epochs=2, batch_size=32, lr=0.05)
        return Lesson06("shapes", recipe, retrain, 2, "fast mode: toy runs, in seconds")
    if not retrain:
        why = "loading the shipped Shapes runs (set RETRAIN = True to train them all here)"
        return Lesson06("shapes", dict(SHAPES_RECIPE), False, SHAPES_RECIPE["epochs"] // 2, why)
    if device.type == "cuda" and cifar:
        why = "RETRAIN on a CUDA GPU: every run on CIFAR-10, with the GPU recipe"
        return Lesson06("cifar10", dict(CIFAR_RECIPE), True, CIFAR_RECIPE["epochs"], why)
    why = f"RETRAIN on {device.type}: every run on Shapes, with the CPU recipe"
    return Lesson06("shapes", dict(SHAPES_RECIPE), True, SHAPES_RECIPE["epochs"], why)


def measure_rate(
    name: str,
    data: ImageSet,
    device: torch.device | str,
    batch_size: int,
    batches: int = 40,
) -> float:
    """Images/s of ``fit`` training ``name`` on ``batches`` batches of ``data`` on ``device``
    (one short epoch: it includes the warm-up a real run pays once, so it errs on the slow
    side)."""
    seed_everything(0)
    model = create(name, num_classes=data.num_classes)
    subset = data.subset(min(len(data), batch_size * batches))
    history = fit(model, subset, epochs=1, batch_size=batch_size, device=device, progress=False)
    return history.images_per_s[-1]


def run_minutes(images_per_s: float, epochs: int, images: tuple[int, int] = CIFAR_IMAGES) -> float:
    """Minutes of one run of ``epochs`` over ``images`` (training, test) at ``images_per_s``."""
    train, test = images
    return epochs * (train + EVAL_COST * test) / images_per_s / 60


def lesson06_minutes(
    rates: dict[str, float],
    device: torch.device | str = "cuda",
    images: tuple[int, int] | None = None,
) -> float:
    """Minutes of lesson 06's runs with ``RETRAIN`` on ``device`` (every network, every seed:
    CIFAR-10 on CUDA, Shapes elsewhere, or ``images`` (training, test) if given) at ``rates``,
    images/s by model name (``resnet20``, ``bam_resnet20``)."""
    plan = lesson06(device, retrain=True)
    if images is None:
        images = CIFAR_IMAGES if plan.dataset == "cifar10" else SHAPES_IMAGES
    runs = [model for model, _ in LESSON06_NETWORKS.values() for _ in LESSON06_SEEDS]
    return sum(run_minutes(rates[model], plan.recipe["epochs"], images) for model in runs)


def lesson07_cifar(
    device: torch.device | str, retrain: bool = False, fast: bool = False
) -> tuple[bool, str]:
    """Whether lesson 07's CIFAR-10 section runs on ``device``, and why: on CUDA outside fast
    mode, when lesson 06 has saved its CIFAR-10 BAM-ResNet-20 (it is loaded, not trained again)
    or when ``retrain`` asks for it."""
    if fast or torch.device(device).type != "cuda":
        return False, "the CIFAR-10 section runs on a CUDA GPU outside fast mode"
    if saved_run(LESSON07_CIFAR_RUN, CIFAR_RECIPE["epochs"]):
        return True, f"loading lesson 06's finished run {LESSON07_CIFAR_RUN}"
    if retrain:
        return True, "RETRAIN: training lesson 06's seed-0 BAM-ResNet-20 on CIFAR-10"
    return False, (
        "lesson 06 has not trained its CIFAR-10 runs here: set RETRAIN = True there (or here, "
        "for this one network)"
    )


def saved_run(name: str, epochs: int) -> bool:
    """Whether ``runs_dir()/name`` holds a run that finished ``epochs`` epochs."""
    path = runs_dir() / name / "history.json"
    return path.exists() and len(History.load(path)) >= epochs


def lesson08_seeds(
    device: torch.device | str, config: dict, peers: int, ablations: int, data: ImageSet
) -> tuple[list[int], list[int], float]:
    """Seeds of lesson 08's grid (peers, ablations) that fit ``GRID_BUDGET_MINUTES`` on
    ``device``, and the minutes of one run: BAM-ResNet-20's rate is measured on ``data`` with
    the batch of ``config`` (a grid setting), for ``config["epochs"]`` epochs over ``data``
    and a test set a fifth its size (CIFAR's proportions)."""
    batch = config.get("batch_size", inspect.signature(fit).parameters["batch_size"].default)
    rate = measure_rate("bam_resnet20", data, device, batch)
    each = run_minutes(rate, config["epochs"], (len(data), len(data) // 5))
    return (*grid_seeds(each, peers, ablations), each)


def grid_seeds(
    minutes_per_run: float, peers: int, ablations: int, budget: float = GRID_BUDGET_MINUTES
) -> tuple[list[int], list[int]]:
    """Seeds of lesson 08's grid (peers, ablations) that fit ``budget`` minutes, at
    ``minutes_per_run``: three seeds of each part if they fit, then fewer seeds of the
    ablations, then of the peers, down to one of each (which may still exceed the budget: the
    grid resumes, so a second session finishes it)."""
    for peer_seeds, ablation_seeds in ((3, 3), (3, 2), (3, 1), (2, 1), (1, 1)):
        runs = peers * peer_seeds + ablations * ablation_seeds
        if runs * minutes_per_run <= budget:
            break
    return list(range(peer_seeds)), list(range(ablation_seeds))


def say_minutes(minutes: float) -> str:
    """``"about 12 min"`` or ``"about 2.5 h"``: an estimate, rounded as one."""
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"about {math.ceil(minutes)} min"
    return f"about {minutes / 60:.1f} h"


__all__ = [
    "CIFAR_IMAGES",
    "GRID_BUDGET_MINUTES",
    "LESSON07_CIFAR_RUN",
    "SHAPES_IMAGES",
    "grid_seeds",
    "lesson07_cifar",
    "lesson08_seeds",
    "saved_run",
    "LESSON06_NETWORKS",
    "LESSON06_SEEDS",
    "Lesson06",
    "lesson06",
    "lesson06_minutes",
    "measure_rate",
    "run_minutes",
    "say_minutes",
]
