"""The explorer works on the oldest ipywidgets pyproject.toml allows, so a runtime that ships
ipywidgets 7 (Colab does) keeps it instead of having it upgraded under its running front end.

The floor is installed from PyPI into a temporary folder (no other package is touched) and the
explorer's logic runs on it in a fresh interpreter: the widgets are built, and every control
redraws the figure with the right choice."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib
from packaging.version import Version

pytestmark = pytest.mark.integration  # installs ipywidgets from PyPI: make test-integration

ROOT = Path(__file__).resolve().parents[1]
PROBE = textwrap.dedent(
    """
    import sys
    import ipywidgets, torch
    import bam.viz.explorer
    from bam import viz
    from bam.models import create

    module = sys.modules["bam.viz.explorer"]
    drawn, real = [], module.explorer_state
    module.explorer_state = lambda *a, **k: drawn.append(a[4:7]) or real(*a, **k)
    torch.manual_seed(0)
    images = torch.randn(3, 3, 32, 32)
    preds, maps = viz.collect(create("bam_resnet20"), images)
    box = module.explorer(maps, images, torch.tensor([0, 1, 2]), preds)
    slider, stages, menu, out = box.children
    assert isinstance(out, ipywidgets.Output) and isinstance(stages, ipywidgets.ToggleButtons)
    slider.value, stages.value, menu.value = 2, "layer2.bam", "channel"
    print("version", ipywidgets.__version__)
    print("drawn", drawn)
    """
)


def ipywidgets_floor() -> str:
    requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (floor,) = [m.group(1) for r in requirements if (m := re.fullmatch(r"ipywidgets>=(\S+)", r))]
    return floor


@pytest.fixture(scope="module")
def oldest(tmp_path_factory):
    floor = ipywidgets_floor()
    target = tmp_path_factory.mktemp("ipywidgets-floor")
    # ipython_genutils is a dependency of ipywidgets 7 that 8 dropped; nothing else is needed.
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
    done = subprocess.run(
        [*install, str(target), f"ipywidgets=={floor}", "ipython_genutils"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"could not install ipywidgets {floor}:\n{done.stderr}"
    return floor, target


def test_the_explorer_runs_on_the_oldest_ipywidgets_allowed(oldest):
    floor, target = oldest
    run = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{target}:{ROOT}", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (version,) = re.findall(r"^version (\S+)$", run.stdout, re.M)
    assert Version(version) == Version(floor)
    choices = [(0, "layer1.bam", "attention"), (2, "layer1.bam", "attention")]
    choices += [(2, "layer2.bam", "attention"), (2, "layer2.bam", "channel")]
    assert f"drawn {choices}" in run.stdout  # drawn at start, then once per control moved
