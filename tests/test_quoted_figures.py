"""Every figure the lessons, the README and the instructors' guide quote from a shipped result is
the shipped one: each is recomputed here from bam/results/ and looked up in the text, so a
retrained artifact cannot leave stale numbers behind."""

import copy
import json
import math
from functools import cache
from pathlib import Path

import pytest
import torch
from torch import nn

import bam.pretrained
from bam.data import Loader, load
from bam.experiments import difference, pooled_std, summarize
from bam.models import add_bam
from bam.train import evaluate

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = bam.pretrained.manifest()["artifacts"]


@cache
def text(relative: str) -> str:
    """A file's prose as a reader sees it: a notebook's markdown cells, joined, line breaks
    inside paragraphs kept (quotes are matched with whitespace collapsed)."""
    path = ROOT / relative
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        body = "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    else:
        body = path.read_text()
    return " ".join(body.split())


def assert_quoted(relative: str, *quotes: str) -> None:
    for quote in quotes:
        assert " ".join(quote.split()) in text(relative), f"{relative} should say: {quote!r}"


def pct(fraction: float, digits: int = 1) -> str:
    return f"{100 * fraction:.{digits}f}%"


def acc(name: str, digits: int = 1) -> str:
    return pct(MANIFEST[name]["results"]["test_acc"], digits)


# ----------------------------------------------------------------------------- lesson 05
def recalibrated(model: nn.Module, train_set, augment: bool, batches: int = 20) -> nn.Module:
    """BatchNorm statistics re-estimated as a plain average over ``batches`` training batches."""
    model = copy.deepcopy(model).cpu()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    # Channels-last, as fit and evaluate use on the CPU: about 1.5x faster here.
    loader = Loader(
        train_set, 128, train=True, seed=0, padding=4 * augment, flip=augment, channels_last=True
    )
    with torch.no_grad():
        for _, (x, _) in zip(range(batches), loader, strict=False):
            model(x)
    return model.eval()


def test_the_guide_s_batchnorm_answer_is_measured_on_the_shipped_resnet20():
    train_set, test_set = load("shapes", "train"), load("shapes", "test")
    plain = bam.pretrained.load("shapes-resnet20-s0", device="cpu")
    torch.manual_seed(0)
    built = add_bam(copy.deepcopy(plain)).eval()

    def accuracy(model):
        return pct(evaluate(model, test_set, amp=False)[1], 2)

    assert_quoted(
        "docs/instructors.md",
        f"(`shapes-resnet20-s0`, {acc('shapes-resnet20-s0', 2)} on the 2,000 test images",
        f"as built {accuracy(built)}",
        f"(`momentum = None`), {accuracy(recalibrated(built, train_set, True))}, lower still",
        f"recalibrated the same way, {accuracy(recalibrated(plain, train_set, True))}",
        f"the plain network falls to {accuracy(recalibrated(plain, train_set, False))}",
    )


# ----------------------------------------------------------------------------- lesson 08
@pytest.fixture(scope="module")
def grid():
    summaries = {s.name: s for s in summarize(bam.pretrained.grid("08-shapes-grid"), "test_error")}
    return summaries, pooled_std(list(summaries.values()))


def points(value: float) -> str:
    return f"{100 * value:.2f}"


