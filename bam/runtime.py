"""Where code runs, where it keeps its files, and how it is seeded: device choice, the runs
and data folders, seeds, the course's fast mode and static pages; a model's device and its
eval mode; the precision and memory format training and evaluation use on a device."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn


def fast_mode() -> bool:
    """True when ``BAM_FAST=1``: every lesson then runs in seconds on a small CPU (tests set it)."""
    return os.environ.get("BAM_FAST", "0") == "1"


def static_page() -> bool:
    """True when ``BAM_STATIC=1``: a lesson is executed to become a static page (the rendered
    course, ``make site``), where no kernel answers widgets, so they show figures instead."""
    return os.environ.get("BAM_STATIC", "0") == "1"


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else CUDA, then Apple MPS, then the CPU.

    Raises ValueError for a name that is no device (``"gpu"``) or one this machine lacks.
    """
    if prefer is not None:
        try:
            device = torch.device(prefer)
        except RuntimeError as error:
            raise ValueError(
                f"unknown device {prefer!r}: use cuda, mps or cpu (or cuda:N)"
            ) from error
        available = {
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
            "cpu": True,
        }
        if not available.get(device.type, True):
            raise ValueError(f"device {prefer!r} is not available on this machine; try cpu")
        return device
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


# ----------------------------------------------------------------------------- models
def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run the block with ``model`` in eval mode, then put back the mode it had, also when the
    block raises: measuring a model must not leave it switched out of training."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------- precision
@dataclass(frozen=True)
class Precision:
    """How ``fit`` computes: the autocast dtype (None: float32 throughout), whether the loss is
    scaled (float16 only: its small range would flush small gradients to zero), and why."""

    dtype: torch.dtype | None
    reason: str

    @property
    def scaled(self) -> bool:
        return self.dtype == torch.float16

    @property
    def name(self) -> str:
        """``"off"``, ``"bfloat16"`` or ``"float16"``: what checkpoint fingerprints record."""
        return str(self.dtype).removeprefix("torch.") if self.dtype is not None else "off"

    def __str__(self) -> str:
        if self.dtype is None:
            return f"float32 ({self.reason})"
        scaling = " with gradient scaling" if self.scaled else ""
        return f"{self.name} autocast{scaling} ({self.reason})"


def choose_precision(device: torch.device, amp: bool | None = None) -> Precision:
    """The mixed precision ``fit`` uses on ``device``; ``amp=None`` picks what pays there.

    On CUDA the compute capability decides: from 8.0 (A100, RTX 30xx, L4, H100) bfloat16,
    which needs no loss scaling; from 7.0 (V100, T4, RTX 20xx) float16 with a ``GradScaler``:
    there bfloat16 is only emulated and cuDNN has no bfloat16 convolutions (note that
    ``torch.cuda.is_bf16_supported()`` says True on a T4, counting emulation); below 7.0 there
    are no tensor cores and float32 is kept unless ``amp=True`` asks for float16. On the CPU,
    bfloat16 where the CPU computes in it natively (``cpu_has_native_bfloat16``), else
    float32; on Apple MPS float32, and ``amp=True`` is refused.
    """
    if amp is False:
        return Precision(None, "mixed precision off")
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        capability = f"CUDA compute capability {major}.{minor}"
        if major >= 8:
            return Precision(torch.bfloat16, f"{capability}: native bfloat16")
        if major >= 7 or amp:
            why = "bfloat16 only emulated below 8.0" if major >= 7 else "asked for"
            return Precision(torch.float16, f"{capability}: {why}")
        return Precision(None, f"{capability}: no tensor cores, mixed precision would not pay")
    if device.type == "cpu":
        if cpu_has_native_bfloat16():
            return Precision(torch.bfloat16, "CPU with native bfloat16")
        if amp:
            return Precision(torch.bfloat16, "asked for; this CPU only emulates bfloat16")
        return Precision(None, "CPU without native bfloat16")
    if amp:
        raise ValueError(
            f"mixed precision is supported on CUDA and the CPU, not {device.type}: pass amp=False"
        )
    return Precision(None, f"{device.type}: mixed precision is not used there")


def channels_last_default(device: torch.device) -> bool:
    """Whether ``fit`` and ``evaluate`` use the channels-last memory format by default: on CUDA
    and on the CPU, whatever the precision."""
    # cuDNN and oneDNN both run convolutions faster in NHWC: on a 2-core Xeon a float32
    # ResNet-20 training step was about 15% faster than in NCHW.
    return device.type in ("cuda", "cpu")


def inference_batch(device: torch.device) -> int:
    """Images per batch when a network only runs forward (``evaluate``, ``bam.maps.collect``,
    ``bam.localisation.compare``): 128 on the CPU, 500 elsewhere."""
    # On the CPU a ResNet-20 at 32x32 keeps 128 images' activations in cache: `python -m
    # bam.bench train --images 2000` measured batches of 128 1.3-1.4x faster than 500.
    return 128 if device.type == "cpu" else 500


def autocast(device: torch.device, dtype: torch.dtype | None, cache: bool = True):
    """``torch.autocast`` to ``dtype`` on ``device``'s type, or nothing when ``dtype`` is None.
    ``cache=False`` keeps no cast copies of the weights (a CUDA graph would replay stale ones)."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device.type, dtype=dtype, cache_enabled=cache)
