"""``python -m bam.train``: train one model with ``bam.train.fit``, resuming from ``--out`` if
it holds a checkpoint, and print what it reached and how fast."""

from __future__ import annotations

import time
from argparse import BooleanOptionalAction as OnOff
from pathlib import Path

import torch

from bam import cli
from bam.data import DATASETS, load
from bam.history import History
from bam.models import available, create
from bam.runtime import get_device, runs_dir, seed_everything
from bam.train import SCHEDULES, SHAPES_RECIPE, fit

PROG = "python -m bam.train"


def main(argv: list[str] | None = None) -> History:
    """``python -m bam.train``: train one model, resuming from ``--out`` if it has a checkpoint.
    Raises what ``fit`` raises; ``bam.cli.run`` turns that into one line on stderr."""
    parser = cli.Parser(
        prog=PROG,
        description="Train a (BAM-)ResNet; resume if OUT has a checkpoint.",
    )
    add = parser.add_argument
    add("--dataset", choices=DATASETS, default="shapes")
    add("--model", default="bam_resnet20", help="a bam.models name, e.g. resnet20, bam_resnet20")
    add("--epochs", type=cli.positive_int, default=SHAPES_RECIPE["epochs"])
    add("--out", type=Path, help="run folder (default DATASET-MODEL-sSEED in $BAM_RUNS or runs/)")
    add("--batch-size", type=cli.positive_int, default=SHAPES_RECIPE["batch_size"])
    add("--lr", type=cli.positive_float, default=SHAPES_RECIPE["lr"])
    add("--weight-decay", type=cli.non_negative_float, default=5e-4)
    add("--label-smoothing", type=cli.non_negative_float, default=0.1)
    add("--schedule", choices=SCHEDULES, default="onecycle")
    add("--seed", type=cli.non_negative_int, default=0)
    add("--train-size", type=cli.positive_int, help="use only this many training images")
    add("--test-size", type=cli.positive_int, help="use only this many test images")
    add("--device", help="cuda, mps or cpu (default: the best available)")
    add("--amp", action=OnOff, help="mixed precision (default: where it pays, see the docs)")
    add("--channels-last", action=OnOff, help="default: on for CUDA and the CPU")
    add("--compile", action="store_true", help="use torch.compile")
    add("--capture", action=OnOff, help="replay the step as a CUDA graph (default: on CUDA)")
    add("--download", action="store_true", help="download CIFAR if missing")
    add("--threads", type=cli.positive_int, help="CPU threads (1 is fastest on a busy machine)")
    add("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.model not in available():
        parser.error(f"unknown model {args.model!r}; choose one of {', '.join(available())}")
    if args.label_smoothing >= 1:
        parser.error(f"--label-smoothing must be below 1, got {args.label_smoothing}")
    get_device(args.device)  # a bad device name is an error before any data is loaded
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    sets = [
        load(args.dataset, split, download=args.download, size=size, seed=args.seed)
        for split, size in (("train", args.train_size), ("test", args.test_size))
    ]
    # Seed before building the model, so its initial weights are those of
    # seed_everything(seed) followed by create(...), as in the lessons.
    seed_everything(args.seed)
    model = create(args.model, num_classes=sets[0].num_classes)
    out = args.out or runs_dir() / f"{args.dataset}-{args.model}-s{args.seed}"
    start = time.perf_counter()
    hparams = ("epochs", "batch_size", "lr", "weight_decay", "label_smoothing", "schedule")
    history = fit(
        model,
        *sets,
        **{name: getattr(args, name) for name in hparams},
        device=args.device,
        amp=args.amp,
        channels_last=args.channels_last,
        compile=args.compile,
        capture=args.capture,
        seed=args.seed,
        checkpoint=out,
        progress=not args.no_progress,
    )
    images = sum(r * t for r, t in zip(history.images_per_s, history.train_time, strict=True))
    print(
        f"{args.model} on {args.dataset}: test accuracy {history.test_acc[-1]:.2%} "
        f"(loss {history.test_loss[-1]:.3f}) after {len(history)} epochs | "
        f"training {history.wall_time:.1f} s over all epochs, "
        f"{images / sum(history.train_time):.0f} images/s | "
        f"this call {time.perf_counter() - start:.1f} s"
    )
    print(f"checkpoint and history in {out}")
    return history
