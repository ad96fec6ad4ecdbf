"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) through ``torchvision.datasets``, as ImageSets.

The archives are cached in ``bam.runtime.data_root()`` (``data/``, or ``$BAM_DATA``) and every
file is checked against torchvision's MD5 list before it is read. Nothing is downloaded unless
the caller passes ``download=True``; without it, a missing or damaged file is an error that
names the file and says how to get it, or to use the offline Shapes set instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from bam.data.dataset import ImageSet
from bam.errors import BamError
from bam.runtime import data_root

if TYPE_CHECKING:
    from torchvision.datasets import CIFAR10

NAMES = ("cifar10", "cifar100")
# Per-channel mean and std of each training split's pixels on the [0, 1] scale.
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


def source(name: str) -> type[CIFAR10]:
    """torchvision's dataset class for ``name``: its file list, MD5s, URL and reader."""
    # Imported here, not above: torchvision takes over a second to import, and most users of
    # bam.data (every Shapes lesson, every command line) never read CIFAR.
    from torchvision import datasets

    return {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]


class DatasetMissing(BamError):
    """A CIFAR archive is missing, damaged or could not be downloaded; the message says how to
    get it (a RuntimeError, as ``except RuntimeError`` in the lessons expects)."""


def _bad_files(source: type[CIFAR10], folder: Path) -> list[str]:
    """Names of the batch and meta files that are missing or fail their MD5 check."""
    from torchvision.datasets.utils import check_integrity

    expected = [
        *source.train_list,
        *source.test_list,
        [source.meta["filename"], source.meta["md5"]],
    ]
    return [name for name, md5 in expected if not check_integrity(str(folder / name), md5)]


def _how_to_get(name: str, source: type[CIFAR10], root: Path) -> str:
    return (
        f"Download it once with bam.data.load({name!r}, download=True) or "
        f"`python -m bam.train --dataset {name} --download`; offline, put {source.filename} "
        f"(from {PAGE}) in {root} and it is unpacked and checked on first use; set BAM_DATA "
        "to keep datasets elsewhere. No network at all? --dataset shapes (bam.data.shapes) "
        "is generated offline."
    )


def _prepare(name: str, root: Path, download: bool) -> None:
    """Make sure ``root`` holds the verified, unpacked archive of ``name``, or raise."""
    from torchvision.datasets.utils import (
        check_integrity,
        download_and_extract_archive,
        extract_archive,
    )

    data = source(name)
    folder = root / data.base_folder
    bad = _bad_files(data, folder)
    if not bad:
        return
    archive = root / data.filename
    if archive.is_file():
        if not check_integrity(str(archive), data.tgz_md5):
            raise DatasetMissing(
                f"{archive} is damaged: its MD5 is not {data.tgz_md5}. Delete it and "
                + _how_to_get(name, data, root)
            )
        extract_archive(str(archive), str(root))
    elif download:
        root.mkdir(parents=True, exist_ok=True)
        try:
            download_and_extract_archive(
                data.url, str(root), filename=data.filename, md5=data.tgz_md5
            )
        except OSError as error:  # urllib's URLError is an OSError: no network, no server
            raise DatasetMissing(
                f"could not download {data.url} into {root} ({error}). "
                + _how_to_get(name, data, root)
            ) from error
    bad = _bad_files(data, folder)
    if bad:
        state = "missing" if not folder.is_dir() else f"missing or damaged: {', '.join(bad)}"
        raise DatasetMissing(
            f"{name} not found in {folder} ({state}). " + _how_to_get(name, data, root)
        )


def load_cifar(
    name: str = "cifar10",
    split: str = "train",
    root: str | os.PathLike | None = None,
    download: bool = False,
) -> ImageSet:
    """CIFAR-10 or CIFAR-100, ``split`` "train" (50,000 images) or "test" (10,000).

    Args:
        name: "cifar10" or "cifar100" (its 100 fine labels).
        split: "train" or "test".
        root: cache folder; defaults to ``bam.runtime.data_root()``.
        download: fetch the archive when it is not in ``root`` (about 170 MB).
    """
    if name not in NAMES:
        raise ValueError(f"name must be one of {list(NAMES)}, got {name!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else data_root()
    _prepare(name, root, download)
    # torchvision re-checks every MD5, unpickles the batches and gives (N, H, W, C) uint8.
    raw = source(name)(str(root), train=split == "train", download=False)
    images = torch.from_numpy(raw.data).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(raw.targets, dtype=torch.long)
    mean, std = STATS[name]
    return ImageSet(images, labels, tuple(raw.classes), mean, std, f"{name}-{split}")
