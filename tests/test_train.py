"""bam.train: training that learns, resumes exactly, and refuses checkpoints it cannot trust."""

import dataclasses
import json

import pytest
import torch
from interrupting import Interruptible
from torch import nn

import bam.commands.train
import bam.runtime
import bam.train
from bam.data import make_shapes
from bam.models import CifarResNet, add_bam, create
from bam.runtime import seed_everything
from bam.train import CheckpointError, History, evaluate, fit


@pytest.fixture(scope="module")
def train_set():
    return make_shapes("train", size=384, seed=0)


@pytest.fixture(scope="module")
def test_set():
    return make_shapes("test", size=192, seed=0)


def tiny(bam_modules: bool = True, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = CifarResNet(8, widths=(8, 16, 16))
    return add_bam(model, reduction=4) if bam_modules else model


# On the CPU, whatever else the machine has: these tests hold fit to CPU results (exact resumes),
# and on CUDA the captured step runs the model's Python code once, so Interruptible never fires.
QUICK = dict(epochs=2, batch_size=64, lr=0.05, progress=False, device="cpu")


def test_loss_falls_on_a_tiny_shapes_run(train_set, test_set):
    history = fit(tiny(), train_set, test_set, **{**QUICK, "epochs": 4})
    assert history.epoch == [1, 2, 3, 4]
    assert history.train_loss[-1] < history.train_loss[0] - 0.1


def test_cosine_schedule_ends_at_zero_learning_rate(train_set, monkeypatch):
    rates = []
    original = bam.train._scheduler

    def spy(*args):
        scheduler = original(*args)
        rates.append(scheduler)
        return scheduler

    monkeypatch.setattr(bam.train, "_scheduler", spy)
    fit(tiny(), train_set, schedule="cosine", **QUICK)
    assert rates[0].get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)


def test_resume_after_an_interruption_gives_the_same_weights(train_set, test_set, tmp_path):
    straight = Interruptible(tiny(seed=0))
    expected = fit(straight, train_set, test_set, checkpoint=tmp_path / "a", **QUICK)

    # Steps per epoch: 384 // 64 = 6; eval: 1 batch. Call 9 is the second step of epoch 2.
    interrupted = Interruptible(tiny(seed=0), interrupt_at=9)
    with pytest.raises(KeyboardInterrupt):
        fit(interrupted, train_set, test_set, checkpoint=tmp_path / "b", **QUICK)
    saved = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert saved["epoch"] == 1

    # A new process would start from fresh objects: another initialisation, global RNGs moved.
    fresh = Interruptible(tiny(seed=123))
    torch.rand(10)
    resumed = fit(fresh, train_set, test_set, checkpoint=tmp_path / "b", **QUICK)

    for (name, a), b in zip(
        straight.state_dict().items(), fresh.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"{name} differs after resuming"
    assert resumed.train_loss == expected.train_loss and resumed.test_acc == expected.test_acc
    assert History.load(tmp_path / "b" / "history.json").epoch == [1, 2]


def test_a_finished_run_is_loaded_not_retrained(train_set, tmp_path):
    model = Interruptible(tiny())
    first = fit(model, train_set, checkpoint=tmp_path, **QUICK)
    again = Interruptible(tiny(seed=7), interrupt_at=1)  # any forward pass would raise
    second = fit(again, train_set, checkpoint=tmp_path, **QUICK)
    assert second.train_loss == first.train_loss
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )


def test_a_truncated_checkpoint_is_reported_with_what_to_do(train_set, tmp_path):
    fit(tiny(), train_set, checkpoint=tmp_path / "run.pt", **{**QUICK, "epochs": 1})
    path = tmp_path / "run.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(
        CheckpointError, match="truncated, damaged or not a PyTorch file.*Delete it"
    ):
        fit(tiny(), train_set, checkpoint=path, **{**QUICK, "epochs": 1})


def test_a_checkpoint_of_another_model_or_recipe_is_refused(train_set, tmp_path):
    fit(tiny(bam_modules=False), train_set, checkpoint=tmp_path, **{**QUICK, "epochs": 1})
    with pytest.raises(CheckpointError, match="architecture") as error:
        fit(tiny(bam_modules=True), train_set, checkpoint=tmp_path, **{**QUICK, "epochs": 1})
    assert "another checkpoint path" in str(error.value)
    with pytest.raises(CheckpointError, match="lr: checkpoint has 0.05, this run has 0.1"):
        fit(
            tiny(bam_modules=False),
            train_set,
            checkpoint=tmp_path,
            **{**QUICK, "epochs": 1, "lr": 0.1},
        )


def test_a_crash_while_saving_keeps_the_previous_checkpoint(train_set, tmp_path, monkeypatch):
    real_save, calls = torch.save, []

    def failing_save(obj, f):
        calls.append(1)
        if len(calls) == 2:  # the save after epoch 2 dies half-way through
            f.write(b"half a checkpoint")
            raise OSError("disk full")
        real_save(obj, f)

    monkeypatch.setattr(bam.train.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        fit(tiny(), train_set, checkpoint=tmp_path, **QUICK)
    monkeypatch.undo()
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "history.json"]


def test_bfloat16_autocast_runs_on_the_cpu(train_set):
    model, dtypes = tiny(), []
    model.conv1.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    history = fit(model, train_set, amp=True, **{**QUICK, "epochs": 1})
    assert history.config["amp"] == "bfloat16" and torch.bfloat16 in dtypes
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
    assert next(model.parameters()).dtype == torch.float32  # weights stay float32


