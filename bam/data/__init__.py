"""Datasets and the tensor-resident loader.

    train, test = bam.data.load("shapes", "train"), bam.data.load("shapes", "test")
    for x, y in bam.data.Loader(train, 128, train=True): ...

"cifar10" and "cifar100" come from ``torchvision.datasets`` (cached in ``data/``, downloaded
only with ``download=True``); "shapes" is generated offline and carries object masks.
"""

from __future__ import annotations

import os

from bam.data.cifar import DatasetMissing, load_cifar
from bam.data.dataset import ImageSet
from bam.data.loader import Loader, crop_flip, random_crop_flip
from bam.data.shapes import make_shapes
from bam.runtime import data_root

DATASETS = ("cifar10", "cifar100", "shapes")


def load(
    name: str,
    split: str = "train",
    *,
    root: str | os.PathLike | None = None,
    download: bool = False,
    size: int | None = None,
    seed: int = 0,
) -> ImageSet:
    """A dataset by name: "cifar10", "cifar100" or "shapes"; ``split`` "train" or "test".

    ``size`` keeps the first ``size`` images (Shapes draws exactly that many); ``seed`` picks
    the Shapes images; ``root`` and ``download`` concern CIFAR only.
    """
    if name == "shapes":
        return make_shapes(split, size, seed)
    if name in ("cifar10", "cifar100"):
        data = load_cifar(name, split, root, download)
        return data.subset(size) if size is not None else data
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


__all__ = [
    "DATASETS",
    "DatasetMissing",
    "ImageSet",
    "Loader",
    "crop_flip",
    "data_root",
    "load",
    "load_cifar",
    "make_shapes",
    "random_crop_flip",
]
