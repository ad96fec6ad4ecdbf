"""Benchmarks, measured side by side in one run so that their ratios hold on a busy machine.

    python -m bam.bench train      # loader vs DataLoader; step time of BAM, bfloat16; eval batch
    python -m bam.bench attention  # SE, CBAM, BAM: params, MACs, step time, saved activations
    python -m bam.bench gpu        # the GPU self-check (bam.gpu_check); one line without a GPU

Each subcommand is one function taking the parsed arguments; ``bam.commands.bench`` parses them
and dispatches.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader
from torchvision import transforms

from bam.data import Loader, make_shapes
from bam.models import add_bam, add_bam_every_block, add_cbam, add_se, create
from bam.models.released import add_released_bam
from bam.profile import bam_input_bytes, count_macs, count_params, saved_activations
from bam.runtime import cpu_has_native_bfloat16, inference_batch
from bam.tables import text_table
from bam.timing import PILImages, images_per_s, step_time
from bam.train import evaluate

if TYPE_CHECKING:
    import argparse

# The two ways fit trains on a CPU: float32 in NCHW, or bfloat16 autocast with channels-last
# (its default where the CPU has native bfloat16).
PRECISIONS = {"float32": (None, False), "bfloat16+CL": (torch.bfloat16, True)}


def train(args: argparse.Namespace) -> dict[str, float]:
    """Loader throughput (ours vs torchvision's DataLoader, same images and augmentation), the
    step time of a BAM-ResNet against its plain ResNet, and of bfloat16 with channels-last
    against float32, all measured side by side."""
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; timings on a shared "
        "machine are noisy, compare the ratios (measured side by side)"
    )
    data = make_shapes("train", size=args.images)
    steps = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    steps += [transforms.ToTensor(), transforms.Normalize(data.mean, data.std)]
    baseline = DataLoader(
        PILImages(data, transforms.Compose(steps)),
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    ours = Loader(data, args.batch_size, train=True)
    count = len(ours) * args.batch_size
    images_per_s(baseline, count)  # start the workers and warm both up once
    images_per_s(ours, count)
    rates: dict[str, list[float]] = {"ours": [], "torchvision": []}
    for _ in range(args.repeats):
        rates["ours"].append(images_per_s(ours, count))
        rates["torchvision"].append(images_per_s(baseline, count))
    loader_ours, loader_tv = (statistics.median(r) for r in rates.values())
    print(
        f"\nloader, {count} images a pass, batch {args.batch_size}, crop + flip + normalise "
        f"(median of {args.repeats} passes):"
    )
    print(f"  bam.data.Loader                     {loader_ours:>10,.0f} images/s")
    print(f"  torchvision DataLoader, {args.workers} workers   {loader_tv:>10,.0f} images/s")
    print(f"  ratio ours / torchvision            {loader_ours / loader_tv:>10.1f}x")

    x = ours.images[: args.batch_size].float() / 255
    y = ours.labels[: args.batch_size]
    names = (args.model, f"bam_{args.model}")
    runs = {}  # (name, precision) -> (model, optimizer, input)
    for precision, (_, channels_last) in PRECISIONS.items():
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        for name in names:
            torch.manual_seed(0)
            model = create(name).to(memory_format=fmt)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            runs[name, precision] = (model, optimizer, x.contiguous(memory_format=fmt))
    times: dict[tuple[str, str], list[float]] = {key: [] for key in runs}
    for i in range(args.steps + 1):
        for key, (model, optimizer, inputs) in runs.items():  # interleaved: same load for all
            seconds = step_time(model, inputs, y, optimizer, PRECISIONS[key[1]][0])
            if i:  # the first step of each warms up
                times[key].append(seconds)
    median = {key: statistics.median(t) for key, t in times.items()}
    print(
        f"\ntraining step, batch {args.batch_size}, forward + backward + SGD "
        f"(median of {args.steps} interleaved steps; native bfloat16 on this CPU: "
        f"{'yes' if cpu_has_native_bfloat16() else 'no'}):"
    )
    cells = [
        [name, precision, f"{seconds * 1000:.1f} ms", f"{args.batch_size / seconds:.0f} images/s"]
        for (name, precision), seconds in median.items()
    ]
    print(text_table(["model", "precision", "step", "speed"], cells, left=2, indent=2))
    plain, bam = names
    ratios = {p: median[bam, p] / median[plain, p] for p in PRECISIONS}
    speedups = {n: median[n, "float32"] / median[n, "bfloat16+CL"] for n in names}
    print("  ratio BAM / plain  " + ", ".join(f"{p} {r:.3f}" for p, r in ratios.items()))
    print(
        "  speed-up of bfloat16+CL over float32  "
        + ", ".join(f"{n} {r:.2f}x" for n, r in speedups.items())
    )
    # evaluate's batch on the CPU (bam.runtime.inference_batch) against the 500 it used to be.
    model, sizes = runs[bam, "float32"][0], (inference_batch(torch.device("cpu")), 500)
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(args.repeats):
        for size, taken in seconds.items():
            start = time.perf_counter()
            evaluate(model, data, batch_size=size, amp=False)
            taken.append(time.perf_counter() - start)
    small, large = (statistics.median(seconds[size]) for size in sizes)
    print(f"  evaluation, batches of {sizes[0]} against {sizes[1]}: {large / small:.2f}x faster")
    return {
        "eval_batch_speedup": large / small,
        "loader_images_per_s": loader_ours,
        "dataloader_images_per_s": loader_tv,
        "loader_ratio": loader_ours / loader_tv,
        "step_ratio": ratios["float32"],
        "step_ratio_bfloat16": ratios["bfloat16+CL"],
        "bfloat16_speedup": speedups[plain],
        "bfloat16_speedup_bam": speedups[bam],
    }


def attention(args: argparse.Namespace) -> list[dict]:
    """What each attention variant costs: none, SE, CBAM (both in every block), BAM at the
    bottlenecks (ours; the plain formula; the released code's computation) and BAM in every
    block, on ResNet-20 at 32x32 and torchvision's ResNet-50 at 224x224, eager and compiled, in
    float32 and bfloat16 (+ channels-last). Parameters and multiply-adds are counted; the
    training-step time (forward + backward + SGD) is the median of interleaved steps, reported
    as a ratio to the plain net; saved activations are the bytes autograd keeps for backward,
    exact, and beyond the plain net in full-size tensors per BAM (``saved_activations``)."""
    import torchvision

    variants = {
        "none": lambda model: model,
        "SE": add_se,
        "CBAM": add_cbam,
        "BAM": add_bam,
        "BAM, plain formula": lambda model: add_bam(model, fused=False),
        "BAM, released code": add_released_bam,
        "BAM every block": add_bam_every_block,
    }
    compiled_variants = ("none", "BAM", "BAM, plain formula", "BAM, released code")
    backbones = {
        "resnet20": ("ResNet-20", lambda: create("resnet20"), 32, args.batch_resnet20),
        "resnet50": ("ResNet-50", torchvision.models.resnet50, 224, args.batch_resnet50),
    }
    if args.quick:
        args.backbones, args.modes = ["resnet20"], ["eager"]
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; timings on a shared "
        "machine are noisy, compare the ratios (measured side by side); saved bytes are exact"
    )
    rows: list[dict] = []
    for key in args.backbones:
        backbone, build, size, batch = backbones[key]
        costs = {}
        for name, add in variants.items():
            torch.manual_seed(0)
            model = add(build())
            costs[name] = (count_params(model), count_macs(model, (1, 3, size, size)))
        for mode in args.modes:
            chosen = {
                n: v for n, v in variants.items() if mode == "eager" or n in compiled_variants
            }
            for precision in args.precisions:
                setup = (backbone, build, size, batch, mode, precision)
                rows += _attention_table(args, *setup, costs, chosen)
    return rows


def _attention_table(args, backbone, build, size, batch, mode, precision, costs, variants):
    """Step time and saved activations of ``variants`` side by side: one table."""
    dtype, channels_last = PRECISIONS[precision]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    nets, optimizers, bam_inputs = {}, {}, {}
    for name, add in variants.items():
        torch.manual_seed(0)
        model = add(build()).to(memory_format=fmt)
        optimizers[name] = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        bam_inputs[name] = bam_input_bytes(model, x, dtype)
        nets[name] = torch.compile(model) if mode == "compiled" else model
    times: dict[str, list[float]] = {name: [] for name in nets}
    for i in range(args.steps + 1):
        for name, model in nets.items():  # interleaved: all see the same load
            seconds = step_time(model, x, y, optimizers[name], dtype)
            if i:  # the first step of each warms up (and compiles)
                times[name].append(seconds)
    table = []
    for name, model in nets.items():
        params, macs = costs[name]
        row = {
            "backbone": backbone,
            "mode": mode,
            "precision": precision,
            "attention": name,
            "params": params,
            "macs": macs,
            "step_s": statistics.median(times[name]),
            "saved_bytes": saved_activations(model, x, y, dtype),
            "bam_input_bytes": bam_inputs[name],
        }
        table.append(row)
    base = table[0]
    print(
        f"\n{backbone}, {size}x{size}, {mode}, {precision}; step: batch {batch}, forward + "
        f"backward + SGD, median of {args.steps} interleaved steps"
    )
    cells = []
    for row in table:
        row["step_ratio"] = row["step_s"] / base["step_s"]
        extra = row["saved_bytes"] - base["saved_bytes"]
        # Beyond the plain net, in units of the (B, C, H, W) maps the BAMs refine.
        row["saved_per_bam"] = extra / row["bam_input_bytes"] if row["bam_input_bytes"] else None
        cells.append(
            [
                row["attention"],
                f"{row['params']:,}",
                f"{100 * (row['params'] / base['params'] - 1):+.2f}%",
                f"{row['macs'] / 1e6:.1f}",
                f"{100 * (row['macs'] / base['macs'] - 1):+.2f}%",
                f"{row['step_s'] * 1000:.1f}",
                f"{row['step_ratio']:.2f}",
                f"{row['saved_bytes'] / 1e6:.1f}",
                "" if row["saved_per_bam"] is None else f"{row['saved_per_bam']:.2f}",
            ]
        )
    header = ["attention", "params", "", "MMACs", "", "step ms", "ratio", "saved MB", "per BAM"]
    print(text_table(header, cells, indent=2))
    return table


if __name__ == "__main__":  # the command itself is bam.commands.bench
    from bam import cli
    from bam.commands import bench

    cli.run(bench.main, bench.PROG)
