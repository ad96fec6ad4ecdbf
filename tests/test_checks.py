"""bam.checks: each exercise check accepts correct answers however they are built, and rejects
realistic wrong ones with a message that names the cause."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bam import ChannelGate, SpatialGate
from bam.checks import (
    CheckFailed,
    NotWrittenYet,
    allocated_bytes,
    check_bam,
    check_channel_gate,
    check_spatial_gate,
    execution_order,
    parameters_without_gradient,
)

# ---------------------------------------------------------------- channel branch answers


class SequentialChannelGate(nn.Module):
    """Correct: one nn.Sequential of 1x1 convolutions."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return self.body(x)


class LinearChannelGate(nn.Module):
    """Correct: separate attributes, Linear layers with biases, BatchNorm1d, registered out of
    the order in which they run."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = channels // reduction
        self.norm_out = nn.BatchNorm1d(channels)
        self.norm_hidden = nn.BatchNorm1d(hidden)
        self.squeeze = nn.Linear(channels, hidden)
        self.excite = nn.Linear(hidden, channels)

    def forward(self, x):
        b, c = x.shape[:2]
        h = F.relu(self.norm_hidden(self.squeeze(x.mean((2, 3)))))
        return self.norm_out(self.excite(h)).view(b, c, 1, 1)


class NoFinalNormChannelGate(SequentialChannelGate):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.body = self.body[:-1]


class SquarePoolChannelGate(SequentialChannelGate):
    def forward(self, x):
        return self.body[1:](F.avg_pool2d(x, x.size(2)))


class ReductionAsWidthChannelGate(nn.Module):
    """The hidden width taken to be r instead of C // r."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = reduction
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return self.body(x.mean((2, 3), keepdim=True))


class SigmoidChannelGate(SequentialChannelGate):
    def forward(self, x):
        return torch.sigmoid(self.body(x))


class MaxPoolChannelGate(SequentialChannelGate):
    def forward(self, x):
        return self.body[1:](x.amax((2, 3), keepdim=True))


class FlatChannelGate(LinearChannelGate):
    def forward(self, x):
        return super().forward(x).flatten(1)


def test_channel_check_accepts_a_sequential_of_convolutions(capsys):
    check_channel_gate(SequentialChannelGate)
    assert capsys.readouterr().out.startswith("check_channel_gate: all 15 checks passed")


def test_channel_check_accepts_linear_layers_and_notes_their_redundant_biases(capsys):
    check_channel_gate(LinearChannelGate)
    out = capsys.readouterr().out
    assert "all 15 checks passed" in out
    assert "biases right before BatchNorm" in out


def test_channel_check_accepts_the_reference(capsys):
    check_channel_gate(ChannelGate)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, cause",
    [
        (NoFinalNormChannelGate, "missing the final BatchNorm"),
        (SquarePoolChannelGate, "last column"),
        (ReductionAsWidthChannelGate, "hidden width should be C // r = 8, yours is 4"),
        (SigmoidChannelGate, "sigmoid"),
        (MaxPoolChannelGate, "pool with max"),
        (FlatChannelGate, "Reshape the result to (B, C, 1, 1)"),
    ],
)
def test_channel_check_names_the_cause_of_a_wrong_answer(answer, cause):
    with pytest.raises(AssertionError) as failure:
        check_channel_gate(answer)
    assert cause in str(failure.value)


def test_a_missing_final_norm_is_reported_with_the_parameter_count():
    with pytest.raises(AssertionError, match=r"64 fewer parameters than the reference"):
        check_channel_gate(NoFinalNormChannelGate)


def test_checks_take_the_class_not_an_instance():
    with pytest.raises(TypeError, match="takes your class itself"):
        check_channel_gate(SequentialChannelGate(32))


# ---------------------------------------------------------------- spatial branch answers


