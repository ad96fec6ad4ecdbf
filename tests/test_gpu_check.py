"""python -m bam.bench gpu: one line without a GPU; with --device cpu, the whole check runs
(the same code a GPU runs, at toy sizes) and reports every figure it promises."""

import pytest
import torch

from bam import gpu_check
from bam.commands import bench
from bam.data import cifar_archive, make_shapes
from bam.runtime import Precision, choose_precision

DRY_RUN = ["gpu", "--device", "cpu", "--images", "128", "--test-images", "64", "--epochs", "1"]
DRY_RUN += ["--batch-size", "64", "--workers", "0", "--steps", "1", "--no-compile"]
DRY_RUN += ["--cifar-images", "64", "--side-by-side", "2", "--kernels", "--recipe-epochs", "1"]


def test_without_a_gpu_it_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main(["gpu"]) == {}
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("no CUDA GPU here")


def test_the_dry_run_on_the_cpu_reports_every_figure(capsys):
    figures = bench.main(DRY_RUN)
    out = capsys.readouterr().out
    sections = ["ratio ours / torchvision", "BAM / plain", "epoch-time ratio", "CIFAR reading"]
    sections += ["captured / eager", "side by side", "lesson 06 with RETRAIN", "recipes"]
    sections += ["where a step's time goes", "the self-check took"]
    for section in sections:
        assert section in out, section
    assert figures["loader_images_per_s"] > 0 and figures["dataloader_images_per_s"] > 0
    assert figures["step_ratio_float32"] > 0
    for step in ("eager", "captured"):
        assert figures[f"epoch_ratio_{step}"] > 0
        assert 0 <= figures[f"bam_resnet20_{step}_test_acc"] <= 1
    assert figures["capture_speedup_resnet20"] > 0 and figures["capture_speedup_bam_resnet20"] > 0
    assert figures["side_by_side_images_per_s"] > 0 and figures["alone_images_per_s"] > 0
    assert figures["kernel_time_ratio"] > 0 and "recipe_1024_resnet20_test_acc" in figures
    assert figures["lesson06_minutes"] > 0 and 0 <= figures["cifar_read_acc"] <= 1
    assert "peak memory n/a" in out  # only CUDA reports it


def test_with_compile_it_also_trains_the_compiled_captured_step(monkeypatch, capsys):
    compiled = []

    def fake_compile(model, **kwargs):  # inductor's C++ build would take minutes here
        compiled.append(type(model).__name__)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    with_compile = [arg for arg in DRY_RUN if arg not in ("--no-compile", "--kernels")]
    figures = bench.main([*with_compile, "--recipe-epochs", "0"])
    out = capsys.readouterr().out
    precisions = 1 + (choose_precision(torch.device("cpu")).dtype is not None)
    # fit compiles both networks; the step table both networks in each precision
    assert compiled.count("CifarResNet") == 2 + 2 * precisions
    assert "epoch-time ratio BAM / plain (last epoch), compiled" in out
    assert "compiled / captured" in out
    for name in ("resnet20", "bam_resnet20"):
        assert figures[f"compile_speedup_{name}"] > 0
        assert 0 <= figures[f"{name}_compiled_test_acc"] <= 1


def test_where_float16_scales_the_gradients_only_the_eager_step_is_trained():
    """A T4 (compute capability 7.5) trains in float16 with gradient scaling, which the
    captured step cannot do: there the self-check trains what fit trains, the eager step."""
    t4 = Precision(torch.float16, "compute capability 7.5")
    assert not gpu_check.captures(torch.device("cuda"), t4)
    assert gpu_check.captures(torch.device("cuda"), Precision(torch.bfloat16, "8.0"))
    assert gpu_check.captures(torch.device("cpu"), Precision(None, "the dry run"))
    assert list(gpu_check.fit_steps(False, compile_too=True)) == ["eager"]
    assert list(gpu_check.fit_steps(True, compile_too=False)) == ["eager", "captured"]


def test_with_the_eager_step_alone_it_reports_from_the_eager_rates(monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "captures", lambda device, precision: False)
    figures = bench.main([*DRY_RUN, "--recipe-epochs", "0"])
    out = capsys.readouterr().out
    assert "no captured step here: with " in out and "fit trains eagerly" in out
    assert "at the eager rates above" in out
    assert "epoch_ratio_eager" in figures and "epoch_ratio_captured" not in figures
    assert "capture_speedup_resnet20" not in figures
    assert figures["lesson06_minutes"] > 0 and 0 <= figures["cifar_read_acc"] <= 1


def test_the_cifar_reading_code_reads_back_the_archive_it_wrote():
    train, test = make_shapes("train", size=50), make_shapes("test", size=10)
    read, read_test = cifar_archive.read_cifar_archive(train, test)
    assert torch.equal(read.images, train.images) and torch.equal(read_test.labels, test.labels)
    assert read.name == "cifar10-train" and read.classes == train.classes


def test_a_mismatch_between_written_and_read_images_is_an_error(monkeypatch):
    train, test = make_shapes("train", size=50), make_shapes("test", size=10)
    real = cifar_archive.load_cifar
    shortened = lambda *a, **k: real(*a, **k).subset(len(test))  # noqa: E731
    monkeypatch.setattr(cifar_archive, "load_cifar", shortened)
    with pytest.raises(AssertionError, match="differ from those written"):
        cifar_archive.read_cifar_archive(train, test)
