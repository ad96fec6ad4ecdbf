"""Every GPU figure the course quotes is read from a log of the run that measured it.

``docs/gpu/`` holds the logs of ``python -m bam.bench gpu`` and of the lessons on one H200, each
with its command, machine and commit. These tests read the figures out of the logs and find
them, rounded as quoted, in the README, in lesson 06 and in ``bam.train``.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "docs" / "gpu"


def log(name: str) -> str:
    """The output a log holds, without its header of comments."""
    text = (LOGS / name).read_text()
    assert text.startswith("# command: python -m "), f"{name} must say what command made it"
    assert "# machine: one NVIDIA H200" in text and "# code: commit " in text
    return text.split("\n\n", 1)[1]


@pytest.fixture(scope="module")
def readme() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## On a GPU, and in Colab") : text.index("## The rendered course")]


def fit_rates(text: str) -> dict[tuple[str, str], str]:
    found = re.findall(r"^  (\w+)\s+(eager|captured)\s+epochs.*\(([\d,]+) images/s", text, re.M)
    return {(name, step): rate for name, step, rate in found}


def test_the_readme_shows_the_self_checks_output_verbatim(readme):
    assert "```\n" + log("h200-selfcheck.txt").rstrip("\n") + "\n```" in readme


def test_the_readme_table_quotes_the_self_check(readme):
    text = log("h200-selfcheck.txt")
    rates = fit_rates(text)
    assert len(rates) == 4
    rows = {
        "eager step": ("eager", re.search(r"last epoch\), eager: ([\d.]+)", text)[1]),
        "the captured step": ("captured", re.search(r"last epoch\), captured: ([\d.]+)", text)[1]),
    }
    for words, (step, ratio) in rows.items():
        row = next(line for line in readme.splitlines() if words in line and line.startswith("|"))
        assert rates["resnet20", step] in row and rates["bam_resnet20", step] in row, row
        assert ratio in row, row
    speedups = re.findall(r"(\w+): captured / eager ([\d.]+x)", text)
    row = next(line for line in readme.splitlines() if line.startswith("| captured / eager"))
    assert [s for _, s in speedups] == re.findall(r"[\d.]+x", row)
    kernels = re.search(r"ResNet-20 ([\d.]+ ms), BAM-ResNet-20 ([\d.]+ ms)", text)
    assert f"| {kernels[1]} | {kernels[2]} |" in readme
    together, alone, ratio = re.search(
        r"([\d,]+) images/s together, ([\d,]+) alone \(([\d.]+x)\)", text
    ).groups()
    assert f"{together} images/s together against {alone} for one alone ({ratio})" in readme
    eager_step = re.search(r"bfloat16\s+no\s+([\d.]+) ms", text)[1]
    assert f"took {float(eager_step):.1f} ms of wall time for {kernels[1][:-5]}" in readme


def test_the_recipes_quoted_are_the_recipes_measured(readme):
    text = log("h200-recipes.txt")
    found = re.findall(
        r"batch\s+(\d+), lr [\d.]+: (\w+)\s+test accuracy ([\d.]+)%, ([\d,]+) images/s", text
    )
    by = {(int(b), name): (acc, rate) for b, name, acc, rate in found}
    assert len(by) == 6
    for name in ("resnet20", "bam_resnet20"):
        accuracies = " / ".join(by[b, name][0] for b in (256, 512, 1024)) + "%"
        rates = " / ".join(by[b, name][1] for b in (256, 512, 1024))
        assert accuracies in readme and rates in readme, name
    # "Batch 512 ... matched batch 256's accuracy at 1.2-1.3x the speed" (README, bam.train)
    for name in ("resnet20", "bam_resnet20"):
        assert float(by[512, name][0]) >= float(by[256, name][0])
        speed = int(by[512, name][1].replace(",", "")) / int(by[256, name][1].replace(",", ""))
        assert 1.2 <= round(speed, 1) <= 1.3
    assert "at 1.2-1.3x the speed" in readme
    assert "at 1.2-1.3x the speed" in (ROOT / "bam" / "train.py").read_text()
    assert f"batch 1024 gave {by[1024, 'resnet20'][1]}" in readme


def test_lesson06_quotes_the_captured_speed_up():
    lesson = json.loads((ROOT / "notebooks" / "06_training.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in lesson["cells"] if c["cell_type"] == "markdown")
    speedup = float(
        re.search(r"resnet20: captured / eager ([\d.]+)x", log("h200-selfcheck.txt"))[1]
    )
    assert f"ResNet-20 on {speedup:.1f} times as many images per second" in prose.replace("\n", " ")


def test_the_lessons_passed_on_the_gpu_as_the_readme_says(readme):
    text = log("h200-lessons.txt")
    assert re.search(r"^FAILED notebooks/08_ablations.ipynb::Cell 14 ", text, re.M)
    assert len(re.findall(r"^FAILED ", text, re.M)) == 1
    assert "1 failed, 77 passed" in text and text.rstrip().endswith("19 passed in 20.72s")
    assert "Lessons 00 and 05-08 passed nbval in full mode on that GPU" in readme


def test_the_instructors_guide_quotes_the_estimate_of_lesson_06():
    minutes = re.search(r"\(([\d.]+) min\)", log("h200-selfcheck.txt"))[1]
    guide = (ROOT / "docs" / "instructors.md").read_text().replace("\n  ", " ")
    assert f"on an H200 estimated {minutes} minutes" in guide
