"""What the speed measurements share: the time of one training step, the images/s of one pass
over a loader, and the usual torchvision input pipeline they are compared against.

``bam.bench`` and ``bam.gpu_check`` time with these; lesson 05 times BAM's cost with
``step_time`` and each of its parts with ``bam_part_times``.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from bam.data.dataset import ImageSet
from bam.layers import BAM
from bam.layers.fused_gate import fused_gate
from bam.models.cifar_resnet import BasicBlock


class PILImages(Dataset):
    """The usual torchvision pipeline: an (N, H, W, C) uint8 array, one PIL image per item,
    per-image transforms (as ``torchvision.datasets.CIFAR10`` does)."""

    def __init__(self, data: ImageSet, transform) -> None:
        self.array = data.images.permute(0, 2, 3, 1).numpy()
        self.labels = data.labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.array[i])), self.labels[i]


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has run every kernel queued so far (CUDA runs them asynchronously);
    nothing to wait for on a CPU. A timer read after this call has seen the work finish."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_s(batches, count: int) -> float:
    """Images per second to draw every batch of one pass (the tensors are touched, not used)."""
    start = time.perf_counter()
    x = None
    for x, _ in batches:
        x.sum()
    if x is not None:
        synchronize(x.device)
    return count / (time.perf_counter() - start)


def step_time(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer,
    dtype: torch.dtype | None = None,
) -> float:
    """Seconds of one SGD step: forward, backward and the optimizer's update, under autocast
    to ``dtype`` if given (on CUDA, timed from an idle device until the device is done)."""
    synchronize(x.device)
    start = time.perf_counter()
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
        loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    synchronize(x.device)
    return time.perf_counter() - start


def bam_part_times(
    channels: int,
    size: int,
    batch: int = 32,
    repeats: int = 10,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Median seconds of forward + backward for each part of a BAM (Park et al., 2018, eqs. 1-4)
    on a ``(batch, channels, size, size)`` map, next to one residual block of the same width:
    ``{"residual block", "channel branch", "spatial branch", "gate", "whole BAM"}``.

    The gate is ``F * (1 + sigmoid(Mc + Ms))`` on the two branches' logits; the whole BAM is
    all three together. Every part computes the gradient of its input, as inside a network,
    and the parts take turns (``repeats`` rounds after a warm-up), so all see the same load.
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=generator).to(device)
    bam = BAM(channels).to(device)
    block = BasicBlock(channels, channels).to(device)
    with torch.no_grad():
        logits = (bam.channel(x), bam.spatial(x))
    parts = {
        "residual block": (block, (x,)),
        "channel branch": (bam.channel, (x,)),
        "spatial branch": (bam.spatial, (x,)),
        "gate": (fused_gate, (x, *logits)),
        "whole BAM": (bam, (x,)),
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    for round_ in range(repeats + 1):
        for name, (part, inputs) in parts.items():
            inputs = [t.detach().requires_grad_() for t in inputs]
            synchronize(device)
            start = time.perf_counter()
            out = part(*inputs)
            out.backward(torch.ones_like(out))
            synchronize(device)
            if round_:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def kernel_times(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    optimizer,
    dtype: torch.dtype | None = None,
    steps: int = 3,
) -> dict[str, float]:
    """Seconds per training step spent in each kernel (on CUDA) or operator (on a CPU), by
    name, read by ``torch.profiler`` over ``steps`` eager steps after a warm-up one."""
    from torch.profiler import ProfilerActivity, profile

    step_time(model, x, y, optimizer, dtype)
    activity = ProfilerActivity.CUDA if x.is_cuda else ProfilerActivity.CPU
    with profile(activities=[activity]) as profiler:
        for _ in range(steps):
            step_time(model, x, y, optimizer, dtype)
    own = "self_device_time_total" if x.is_cuda else "self_cpu_time_total"
    times = {}
    for event in profiler.key_averages():
        microseconds = getattr(event, own, 0)
        if microseconds > 0:
            times[event.key] = microseconds / steps / 1e6
    return times
