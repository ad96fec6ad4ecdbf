"""Checkpoints of ``bam.train.fit``: written atomically, read safely, resumed only by their run.

A checkpoint holds the state of the model, optimizer, scheduler and gradient scaler, every
random state the run draws from, and the History so far, whose ``config`` is the run's
fingerprint: the architecture, the data and the hyperparameters. Resuming compares the
fingerprint with the new run's and refuses a checkpoint written by another run, naming what
differs. Files are read with ``torch.load(weights_only=True)``: tensors and plain containers
only, never arbitrary objects.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch import nn

from bam.data.dataset import ImageSet
from bam.data.loader import Loader
from bam.errors import BamError
from bam.profile import count_params

CHECKPOINT_KEYS = {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "history"}
REMEDY = "Delete it to start over, or pass another checkpoint path."


class CheckpointError(BamError):
    """A checkpoint that cannot be resumed from: unreadable, or written by another run."""


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename it over
    ``path``: a crash at any moment leaves either the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        fd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def checkpoint_paths(checkpoint: str | os.PathLike) -> tuple[Path, Path]:
    """``(checkpoint file, history JSON)`` for a directory (``checkpoint.pt`` and
    ``history.json`` inside it) or a ``.pt`` file (the JSON beside it, same stem)."""
    path = Path(checkpoint)
    if path.suffix == ".pt":
        return path, path.with_suffix(".json")
    return path / "checkpoint.pt", path / "history.json"


def load_tensors(path: Path) -> object:
    """``torch.load`` of tensors and plain containers only, on the CPU; a file that cannot be
    read that way raises CheckpointError in one line that says why and what to do."""
    try:
        # PyTorch warns about pickle protocols while it reads a file that is no checkpoint.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise CheckpointError(
            f"no checkpoint at {path}; train one with python -m bam.train"
        ) from error
    except Exception as error:
        # PyTorch's own text runs over many lines and advises loading untrusted code: it is
        # not repeated. A file of tensors never fails this way; a damaged one does.
        if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
            why = "the file is truncated, damaged or not a PyTorch file"
        elif isinstance(error, pickle.UnpicklingError):
            why = "it holds objects other than tensors, which are not loaded from files"
        else:
            why = "the file is damaged"
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(error).__name__}): {why}. {REMEDY}"
        ) from error


def read_checkpoint(path: Path) -> dict:
    """The state a checkpoint of ``bam.train.fit`` holds, or CheckpointError."""
    state = load_tensors(path)
    if not isinstance(state, dict) or not CHECKPOINT_KEYS <= state.keys():
        raise CheckpointError(f"{path} is not a checkpoint written by bam.train.fit. {REMEDY}")
    return state


def check_fingerprint(path: Path, saved: dict, current: dict) -> None:
    """Raise CheckpointError, naming every difference, unless the fingerprints agree."""
    diffs = [
        f"{key}: checkpoint has {saved.get(key)!r}, this run has {current.get(key)!r}"
        for key in sorted(saved.keys() | current.keys())
        if saved.get(key) != current.get(key)
    ]
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different run, so it cannot be resumed ("
            + "; ".join(diffs)
            + f"). {REMEDY}"
        )


def _describe(data: ImageSet) -> str:
    return f"{data.name} ({len(data)} images, sha256 {data.digest})"


def fingerprint(
    model: nn.Module, train_set: ImageSet, test_set: ImageSet | None, **hparams
) -> dict:
    """What a checkpoint must agree on to be resumed: the architecture (class, parameter
    count, a digest of every state name and shape), the data (name, size and a digest of its
    pixels and labels) and the hyperparameters."""
    layout = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return {
        "model": type(model).__name__,
        "parameters": count_params(model),
        "architecture": hashlib.sha256(layout.encode()).hexdigest()[:16],
        "train_set": _describe(train_set),
        "test_set": None if test_set is None else _describe(test_set),
        **hparams,
    }


def rng_state(loader: Loader) -> dict:
    """Every random state a run draws from, as tensors and plain containers only."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": loader.generator.get_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }


def set_rng_state(state: dict, loader: Loader) -> None:
    """Put back the random states ``rng_state`` saved."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    loader.generator.set_state(state["loader"])
    random.setstate(_as_tuples(state["python"]))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))


def _as_tuples(value):
    # random.setstate wants tuples where the saved state had them; keep them tuples either way.
    return tuple(_as_tuples(v) for v in value) if isinstance(value, list | tuple) else value


def save_checkpoint(path: Path, parts: dict, loader: Loader, history: dict) -> None:
    """Write the state of ``parts`` (name -> object with ``state_dict``), the random states and
    ``history`` (a ``History.to_dict()``) to ``path``, atomically."""
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(rng=rng_state(loader), epoch=len(history["epoch"]), history=history)
    atomic_write(path, lambda f: torch.save(state, f))


def resume(path: Path, config: dict, parts: dict, loader: Loader) -> dict:
    """Load the checkpoint at ``path`` into ``parts`` and ``loader`` after checking that it
    belongs to the run fingerprinted ``config``; return its history as a dict."""
    state = read_checkpoint(path)
    check_fingerprint(path, state["history"]["config"], config)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    set_rng_state(state["rng"], loader)
    return state["history"]
