"""What lessons 06-08 train on the machine they run on, and how long that takes there.

Every decision takes the device (and ``RETRAIN``, fast mode) as arguments, so what a CUDA GPU
would be told is tested on a machine without one. The times are estimates from a rate measured
on the learner's own machine (``measure_rate``), never from figures of another machine.

    lesson06(device, retrain=False, fast=False)   # which data, which recipe, train or load
    lesson06_minutes({"resnet20": 80_000, "bam_resnet20": 65_000})   # its CIFAR-10 runs
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from bam.data import ImageSet
from bam.models import create
from bam.runtime import seed_everything
from bam.train import CIFAR_RECIPE, SHAPES_RECIPE, fit

# Lesson 06 compares three networks over three seeds; on a GPU it trains them on CIFAR-10.
LESSON06_NETWORKS = {
    "plain": ("resnet20", "default"),
    "BAM": ("bam_resnet20", "default"),
    "BAM, identity init": ("bam_resnet20", "identity"),
}
LESSON06_SEEDS = (0, 1, 2)
CIFAR_IMAGES = (50_000, 10_000)  # CIFAR-10's training and test sets
# An evaluation image costs about a third of a training image (a forward pass, no backward).
EVAL_COST = 1 / 3


@dataclass(frozen=True)
class Lesson06:
    """Lesson 06's choices: the data set it wants, the recipe, and whether every run is trained
    here (``train_all``) or the shipped Shapes runs are loaded (the live seed-0 runs are always
    trained)."""

    dataset: str
    recipe: dict
    train_all: bool
    why: str


def lesson06(device: torch.device | str, retrain: bool = False, fast: bool = False) -> Lesson06:
    """Lesson 06's plan on ``device``: the shipped Shapes runs unless ``retrain``; with
    ``retrain``, CIFAR-10 and the GPU recipe on CUDA (the lesson falls back to Shapes when CIFAR
    cannot be had), the Shapes recipe elsewhere; fast mode trains a toy recipe."""
    device = torch.device(device)
    if fast:
        recipe = dict(epochs=2, batch_size=32, lr=0.05)
        return Lesson06("shapes", recipe, True, "fast mode: toy runs, in seconds")
    if not retrain:
        why = "loading the shipped Shapes runs (set RETRAIN = True to train them all here)"
        return Lesson06("shapes", dict(SHAPES_RECIPE), False, why)
    if device.type == "cuda":
        why = "RETRAIN on a CUDA GPU: every run on CIFAR-10, with the GPU recipe"
        return Lesson06("cifar10", dict(CIFAR_RECIPE), True, why)
    why = f"RETRAIN on {device.type}: every run on Shapes, with the CPU recipe"
    return Lesson06("shapes", dict(SHAPES_RECIPE), True, why)


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


def lesson06_minutes(rates: dict[str, float], epochs: int | None = None) -> float:
    """Minutes of lesson 06's CIFAR-10 runs (every network, every seed) at ``rates``,
    images/s by model name (``resnet20``, ``bam_resnet20``)."""
    epochs = epochs or CIFAR_RECIPE["epochs"]
    runs = [model for model, _ in LESSON06_NETWORKS.values() for _ in LESSON06_SEEDS]
    return sum(run_minutes(rates[model], epochs) for model in runs)


def say_minutes(minutes: float) -> str:
    """``"about 12 min"`` or ``"about 2.5 h"``: an estimate, rounded as one."""
    if minutes < 1:
        return "under a minute"
    if minutes < 90:
        return f"about {math.ceil(minutes)} min"
    return f"about {minutes / 60:.1f} h"


__all__ = [
    "CIFAR_IMAGES",
    "LESSON06_NETWORKS",
    "LESSON06_SEEDS",
    "Lesson06",
    "lesson06",
    "lesson06_minutes",
    "measure_rate",
    "run_minutes",
    "say_minutes",
]
