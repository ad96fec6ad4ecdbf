"""Several training runs on one device at once, one process each, against one run alone.

A ResNet-20 step at 32x32 leaves a large GPU mostly idle, even captured as a CUDA graph:
runs side by side fill it (lesson 06's nine runs, lesson 08's grid). ``side_by_side``
measures what they gain, with the step ``fit`` takes on that device (``bam.train_step``).
"""

from __future__ import annotations

import itertools
import time

import torch

from bam.data.dataset import ImageSet
from bam.data.loader import Loader
from bam.models import create
from bam.runtime import choose_precision, seed_everything
from bam.timing import synchronize
from bam.train_step import WARMUP_STEPS, CapturedStep, EagerStep, capture_supported


def _steady_rate(name, data, device, batch, steps, barrier=None) -> tuple[float, float]:
    """Wall-clock start and end of ``steps`` training steps of a fresh ``name`` on ``data``,
    with the step ``fit`` uses on ``device``, after a warm-up; with a ``barrier``, every
    process starts timing together."""
    device = torch.device(device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # side by side, one thread each
    seed_everything(0)
    model = create(name, num_classes=data.num_classes).to(device, memory_format=torch.channels_last)
    precision = choose_precision(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    warmup = WARMUP_STEPS + 3
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, warmup + steps)
    scaler = torch.amp.GradScaler(device.type, enabled=precision.scaled)
    kind = CapturedStep if capture_supported(device, precision) else EagerStep
    criterion = torch.nn.CrossEntropyLoss()
    step = kind(model, optimizer, scheduler, scaler, criterion, precision, device)
    loader = Loader(data, batch, train=True, device=device, channels_last=True)
    batches = itertools.cycle(list(itertools.islice(loader, warmup + steps)))
    for _ in range(warmup):
        step(*next(batches))
    synchronize(device)
    if barrier is not None:
        barrier.wait()
    start = time.time()  # wall clock: comparable across processes
    for _ in range(steps):
        step(*next(batches))
    synchronize(device)
    return start, time.time()


def _side_worker(queue, barrier, *args) -> None:
    queue.put(_steady_rate(*args, barrier=barrier))


def side_by_side(
    data: ImageSet, device: torch.device, batch: int, steps: int, runs: int
) -> dict[str, float]:
    """Images/s of ResNet-20 training alone, and of ``runs`` processes training one each on the
    same device at once (their steps in the span from the first start to the last end)."""
    name = "resnet20"
    start, end = _steady_rate(name, data, str(device), batch, steps)
    alone = steps * batch / (end - start)
    context = torch.multiprocessing.get_context("spawn")
    queue, barrier = context.SimpleQueue(), context.Barrier(runs)
    args = (queue, barrier, name, data, str(device), batch, steps)
    workers = [context.Process(target=_side_worker, args=args) for _ in range(runs)]
    for worker in workers:
        worker.start()
    spans = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
        if worker.exitcode:
            raise RuntimeError(f"a side-by-side training process failed (exit {worker.exitcode})")
    together = runs * steps * batch / (max(e for _, e in spans) - min(s for s, _ in spans))
    return {"alone": alone, "together": together}