def test_channels_last_runs_on_the_cpu(train_set):
    model, inputs = tiny(), []
    model.conv1.register_forward_hook(lambda m, i, out: inputs.append(i[0]))
    history = fit(model, train_set, channels_last=True, **{**QUICK, "epochs": 1})
    assert inputs[0].is_contiguous(memory_format=torch.channels_last)
    assert model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.isfinite(torch.tensor(history.train_loss)))


def test_evaluate_is_the_mean_loss_and_accuracy_over_the_whole_set(test_set):
    model = tiny().train()
    # 192 images: a partial batch. Full precision, to compare with a plain float32 forward.
    loss, accuracy = evaluate(model, test_set, batch_size=50, amp=False)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        logits = model(test_set.normalize(test_set.images))
    assert loss == pytest.approx(
        nn.functional.cross_entropy(logits, test_set.labels).item(), rel=1e-4
    )
    assert accuracy == pytest.approx((logits.argmax(1) == test_set.labels).float().mean().item())


def test_bad_arguments_are_refused(train_set):
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny(), train_set, epochs=0)
    with pytest.raises(ValueError, match="schedule"):
        fit(tiny(), train_set, epochs=1, schedule="step")


def test_the_command_line_trains_saves_and_resumes(tmp_path, capsys):
    args = ["--dataset", "shapes", "--model", "resnet20", "--epochs", "1", "--batch-size", "64"]
    args += ["--train-size", "192", "--test-size", "64", "--out", str(tmp_path), "--no-progress"]
    bam.commands.train.main(args)
    summary = capsys.readouterr().out
    assert "test accuracy" in summary and "images/s" in summary
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["epoch"] == [1] and saved["config"]["train_set"].startswith("shapes-train")
    again = bam.commands.train.main(args)  # the run is complete: loaded from the checkpoint
    assert again.train_loss == saved["train_loss"]


def test_the_command_line_seeds_the_model_it_builds(tmp_path):
    # The lessons call seed_everything(seed), then create(...), then fit: the command line
    # must start from the same weights and so end at the same ones.
    args = ["--model", "resnet20", "--epochs", "1", "--batch-size", "64", "--seed", "3"]
    args += ["--train-size", "192", "--test-size", "64", "--out", str(tmp_path), "--no-progress"]
    bam.commands.train.main(args)
    seed_everything(3)
    model = create("resnet20", num_classes=10)
    data = make_shapes("train", size=192, seed=3)
    fit(model, data, epochs=1, batch_size=64, seed=3, progress=False)
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"]
    for name, value in model.state_dict().items():
        assert torch.equal(saved[name], value), name


def test_a_checkpoint_of_other_data_under_the_same_name_is_refused(train_set, tmp_path):
    fit(tiny(), train_set, checkpoint=tmp_path, **{**QUICK, "epochs": 1})
    redrawn = dataclasses.replace(train_set, images=train_set.images.flip(-1))
    assert redrawn.name == train_set.name and len(redrawn) == len(train_set)
    with pytest.raises(CheckpointError, match="train_set: checkpoint has .*sha256"):
        fit(tiny(), redrawn, checkpoint=tmp_path, **{**QUICK, "epochs": 1})


def test_the_one_cycle_schedule_works_on_the_shortest_runs(train_set):
    # One epoch in batches of 64: 4 steps, where a quarter of warm-up is exactly one step and
    # OneCycleLR used to divide by zero; 1 and 2 steps leave no room for a warm-up at all.
    for size in (64, 128, 192, 256, 320):
        history = fit(tiny(), train_set.subset(size), **{**QUICK, "epochs": 1})
        assert len(history) == 1 and all(torch.isfinite(torch.tensor(history.train_loss)))


@pytest.mark.parametrize("native", [True, False])
def test_mixed_precision_defaults_to_the_cpus_native_support(train_set, monkeypatch, native):
    monkeypatch.setattr(bam.runtime, "cpu_has_native_bfloat16", lambda: native)
    history = fit(tiny(), train_set.subset(192), **{**QUICK, "epochs": 1})
    assert history.config["amp"] == ("bfloat16" if native else "off")


def test_native_bfloat16_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    detect = bam.runtime.cpu_has_native_bfloat16.__wrapped__
    for flags, expected in [
        ("fpu avx2 avx512f", False),
        ("avx512f amx_bf16 amx_tile", True),
        ("avx512f avx512_bf16", True),
    ]:
        cpuinfo = tmp_path / "cpuinfo"
        cpuinfo.write_text(f"processor : 0\nflags : {flags}\n")
        monkeypatch.setattr(bam.runtime, "CPUINFO", cpuinfo)
        assert detect() is expected, flags
    monkeypatch.setattr(bam.runtime, "CPUINFO", tmp_path / "missing")
    assert detect() is False


@pytest.mark.parametrize("static", [False, True])
def test_a_static_page_gets_the_epoch_lines_without_a_progress_bar(
    train_set, static, monkeypatch, capsys
):
    monkeypatch.setenv("BAM_STATIC", "1" if static else "0")
    fit(tiny(), train_set, **{**QUICK, "epochs": 1, "progress": True})
    out, err = capsys.readouterr()
    assert "epoch 1/1" in out
    assert ("%|" in err) is not static, "a bar in a terminal, none on a static page"