def conv_bn_relu(c_in, c_out, kernel_size=1, dilation=1, padding=None, bias=False):
    padding = dilation * (kernel_size // 2) if padding is None else padding
    return [
        nn.Conv2d(c_in, c_out, kernel_size, padding=padding, dilation=dilation, bias=bias),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class SequentialSpatialGate(nn.Module):
    """Correct: one nn.Sequential."""

    def __init__(self, channels, reduction=16, dilation=4, padding=None, final_norm=True):
        super().__init__()
        hidden = channels // reduction
        layers = conv_bn_relu(channels, hidden)
        layers += conv_bn_relu(hidden, hidden, 3, dilation, padding)
        layers += conv_bn_relu(hidden, hidden, 3, dilation, padding)
        layers += [nn.Conv2d(hidden, 1, 1, bias=False)]
        layers += [nn.BatchNorm2d(1)] if final_norm else []
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class AttributeSpatialGate(nn.Module):
    """Correct: one attribute per layer, convolutions with biases, functional ReLU."""

    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__()
        hidden = channels // reduction
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.reduce_bn = nn.BatchNorm2d(hidden)
        self.dilated1 = nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation)
        self.dilated1_bn = nn.BatchNorm2d(hidden)
        self.dilated2 = nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation)
        self.dilated2_bn = nn.BatchNorm2d(hidden)
        self.final = nn.Conv2d(hidden, 1, 1)
        self.final_bn = nn.BatchNorm2d(1)

    def step(self, conv, norm, x):
        return F.relu(norm(conv(x)))

    def forward(self, x):
        y = self.step(self.reduce, self.reduce_bn, x)
        x = self.step(self.dilated1, self.dilated1_bn, y)
        x = self.step(self.dilated2, self.dilated2_bn, x)
        return self.final_bn(self.final(x))


class PreDilationSpatialGate(AttributeSpatialGate):
    """Bug 1: the final 1x1 convolution reads the tensor from before the dilated convs."""

    def forward(self, x):
        y = self.step(self.reduce, self.reduce_bn, x)
        x = self.step(self.dilated1, self.dilated1_bn, y)
        x = self.step(self.dilated2, self.dilated2_bn, x)
        return self.final_bn(self.final(y))


class PaddingOneSpatialGate(SequentialSpatialGate):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation, padding=1)


class UndilatedSpatialGate(SequentialSpatialGate):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation=1)


class NoFinalNormSpatialGate(SequentialSpatialGate):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation, final_norm=False)


class HalfWidthSpatialGate(SequentialSpatialGate):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction * 2, dilation)


def test_spatial_check_accepts_a_sequential(capsys):
    check_spatial_gate(SequentialSpatialGate)
    assert capsys.readouterr().out.startswith("check_spatial_gate: all 15 checks passed")


def test_spatial_check_accepts_separate_attributes_with_biases(capsys):
    check_spatial_gate(AttributeSpatialGate)
    assert "all 15 checks passed" in capsys.readouterr().out


def test_spatial_check_accepts_the_reference(capsys):
    check_spatial_gate(SpatialGate)
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, cause",
    [
        (PreDilationSpatialGate, "before the dilated convolutions"),
        (PaddingOneSpatialGate, "must pad by d (padding=dilation)"),
        (UndilatedSpatialGate, "sees a 5x5 window of the input, the reference 17x17"),
        (NoFinalNormSpatialGate, "missing the final BatchNorm"),
        (HalfWidthSpatialGate, "hidden width should be C // r = 8, yours is 4"),
    ],
)
def test_spatial_check_names_the_cause_of_a_wrong_answer(answer, cause):
    with pytest.raises(AssertionError) as failure:
        check_spatial_gate(answer)
    assert cause in str(failure.value)


def test_dead_dilated_convolutions_are_named_in_the_message():
    with pytest.raises(AssertionError, match=r"no gradient: dilated1\.weight"):
        check_spatial_gate(PreDilationSpatialGate)


# ---------------------------------------------------------------- BAM answers


