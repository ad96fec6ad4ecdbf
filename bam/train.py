"""Train and evaluate an image classifier, with checkpoints that survive interruption.

    history = fit(model, train_set, test_set, epochs=30, checkpoint="runs/cifar10-bam")
    loss, accuracy = evaluate(model, test_set)

The recipe is the standard one for CIFAR ResNets, since the BAM paper does not state its own:
random crop (4-pixel padding) and horizontal flip, SGD with Nesterov momentum 0.9, weight decay
5e-4, label smoothing 0.1, a one-cycle (or cosine) learning-rate schedule stepped every batch.
On CUDA it uses mixed precision and the channels-last memory format.

A checkpoint is written atomically after every epoch; calling ``fit`` again with the same
arguments resumes from the last completed epoch and ends with exactly the weights an
uninterrupted run would have (on the CPU), or returns at once when the run is complete.

Command line:  python -m bam.train --dataset shapes --model bam_resnet20 --epochs 5 --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from bam.data import DATASETS, ImageSet, Loader, load
from bam.runtime import (
    cpu_has_native_bfloat16,
    get_device,
    runs_dir,
    seed_everything,
    static_page,
)

SCHEDULES = ("onecycle", "cosine")
# The course's CPU recipe for Shapes, and the defaults of python -m bam.train: that command
# trained a BAM-ResNet-20 to 94.6% test accuracy in 148 s on a 2-core Xeon with bfloat16.
SHAPES_RECIPE = dict(epochs=8, batch_size=128, lr=0.2)
CHECKPOINT_KEYS = {"model", "optimizer", "scheduler", "scaler", "rng", "epoch", "history"}


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from: unreadable, or written by another run."""


@dataclass
class History:
    """Per-epoch results of ``fit``; accuracies are fractions in [0, 1], times in seconds.

    ``train_loss`` is the label-smoothed loss that was optimised, measured on the augmented
    batches in training mode; ``test_loss`` is the plain cross-entropy on the test set.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    test_acc: list[float | None] = field(default_factory=list)
    train_time: list[float] = field(default_factory=list)
    eval_time: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def wall_time(self) -> float:
        """Seconds spent training and evaluating, over all epochs (and all resumed runs)."""
        return sum(self.train_time) + sum(self.eval_time)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (atomically: readers never see half a file)."""
        data = json.dumps(self.to_dict(), indent=1).encode()
        _atomic_write(Path(path), lambda f: f.write(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        return cls(**json.loads(Path(path).read_text()))


# ----------------------------------------------------------------------------- devices, amp
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


def _channels_last_default(device: torch.device) -> bool:
    # cuDNN and oneDNN both run convolutions faster in NHWC: on a 2-core Xeon a float32
    # ResNet-20 training step was about 15% faster than in NCHW.
    return device.type in ("cuda", "cpu")


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


# ----------------------------------------------------------------------------- evaluation
@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: ImageSet,
    *,
    batch_size: int = 500,
    normalize_like: ImageSet | None = None,
    amp: bool | None = None,
    channels_last: bool | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (a fraction) of ``model`` on every image of ``dataset``,
    in eval mode, on the device the model is on. ``normalize_like`` is the training set when
    ``dataset`` is a test set with statistics of its own (the course's sets share them)."""
    device = _model_device(model)
    dtype = choose_precision(device, amp).dtype
    if channels_last is None:
        channels_last = _channels_last_default(device)
    loader = Loader(
        dataset,
        batch_size,
        device=device,
        normalize_like=normalize_like,
        channels_last=channels_last,
    )
    was_training = model.training
    model.eval()
    totals = torch.zeros(2, device=device)
    try:
        for x, y in loader:
            with _autocast(device, dtype):
                logits = model(x)
            totals[0] += F.cross_entropy(logits.float(), y, reduction="sum")
            totals[1] += (logits.argmax(1) == y).sum()
    finally:
        model.train(was_training)
    loss, correct = (totals / len(dataset)).tolist()
    return loss, correct


# ----------------------------------------------------------------------------- checkpoints
def _atomic_write(path: Path, write) -> None:
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


def _rng_state(loader: Loader) -> dict:
    """Every random state a run draws from, as tensors and plain containers only."""
    np_state = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "loader": loader.generator.get_state(),
        "python": random.getstate(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
    }


def _set_rng_state(state: dict, loader: Loader) -> None:
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


def _read_checkpoint(path: Path) -> dict:
    remedy = "Delete it to start over, or pass another checkpoint path."
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(error).__name__}: {error}); the file is "
            f"truncated or damaged. {remedy}"
        ) from error
    if not isinstance(state, dict) or not CHECKPOINT_KEYS <= state.keys():
        raise CheckpointError(f"{path} is not a checkpoint written by bam.train.fit. {remedy}")
    return state


