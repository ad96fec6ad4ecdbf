"""bam.train_step: the captured step computes what the eager step does, and resumes the same.

A CPU has no CUDA graphs: there ``CapturedStep`` runs its step uncaptured on its fixed buffers,
with the learning rate read from a tensor and SGD's fused update, which is the code a graph
records on CUDA. These tests compare that code with the eager step.
"""

import contextlib
import shutil

import pytest
import torch
from interrupting import Interruptible
from torch import nn

from bam.models import CifarResNet, add_bam
from bam.runtime import Precision
from bam.train import _scheduler, fit
from bam.train_step import CapturedStep, EagerStep, capture_supported

FLOAT32 = Precision(None, "test")
CPU = torch.device("cpu")


def tiny(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return add_bam(CifarResNet(8, widths=(8, 16, 16)), reduction=4)


def make_step(kind, model, steps=10, device=CPU):
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True
    )
    scheduler = _scheduler("onecycle", optimizer, 0.05, steps)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    return kind(model, optimizer, scheduler, scaler, criterion, FLOAT32, device)


def batches(count, size=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        yield (
            torch.randn(size, 3, 32, 32, generator=generator),
            torch.randint(0, 10, (size,), generator=generator),
        )


def assert_steps_agree(
    eager: EagerStep, captured: CapturedStep, count: int, atol: float = 1e-4
) -> None:
    """Both steps on the same ``count`` batches: the same loss at every step, and in the end
    the same weights and BatchNorm statistics (within ``atol`` and a relative 1e-3), schedule
    and (up to ties) correct predictions."""
    for x, y in batches(count):
        for step in (eager, captured):
            before = step.totals[0].item()
            step(x, y)
            step.loss = step.totals[0].item() - before
        # Fused and single-tensor SGD round differently; ten steps grow it to about 1e-6 here.
        assert captured.loss == pytest.approx(eager.loss, rel=1e-4)
    for (name, a), b in zip(
        eager.model.state_dict().items(), captured.model.state_dict().values(), strict=True
    ):
        if a.is_floating_point():  # weights, BatchNorm's running mean and variance
            torch.testing.assert_close(b, a, rtol=1e-3, atol=atol, msg=name)
        else:  # BatchNorm's count of batches
            assert torch.equal(a, b), name
    assert eager.scheduler.get_last_lr() == captured.scheduler.get_last_lr()
    # Near chance, two logits can tie to the last bit: a prediction may flip with the rounding.
    assert abs(captured.totals[1] - eager.totals[1]) <= 2


def test_the_captured_steps_losses_weights_and_running_statistics_match_eager():
    eager, captured = make_step(EagerStep, tiny()), make_step(CapturedStep, tiny())
    assert_steps_agree(eager, captured, 10)


@pytest.mark.skipif(
    not any(shutil.which(c) for c in ("c++", "g++", "clang++")),
    reason="torch.compile builds C++ on a CPU: needs a C++ compiler",
)
def test_the_captured_step_of_a_compiled_model_matches_eager():
    """What ``fit(compile=True)`` records on CUDA, run here: inductor's fused kernels (C++ on a
    CPU) on the captured step's buffers, against the eager step of the plain model."""
    eager = make_step(EagerStep, tiny(), steps=4)
    captured = make_step(CapturedStep, torch.compile(tiny()), steps=4)
    # Fused kernels sum in another order (torch 2.6's differ from conv1's weights by 1.2e-4 after
    # four steps); turning Nesterov momentum off in the update moves them by 1.8e-2.
    assert_steps_agree(eager, captured, 4, atol=5e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_replayed_graph_computes_what_the_eager_step_does():
    """The graph itself, on a GPU: captured after the warm-up steps, then replayed."""
    cuda = torch.device("cuda")
    eager = make_step(EagerStep, tiny().to(cuda), steps=12, device=cuda)
    captured = make_step(CapturedStep, tiny().to(cuda), steps=12, device=cuda)
    for x, y in batches(12):
        for step in (eager, captured):
            step(x.to(cuda), y.to(cuda))
    assert captured.graph is not None and captured.failure is None
    torch.testing.assert_close(captured.totals, eager.totals, rtol=1e-3, atol=1e-3)
    for (name, a), b in zip(
        eager.model.state_dict().items(), captured.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4, msg=name)


def test_the_captured_step_keeps_the_optimizers_momentum_in_its_state():
    """A checkpoint saves ``optimizer.state_dict()``: the captured update must write there."""
    step = make_step(CapturedStep, tiny())
    for x, y in batches(2):
        step(x, y)
    buffers = [step.optimizer.state[p].get("momentum_buffer") for p in step.model.parameters()]
    assert all(b is not None and b.abs().sum() > 0 for b in buffers)


def test_a_batch_of_another_size_runs_the_eager_way():
    step = make_step(CapturedStep, tiny())
    (x, y), (small_x, small_y) = next(batches(1)), next(batches(1, size=5, seed=1))
    step(x, y)
    step(small_x, small_y)
    assert step.x.shape[0] == 16 and step.scheduler.last_epoch == 2


def test_float16_with_gradient_scaling_is_left_to_the_eager_step():
    assert capture_supported(torch.device("cuda"), Precision(torch.bfloat16, "test"))
    assert capture_supported(torch.device("cuda"), FLOAT32)
    assert not capture_supported(torch.device("cuda"), Precision(torch.float16, "test"))
    assert not capture_supported(torch.device("cpu"), FLOAT32)
    model = tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="cannot scale gradients"):
        CapturedStep(
            model, optimizer, None, None, None, Precision(torch.float16, "t"), torch.device("cpu")
        )


def test_a_failed_capture_says_why_in_one_line_and_the_step_goes_on(monkeypatch, capsys):
    @contextlib.contextmanager
    def refusing(graph):
        raise RuntimeError("operation not permitted when stream is capturing\nmore detail")
        yield

    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: object())
    monkeypatch.setattr(torch.cuda, "graph", refusing)
    step = make_step(CapturedStep, tiny())
    x, y = next(batches(1))
    step(x, y)
    step._capture()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "could not be captured" in out
    assert "(RuntimeError: operation not permitted when stream is capturing)" in out
    assert step.graph is None and step.failure.startswith("RuntimeError: operation")
    step(x, y)  # the step still trains
    assert step.steps == 2


