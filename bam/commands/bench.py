"""``python -m bam.bench train|attention|gpu``: the benchmarks of ``bam.bench`` and the GPU
self-check of ``bam.gpu_check``, one subcommand each; each takes the parsed arguments."""

from __future__ import annotations

import argparse

from bam import bench, cli, gpu_check
from bam.train import CIFAR_RECIPE

PROG = "python -m bam.bench"


def main(argv: list[str] | None = None):
    parser = cli.Parser(prog=PROG, description=bench.__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    count = cli.positive_int
    p = commands.add_parser("train", help="loader throughput and BAM's training-step cost")
    p.add_argument("--images", type=count, default=5120, help="Shapes images per loader pass")
    p.add_argument("--batch-size", type=count, default=128)
    p.add_argument("--workers", type=cli.non_negative_int, default=2, help="DataLoader workers")
    p.add_argument("--repeats", type=count, default=3, help="loader passes to take the median of")
    p.add_argument("--model", default="resnet20", help="the plain backbone (bam_ is prefixed)")
    p.add_argument("--steps", type=count, default=10, help="timed steps per model")
    p.set_defaults(run=bench.train)
    p = commands.add_parser(
        "attention", help="params, MACs, step time and saved activations of SE, CBAM, BAM"
    )
    p.add_argument(
        "--backbones", nargs="+", choices=("resnet20", "resnet50"), default=["resnet20", "resnet50"]
    )
    p.add_argument(
        "--modes", nargs="+", choices=("eager", "compiled"), default=["eager", "compiled"]
    )
    p.add_argument(
        "--precisions", nargs="+", choices=tuple(bench.PRECISIONS), default=list(bench.PRECISIONS)
    )
    p.add_argument("--quick", action="store_true", help="ResNet-20, eager only")
    p.add_argument("--batch-resnet20", type=count, default=128, help="images per ResNet-20 step")
    p.add_argument("--batch-resnet50", type=count, default=2, help="images per ResNet-50 step")
    p.add_argument("--steps", type=count, default=10, help="timed steps per model")
    p.add_argument("--threads", type=count, default=1, help="CPU threads (torch.set_num_threads)")
    p.set_defaults(run=bench.attention)
    p = commands.add_parser("gpu", help="the GPU self-check: loaders, precision, compile, training")
    gpu_arguments(p)
    p.set_defaults(run=gpu_check.run)
    args = parser.parse_args(argv)
    return args.run(args)


def gpu_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``gpu``: sizes and what to measure (``bam.gpu_check.run`` reads them)."""
    parser.add_argument("--device", help="default: cuda; 'cpu' runs the same code on the CPU")
    count = cli.positive_int
    parser.add_argument("--images", type=count, default=50_000, help="Shapes training images")
    parser.add_argument("--test-images", type=count, default=10_000, help="Shapes test images")
    # Lesson 06's GPU recipe (CIFAR_RECIPE), for a few epochs instead of 40: enough to learn.
    parser.add_argument("--epochs", type=count, default=3, help="epochs of each training run")
    parser.add_argument("--batch-size", type=count, default=CIFAR_RECIPE["batch_size"])
    parser.add_argument(
        "--workers", type=cli.non_negative_int, default=4, help="DataLoader worker processes"
    )
    parser.add_argument("--steps", type=count, default=20, help="timed steps per configuration")
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time and train with torch.compile (compiling takes a minute or two)",
    )
    parser.add_argument(
        "--recipe-epochs",
        type=cli.non_negative_int,
        default=0,
        help="also train both networks with each GPU recipe for this many epochs (0: skip)",
    )
    parser.add_argument(
        "--kernels", action="store_true", help="also list where a step's time goes, by kernel"
    )
    parser.add_argument(
        "--side-by-side", type=count, default=4, help="training runs at once on one device"
    )
    parser.add_argument(
        "--cifar-images", type=count, default=6_000, help="images in the CIFAR-format archive"
    )