def _check_fingerprint(path: Path, saved: dict, current: dict) -> None:
    diffs = [
        f"{key}: checkpoint has {saved.get(key)!r}, this run has {current.get(key)!r}"
        for key in sorted(saved.keys() | current.keys())
        if saved.get(key) != current.get(key)
    ]
    if diffs:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different run, so it cannot be resumed:\n  "
            + "\n  ".join(diffs)
            + "\nDelete it to start over, or pass another checkpoint path."
        )


def _describe(data: ImageSet) -> str:
    return f"{data.name} ({len(data)} images, sha256 {data.digest})"


def fingerprint(model: nn.Module, train_set: ImageSet, test_set: ImageSet | None, **hparams):
    """What a checkpoint must agree on to be resumed: the architecture (class, parameter
    count, a digest of every state name and shape), the data (name, size and a digest of its
    pixels and labels) and the hyperparameters."""
    layout = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return {
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "architecture": hashlib.sha256(layout.encode()).hexdigest()[:16],
        "train_set": _describe(train_set),
        "test_set": None if test_set is None else _describe(test_set),
        **hparams,
    }


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
        channels_last = _channels_last_default(device)
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
            history = _resume(ckpt_path, config, parts, loader)
            if progress and len(history) == epochs:
                tqdm.write(f"loaded the finished run from {ckpt_path}")
            elif progress:
                tqdm.write(f"resuming from {ckpt_path} after epoch {len(history)}/{epochs}")

    net = torch.compile(model) if compile else model
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    epoch = len(history) + 1
    try:
        for epoch in range(len(history) + 1, epochs + 1):
            start = time.perf_counter()
            desc = f"epoch {epoch}/{epochs}"
            loss, accuracy, seen = _train_epoch(
                net, loader, criterion, optimizer, scheduler, scaler, dtype, desc, progress
            )
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
                _save(ckpt_path, json_path, parts, loader, history)
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


def _train_epoch(net, loader, criterion, optimizer, scheduler, scaler, dtype, desc, progress):
    """One pass over ``loader``; returns the mean loss, the accuracy and the images seen."""
    net.train()
    totals = torch.zeros(2, device=loader.device)  # summed loss, correct predictions
    seen = 0
    # A static page cannot animate a bar: it would show a frozen "0%" widget. The epoch lines stay.
    with tqdm(loader, desc=desc, leave=False, disable=not progress or static_page()) as bar:
        for step, (x, y) in enumerate(bar):
            with _autocast(loader.device, dtype):
                logits = net(x)
                loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            totals[0] += loss.detach().float() * len(y)
            totals[1] += (logits.argmax(1) == y).sum()
            seen += len(y)
            if progress and step % 20 == 0:  # .item() waits for the device: not every step
                bar.set_postfix(loss=f"{totals[0].item() / seen:.3f}")
    loss_sum, correct = totals.tolist()
    return loss_sum / seen, correct / seen, seen