QUICK = dict(epochs=2, batch_size=64, lr=0.05, progress=False, amp=False, device="cpu")


@pytest.fixture(scope="module")
def shapes():
    from bam.data import make_shapes

    return make_shapes("train", size=384, seed=0), make_shapes("test", size=128, seed=0)


def test_fit_with_the_captured_step_learns_like_eager(shapes):
    histories = [fit(tiny(), *shapes, capture=c, **QUICK) for c in (False, True)]
    eager, captured = histories
    assert captured.train_loss == pytest.approx(eager.train_loss, rel=1e-3)
    assert captured.train_acc == pytest.approx(eager.train_acc, abs=0.02)


def test_a_captured_run_resumes_to_the_weights_of_an_uninterrupted_one(shapes, tmp_path):
    """As ``fit`` promises for its eager step: resuming after an interruption ends with exactly
    the weights of a run that was never interrupted (the steps that precede a capture run the
    captured step's own code, so where a process starts does not change the arithmetic)."""
    straight = Interruptible(tiny())
    expected = fit(straight, *shapes, capture=True, checkpoint=tmp_path / "a", **QUICK)
    # 384 // 64 = 6 steps per epoch, one evaluation batch: call 9 is epoch 2's second step.
    with pytest.raises(KeyboardInterrupt):
        fit(Interruptible(tiny(), 9), *shapes, capture=True, checkpoint=tmp_path / "b", **QUICK)
    fresh = Interruptible(tiny(seed=123))
    resumed = fit(fresh, *shapes, capture=True, checkpoint=tmp_path / "b", **QUICK)
    for (name, a), b in zip(
        straight.state_dict().items(), fresh.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"{name} differs after resuming"
    assert resumed.train_loss == expected.train_loss


def test_an_eager_run_resumes_a_checkpoint_the_captured_step_wrote(shapes, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(Interruptible(tiny(), 9), *shapes, capture=True, checkpoint=tmp_path, **QUICK)
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["epoch"] == 1
    history = fit(Interruptible(tiny(3)), *shapes, capture=False, checkpoint=tmp_path, **QUICK)
    assert history.epoch == [1, 2]
