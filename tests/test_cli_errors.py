"""The command lines speak in one line: an error the package explains is one line on stderr and
an exit status (2 for bad input, 1 for what cannot be used), never a traceback and never
PyTorch's advice to load untrusted files; --debug (or BAM_DEBUG=1) shows the traceback. Every
command in the README's tables answers --help, and refuses an option it does not have.

Each case runs the module as ``__main__`` (its real ``if __name__ == "__main__"`` block), on tiny
Shapes sets, offline. They run in this interpreter, which is about five times cheaper than a new
one and sees the same stderr, exit status and warnings; one runs as a real subprocess, where
what reaches the terminal (no traceback, no stray warning) is what is tested."""

import os
import re
import runpy
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from bam.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--train-size", "64", "--test-size", "32", "--epochs", "1", "--no-progress"]


def subprocess_command(module: str, *args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BAM_DEBUG"}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        BAM_FAST="1",
        BAM_DATA=str(tmp / "data"),
        BAM_RUNS=str(tmp / "runs"),
    )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=300,
    )


@dataclass
class Result:
    returncode: int
    stderr: str


def run_as_main(monkeypatch, module: str, args: list[str], tmp: Path) -> None:
    """``python -m module args`` in this interpreter, in ``tmp``, with the environment that
    ``subprocess_command`` gives a real one (``BAM_DEBUG`` is left as the caller set it)."""
    for name, value in (("BAM_DATA", "data"), ("BAM_RUNS", "runs")):
        monkeypatch.setenv(name, str(tmp / value))
    monkeypatch.setenv("BAM_FAST", "1")
    monkeypatch.chdir(tmp)
    monkeypatch.setattr(sys, "argv", [module, *args])
    with warnings.catch_warnings():
        # runpy warns that the module is already imported (by this test session): harmless.
        warnings.filterwarnings("ignore", "'(bam|tools)\\.", RuntimeWarning, "runpy")
        runpy.run_module(module, run_name="__main__", alter_sys=True)


@pytest.fixture
def command(monkeypatch, capsys):
    """``command(module, *args, tmp=...)`` runs ``python -m module args`` in this interpreter;
    returns its status and stderr. A warning it raises fails the test: in a terminal it would be
    a second line."""

    def run(module: str, *args: str, tmp: Path) -> Result:
        monkeypatch.delenv("BAM_DEBUG", raising=False)
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(SystemExit) as stop:
                run_as_main(monkeypatch, module, list(args), tmp)
        assert not caught, [str(w.message) for w in caught]
        return Result(stop.value.code, capsys.readouterr().err)

    return run


def assert_one_line(result: Result | subprocess.CompletedProcess, status: int, *words: str) -> str:
    """The run failed with ``status`` and said so in exactly one line naming ``words``."""
    lines = result.stderr.splitlines()
    assert result.returncode == status, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "weights_only" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def damaged_run(tmp_path) -> Path:
    """A run folder whose checkpoint.pt is the first half of a real checkpoint."""
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"model": {"w": torch.zeros(1000)}}, out / "checkpoint.pt")
    data = (out / "checkpoint.pt").read_bytes()
    (out / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    return out


def test_a_damaged_checkpoint_is_one_line_saying_what_to_do(damaged_run, tmp_path):
    result = subprocess_command("bam.train", "--out", str(damaged_run), *TINY, tmp=tmp_path)
    line = assert_one_line(result, 1, "checkpoint.pt cannot be read", "Delete it")
    assert line.startswith("python -m bam.train: ")


def test_a_checkpoint_of_pickled_objects_is_refused_without_the_advice_to_trust_it(
    command, tmp_path
):
    # torch.load(weights_only=True) refuses it with a message that suggests weights_only=False.
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"model": Path("anything")}, out / "checkpoint.pt")
    result = command("bam.train", "--out", str(out), *TINY, tmp=tmp_path)
    assert_one_line(result, 1, "objects other than tensors")