def _save(path: Path, json_path: Path, parts: dict, loader: Loader, history: History) -> None:
    state = {name: part.state_dict() for name, part in parts.items()}
    state.update(rng=_rng_state(loader), epoch=len(history), history=history.to_dict())
    _atomic_write(path, lambda f: torch.save(state, f))
    history.save(json_path)


def _resume(path: Path, config: dict, parts: dict, loader: Loader) -> History:
    """Load the checkpoint at ``path`` into ``parts`` and ``loader``; return its History."""
    state = _read_checkpoint(path)
    _check_fingerprint(path, state["history"]["config"], config)
    for name, part in parts.items():
        part.load_state_dict(state[name])
    _set_rng_state(state["rng"], loader)
    return History(**state["history"])


def _epoch_line(history: History, epochs: int) -> str:
    line = (
        f"epoch {history.epoch[-1]}/{epochs}: train loss {history.train_loss[-1]:.3f} "
        f"acc {history.train_acc[-1]:.1%}"
    )
    if history.test_acc[-1] is not None:
        line += f" | test loss {history.test_loss[-1]:.3f} acc {history.test_acc[-1]:.1%}"
    return line + f" | {history.train_time[-1]:.1f} s, {history.images_per_s[-1]:.0f} images/s"


# ----------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> History:
    from bam.models import available, create

    parser = argparse.ArgumentParser(
        prog="python -m bam.train",
        description="Train a (BAM-)ResNet; resume if OUT has a checkpoint.",
    )
    parser.add_argument("--dataset", choices=DATASETS, default="shapes")
    parser.add_argument("--model", default="bam_resnet20", help=", ".join(available()))
    parser.add_argument("--epochs", type=int, default=SHAPES_RECIPE["epochs"])
    parser.add_argument(
        "--out", type=Path, help="run folder (default DATASET-MODEL-sSEED in $BAM_RUNS or runs/)"
    )
    parser.add_argument("--batch-size", type=int, default=SHAPES_RECIPE["batch_size"])
    parser.add_argument("--lr", type=float, default=SHAPES_RECIPE["lr"])
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--schedule", choices=SCHEDULES, default="onecycle")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, help="use only this many training images")
    parser.add_argument("--test-size", type=int, help="use only this many test images")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        help="mixed precision (default: on CUDA and on CPUs with native bfloat16)",
    )
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction)
    parser.add_argument("--compile", action="store_true", help="use torch.compile")
    parser.add_argument("--download", action="store_true", help="download CIFAR if missing")
    parser.add_argument(
        "--threads", type=int, help="CPU threads for PyTorch (1 is fastest on a busy machine)"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    train_set = load(
        args.dataset, "train", download=args.download, size=args.train_size, seed=args.seed
    )
    test_set = load(
        args.dataset, "test", download=args.download, size=args.test_size, seed=args.seed
    )
    # Seed before building the model, so its initial weights are those of
    # seed_everything(seed) followed by create(...), as in the lessons.
    seed_everything(args.seed)
    model = create(args.model, num_classes=train_set.num_classes)
    out = args.out or runs_dir() / f"{args.dataset}-{args.model}-s{args.seed}"
    start = time.perf_counter()
    history = fit(
        model,
        train_set,
        test_set,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing,
        schedule=args.schedule,
        device=args.device,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        seed=args.seed,
        checkpoint=out,
        progress=not args.no_progress,
    )
    images = sum(r * t for r, t in zip(history.images_per_s, history.train_time, strict=True))
    speed = images / sum(history.train_time)
    print(
        f"{args.model} on {args.dataset}: test accuracy {history.test_acc[-1]:.2%} "
        f"(loss {history.test_loss[-1]:.3f}) after {len(history)} epochs | "
        f"training {history.wall_time:.1f} s over all epochs, {speed:.0f} images/s | "
        f"this call {time.perf_counter() - start:.1f} s"
    )
    print(f"checkpoint and history in {out}")
    return history


if __name__ == "__main__":
    main()
