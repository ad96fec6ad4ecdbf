"""CIFAR-10's archive written from any ``ImageSet``, so that ``load_cifar``'s reading code (the
unpacking, the checksums, the unpickling, the conversion) can be checked where CIFAR cannot be
downloaded: the GPU self-check and the tests read Shapes images through it."""

from __future__ import annotations

import hashlib
import pickle
import shutil
import tarfile
import tempfile
from pathlib import Path
from unittest import mock

import torch
from torchvision import datasets

from bam.data.cifar import load_cifar
from bam.data.dataset import ImageSet


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_cifar_archive(folder: Path, train: ImageSet, test: ImageSet) -> dict:
    """Write ``train`` (over five batch files) and ``test`` as CIFAR-10's archive,
    ``cifar-10-python.tar.gz`` in ``folder``, in the pickled format torchvision reads; return
    the MD5 table torchvision checks, for these files instead of the real ones."""
    source = datasets.CIFAR10
    staging = folder / "staging" / source.base_folder
    staging.mkdir(parents=True)
    files = [name for name, _ in source.train_list]
    chunks = [c for c in zip(train.images.chunk(5), train.labels.chunk(5), strict=True)]
    chunks.append((test.images, test.labels))
    for name, (images, labels) in zip([*files, source.test_list[0][0]], chunks, strict=True):
        entry = {"data": images.reshape(len(images), -1).numpy(), "labels": labels.tolist()}
        (staging / name).write_bytes(pickle.dumps(entry))  # rows: R, then G, then B planes
    meta = {source.meta["key"]: list(train.classes)}
    (staging / source.meta["filename"]).write_bytes(pickle.dumps(meta))
    archive = folder / source.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging, arcname=source.base_folder)
    table = {
        "train_list": [[name, _md5(staging / name)] for name in files],
        "test_list": [[source.test_list[0][0], _md5(staging / source.test_list[0][0])]],
        "meta": {**source.meta, "md5": _md5(staging / source.meta["filename"])},
        "tgz_md5": _md5(archive),
    }
    shutil.rmtree(folder / "staging")  # load_cifar must unpack the archive itself
    return table


def read_cifar_archive(train: ImageSet, test: ImageSet) -> tuple[ImageSet, ImageSet]:
    """``train`` and ``test`` written as a CIFAR-10 archive and read back by ``load_cifar``
    (unpacking, MD5 checks, unpickling, conversion: only the expected sums are ours)."""
    with tempfile.TemporaryDirectory() as folder:
        table = write_cifar_archive(Path(folder), train, test)
        with mock.patch.multiple(datasets.CIFAR10, **table):
            read = load_cifar("cifar10", "train", root=folder)
            read_test = load_cifar("cifar10", "test", root=folder)
    for original, back in ((train, read), (test, read_test)):
        if not (
            torch.equal(original.images, back.images) and torch.equal(original.labels, back.labels)
        ):
            raise AssertionError(f"{back.name}: the images read differ from those written")
    return read, read_test
