"""Every figure the lessons, the README and the instructors' guide quote from a shipped result is
the shipped one: each is recomputed here from bam/results/ and looked up in the text, so a
retrained artifact cannot leave stale numbers behind."""

import copy
import json
import math
import re
import statistics
from functools import cache
from pathlib import Path

import pytest
import torch
from torch import nn

import bam.pretrained
from bam.data import Loader, load
from bam.experiments import IDENTITY, difference, pooled_std, summarize
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


# ----------------------------------------------------------------------------- lesson 06
LESSON_06 = "notebooks/06_training.ipynb"
# Lesson 06's networks, as the shipped runs are named.
RUNS_06 = {
    "plain": "shapes-resnet20",
    "BAM": "shapes-bam_resnet20",
    "BAM, identity init": "shapes-bam_resnet20-identity",
}


def final_accuracies(label: str) -> list[float]:
    """The last test accuracy of the three seeds, from the shipped histories (what lesson 06
    compares)."""
    return [bam.pretrained.history(f"{RUNS_06[label]}-s{seed}").test_acc[-1] for seed in range(3)]


def paired(label: str, against: str = "plain") -> tuple[float, float, float]:
    """Mean, standard deviation and standard error of ``label`` - ``against``, seed by seed."""
    pairs = zip(final_accuracies(against), final_accuracies(label), strict=True)
    diffs = [b - a for a, b in pairs]
    mean, spread = statistics.mean(diffs), statistics.stdev(diffs)
    return mean, spread, spread / math.sqrt(len(diffs))


def test_lesson_06_quotes_its_paired_comparison():
    bam_mean, _, bam_se = paired("BAM")
    id_mean, id_spread, id_se = paired("BAM, identity init")
    between, _, between_se = paired("BAM, identity init", against="BAM")
    assert abs(between) <= 2 * between_se
    best = max(acc for label in RUNS_06 for acc in final_accuracies(label))
    assert max(final_accuracies("BAM, identity init")) == best
    assert abs(bam_mean) > 2 * bam_se and abs(id_mean) <= 2 * id_se  # the verdicts quoted
    assert_quoted(
        LESSON_06,
        f"BAM as the paper builds it ends {points(-bam_mean)} points below the plain network on "
        f"average, beyond two standard errors ({points(2 * bam_se)})",
        f"the same module ends {points(-id_mean)} points below, inside two standard errors "
        f"({points(2 * id_se)})",
        f"one of its seeds is the best of all nine runs ({pct(best, 2)})",
        f"The identity start is {points(between)} points ahead of the paper's, but that "
        f"difference is inside two standard errors too ({points(2 * between_se)})",
        f"within them; the two BAMs differ by {points(between)} points, within them too",
        f"ends {points(-bam_mean)} points behind the plain network, beyond two standard errors; "
        f"started as the identity it ends {points(-id_mean)} points behind",
        f"ends {points(-id_mean)} points behind the plain network, and its differences from it "
        f"vary by {points(id_spread)} points",
    )
    seeds = math.ceil((2 * id_spread / id_mean) ** 2)
    assert_quoted(
        "docs/instructors.md",
        f"2 · {points(id_spread)} / sqrt(n) < {points(-id_mean)}",
        f"n ≥ {seeds} seeds",
    )


def test_lesson_06_quotes_the_scales_at_the_first_step():
    output = checked_output(LESSON_06, "def scales_at_start")
    ratios = {
        line.split()[0]: line.split()[3].strip("()x")
        for line in output.splitlines()
        if line.split() and line.split()[0] in ("layer1", "layer2", "layer3", "logits")
    }
    losses = output.split("loss at the first step: ")[1]
    loss = dict(re.findall(r"(plain|BAM, identity init|BAM) (\d+\.\d+)", losses))
    assert_quoted(
        LESSON_06,
        f"After stage 1 the paper's BAM has made the main path {ratios['layer1']} times as large",
        f"after stage 2 {ratios['layer2']} times",
        f"the logits come out {ratios['logits']} times as large",
        f"a loss of {loss['BAM']} against {loss['plain']}",
        f"({ratios['layer2']} after both)",
    )


