"""Trained networks and measured results that ship with the course, each with its provenance.

    bam.pretrained.available()                      # what ships
    model = bam.pretrained.load("shapes-bam_resnet20-s0")   # ready to evaluate
    history = bam.pretrained.history("shapes-bam_resnet20-s0")
    rows = bam.pretrained.grid("08-shapes-grid")    # lesson 08's 65 runs

Everything lives in ``bam/results/`` (package data, so ``pip install`` from git gets it),
described by ``manifest.json``: per artifact what it is, the call that produced it, its seed,
thread count, torch version, the project commit it was trained at, its recipe, its results and
its SHA-256. Every read checks the digest first and refuses a file that does not match.
Checkpoints are plain state dicts in float16 (loaded with ``weights_only=True``); the
manifest's accuracy is measured on the float16 weights, in float32 on the CPU.

``make artifacts`` (``python -m tools.artifacts``) regenerates every artifact and the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from bam.errors import BamError

RESULTS = Path(__file__).parent / "results"
MANIFEST = "manifest.json"
KINDS = ("checkpoint", "history", "grid")


class ArtifactError(BamError):
    """A shipped file is missing, or its contents do not match the manifest's digest."""


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=4)
def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"{path} is missing: this copy of bam ships no results; reinstall the package "
            "or run `make artifacts` in a checkout"
        )
    return json.loads(path.read_text())


def manifest(folder: str | os.PathLike = RESULTS) -> dict:
    """The manifest: ``{"artifacts": {name: entry}}`` plus what the whole build shares."""
    return _read_manifest(Path(folder))


def available(kind: str | None = None, folder: str | os.PathLike = RESULTS) -> list[str]:
    """Names of the shipped artifacts (of one ``kind``: checkpoint, history or grid)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    entries = manifest(folder)["artifacts"]
    return sorted(name for name, e in entries.items() if kind in (None, e["kind"]))


def info(name: str, kind: str | None = None, folder: str | os.PathLike = RESULTS) -> dict:
    """The manifest's entry of one artifact (its provenance and results)."""
    entries = manifest(folder)["artifacts"]
    if name not in entries or kind not in (None, entries[name]["kind"]):
        names = ", ".join(available(kind, folder))
        raise ValueError(f"no shipped {kind or 'artifact'} called {name!r}; there are: {names}")
    return entries[name]


def verified_path(name: str, kind: str | None = None, folder: str | os.PathLike = RESULTS) -> Path:
    """The file of an artifact, after checking that its SHA-256 is the manifest's."""
    entry = info(name, kind, folder)
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise ArtifactError(
            f"{name}: {path} is missing; reinstall the package or run `make artifacts`"
        )
    digest = sha256(path)
    if digest != entry["sha256"]:
        raise ArtifactError(
            f"{name}: {path} has SHA-256 {digest[:12]}..., the manifest says "
            f"{entry['sha256'][:12]}...: the file was changed or damaged, so it is not loaded; "
            "reinstall the package or run `make artifacts`"
        )
    return path


def load(
    name: str, device: torch.device | str | None = None, folder: str | os.PathLike = RESULTS
) -> nn.Module:
    """A shipped network, its weights in float32, in eval mode, on ``device`` (default: the
    best available, as ``bam.runtime.get_device``)."""
    from bam.models import create
    from bam.runtime import get_device

    entry = info(name, "checkpoint", folder)
    state = torch.load(
        verified_path(name, "checkpoint", folder), map_location="cpu", weights_only=True
    )
    model = create(entry["model"], num_classes=entry["num_classes"], **entry.get("attention", {}))
    model.load_state_dict(state)  # copies the float16 values into the float32 parameters
    return model.eval().to(get_device(None if device is None else str(device)))


def history(name: str, folder: str | os.PathLike = RESULTS):
    """The per-epoch ``bam.history.History`` of a shipped network (name of the network or of
    its history artifact)."""
    from bam.history import History

    entries = manifest(folder)["artifacts"]
    if name in entries and entries[name]["kind"] == "checkpoint":
        name = entries[name]["history"]
    return History.load(verified_path(name, "history", folder))


def grid(name: str, folder: str | os.PathLike = RESULTS) -> list[dict]:
    """The finished runs of a shipped grid, one dict per run (as ``bam.experiments.run_grid``
    returns them)."""
    from bam.results_file import read_results

    return read_results(verified_path(name, "grid", folder))


def save_state_dict(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s state dict as shipped: floating-point tensors in float16, contiguous
    (a channels-last model is stored in the default layout), atomically."""
    from bam.checkpoint import atomic_write

    state = {
        key: (t.detach().to("cpu", torch.float16) if t.is_floating_point() else t.cpu())
        .contiguous()
        .clone()
        for key, t in model.state_dict().items()
    }
    atomic_write(Path(path), lambda f: torch.save(state, f))


if __name__ == "__main__":  # the command itself is bam.commands.pretrained
    from bam import cli
    from bam.commands import pretrained

    cli.run(pretrained.main, pretrained.PROG)
