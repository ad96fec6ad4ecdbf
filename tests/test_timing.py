"""bam.timing: what the speed measurements share, checked for what they compute (their
times depend on the machine, so no test compares one time with another)."""

import pytest
import torch

from bam.models import create
from bam.timing import bam_part_times, kernel_times, step_time

PARTS = ["residual block", "channel branch", "spatial branch", "gate", "whole BAM"]


def test_bam_part_times_times_every_part_forward_and_backward(monkeypatch):
    calls = []
    real = torch.Tensor.backward

    def counting(self, *args, **kwargs):
        calls.append(tuple(self.shape))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", counting)
    times = bam_part_times(8, 6, batch=4, repeats=2)
    assert list(times) == PARTS
    assert all(t > 0 for t in times.values())
    # each part's backward, once a round, for a warm-up round and two timed ones
    assert len(calls) == 3 * len(PARTS)
    assert calls[:5] == [(4, 8, 6, 6), (4, 8, 1, 1), (4, 1, 6, 6), (4, 8, 6, 6), (4, 8, 6, 6)]


def test_bam_part_times_refuses_a_batch_of_one_as_batchnorm_does():
    with pytest.raises(ValueError, match="batch of 1"):
        bam_part_times(8, 6, batch=1, repeats=1)


def test_step_time_takes_one_sgd_step():
    torch.manual_seed(0)
    model = create("resnet20")
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    assert step_time(model, x, y, optimizer) > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_kernel_times_names_the_operators_of_a_step_on_a_cpu():
    model = create("resnet20")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    times = kernel_times(model, x, y, optimizer, steps=1)
    assert "aten::convolution_backward" in times and all(t > 0 for t in times.values())
