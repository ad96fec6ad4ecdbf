"""What the speed measurements share: the time of one training step, the images/s of one pass
over a loader, and the usual torchvision input pipeline they are compared against.

``bam.bench`` and ``bam.gpu_check`` time with these; lesson 05 times BAM's cost with
``step_time``.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

from bam.data.dataset import ImageSet


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
