"""How a failed check reads where learners meet it: one message in Jupyter (a real kernel runs
the cells), an ordinary exception in plain Python."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tools.course.notebook import KERNELSPEC

ANSI = re.compile(r"\x1b\[[0-9;]*m")

WRONG = """
class NoFinalNorm(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden), nn.ReLU(),
                                 nn.Conv2d(hidden, channels, 1))

    def forward(self, x):
        return self.mlp(x.mean((2, 3), keepdim=True))
"""
CRASHING = """
class Crashing(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.fc = nn.Linear(channels, channels // reduction)

    def forward(self, x):
        return self.fc(x)  # the map, not its pooled summary: a shape error
"""
STUB = """
class MyChannelGate(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError
"""


@pytest.fixture(scope="module")
def ran() -> list:
    from nbclient import NotebookClient

    cells = [
        "import torch\nfrom torch import nn\n\nfrom bam.checks import check_channel_gate",
        WRONG,
        "check_channel_gate(NoFinalNorm)",
        CRASHING,
        "check_channel_gate(Crashing)",
        STUB,
        "check_channel_gate(MyChannelGate)",
        "gate = MyChannelGate(64)",
        'def helper():\n    raise NotImplementedError("a real error, with a message")\n\n\n'
        "helper()",
    ]
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    return nb.cells


def shown(cell) -> list[str]:
    """The lines a learner sees under the cell, colours removed."""
    errors = [out for out in cell.outputs if out.output_type == "error"]
    assert len(errors) == 1, cell.outputs
    return ANSI.sub("", "\n".join(errors[0].traceback)).splitlines()


def test_a_failed_check_shows_its_message_in_at_most_five_lines(ran):
    lines = shown(ran[2])
    assert len(lines) <= 5, lines
    assert lines[0].startswith("CheckFailed: NoFinalNorm(32, reduction=4): ")
    assert "missing the final BatchNorm" in "\n".join(lines)
    assert not re.search(r"bam[/\\]checks", "\n".join(lines))  # no path of the checks' source


def test_an_error_in_the_learners_code_shows_the_learners_line(ran):
    lines = shown(ran[4])
    assert len(lines) <= 5, lines
    assert lines[0].startswith("CheckFailed: Crashing(32, reduction=4) raised RuntimeError")
    assert re.fullmatch(
        r"  in Crashing\.forward, In\[\d+\] line \d+: return self\.fc\(x\).*", lines[-1]
    )


def test_an_unfinished_exercise_is_named_by_its_check_and_by_the_cells_that_need_it(ran):
    check, later = shown(ran[6]), shown(ran[7])
    assert check == [
        "NotWrittenYet: MyChannelGate.__init__ (cell In[6]) is not written yet: fill in the body "
        "marked # YOUR CODE HERE, run that cell, then run this check again."
    ]
    assert len(later) == 1
    assert later[0].startswith(
        "NotImplementedError: MyChannelGate.__init__ (cell In[6]) is not written yet, and this "
        "cell uses it: finish that exercise"
    )


def test_any_other_not_implemented_error_keeps_its_traceback(ran):
    lines = shown(ran[8])
    assert any("helper()" in line for line in lines) and len(lines) > 3
    assert lines[-1] == "NotImplementedError: a real error, with a message"


def test_in_plain_python_a_failed_check_is_an_ordinary_exception():
    script = WRONG + "\ncheck_channel_gate(NoFinalNorm)"
    header = "from torch import nn\nfrom bam.checks import check_channel_gate\n"
    run = subprocess.run(
        [sys.executable, "-c", header + script], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr
    assert "bam.checks.CheckFailed: NoFinalNorm(32, reduction=4):" in run.stderr