@pytest.mark.parametrize("flag, variable", [(["--debug"], None), ([], "1")])
def test_debug_lets_the_error_through_to_its_traceback(
    damaged_run, tmp_path, monkeypatch, flag, variable
):
    # Uncaught, the interpreter prints its traceback: only the propagation needs a test.
    monkeypatch.delenv("BAM_DEBUG", raising=False)
    if variable:
        monkeypatch.setenv("BAM_DEBUG", variable)
    with pytest.raises(CheckpointError, match="cannot be read"):
        run_as_main(monkeypatch, "bam.train", ["--out", str(damaged_run), *TINY, *flag], tmp_path)


def test_a_missing_cifar_archive_says_how_to_get_it_and_downloads_nothing(command, tmp_path):
    (tmp_path / "data").mkdir()
    result = command("bam.train", "--dataset", "cifar10", *TINY, tmp=tmp_path)
    assert_one_line(result, 1, "cifar10 not found", "--download", "--dataset shapes")
    assert not any((tmp_path / "data").iterdir())  # nothing was fetched or unpacked


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--model", "resnet21"], ["unknown model 'resnet21'", "bam_resnet20"]),
        (["--epochs", "-1"], ["--epochs", "1 or more", "-1"]),
        (["--epochs", "many"], ["--epochs", "'many'"]),
        (["--lr", "0"], ["--lr", "above 0"]),
        (["--batch-size", "0"], ["--batch-size"]),
        (["--label-smoothing", "1.5"], ["--label-smoothing must be below 1"]),
        (["--device", "gpu"], ["unknown device 'gpu'"]),
        (["--schedule", "linear"], ["--schedule", "invalid choice"]),
    ],
)
def test_bad_arguments_of_the_training_command_are_one_line_and_status_2(
    command, args, words, tmp_path
):
    result = command("bam.train", *args, tmp=tmp_path)
    assert_one_line(result, 2, *words)
    assert not (tmp_path / "runs").exists()  # refused before anything was trained or written


@pytest.mark.parametrize(
    ("module", "args", "status", "words"),
    [
        ("bam.experiments", ["--workers", "0"], 2, ["--workers", "1 or more"]),
        ("bam.experiments", ["--workers", "2"], 2, ["need --executor"]),
        (
            "bam.localisation",
            ["--pretrained", "nothing-such", "--images", "10"],
            2,
            ["no shipped", "nothing-such"],
        ),
        ("bam.localisation", ["--model", "resnet21", "--images", "10"], 2, ["unknown model"]),
        ("bam.profile", ["resnet21"], 2, ["unknown backbone 'resnet21'"]),
        ("bam.bench", ["train", "--images", "0"], 2, ["--images"]),
        ("bam.pretrained", ["--everything"], 2, ["unrecognized arguments"]),
    ],
)
def test_every_command_line_reports_bad_input_in_one_line(
    command, module, args, status, words, tmp_path
):
    assert_one_line(command(module, *args, tmp=tmp_path), status, *words)


def readme_commands() -> list[list[str]]:
    """The commands of the README's tables (those whose first column is ``command``): the first
    `python -m ...` of each row, as argv. A command added to a table is tested here."""
    commands, in_table = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| command |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and (found := re.match(r"\| `(python -m [^`]+)`", line)):
            commands.append(shlex.split(found[1]))
    return commands


COMMANDS = readme_commands()