# ----------------------------------------------------------------------------- lesson 07
def checked_output(lesson: str, marker: str) -> str:
    """The committed output of the '# NBVAL_CHECK_OUTPUT' cell whose source holds ``marker``
    (nbval recomputes it from the shipped network on every run of the tests)."""
    cells = json.loads((ROOT / lesson).read_text())["cells"]
    (cell,) = [c for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert "NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
    return "".join("".join(o.get("text", "")) for o in cell["outputs"])


def localisation_table() -> dict[tuple[str, str], dict[str, float]]:
    """Lesson 07's table, parsed: (maps, stage) -> column -> value."""
    output = checked_output("notebooks/07_seeing_attention.ipynb", "loc.compare(")
    columns = ["energy", "lift", "max in", "min in", "max bd", "min bd", "bd area"]
    table = {}
    for line in output.splitlines():
        words = line.split()
        if words and words[0] in ("trained", "untrained", "random", "centre"):
            stage = " ".join(words[1:3] if words[1] == "stage" else words[1:2])
            table[words[0], stage] = dict(zip(columns, map(float, words[-7:]), strict=True))
    return table


def test_lesson_07_quotes_its_localisation_table():
    t = localisation_table()
    t1, t2 = t["trained", "stage 1"], t["trained", "stage 2"]
    u1, u2, cam = t["untrained", "stage 1"], t["untrained", "stage 2"], t["trained", "Grad-CAM"]

    def share(value: float) -> str:
        return f"{100 * value:.0f}%"

    assert_quoted(
        "notebooks/07_seeing_attention.ipynb",
        f"the shipped BAM-ResNet-20 ({acc('shapes-bam_resnet20-s0')} test accuracy)",
        f"the object covers {t['random', 'stage 1']['energy']:.3f} of an image",
        f"Its energy lift is {t1['lift']:.2f}",
        f"up from {u1['lift']:.2f} untrained",
        f"Its maximum falls on the object {share(t1['max in'])} of the time",
        f"untrained it did so {share(u1['max in'])} of the time",
        f"Its lift is {t2['lift']:.2f}, below a uniform map",
        f"its maximum lands on the object {share(t2['max in'])} of the time and its minimum "
        f"{share(t2['min in'])} of the time",
        f"by chance and {share(u2['min in'])} before training",
        f"carries {share(t2['max bd'])} of stage 2's maxima (the frame is {share(t2['bd area'])}",
        f"lift {cam['lift']:.2f}, maximum on the object {share(cam['max in'])} of the time",
        f"puts its stage-1 maximum on the object {share(u1['max in'])} of the time",
    )


def test_lesson_08_quotes_the_shipped_grid(grid):
    s, spread = grid
    peers = ["ResNet-20", "+ SE", "+ CBAM", "+ BAM"]
    table = [f"| {name} | {points(s[name].mean)} +- {points(s[name].std)} |" for name in peers]

    def diff(name: str, base: str) -> tuple[str, str]:
        d, se = difference(s[name], s[base], std=spread)
        return f"{100 * d:+.2f}", points(2 * se)

    bam_vs_plain, peer_bar = diff("+ BAM", "ResNet-20")
    ablation_bar = diff("r = 4", "+ BAM")[1]
    resolved = [
        f"{name} ({diff(name, '+ BAM')[0]})"
        for name in ("spatial only", "max", "channel only", "r = 32", "d = 1")
    ]
    gaps = [0.46, 0.56, 1.24, 0.47, 0.28, 0.08, 1.29, 1.24, 0.28, 0.21, 0.88]

    def seeds_needed(gap: float) -> int:
        return math.ceil(2 * (2 * 100 * spread / gap) ** 2)

    peer_stds = sorted(s[name].std for name in peers)
    assert_quoted(
        "notebooks/08_ablations.ipynb",
        *table,
        f"The pooled seed-to-seed standard deviation is {points(spread)} points",
        f"two standard errors are {peer_bar} points between two peers",
        f"and {ablation_bar} between an ablation (2 seeds) and the default",
        f"{bam_vs_plain} points against a bar of {peer_bar}",
        f"by just over their bar of {ablation_bar}",
        *resolved,
        f"near the plain network's {points(s['ResNet-20'].mean)}",
        f"SE against the plain network ({diff('+ SE', 'ResNet-20')[0]})",
        f"CBAM against it ({diff('+ CBAM', 'ResNet-20')[0]})",
        f"bottlenecks ({diff('every block', '+ BAM')[0]})",
        f"smaller than our spread of {points(spread)}",
        f"about {seeds_needed(max(gaps))} seeds per configuration, its smallest about "
        f"{round(seeds_needed(min(gaps)), -2):,}",
        f"({points(peer_stds[0])} to {points(peer_stds[-1])} points)",
        "(r = 8: {} and {})".format(*(points(v) for v in s["r = 8"].values)),
        f"On our CPU grid that spread is {points(spread)} points",
    )
    for name in ("spatial only", "max", "channel only", "r = 32", "d = 1"):
        d, se = difference(s[name], s["+ BAM"], std=spread)
        assert abs(d) > 2 * se, f"{name} is quoted as resolved"
    assert all(s[name].mean < s["+ BAM"].mean for name in s if name not in peers)


# ----------------------------------------------------------------------------- the README
def test_the_readme_quotes_the_shipped_networks():
    resnets = ", ".join(acc(f"shapes-resnet20-s{seed}", 2) for seed in range(3))
    bams = ", ".join(acc(f"shapes-bam_resnet20-s{seed}", 2) for seed in range(3))
    checkpoints = [e for e in MANIFEST.values() if e["kind"] == "checkpoint"]
    half = max(
        abs(e["results"]["test_acc"] - e["results"]["test_acc_float32_weights"])
        for e in checkpoints
    )
    differing = sum(
        e["results"]["test_acc"] != e["results"]["test_acc_float32_weights"] for e in checkpoints
    )
    total = sum(p.stat().st_size for p in bam.pretrained.RESULTS.iterdir())
    each = max(e["bytes"] for e in checkpoints)
    assert_quoted(
        "README.md",
        f"| {resnets} | lessons 05 (seed 0), 06 |",
        f"| {bams} | lessons 06, 07 (seed 0) |",
        f"({each / 1e6:.1f} MB each, {total / 1e6:.1f} MB for everything that ships)",
        f"to within {100 * half:.2f} point (one network of six differs at all)",
        f"(`shapes-bam_resnet20-s0`, {acc('shapes-bam_resnet20-s0')} test accuracy)",
        f"shipped `shapes-bam_resnet20-s0` ({acc('shapes-bam_resnet20-s0')} at one thread",
    )
    assert differing == 1
