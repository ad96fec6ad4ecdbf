"""python -m bam.bench gpu: one line without a GPU; with --device cpu, the whole check runs
(the same code a GPU runs, at toy sizes) and reports every figure it promises."""

import pytest
import torch

from bam import bench, gpu_check
from bam.data import make_shapes

DRY_RUN = ["gpu", "--device", "cpu", "--images", "128", "--test-images", "64", "--epochs", "1"]
DRY_RUN += ["--batch-size", "64", "--workers", "0", "--steps", "1", "--no-compile"]
DRY_RUN += ["--cifar-images", "64"]


def test_without_a_gpu_it_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main(["gpu"]) == {}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("no CUDA GPU here")


def test_the_dry_run_on_the_cpu_reports_every_figure(capsys):
    figures = bench.main(DRY_RUN)
    out = capsys.readouterr().out
    for section in ("ratio ours / torchvision", "BAM / plain", "epoch-time ratio", "CIFAR reading"):
        assert section in out, section
    assert figures["loader_images_per_s"] > 0 and figures["dataloader_images_per_s"] > 0
    assert figures["step_ratio_float32"] > 0 and figures["epoch_ratio"] > 0
    assert 0 <= figures["bam_resnet20_test_acc"] <= 1 and 0 <= figures["cifar_read_acc"] <= 1
    assert "peak memory n/a" in out  # only CUDA reports it


def test_the_cifar_reading_code_reads_back_the_archive_it_wrote():
    train, test = make_shapes("train", size=50), make_shapes("test", size=10)
    read, read_test = gpu_check.read_cifar_archive(train, test)
    assert torch.equal(read.images, train.images) and torch.equal(read_test.labels, test.labels)
    assert read.name == "cifar10-train" and read.classes == train.classes


def test_a_mismatch_between_written_and_read_images_is_an_error(monkeypatch):
    train, test = make_shapes("train", size=50), make_shapes("test", size=10)
    real = gpu_check.load_cifar
    monkeypatch.setattr(gpu_check, "load_cifar", lambda *a, **k: real(*a, **k).subset(len(test)))
    with pytest.raises(AssertionError, match="differ from those written"):
        gpu_check.read_cifar_archive(train, test)
