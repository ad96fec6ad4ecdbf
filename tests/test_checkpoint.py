"""bam.checkpoint: atomic writes, safe reads whose errors are one line, fingerprints that name
every difference."""

import pickle
from pathlib import Path

import pytest
import torch

from bam.checkpoint import (
    CheckpointError,
    atomic_write,
    check_fingerprint,
    checkpoint_paths,
    fingerprint,
    load_tensors,
    read_checkpoint,
)
from bam.data import make_shapes
from bam.models import create
from bam.profile import count_params


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "state.bin"
    atomic_write(path, lambda f: f.write(b"old"))

    def crash(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]


def test_a_folder_or_a_pt_file_names_the_checkpoint_and_its_history(tmp_path):
    assert checkpoint_paths(tmp_path) == (tmp_path / "checkpoint.pt", tmp_path / "history.json")
    assert checkpoint_paths(tmp_path / "a.pt") == (tmp_path / "a.pt", tmp_path / "a.json")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "truncated, damaged or not a PyTorch file"),
        (b"not a checkpoint\n" * 20, "truncated, damaged or not a PyTorch file"),
        (pickle.dumps({"model": torch.zeros(2)}), "truncated, damaged or not a PyTorch file"),
        ({"model": Path("an object")}, "objects other than tensors"),
    ],
    # Named, not shown: a pickle's bytes can differ from process to process, and test ids must
    # not (pytest-xdist's workers each collect the suite and must agree on every id).
    ids=["empty", "text", "a-plain-pickle", "a-non-tensor-object"],
)
def test_an_unreadable_file_is_one_line_without_pytorchs_advice(tmp_path, content, why):
    path = tmp_path / "checkpoint.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)  # a real PyTorch file, but not of tensors only
    with pytest.raises(CheckpointError) as error:
        load_tensors(path)
    message = str(error.value)
    assert why in message and "Delete it" in message
    assert "\n" not in message and "weights_only" not in message


def test_a_missing_file_and_a_foreign_one_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_tensors(tmp_path / "none.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a checkpoint written by bam.train.fit"):
        read_checkpoint(tmp_path / "other.pt")


def test_the_fingerprint_counts_parameters_and_a_mismatch_names_each_difference(tmp_path):
    data = make_shapes("train", size=20)
    model = create("bam_resnet20")
    saved = fingerprint(model, data, None, lr=0.1, epochs=2)
    assert saved["parameters"] == count_params(model) and saved["test_set"] is None
    check_fingerprint(tmp_path, saved, dict(saved))  # the same run: no error
    with pytest.raises(CheckpointError) as error:
        check_fingerprint(tmp_path, saved, {**saved, "lr": 0.2, "epochs": 3})
    message = str(error.value)
    assert "epochs: checkpoint has 2, this run has 3; lr: checkpoint has 0.1" in message
    assert "\n" not in message