class ReferenceBranchesBAM(nn.Module):
    """Correct: the reference branches, combined by broadcasting."""

    def __init__(self, channels, reduction=16, dilation=4, combine="sum", residual=True):
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(channels, reduction, dilation)
        self.combine, self.residual = combine, residual

    def forward(self, x):
        c, s = self.channel(x), self.spatial(x)
        m = torch.sigmoid(c + s if self.combine == "sum" else c * s)
        return x * (1 + m) if self.residual else x * m


class SpatialFirstBAM(nn.Module):
    """Correct: home-made branches, the spatial one built and run first, x + x * M."""

    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__()
        self.where = AttributeSpatialGate(channels, reduction, dilation)
        self.what = LinearChannelGate(channels, reduction)

    def forward(self, x):
        s = self.where(x)
        return x + x * torch.sigmoid(s + self.what(x))


class ProductBAM(ReferenceBranchesBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation, combine="product")


class NoResidualBAM(ReferenceBranchesBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation, residual=False)


class NoSigmoidBAM(ReferenceBranchesBAM):
    def forward(self, x):
        return x * (1 + self.channel(x) + self.spatial(x))


class DefaultReductionBAM(ReferenceBranchesBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, dilation=dilation)


class DefaultDilationBAM(ReferenceBranchesBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction)


class GateOnlyBAM(ReferenceBranchesBAM):
    def forward(self, x):
        return torch.sigmoid(self.channel(x) + self.spatial(x))


class RebindingBAM(nn.Module):
    """Bug 2: the spatial map is expanded like the reduced tensor, C // r channels, not C."""

    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__()
        hidden = channels // reduction
        self.channel = ChannelGate(channels, reduction)
        self.reduce = nn.Sequential(*conv_bn_relu(channels, hidden))
        self.dilated = nn.Sequential(*conv_bn_relu(hidden, hidden, 3, dilation))
        self.final = nn.Sequential(nn.Conv2d(hidden, 1, 1, bias=False), nn.BatchNorm2d(1))

    def forward(self, x):
        f = x
        x = self.dilated(self.reduce(x))
        s = self.final(x).expand_as(x)
        return f * (1 + torch.sigmoid(self.channel(f).expand_as(f) + s))


def test_bam_check_accepts_the_reference_branches(capsys):
    check_bam(ReferenceBranchesBAM)
    assert capsys.readouterr().out.startswith("check_bam: all 10 checks passed")


def test_bam_check_accepts_home_made_branches_run_in_another_order(capsys):
    check_bam(SpatialFirstBAM)
    assert "all 10 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, cause",
    [
        (ProductBAM, "sigmoid(Mc * Ms)"),
        (NoResidualBAM, "the residual is missing"),
        (NoSigmoidBAM, "not in (0, 1)"),
        (DefaultReductionBAM, "hidden width should be C // r = 8, yours is 2"),
        (DefaultDilationBAM, "dilation [4], expected 2"),
        (GateOnlyBAM, "returns the attention M(F)"),
        (RebindingBAM, "let broadcasting make (B, C, H, W)"),
    ],
)
def test_bam_check_names_the_cause_of_a_wrong_answer(answer, cause):
    with pytest.raises(AssertionError) as failure:
        check_bam(answer)
    assert cause in str(failure.value)


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_channel_gate(SequentialChannelGate)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- the tests of lesson 04


def test_every_parameter_of_the_reference_branches_gets_a_gradient():
    x = torch.randn(2, 32, 10, 12)
    assert parameters_without_gradient(SpatialGate(32, 4), x) == []
    assert parameters_without_gradient(ChannelGate(32, 4), x) == []