def test_lesson_06_quotes_the_first_epochs():
    def accs(label: str, epoch: int) -> list[float]:
        return [
            bam.pretrained.history(f"{RUNS_06[label]}-s{s}").test_acc[epoch - 1] for s in range(3)
        ]

    def mean_at(label: str, epoch: int) -> str:
        return pct(statistics.mean(accs(label, epoch)))

    def gap(epoch: int) -> str:
        d = statistics.mean(accs("BAM, identity init", epoch)) - statistics.mean(
            accs("plain", epoch)
        )
        return f"{100 * d:.1f}"

    epochs = len(bam.pretrained.history("shapes-resnet20-s0"))
    ahead = [max(accs("BAM", e)) > min(accs("plain", e)) for e in range(1, epochs + 1)]
    assert ahead[:5] == [True] * 5 and not ahead[5]  # "in each of the first five epochs"
    assert all(
        statistics.mean(accs("BAM", e)) < statistics.mean(accs("plain", e))
        for e in range(3, epochs + 1)
    )  # "its mean stays behind to the eighth and last epoch"
    assert_quoted(LESSON_06, f"are {gap(2)} and {gap(3)} points apart in mean after epochs 2 and 3")

    assert_quoted(
        LESSON_06,
        f"after 3 epochs its mean test accuracy is {mean_at('BAM', 3)}, against "
        f"{mean_at('plain', 3)} for the plain network and {mean_at('BAM, identity init', 3)} "
        f"for the identity-started BAM; after 4 epochs {mean_at('BAM', 4)}, against "
        f"{mean_at('plain', 4)} and {mean_at('BAM, identity init', 4)}",
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
        if words and words[0] in ("paper", "identity", "untrained", "random", "centre"):
            stage = " ".join(words[1:3] if words[1] == "stage" else words[1:2])
            table[words[0], stage] = dict(zip(columns, map(float, words[-7:]), strict=True))
    return table


def attention_strength() -> dict[tuple[str, int], dict[str, str]]:
    """Lesson 07's table of gains, parsed: (maps, stage) -> column -> value as printed."""
    output = checked_output("notebooks/07_seeing_attention.ipynb", "strength = {")
    table = {}
    for line in output.splitlines()[1:]:
        label, stage, mean, low, _, high, within = line.split()
        table[label, int(stage)] = {"mean": mean, "low": low, "high": high, "within": within}
    return table


def share(value: float) -> str:
    return f"{100 * value:.0f}%"


def test_lesson_07_quotes_its_localisation_table():
    t = localisation_table()
    t1, t2 = t["paper", "stage 1"], t["paper", "stage 2"]
    u1, u2, cam = t["untrained", "stage 1"], t["untrained", "stage 2"], t["paper", "Grad-CAM"]
    i1, i2, icam = t["identity", "stage 1"], t["identity", "stage 2"], t["identity", "Grad-CAM"]
    assert_quoted(
        "notebooks/07_seeing_attention.ipynb",
        f"(paper: {acc('shapes-bam_resnet20-s0')}, identity: "
        f"{acc('shapes-bam_resnet20-identity-s0')} test accuracy, as loaded)",
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
        f"untrained, the same stage put {share(u2['max bd'])} of its maxima there, less than the "
        "frame's share",
        f"Its minimum lies on the object {share(i1['min in'])} of the time, its maximum "
        f"{share(i1['max in'])} (below chance), and its lift is {i1['lift']:.2f}",
        f"a lift of {i2['lift']:.2f}, its maximum and minimum on the object "
        f"{share(i2['max in'])} and {share(i2['min in'])} of the time",
        f"{share(i2['max bd'])} of its maxima lie on the border",
        f"lift {cam['lift']:.2f} and {icam['lift']:.2f}, maximum on the object "
        f"{share(cam['max in'])} and {share(icam['max in'])} of the time",
        f"puts its stage-1 maximum on the object {share(u1['max in'])} of the time",
        f"puts its minimum on the object {share(i1['min in'])} of the time",
    )
    assert i1["max in"] < t["random", "stage 1"]["max in"]  # "below chance"
    assert u2["max bd"] < u2["bd area"]  # "less than the frame's share"


def test_lesson_07_quotes_the_strength_of_the_attention():
    s = attention_strength()
    assert max(float(s["identity", stage]["within"]) for stage in (1, 2)) < 0.01
    assert_quoted(
        "notebooks/07_seeing_attention.ipynb",
        f"Its gain `1 + M` averages {s['identity', 1]['mean']} at stage 1 and "
        f"{s['identity', 2]['mean']} at stage 2, and varies within "
        f"an image by {s['identity', 1]['within']} at stage 1 and {s['identity', 2]['within']} "
        "at stage 2.",
        f"its gain varies within an image by {s['paper', 1]['within']}, against "
        f"{s['untrained', 1]['within']} untrained",
        f"Its gain varies within an image by {s['paper', 2]['within']}.",
    )
    assert_quoted(
        "docs/instructors.md",
        f"(its mean, {s['identity', 1]['mean']} at stage 1 and {s['identity', 2]['mean']} at "
        "stage 2; e.g. zero the scale",
    )


def test_lesson_08_quotes_the_shipped_grid(grid):
    s, spread = grid
    built, started = ["ResNet-20", "+ SE", "+ CBAM", "+ BAM"], ["+ SE", "+ CBAM", "+ BAM"]
    peers = built + [name + IDENTITY for name in started]

    def cell(name: str) -> str:
        return f"{points(s[name].mean)} +- {points(s[name].std)}"

    table = [f"| ResNet-20 | {cell('ResNet-20')} | |"] + [
        f"| {name} | {cell(name)} | {cell(name + IDENTITY)} |" for name in started
    ]

    def diff(name: str, base: str) -> tuple[str, str]:
        d, se = difference(s[name], s[base], std=spread)
        return f"{100 * d:+.2f}", points(2 * se)

    bam_vs_plain, peer_bar = diff("+ BAM", "ResNet-20")
    ablation_bar = diff("r = 4", "+ BAM")[1]
    defaults = [name for name in s if name not in peers and not name.endswith(IDENTITY)]
    resolved = [n for n in defaults if abs(float(diff(n, "+ BAM")[0])) > float(ablation_bar)]
    resolved.sort(key=lambda n: float(diff(n, "+ BAM")[0]))
    assert len(defaults) == 11 and len(resolved) == 7
    identities = [name for name in s if name not in peers and name.endswith(IDENTITY)]
    largest = min(identities, key=lambda n: float(diff(n, f"+ BAM{IDENTITY}")[0]))
    gaps = [0.46, 0.56, 1.24, 0.47, 0.28, 0.08, 1.29, 1.24, 0.28, 0.21, 0.88]

    def seeds_needed(gap: float) -> int:
        return math.ceil(2 * (2 * 100 * spread / gap) ** 2)

    peer_stds = sorted(s[name].std for name in peers)
    assert_quoted(
        "notebooks/08_ablations.ipynb",
        *table,
        f"The pooled seed-to-seed standard deviation is {points(spread)} points",
        f"two standard errors are {peer_bar} points between two peers",
        f"and {ablation_bar} between an ablation (2 seeds) and its default",
        f"{bam_vs_plain} points against a bar of {peer_bar}",
        f"Started as the identity, BAM is {diff(f'+ BAM{IDENTITY}', 'ResNet-20')[0]}, inside "
        f"the bar, and so are SE ({diff('+ SE', 'ResNet-20')[0]}) and CBAM "
        f"({diff('+ CBAM', 'ResNet-20')[0]}) as built, and started as the identity "
        f"({diff(f'+ SE{IDENTITY}', 'ResNet-20')[0]}, {diff(f'+ CBAM{IDENTITY}', 'ResNet-20')[0]})",
        f"The identity start moves BAM by {diff(f'+ BAM{IDENTITY}', '+ BAM')[0].lstrip('+')} "
        f"points and CBAM by {diff(f'+ CBAM{IDENTITY}', '+ CBAM')[0].lstrip('+')}, SE by "
        f"{diff(f'+ SE{IDENTITY}', '+ SE')[0].lstrip('+')}",
        f"more than their bar of {ablation_bar}: "
        + ", ".join(f"{n} ({diff(n, '+ BAM')[0]})" for n in resolved[:-1])
        + f" and {resolved[-1]} ({diff(resolved[-1], '+ BAM')[0]})",
        f"near the plain network's {points(s['ResNet-20'].mean)}",
        f"{largest.removesuffix(IDENTITY)} ({diff(largest, f'+ BAM{IDENTITY}')[0]}), is inside",
        "({}, {} and {} for seeds 0, 1 and 2".format(
            *(points(v) for v in s[f"+ BAM{IDENTITY}"].values)
        ),
        f"smaller than our spread of {points(spread)}",
        f"about {seeds_needed(max(gaps))} seeds per configuration, its smallest about "
        f"{round(seeds_needed(min(gaps)), -2):,}",
        f"run from {points(peer_stds[0])} to {points(peer_stds[-1])} points",
        "(r = 8: {} and {})".format(*(points(v) for v in s["r = 8"].values)),
        f"On our CPU grid that spread is {points(spread)} points",
    )
    identity = s[f"+ BAM{IDENTITY}"]
    assert_quoted(
        "docs/instructors.md",
        f"({points(statistics.mean(identity.values[:2]))} for the identity start, against "
        f"{points(identity.mean)} over all three)",
    )
    for name in peers[1:]:
        d, se = difference(s[name], s["ResNet-20"], std=spread)
        assert (abs(d) > 2 * se) == (name == "+ BAM"), f"{name}: only BAM is quoted as resolved"
    for name in identities:
        d, se = difference(s[name], s[f"+ BAM{IDENTITY}"], std=spread)
        assert abs(d) <= 2 * se and d < 0, f"{name} is quoted as unresolved and ahead"
    assert all(s[name].mean < s["+ BAM"].mean for name in defaults)


# ----------------------------------------------------------------------------- the README
def test_the_readme_quotes_the_shipped_networks():
    def seeds(prefix: str) -> str:
        return ", ".join(acc(f"{prefix}-s{seed}", 2) for seed in range(3))

    checkpoints = [e for e in MANIFEST.values() if e["kind"] == "checkpoint"]
    half = max(
        abs(e["results"]["test_acc"] - e["results"]["test_acc_float32_weights"])
        for e in checkpoints
    )
    differing = sum(
        e["results"]["test_acc"] != e["results"]["test_acc_float32_weights"] for e in checkpoints
    )
    words = {0: "none", 1: "one", 2: "two", 3: "three", 4: "four"}
    total = sum(p.stat().st_size for p in bam.pretrained.RESULTS.iterdir())
    each = max(e["bytes"] for e in checkpoints)
    assert len(checkpoints) == 9
    assert_quoted(
        "README.md",
        f"| {seeds('shapes-resnet20')} | lessons 05 (seed 0), 06 |",
        f"| {seeds('shapes-bam_resnet20')} | lessons 06, 07 (seed 0) |",
        f"| {seeds('shapes-bam_resnet20-identity')} | lessons 06, 07 (seed 0) |",
        f"({each / 1e6:.1f} MB each, {total / 1e6:.1f} MB for everything that ships)",
        f"to within {100 * half:.2f} point ({words[differing]} of the nine networks differs",
        f"(`shapes-bam_resnet20-s0`, {acc('shapes-bam_resnet20-s0')} test accuracy)",
        f"shipped `shapes-bam_resnet20-s0` ({acc('shapes-bam_resnet20-s0')} at one thread",
    )


def test_the_readme_figure_caption_states_lesson_06_s_result():
    bam_mean, _, _ = paired("BAM")
    id_mean, _, _ = paired("BAM, identity init")
    assert_quoted(
        "README.md",
        f"over three seeds this BAM ends {points(-bam_mean)} points behind the plain ResNet-20 "
        "(lesson 06's paired comparison of the accuracies the runs reached), beyond the seed noise",
        f"started as the identity, BAM ends {points(-id_mean)} points behind, within the noise",
    )