def test_the_readme_tables_list_the_commands_of_the_package_and_the_tools():
    modules = {argv[2] for argv in COMMANDS}
    assert {"bam.train", "bam.bench", "tools.course", "tools.artifacts", "tools.grade"} <= modules


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_of_the_readme_answers_help(argv, tmp_path):
    result = subprocess_command(argv[2], *argv[3:], "--help", tmp=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m {argv[2]}"), result.stdout[:200]
    assert result.stderr == ""


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_of_the_readme_refuses_an_option_it_lacks_in_one_line(
    command, argv, tmp_path
):
    result = command(argv[2], *argv[3:], "--no-such-option", tmp=tmp_path)
    line = assert_one_line(result, 2, "--no-such-option")
    assert line.startswith(f"python -m {argv[2]}")


def test_the_localisation_command_reports_a_damaged_checkpoint_in_one_line(
    command, damaged_run, tmp_path
):
    result = command(
        "bam.localisation", "--checkpoint", str(damaged_run), "--images", "10", tmp=tmp_path
    )
    assert_one_line(result, 1, "cannot be read")


def test_the_wrapper_maps_errors_to_statuses_and_lets_bugs_keep_their_traceback(capsys):
    from bam import cli
    from bam.errors import BamError

    def failing(error):
        def main(argv):
            raise error

        return main

    for error, status in ((ValueError("bad\nvalue"), 2), (BamError("missing"), 1)):
        with pytest.raises(SystemExit) as stop:
            cli.run(failing(error), "prog", [])
        assert stop.value.code == status
    # A message's first line says what went wrong; --debug shows the rest.
    assert capsys.readouterr().err.splitlines() == ["prog: bad", "prog: missing"]
    with pytest.raises(ZeroDivisionError):  # not an error the package explains: a bug
        cli.run(failing(ZeroDivisionError()), "prog", [])
    with pytest.raises(ValueError):
        cli.run(failing(ValueError("shown")), "prog", ["--debug"])


def python_traceback() -> str:
    """A real traceback of a chained error: the last exception is the one that ended the run."""
    import traceback

    try:
        try:
            raise KeyError("lr")
        except KeyError as error:
            raise ValueError("lr must be positive, got -1\nhere are details") from error
    except ValueError:
        return traceback.format_exc()


# How submitit reports a run that raised in its worker (the traceback, then where the logs are),
# and how nbclient reports a cell that raised (the cell, then IPython's coloured traceback).
WORKER_REPORT = (
    "Job (task=0) failed during processing with trace:\n----------------------\n{traceback}\n"
    "----------------------\nYou can check full logs with 'job.stderr(0)' and 'job.stdout(0)'"
    "or at paths:\n  - /runs/jobs/grid/7_0_log.err\n  - /runs/jobs/grid/7_0_log.out"
)
KERNEL_REPORT = (
    "An error occurred while executing the following cell:\n------------------\n"
    "from bam.train import fit\nfit(lr=-1)\n------------------\n\n\n"
    "\x1b[31m---------------------------------------------------------------------------\x1b[39m\n"
    "\x1b[31mValueError\x1b[39m                                Traceback (most recent call last)\n"
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 2\x1b[39m\n"
    "\x1b[32m----> \x1b[39m\x1b[32m2\x1b[39m fit(lr=-1)\n\n"
    "File /bam/train.py:12, in fit(lr)\n"
    "\x1b[31mValueError\x1b[39m: lr must be positive, got -1\nhere are details\n"
)


@pytest.mark.parametrize(
    "error, line",
    [
        (ValueError("bad\nvalue"), "bad"),
        (ValueError("\n  bad  \n"), "bad"),
        (RuntimeError(), "RuntimeError"),
        ("", ""),
        (python_traceback(), "ValueError: lr must be positive, got -1"),
        (
            RuntimeError(WORKER_REPORT.format(traceback=python_traceback())),
            "ValueError: lr must be positive, got -1",
        ),  # fmt: skip
        (RuntimeError(KERNEL_REPORT), "ValueError: lr must be positive, got -1"),
        # A report whose traceback was cut off says what it can.
        (
            "Job failed with trace:\nTraceback (most recent call last):\n  File",
            "Job failed with trace:",
        ),
    ],
    ids=["message", "blank-lines", "no-message", "no-text", "traceback", "worker", "kernel", "cut"],
)
def test_an_error_is_the_line_that_says_what_went_wrong(error, line):
    from bam.cli import error_line

    assert error_line(error) == line
