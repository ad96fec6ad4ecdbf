"""One place decides where results and data go: BAM_RUNS and BAM_DATA, else the checkout, else
the working folder; every command uses it and says where it wrote; runs resume from there."""

from pathlib import Path

import pytest
import torch

import bam.commands.experiments
import bam.commands.localisation
import bam.commands.train
import bam.experiments
import bam.runtime
import bam.train
from bam.data import make_shapes
from bam.models import CifarResNet
from bam.runtime import data_root, runs_dir
from bam.train import fit

REPO = Path(__file__).resolve().parents[1]
TINY_RUN = ["--model", "resnet20", "--epochs", "2", "--batch-size", "64", "--no-progress"]
TINY_RUN += ["--train-size", "128", "--test-size", "64"]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working folder that is not the checkout, and no BAM_RUNS or BAM_DATA."""
    monkeypatch.delenv("BAM_RUNS", raising=False)
    monkeypatch.delenv("BAM_DATA", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_the_variables_decide_first(elsewhere, tmp_path, monkeypatch):
    monkeypatch.setenv("BAM_RUNS", str(tmp_path / "drive" / "runs"))
    monkeypatch.setenv("BAM_DATA", "~/datasets")
    assert runs_dir() == tmp_path / "drive" / "runs"
    assert data_root() == Path.home() / "datasets"


def test_a_relative_variable_is_made_absolute_where_it_was_read(elsewhere, monkeypatch):
    monkeypatch.setenv("BAM_RUNS", "mine")
    assert runs_dir() == elsewhere / "mine"


def test_in_a_checkout_both_folders_are_in_it_wherever_the_command_runs(elsewhere):
    assert bam.runtime.checkout_root() == REPO
    assert runs_dir() == REPO / "runs" and data_root() == REPO / "data"


def test_an_installed_package_uses_the_working_folder(elsewhere, monkeypatch):
    monkeypatch.setattr(bam.runtime, "checkout_root", lambda: None)
    assert runs_dir() == elsewhere / "runs" and data_root() == elsewhere / "data"


def test_every_module_asks_the_same_place():
    assert bam.experiments.runs_dir is runs_dir and bam.data.data_root is data_root
    assert bam.data.cifar.data_root is data_root


def test_the_grid_writes_its_results_in_the_runs_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BAM_RUNS", str(tmp_path))
    assert bam.experiments.lesson_results("cpu") == tmp_path / "08_ablations_cpu.jsonl"
    rows = bam.commands.experiments.main(["--setting", "fast", "--parts", "peers"])
    assert len(rows) == 2 and (tmp_path / "08_ablations_fast.jsonl").is_file()
    assert f"results in {tmp_path / '08_ablations_fast.jsonl'}" in capsys.readouterr().out


def test_a_training_run_resumes_from_a_drive_folder_after_the_machine_is_recycled(
    tmp_path, monkeypatch, capsys
):
    # Colab: BAM_RUNS points at Google Drive; the runtime dies, a new one (another working
    # folder, a fresh process) runs the same command and continues from Drive.
    drive = tmp_path / "drive" / "bam-runs"
    monkeypatch.setenv("BAM_RUNS", str(drive))
    monkeypatch.chdir(tmp_path)
    original = bam.train._train_epoch
    calls = []

    def dies_in_epoch_two(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the runtime was recycled during epoch 2
        return original(*args)

    monkeypatch.setattr(bam.train, "_train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        bam.commands.train.main(TINY_RUN)
    folder = drive / "shapes-resnet20-s0"
    assert (folder / "checkpoint.pt").is_file()
    first = torch.load(folder / "checkpoint.pt", weights_only=True)["history"]
    assert first["epoch"] == [1]
    monkeypatch.setattr(bam.train, "_train_epoch", original)
    fresh = tmp_path / "new-runtime"
    fresh.mkdir()
    monkeypatch.chdir(fresh)
    capsys.readouterr()
    history = bam.commands.train.main(TINY_RUN)
    out = capsys.readouterr().out
    assert history.epoch == [1, 2] and history.train_loss[0] == first["train_loss"][0]
    assert history.train_time[0] == first["train_time"][0]  # epoch 1 was not trained again
    assert f"checkpoint and history in {folder}" in out
    assert not (fresh / "runs").exists()


def test_an_interruption_before_the_first_epoch_ends_says_nothing_was_written(
    tmp_path, monkeypatch, capsys
):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(bam.train, "_train_epoch", interrupted)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        fit(
            CifarResNet(8, widths=(8, 8, 8)),
            make_shapes("train", size=64),
            epochs=1,
            batch_size=64,
            checkpoint=tmp_path / "run",
        )
    message = capsys.readouterr().err
    assert "pass checkpoint=" not in message
    assert f"no epoch had finished, so nothing was written to {tmp_path / 'run'}" in message


def test_localisation_without_a_checkpoint_measures_the_shipped_network(capsys):
    with pytest.raises(SystemExit):
        bam.commands.localisation.main(
            ["--pretrained", "shapes-vgg-s0"]
        )  # a clear error, no traceback
    assert "no shipped checkpoint called 'shapes-vgg-s0'" in capsys.readouterr().err


def test_localisation_says_which_checkpoint_it_read(tmp_path, capsys):
    with pytest.raises(SystemExit):
        bam.commands.localisation.main(["--checkpoint", str(tmp_path / "run"), "--images", "8"])
    assert f"no checkpoint at {tmp_path / 'run' / 'checkpoint.pt'}" in capsys.readouterr().err
