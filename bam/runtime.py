"""Where code runs, where it keeps its files, and how it is seeded: device choice, the runs
and data folders, seeds, the course's fast mode and static pages."""

from __future__ import annotations

import os
import random
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch


def fast_mode() -> bool:
    """True when ``BAM_FAST=1``: every lesson then runs in seconds on a small CPU (tests set it)."""
    return os.environ.get("BAM_FAST", "0") == "1"


def static_page() -> bool:
    """True when ``BAM_STATIC=1``: a lesson is executed to become a static page (the rendered
    course, ``make site``), where no kernel answers widgets, so they show figures instead."""
    return os.environ.get("BAM_STATIC", "0") == "1"


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else CUDA, then Apple MPS, then the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def checkout_root() -> Path | None:
    """The repository this package runs from, or None when it is installed from a wheel or a
    git URL (as in Colab), where there is no checkout to keep files in."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "bam").is_dir() else None


def _folder(variable: str, name: str) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable]).expanduser().absolute()
    return (checkout_root() or Path.cwd()) / name


def runs_dir() -> Path:
    """Where checkpoints and results go: ``$BAM_RUNS`` if set, else ``runs/`` in the checkout
    the package runs from, else ``./runs``. Point ``BAM_RUNS`` at a folder that outlives the
    machine (Google Drive in Colab) to keep runs across sessions."""
    return _folder("BAM_RUNS", "runs")


def data_root() -> Path:
    """Where datasets are cached: ``$BAM_DATA`` if set, else ``data/`` in the checkout the
    package runs from, else ``./data``."""
    return _folder("BAM_DATA", "data")


CPUINFO = Path("/proc/cpuinfo")


@lru_cache(maxsize=1)
def cpu_has_native_bfloat16() -> bool:
    """True when this CPU computes in bfloat16 natively (the Linux ``amx_bf16`` or
    ``avx512_bf16`` flags). There oneDNN runs convolutions in bfloat16 and mixed precision
    trains faster; elsewhere bfloat16 is emulated and can be slower than float32."""
    try:
        flags = CPUINFO.read_text().split()
    except OSError:  # not Linux: no cheap, reliable way to tell
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices): same seed, same CPU result, as long as the
    number of threads is the same too."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