def test_dead_dilated_convolutions_get_no_gradient():
    # In eval mode: in training mode the final BatchNorm subtracts the batch mean, so the final
    # convolution's bias gets a gradient that is zero up to rounding, and sometimes exactly zero.
    gate = PreDilationSpatialGate(32, 4).eval()
    dead = parameters_without_gradient(
        gate, torch.randn(2, 32, 10, 12, generator=torch.Generator().manual_seed(0))
    )
    assert dead == [
        "dilated1.weight",
        "dilated1.bias",
        "dilated1_bn.weight",
        "dilated1_bn.bias",
        "dilated2.weight",
        "dilated2.bias",
        "dilated2_bn.weight",
        "dilated2_bn.bias",
    ]


def test_the_gradient_test_leaves_the_module_untouched():
    gate = SpatialGate(32, 4)
    before = {k: v.clone() for k, v in gate.state_dict().items()}
    parameters_without_gradient(gate, torch.randn(2, 32, 10, 12))
    assert all(p.grad is None for p in gate.parameters())
    assert all(torch.equal(before[k], v) for k, v in gate.state_dict().items())


def test_execution_order_follows_forward_not_registration():
    gate = LinearChannelGate(32, 4)
    order = execution_order(gate, torch.randn(2, 32, 5, 5))
    assert order == [gate.squeeze, gate.norm_hidden, gate.excite, gate.norm_out]


def test_expanded_views_allocate_nothing_and_repeats_allocate_full_tensors():
    x = torch.randn(2, 8, 6, 6)
    c = torch.randn(2, 8, 1, 1)
    full = x.numel() * x.element_size()
    assert allocated_bytes(lambda: c.expand_as(x)) == 0
    assert allocated_bytes(lambda: c.repeat(1, 1, 6, 6)) == full
    assert allocated_bytes(lambda: c + x) == full


class UnwrittenInit(nn.Module):
    """What a student copy holds before the exercise is done."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        raise NotImplementedError


class UnwrittenForward(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        raise NotImplementedError


@pytest.mark.parametrize(
    "answer, part", [(UnwrittenInit, "__init__"), (UnwrittenForward, "forward")]
)
def test_an_unfinished_stub_is_reported_as_not_written_yet(answer, part):
    with pytest.raises(AssertionError, match=f"{part} is not written yet"):
        check_channel_gate(answer)


def test_a_missing_residual_is_explained_as_lesson_03_does_not_as_the_identity():
    # BAM starts at about 1.5 x F (M is about 0.5), not at the identity (lesson 03).
    with pytest.raises(CheckFailed) as failure:
        check_bam(NoResidualBAM)
    assert "identity" not in str(failure.value)
    assert "never erase it" in str(failure.value)


class UnwrittenModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        raise NotImplementedError


def test_every_check_reports_an_unfinished_stub_with_the_same_words():
    from bam.checks import check_add_bam, check_crop, check_energy_share, check_squeeze_excite

    def unfinished(*args, **kwargs):
        raise NotImplementedError

    stubs = {
        check_channel_gate: UnwrittenInit,
        check_spatial_gate: UnwrittenModule,
        check_bam: UnwrittenModule,
        check_squeeze_excite: UnwrittenModule,
        check_add_bam: unfinished,
        check_crop: unfinished,
        check_energy_share: unfinished,
    }
    for check, stub in stubs.items():
        with pytest.raises(NotWrittenYet) as failure:
            check(stub)
        name = stub.__qualname__ + (".__init__" if isinstance(stub, type) else "")
        assert str(failure.value) == (
            f"{name} is not written yet: fill in the body marked # YOUR CODE HERE, run that "
            "cell, then run this check again."
        ), check.__name__


def test_a_not_implemented_error_with_a_message_is_an_error_not_a_stub():
    class UsesAMissingFeature(nn.Module):
        def __init__(self, channels, reduction=16):
            super().__init__()
            raise NotImplementedError("grouped convolutions are not supported")

    with pytest.raises(CheckFailed, match="could not build .* grouped convolutions") as failure:
        check_channel_gate(UsesAMissingFeature)
    assert not isinstance(failure.value, NotWrittenYet)
