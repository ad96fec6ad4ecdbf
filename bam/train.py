"""Train and evaluate an image classifier, with checkpoints that survive interruption.

    history = fit(model, train_set, test_set, epochs=30, checkpoint="runs/cifar10-bam")
    loss, accuracy = evaluate(model, test_set)

The recipe is the standard one for CIFAR ResNets, since the BAM paper does not state its own:
random crop (4-pixel padding) and horizontal flip, SGD with Nesterov momentum 0.9, weight decay
5e-4, label smoothing 0.1, a one-cycle (or cosine) learning-rate schedule stepped every batch.

By default the memory format is channels-last on CUDA and on the CPU alike, and the precision
is mixed where it pays (``bam.runtime.choose_precision``): bfloat16 autocast on CUDA from
compute capability 8.0 and on CPUs that compute in bfloat16 natively (AMX or AVX-512 BF16),
float16 with gradient scaling on CUDA 7.x, float32 elsewhere. ``amp=False`` and
``channels_last=False`` turn either off; the precision is printed and fingerprinted.

A checkpoint (``bam.checkpoint``) is written atomically after every epoch; calling ``fit`` again
with the same arguments resumes from the last completed epoch and ends with exactly the weights
an uninterrupted run would have (on the CPU), or returns at once when the run is complete.

Command line:  python -m bam.train --dataset shapes --model bam_resnet20 --epochs 5 --out DIR
(its parsing is ``bam.commands.train``)
"""

from __future__ import annotations

import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from bam.checkpoint import (
    CheckpointError,
    checkpoint_paths,
    fingerprint,
    resume,
    save_checkpoint,
)
from bam.data.dataset import ImageSet
from bam.data.loader import Loader
from bam.history import History
from bam.runtime import (
    autocast,
    channels_last_default,
    choose_precision,
    eval_mode,
    get_device,
    inference_batch,
    model_device,
    seed_everything,
    static_page,
)
from bam.train_step import CapturedStep, EagerStep, capture_supported

