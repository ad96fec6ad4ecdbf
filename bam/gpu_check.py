"""The GPU self-check behind ``python -m bam.bench gpu`` (and ``make gpu-check``).

On a CUDA GPU it measures, side by side in one run, what the course's GPU path rests on:

1. the tensor-resident ``bam.data.Loader`` against a torchvision ``DataLoader`` (PIL images,
   worker processes, pinned memory, copies to the GPU), in images/s;
2. the training-step time of BAM-ResNet-20 and ResNet-20 in float32 and in the mixed precision
   ``fit`` chooses for this GPU, each with and without ``torch.compile`` (median of
   interleaved steps, so all see the same load), and the ratio BAM / plain;
3. both networks trained with ``fit`` and the GPU recipe on a 50,000-image Shapes set
   (CIFAR-sized, generated offline) for a few epochs, with the eager step, with the step
   captured as a CUDA graph and (unless ``--no-compile``) with the captured step of the model
   ``torch.compile`` fused: images/s, BAM / plain under each, peak GPU memory and the test
   accuracy reached, to show they learn the same;
4. several training runs side by side on one device (one process each), against one alone:
   the images/s of all together;
5. the minutes lesson 06's CIFAR-10 runs would take here, from the captured rates;
6. CIFAR's reading code (``bam.data.load_cifar``) on a CIFAR-10-format archive written here
   from Shapes images, its batches served on the GPU and scored by the trained BAM-ResNet.

Without a GPU it says so in one line and stops; ``--device cpu`` runs the same code on the CPU
(with small sizes: the tests do), which checks the code, not a GPU.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

import torch
from torch.utils.data import DataLoader
from torchvision import transforms

from bam.data import ImageSet, Loader, make_shapes
from bam.data.cifar_archive import read_cifar_archive
from bam.lesson_plan import LESSON06_NETWORKS, LESSON06_SEEDS, lesson06_minutes, say_minutes
from bam.models import create
from bam.runtime import Precision, choose_precision, seed_everything
from bam.side_by_side import side_by_side
from bam.tables import text_table
from bam.timing import PILImages, images_per_s, kernel_times, step_time
from bam.train import CIFAR_RECIPE, evaluate, fit
from bam.train_step import capture_supported

if TYPE_CHECKING:
    import argparse

MODELS = ("resnet20", "bam_resnet20")


def _on(device: torch.device, batches):
    """Batches of a CPU DataLoader copied to ``device``, as a training loop would."""
    for x, y in batches:
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def loader_rates(data: ImageSet, device: torch.device, batch: int, workers: int) -> dict:
    """Images/s of one pass of ``bam.data.Loader`` and of a torchvision DataLoader, both with
    crop + flip + normalise and batches on ``device`` (second of two passes: warmed up)."""
    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(data.mean, data.std),
        ]
    )
    baseline = DataLoader(
        PILImages(data, augment),
        batch_size=batch,
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=device.type == "cuda",
    )
    ours = Loader(data, batch, train=True, device=device)
    count = len(ours) * batch
    rates = {}
    for name, batches in (("ours", lambda: ours), ("torchvision", lambda: _on(device, baseline))):
        images_per_s(batches(), count)  # warm-up: workers start, kernels load
        rates[name] = images_per_s(batches(), count)
    return rates


def step_times(
    device: torch.device, batch: int, steps: int, compile_too: bool
) -> dict[tuple[str, str, bool], float]:
    """Median seconds of one training step for every (model, precision, compiled), measured
    interleaved; precision is "float32" or the mixed precision ``fit`` picks on ``device``."""
    mixed = choose_precision(device)
    precisions = {"float32": None}
    if mixed.dtype is not None:
        precisions[mixed.name] = mixed.dtype
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    runs = {}
    for compiled in (False, True) if compile_too else (False,):
        for precision in precisions:
            for name in MODELS:
                torch.manual_seed(0)
                model = create(name).to(device, memory_format=torch.channels_last)
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
                net = torch.compile(model) if compiled else model
                runs[name, precision, compiled] = (net, optimizer)
    times: dict[tuple[str, str, bool], list[float]] = {key: [] for key in runs}
    for i in range(steps + 2):
        for key, (net, optimizer) in runs.items():
            seconds = step_time(net, x, y, optimizer, precisions[key[1]])
            if i >= 2:  # two warm-up steps each: compilation, autotuning, the scaler's start
                times[key].append(seconds)
    return {key: statistics.median(t) for key, t in times.items()}


# label -> fit's capture and compile arguments. The compiled step is the captured step of the
# model torch.compile fused: the graph then replays fewer, larger kernels.
STEPS = {"eager": (False, False), "captured": (True, False), "compiled": (True, True)}
# (faster step, slower step, figure name): the speed-ups the self-check reports.
SPEEDUPS = (("captured", "eager", "capture_speedup"), ("compiled", "captured", "compile_speedup"))


def captures(device: torch.device, precision: Precision) -> bool:
    """Whether the self-check trains the captured steps on ``device``: where ``fit`` captures
    (CUDA, unless float16 scales the gradients, as on a T4), and in the dry run on the CPU,
    which runs their code uncaptured."""
    return capture_supported(device, precision) or (device.type == "cpu" and not precision.scaled)


def fit_steps(capture: bool, compile_too: bool) -> dict[str, tuple[bool, bool]]:
    """The steps of ``STEPS`` the self-check trains with: the eager step; the captured ones if
    ``capture``; the compiled one only if ``compile_too``."""
    return {
        label: (captured, compiled)
        for label, (captured, compiled) in STEPS.items()
        if (capture or not captured) and (compile_too or not compiled)
    }


def train_both(
    train: ImageSet, test: ImageSet, device: torch.device, args, steps: dict[str, tuple]
) -> dict:
    """Each network trained by ``fit`` with the GPU recipe with each of ``steps`` (label ->
    capture, compile); ``{(name, step): {"model", "history", "peak_bytes"}}``."""
    results = {}
    for step, (capture, compiled) in steps.items():
        for name in MODELS:
            seed_everything(0)
            model = create(name, num_classes=train.num_classes)
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            history = fit(
                model,
                train,
                test,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=CIFAR_RECIPE["lr"],
                device=device,
                capture=capture,
                compile=compiled,
                progress=False,
            )
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
            results[name, step] = {"model": model, "history": history, "peak_bytes": peak}
    return results


# Recipes for the GPU: the learning rate grows with the batch (0.2 per 256 images); the first
# is lesson 06's.
RECIPES = ((256, 0.2), (512, 0.4), (1024, 0.8))


def compare_recipes(train: ImageSet, test: ImageSet, device: torch.device, epochs: int) -> dict:
    """Test accuracy and images/s of both networks trained by ``fit`` with each of ``RECIPES``
    for ``epochs`` epochs (one-cycle schedule, the step ``fit`` takes on ``device``)."""
    print(f"\nrecipes, {epochs} epochs of {len(train):,} images, test on {len(test):,}:")
    figures = {}
    for batch, lr in RECIPES:
        for name in MODELS:
            seed_everything(0)
            model = create(name, num_classes=train.num_classes)
            h = fit(
                model,
                train,
                test,
                epochs=epochs,
                batch_size=batch,
                lr=lr,
                device=device,
                progress=False,
            )
            rate = statistics.median(h.images_per_s)
            figures[f"recipe_{batch}_{name}_test_acc"] = h.test_acc[-1]
            figures[f"recipe_{batch}_{name}_images_per_s"] = rate
            print(
                f"  batch {batch:>5}, lr {lr}: {name:<13} test accuracy {h.test_acc[-1]:.2%}, "
                f"{rate:,.0f} images/s (median epoch), {sum(h.train_time):.0f} s of training"
            )
    return figures


def report_kernels(device: torch.device, batch: int, top: int = 12) -> dict:
    """Where a training step's time goes, kernel by kernel (operator by operator on a CPU),
    BAM-ResNet-20 against ResNet-20: the totals and the kernels with the most extra time."""
    precision = choose_precision(device)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    times = {}
    for name in MODELS:
        torch.manual_seed(0)
        model = create(name).to(device, memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        times[name] = kernel_times(model, x, y, optimizer, precision.dtype)
    plain, bam = (times[name] for name in MODELS)
    totals = {name: sum(t.values()) for name, t in times.items()}
    what = "kernel" if device.type == "cuda" else "operator"
    if not all(totals.values()):
        print(f"\ntorch.profiler reported no {what} times here")
        return {}
    print(
        f"\nwhere a step's time goes, eager, {precision.name}, batch {batch} (torch.profiler, "
        f"{what} time per step): ResNet-20 {_ms(totals[MODELS[0]])}, BAM-ResNet-20 "
        f"{_ms(totals[MODELS[1]])}; the {top} {what}s with the most extra time in BAM-ResNet-20:"
    )
    extra = sorted(bam, key=lambda k: plain.get(k, 0.0) - bam[k])[:top]
    rows = [
        [k[:70], _ms(plain.get(k, 0.0)), _ms(bam[k]), _ms(bam[k] - plain.get(k, 0.0))]
        for k in extra
    ]
    print(text_table([what, "ResNet-20", "BAM-ResNet-20", "extra"], rows, left=1, indent=2))
    return {"kernel_time_ratio": totals[MODELS[1]] / totals[MODELS[0]]}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def report_steps(steps: dict[tuple[str, str, bool], float], batch: int, count: int) -> dict:
    """Print the step times of ``step_times`` as a table with the ratios that matter; return
    the ratios: BAM / plain for each configuration, the mixed-precision and compile speed-ups."""
    precisions = list(dict.fromkeys(p for _, p, _ in steps))  # float32 first, then the mixed
    compiled = list(dict.fromkeys(c for _, _, c in steps))
    print(f"\ntraining step, batch {batch}, channels-last, median of {count} interleaved steps:")
    ratios, cells = {}, []
    for c in compiled:
        for p in precisions:
            plain, bam = (steps[m, p, c] for m in MODELS)
            ratios[f"step_ratio_{p}{'_compiled' if c else ''}"] = bam / plain
            cells.append([p, "yes" if c else "no", _ms(plain), _ms(bam), f"{bam / plain:.3f}"])
    header = ["precision", "compile", "ResNet-20", "BAM-ResNet-20", "BAM / plain"]
    print(text_table(header, cells, left=2, indent=2))
    speedups = {}
    for p in precisions[1:]:
        for c in compiled:
            speedups[f"{p} over float32{', compiled' if c else ''}"] = {
                m: steps[m, "float32", c] / steps[m, p, c] for m in MODELS
            }
    if True in compiled:
        for p in precisions:
            speedups[f"torch.compile, {p}"] = {
                m: steps[m, p, False] / steps[m, p, True] for m in MODELS
            }
    for what, by_model in speedups.items():
        print(f"  speed-up of {what}: " + ", ".join(f"{m} {v:.2f}x" for m, v in by_model.items()))
        ratios[f"speedup {what}"] = by_model[MODELS[0]]
    return ratios


def run(args: argparse.Namespace) -> dict:
    """The self-check; returns its figures (empty when there is no GPU to check)."""
    if args.device is None and not torch.cuda.is_available():
        print(
            "no CUDA GPU here: the GPU self-check needs one (python -m bam.bench train "
            "measures this machine's CPU)"
        )
        return {}
    device = torch.device(args.device or "cuda")
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        name = f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor})"
    else:
        name = f"{device} (a dry run of the GPU check: it checks the code, not a GPU)"
    precision = choose_precision(device)
    print(f"torch {torch.__version__} on {name}; fit's precision here: {precision}")
    began = start = time.perf_counter()
    train = make_shapes("train", size=args.images)
    test = make_shapes("test", size=args.test_images)
    print(
        f"Shapes: {len(train):,} training and {len(test):,} test images, made in "
        f"{time.perf_counter() - start:.0f} s"
    )
    figures: dict = {"device": name, "precision": str(precision)}

    rates = loader_rates(train, device, args.batch_size, args.workers)
    figures["loader_images_per_s"], figures["dataloader_images_per_s"] = rates.values()
    ratio = rates["ours"] / rates["torchvision"]
    print(f"\nloader, batch {args.batch_size}, crop + flip + normalise, batches on {device}:")
    print(f"  {'bam.data.Loader, tensors on ' + str(device):<44}{rates['ours']:>10,.0f} images/s")
    pinned = ", pinned memory" if device.type == "cuda" else ""
    baseline = f"torchvision DataLoader, {args.workers} workers{pinned}"
    print(f"  {baseline:<44}{rates['torchvision']:>10,.0f} images/s")
    print(f"  {'ratio ours / torchvision':<44}{ratio:>10.1f}x")

    steps = step_times(device, args.batch_size, args.steps, args.compile)
    figures.update(report_steps(steps, args.batch_size, args.steps))

    trained_with = fit_steps(captures(device, precision), args.compile)
    runs = train_both(train, test, device, args, trained_with)
    print(
        f"\ntraining with fit, {precision}, batch {args.batch_size}, lr {CIFAR_RECIPE['lr']}, "
        f"{args.epochs} epochs, test on {len(test):,} images:"
    )
    for (name, step), result in runs.items():
        h = result["history"]
        peak = result["peak_bytes"]
        memory = f"{peak / 2**20:,.0f} MiB peak" if peak is not None else "peak memory n/a"
        figures[f"{name}_{step}_images_per_s"] = h.images_per_s[-1]
        figures[f"{name}_{step}_test_acc"] = h.test_acc[-1]
        print(
            f"  {name:<14}{step:<10}epochs {', '.join(f'{t:.1f}' for t in h.train_time)} s "
            f"({h.images_per_s[-1]:,.0f} images/s in the last), {memory}, "
            f"test accuracy {', '.join(f'{a:.1%}' for a in h.test_acc)}"
        )
    if "captured" not in trained_with:
        print(f"  no captured step here: with {precision} fit trains eagerly")
    for step in trained_with:
        plain, bam = (runs[name, step]["history"].train_time[-1] for name in MODELS)
        figures[f"epoch_ratio_{step}"] = bam / plain
        print(f"  epoch-time ratio BAM / plain (last epoch), {step}: {bam / plain:.3f}")
    for name in MODELS:
        rate = {step: figures[f"{name}_{step}_images_per_s"] for step in trained_with}
        speedups = []
        for faster, slower, figure in SPEEDUPS:
            if faster in rate:
                figures[f"{figure}_{name}"] = rate[faster] / rate[slower]
                speedups.append(f"{faster} / {slower} {rate[faster] / rate[slower]:.2f}x")
        losses = ", ".join(
            f"{runs[name, step]['history'].train_loss[0]:.4f} {step}" for step in trained_with
        )
        speed = f"{', '.join(speedups)} images/s; " if speedups else ""
        print(f"  {name}: {speed}first-epoch training loss {losses}")
    # fit's own choice on this device: captured where it captures
    default = "captured" if "captured" in trained_with else "eager"

    rates = side_by_side(train, device, args.batch_size, args.steps, args.side_by_side)
    figures["side_by_side_images_per_s"] = rates["together"]
    figures["alone_images_per_s"] = rates["alone"]
    print(
        f"\n{args.side_by_side} ResNet-20 runs side by side on {device}, one process each, "
        f"{args.steps} steps of {args.batch_size}: {rates['together']:,.0f} images/s together, "
        f"{rates['alone']:,.0f} alone ({rates['together'] / rates['alone']:.2f}x)"
    )

    if args.recipe_epochs:
        figures.update(compare_recipes(train, test, device, args.recipe_epochs))
    if args.kernels:
        figures.update(report_kernels(device, args.batch_size))

    fit_rates = {name: figures[f"{name}_{default}_images_per_s"] for name in MODELS}
    minutes = lesson06_minutes(fit_rates)
    figures["lesson06_minutes"] = minutes
    print(
        f"\nlesson 06 with RETRAIN on this device: {len(LESSON06_NETWORKS)} networks x "
        f"{len(LESSON06_SEEDS)} seeds x {CIFAR_RECIPE['epochs']} epochs of CIFAR-10 at the "
        f"{default} rates above: {say_minutes(minutes)} ({minutes:.1f} min)"
    )

    size = min(args.cifar_images, len(train))
    shown_train = train.subset(size)
    shown_test = test.subset(min(size // 5, len(test)))
    cifar, cifar_test = read_cifar_archive(shown_train, shown_test)
    batches = sum(1 for _ in Loader(cifar, args.batch_size, train=True, device=device))
    trained = runs[MODELS[1], default]["model"]
    _, accuracy = evaluate(trained, cifar_test, normalize_like=train)
    figures["cifar_read_acc"] = accuracy
    print(
        f"\nCIFAR reading: a CIFAR-10-format archive of {len(cifar):,} + {len(cifar_test):,} "
        f"Shapes images, unpacked, checked and read back identical by load_cifar; {batches} "
        f"batches served on {device}; the trained BAM-ResNet-20 scores {accuracy:.1%} on its "
        "test split"
    )
    print(f"\nthe self-check took {time.perf_counter() - began:.0f} s")
    return figures
