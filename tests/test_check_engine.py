"""The matching engine of the exercise checks pairs a learner's layers with the reference's and
copies the reference's weights, biases included, so that outputs can be compared; and the
checks package keeps one job per module."""

from pathlib import Path

import pytest
import torch
from torch import nn

import bam.checks
from bam.checks import CheckFailed, check_squeeze_excite, execution_order
from bam.checks.alignment import BEFORE_NORM_NOTE, line_up


def count_hint(mine, extra, theirs):
    return f"{mine} parameters, {extra} redundant, {theirs} expected"


def pooled_mlp(bias: bool, norm: bool, linear: bool = False) -> nn.Module:
    """C=8 -> 4 -> 8 on the pooled map, with or without biases and a BatchNorm after each layer."""

    class PooledMLP(nn.Module):
        def __init__(self):
            super().__init__()
            make = (lambda i, o: nn.Linear(i, o, bias=bias)) if linear else None
            make = make or (lambda i, o: nn.Conv2d(i, o, 1, bias=bias))
            self.first, self.second = make(8, 4), make(4, 8)
            self.norms = nn.ModuleList([nn.BatchNorm1d(4), nn.BatchNorm1d(8)] if norm else [])

        def forward(self, x):
            y = x.mean((2, 3), keepdim=True)
            y = y.flatten(1) if linear else y
            for i, layer in enumerate((self.first, self.second)):
                y = layer(y)
                if norm:
                    y = self.norms[i](y.flatten(1)).view_as(y)
                y = torch.relu(y) if i == 0 else y
            return y.view(len(x), 8, 1, 1)

    return PooledMLP()


def line_up_and_copy(reference: nn.Module, learner: nn.Module, x: torch.Tensor):
    alignment = line_up([execution_order(reference, x)], learner, x, "Mine", 4, count_hint)
    alignment.copy_weights()
    return alignment


def test_a_bias_the_reference_also_has_is_copied_so_the_outputs_agree():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 5, 7)
    reference = pooled_mlp(bias=True, norm=False)
    with torch.no_grad():
        for layer in (reference.first, reference.second):
            layer.bias.normal_(0.0, 1.0)  # far from zero, so a zeroed bias would show
    learner = pooled_mlp(bias=True, norm=False, linear=True)
    alignment = line_up_and_copy(reference, learner, x)
    assert alignment.notes == set()
    torch.testing.assert_close(learner.second.bias, reference.second.bias)
    with torch.no_grad():
        torch.testing.assert_close(learner(x), reference(x))


def test_a_bias_the_reference_lacks_before_a_batchnorm_is_set_to_zero_with_a_note():
    torch.manual_seed(0)
    x = torch.randn(4, 8, 5, 7)
    reference, learner = pooled_mlp(bias=False, norm=True), pooled_mlp(bias=True, norm=True)
    alignment = line_up_and_copy(reference, learner, x)
    assert alignment.notes == {BEFORE_NORM_NOTE}
    assert not learner.first.bias.any() and not learner.second.bias.any()
    with torch.no_grad():
        torch.testing.assert_close(learner.eval()(x), reference.eval()(x))


def test_a_bias_the_reference_lacks_with_no_batchnorm_after_it_is_refused():
    x = torch.randn(4, 8, 5, 7)
    reference, learner = pooled_mlp(bias=False, norm=False), pooled_mlp(bias=True, norm=False)
    with pytest.raises(CheckFailed) as failure:
        line_up_and_copy(reference, learner, x)
    assert str(failure.value) == (
        "Mine: your Conv2d(8->4, 1x1) has a bias where the reference's Conv2d(8->4, 1x1) has "
        "none, and no BatchNorm follows it to cancel it: build it with bias=False."
    )


def test_a_bias_the_learner_lacks_shows_as_a_parameter_count_that_differs():
    x = torch.randn(4, 8, 5, 7)
    reference, learner = pooled_mlp(bias=True, norm=False), pooled_mlp(bias=False, norm=False)
    with pytest.raises(CheckFailed) as failure:
        line_up_and_copy(reference, learner, x)
    assert str(failure.value) == "Mine: 64 parameters, 0 redundant, 76 expected"


class NarrowSqueezeExcite(nn.Module):
    """SE with half the hidden width, to see the engine's explanation in the SE check."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction // 2)
        self.squeeze, self.excite = nn.Conv2d(channels, hidden, 1), nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        gate = self.excite(torch.relu(self.squeeze(x.mean((2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


def test_the_squeeze_excite_check_explains_a_wrong_width_as_the_layer_checks_do():
    with pytest.raises(CheckFailed) as failure:
        check_squeeze_excite(NarrowSqueezeExcite)
    assert str(failure.value).startswith(
        "NarrowSqueezeExcite(32, reduction=4): 260 fewer parameters than the reference (292 vs "
        "552): Conv2d(32->4, 1x1) where Conv2d(32->8, 1x1) was expected: the hidden width "
        "should be C // r = 8, yours is 4"
    )


def test_every_module_of_the_checks_has_one_job_said_in_its_docstring_and_under_400_lines():
    folder = Path(bam.checks.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        text = path.read_text()
        assert text.startswith('"""'), path.name
        assert len(text.splitlines()) < 400, path.name
