"""Where code runs and how it is seeded: device choice, seeds, the course's fast mode."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def fast_mode() -> bool:
    """True when ``BAM_FAST=1``: every lesson then runs in seconds on a small CPU (tests set it)."""
    return os.environ.get("BAM_FAST", "0") == "1"


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else CUDA, then Apple MPS, then the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (all devices): same seed, same CPU result."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