SCHEDULES = ("onecycle", "cosine")
# The course's CPU recipe for Shapes, and the defaults of python -m bam.train: that command
# trained a BAM-ResNet-20 to 94.6% test accuracy in 148 s on a 2-core Xeon with bfloat16. It
# also sets lesson 08's CPU grid, so changing it changes that grid's fingerprints.
SHAPES_RECIPE = dict(epochs=8, batch_size=128, lr=0.2)
# Lessons 06 and 07 on CIFAR-10 with a CUDA GPU (the GPU self-check trains fewer epochs of it):
# batch 512 at lr 0.4 matched batch 256's accuracy at 1.2-1.3x the speed (README, on a GPU).
CIFAR_RECIPE = dict(epochs=40, batch_size=512, lr=0.4)


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: ImageSet,
    *,
    batch_size: int | None = None,
    normalize_like: ImageSet | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (a fraction) of ``model`` on every image of ``dataset``,
    in eval mode, on the device the model is on. ``normalize_like`` is the training set when
    ``dataset`` is a test set with statistics of its own (the course's sets share them);
    ``batch_size`` defaults to ``bam.runtime.inference_batch``."""
    device = model_device(model)
    dtype = choose_precision(device, amp).dtype
    if channels_last is None:
        channels_last = channels_last_default(device)
    loader = Loader(
        dataset,
        batch_size or inference_batch(device),
        device=device,
        normalize_like=normalize_like,
        channels_last=channels_last,
    )
    totals = torch.zeros(2, device=device)
    with eval_mode(model):
        for x, y in loader:
            with autocast(device, dtype):
                logits = model(x)
            totals[0] += F.cross_entropy(logits.float(), y, reduction="sum")
            totals[1] += (logits.argmax(1) == y).sum()
    loss, correct = (totals / len(dataset)).tolist()
    return loss, correct


# ----------------------------------------------------------------------------- training
def _scheduler(schedule: str, optimizer, lr: float, total_steps: int):
    # One cycle: warm up from lr / 25 over the first quarter, then cosine-anneal to lr / 1e5;
    # the momentum stays at 0.9 (no momentum cycling). OneCycleLR divides by the length of
    # each phase, so a short run gets at least one step of each; a run of one or two steps has
    # no room for a warm-up and gets the cosine decay alone.
    if schedule == "onecycle" and total_steps >= 3:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            lr,
            total_steps=total_steps,
            pct_start=max(0.25, 2 / total_steps),
            cycle_momentum=False,
        )
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)


def fit(
    model: nn.Module,
    train_set: ImageSet,
    test_set: ImageSet | None = None,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 0.2,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.1,
    schedule: str = "onecycle",
    augment: bool = True,
    device: torch.device | str | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
    compile: bool = False,
    capture: bool | None = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` on ``train_set`` for ``epochs`` epochs; evaluate on ``test_set`` after
    each; return the History (also saved as JSON beside the checkpoint).

    Args:
        epochs: passes over the training set.
        batch_size: images per SGD step; the last incomplete batch of an epoch is dropped.
        lr: the peak learning rate (one-cycle) or the starting one (cosine).
        momentum, weight_decay: of SGD with Nesterov momentum.
        label_smoothing: of the training loss.
        schedule: "onecycle" or "cosine", both stepped every batch (a one-cycle run of fewer
            than 3 steps has no room for a warm-up and gets the cosine decay).
        augment: random crop with 4-pixel padding and horizontal flip.
        device: where to train; default CUDA, then Apple MPS, then the CPU. The model is moved.
        amp: mixed precision, chosen by ``choose_precision``: by default bfloat16 on CUDA
            from compute capability 8.0, float16 with gradient scaling on 7.x, bfloat16 on
            CPUs with native bfloat16, float32 elsewhere; ``False`` is float32 everywhere.
            The choice is printed at the start and recorded in the checkpoint fingerprint.
        channels_last: channels-last memory format; default on for CUDA and the CPU.
        compile: run the model through ``torch.compile``.
        capture: replay the step as one CUDA graph (``bam.train_step.CapturedStep``); default:
            on CUDA unless float16 scales gradients; on a CPU, ``True`` runs the same step
            uncaptured.
        seed: seeds every random number generator, the loader's shuffling and augmentation
            included: the same seed gives the same CPU result with the same number of
            threads (parallel kernels split their sums by thread, so 1 and 2 threads
            round differently and training amplifies the difference).
        checkpoint: a directory (or a ``.pt`` file) to write after every epoch and resume from.
        progress: show a progress bar (none on a static page, ``BAM_STATIC=1``) and one line
            per epoch.

    Raises:
        CheckpointError: the checkpoint cannot be read, or belongs to a different run.
        KeyboardInterrupt: passed on after saying which epochs the checkpoint holds.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    device = get_device(None if device is None else str(device))
    precision = choose_precision(device, amp)
    dtype = precision.dtype
    if channels_last is None:
        channels_last = channels_last_default(device)
    hparams = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        schedule=schedule,
        augment=augment,
        seed=seed,
        amp=precision.name,
    )
    config = fingerprint(model, train_set, test_set, **hparams)

    seed_everything(seed)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    loader = Loader(
        train_set,
        batch_size,
        train=True,
        device=device,
        seed=seed,
        padding=4 if augment else 0,
        flip=augment,
        channels_last=channels_last,
    )
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=True
    )
    scheduler = _scheduler(schedule, optimizer, lr, epochs * len(loader))
    scaler = torch.amp.GradScaler(device.type, enabled=precision.scaled)
    history = History(config=config)
    if progress:
        tqdm.write(f"precision: {precision}")

    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler}
    ckpt_path = json_path = None
    if checkpoint is not None:
        ckpt_path, json_path = checkpoint_paths(checkpoint)
        if ckpt_path.exists():
            history = History(**resume(ckpt_path, config, parts, loader))
            if progress and len(history) == epochs:
                tqdm.write(f"loaded the finished run from {ckpt_path}")
            elif progress:
                tqdm.write(f"resuming from {ckpt_path} after epoch {len(history)}/{epochs}")

    net = torch.compile(model) if compile else model
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    if capture is None:
        capture = capture_supported(device, precision)
    step = (CapturedStep if capture else EagerStep)(
        net, optimizer, scheduler, scaler, criterion, precision, device
    )
    if progress and capture:
        tqdm.write(f"training step: {step.mode}")
    epoch = len(history) + 1
    try:
        for epoch in range(len(history) + 1, epochs + 1):
            start = time.perf_counter()
            desc = f"epoch {epoch}/{epochs}"
            loss, accuracy, seen = _train_epoch(net, loader, step, desc, progress)
            train_time = time.perf_counter() - start
            start = time.perf_counter()
            test_loss = test_acc = None
            if test_set is not None:
                amp_on = dtype is not None
                test_loss, test_acc = evaluate(
                    net, test_set, normalize_like=train_set, amp=amp_on, channels_last=channels_last
                )
            history.epoch.append(epoch)
            history.train_loss.append(loss)
            history.train_acc.append(accuracy)
            history.test_loss.append(test_loss)
            history.test_acc.append(test_acc)
            history.train_time.append(train_time)
            history.eval_time.append(time.perf_counter() - start)
            history.images_per_s.append(seen / train_time)
            if ckpt_path is not None:
                save_checkpoint(ckpt_path, parts, loader, history.to_dict())
                history.save(json_path)
            if progress:
                tqdm.write(_epoch_line(history, epochs))
    except KeyboardInterrupt:
        if progress:
            if ckpt_path is None:
                saved = "nothing was saved (pass checkpoint=... to keep progress)"
            elif not len(history):
                saved = (
                    f"no epoch had finished, so nothing was written to {ckpt_path} yet; "
                    "calling fit again starts from the beginning"
                )
            else:
                saved = (
                    f"the checkpoint {ckpt_path} holds epochs 1-{len(history)}; call fit again "
                    "with the same arguments to resume"
                )
            print(f"\ninterrupted during epoch {epoch}: {saved}", file=sys.stderr)
        raise
    if json_path is not None:
        history.save(json_path)
    return history


def _train_epoch(net, loader, step, desc, progress):
    """One pass over ``loader``; returns the mean loss, the accuracy and the images seen."""
    net.train()
    step.totals.zero_()
    seen = 0
    # A static page cannot animate a bar: it would show a frozen "0%" widget. The epoch lines stay.
    with tqdm(loader, desc=desc, leave=False, disable=not progress or static_page()) as bar:
        for i, (x, y) in enumerate(bar):
            step(x, y)
            seen += len(y)
            if progress and i % 20 == 0:  # .item() waits for the device: not every step
                bar.set_postfix(loss=f"{step.totals[0].item() / seen:.3f}")
    loss_sum, correct = step.totals.tolist()
    return loss_sum / seen, correct / seen, seen


def _epoch_line(history: History, epochs: int) -> str:
    line = (
        f"epoch {history.epoch[-1]}/{epochs}: train loss {history.train_loss[-1]:.3f} "
        f"acc {history.train_acc[-1]:.1%}"
    )
    if history.test_acc[-1] is not None:
        line += f" | test loss {history.test_loss[-1]:.3f} acc {history.test_acc[-1]:.1%}"
    return line + f" | {history.train_time[-1]:.1f} s, {history.images_per_s[-1]:.0f} images/s"


__all__ = ["CIFAR_RECIPE", "SHAPES_RECIPE", "CheckpointError", "History", "evaluate", "fit"]

if __name__ == "__main__":  # the command itself is bam.commands.train
    from bam import cli
    from bam.commands import train

    cli.run(train.main, train.PROG)
