"""The checks of lessons 01-03: the channel branch, the spatial branch and the BAM module.

    check_channel_gate(MyChannelGate)    lesson 01: Mc(F), paper eq. 3
    check_spatial_gate(MySpatialGate)    lesson 02: Ms(F), paper eq. 4
    check_bam(MyBAM)                     lesson 03: F * (1 + sigmoid(Mc(F) + Ms(F))), eqs. 1-2

Each is an ``Exercise`` of the matching engine (``bam.checks.matching``) with the hints that
explain a wrong branch in the paper's terms.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bam.checks.matching import Exercise, close, run_exercise
from bam.layers import BAM, ChannelGate, SpatialGate
from bam.receptive_field import receptive_field


def _transformed(reference_output: torch.Tensor, mine: torch.Tensor) -> str:
    """A hint when the learner's output is the expected logits through one function too many."""
    if close(mine, torch.sigmoid(reference_output)):
        return (
            "your output looks like the sigmoid of the expected one: a branch returns logits; "
            "BAM applies one sigmoid, after adding the two branches"
        )
    if close(mine, F.relu(reference_output)):
        return (
            "your output is the expected one with negatives cut to zero: no ReLU after the "
            "final BatchNorm, the logits must be free to go below zero"
        )
    return ""


def _unless_transformed(hint: Callable[..., str]) -> Callable[..., str]:
    """The engine's output hint: ``_transformed``'s when it applies, else ``hint``'s."""

    def explain(learner, reference, x, mine, theirs, kwargs) -> str:
        return _transformed(theirs, mine) or hint(learner, reference, x, mine, kwargs)

    return explain


def _channel_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    if got == expected[:2]:
        return "Reshape the result to (B, C, 1, 1) so that it broadcasts over H x W."
    if len(got) == 4 and got[:2] == expected[:2]:
        return (
            "The branch returns one value per channel: average over both H and W, "
            "x.mean((2, 3), keepdim=True) (avg_pool2d with a kernel of x.size(2) misses "
            "part of a non-square map)."
        )
    return "The channel branch maps (B, C, H, W) to (B, C, 1, 1): C -> C // r -> C."


def _channel_output_hint(learner, reference, x, mine, kwargs) -> str:
    learner, reference = copy.deepcopy(learner), copy.deepcopy(reference)
    with torch.no_grad():
        if close(mine, reference.mlp(x.amax((2, 3), keepdim=True))):
            return "You pool with max; the channel branch averages over H and W."
        shifted = x.clone()
        shifted[..., -1] += 1.0
        if close(learner(shifted), learner(x.clone())):
            return (
                f"Your output does not change when the last column of the {x.shape[2]}x"
                f"{x.shape[3]} input changes: pool over the whole map, x.mean((2, 3), "
                "keepdim=True); F.avg_pool2d(x, x.size(2)) only covers an H x H square."
            )
    return (
        "Check the pooling (an average over both H and W) and the order of the layers: "
        "Conv/Linear -> BN -> ReLU -> Conv/Linear -> BN."
    )


CHANNEL_GATE = Exercise(
    name="check_channel_gate",
    reference=ChannelGate,
    signature="MyChannelGate(channels, reduction=16)",
    expected_shape=lambda s: (s[0], s[1], 1, 1),
    shape_hint=_channel_shape_hint,
    output_hint=_unless_transformed(_channel_output_hint),
    dead_hint="Each layer must feed the next: pool, Conv/Linear, BN, ReLU, Conv/Linear, BN.",
)


def check_channel_gate(cls: type) -> None:
    """Check a learner's channel branch ``cls(channels, reduction=16)`` against ``ChannelGate``."""
    configs = [
        (32, {"reduction": 4}, (8, 8)),
        (64, {"reduction": 16}, (6, 10)),
        (48, {"reduction": 8}, (5, 9)),
    ]
    run_exercise(CHANNEL_GATE, cls, configs)


# ---------------------------------------------------------------- the spatial branch (lesson 02)


def _spatial_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    if len(got) == 4 and got[:2] == expected[:2]:
        rows, cols = expected[2] - got[2], expected[3] - got[3]
        if rows > 0 and rows == cols:
            return (
                f"Your map lost {rows} rows and {cols} columns: a 3x3 convolution with "
                "dilation d must pad by d (padding=dilation) to keep H x W."
            )
        if rows < 0 and rows == cols:
            return "Your map grew: a 3x3 convolution with dilation d pads by d, no more."
    if len(got) == 4 and got[0] == expected[0] and got[2:] == expected[2:]:
        return "The last 1x1 convolution maps the C // r hidden channels to a single map."
    return "The spatial branch maps (B, C, H, W) to (B, 1, H, W)."


def _spatial_output_hint(learner, reference, x, mine, kwargs) -> str:
    dilation = kwargs.get("dilation", 4)
    side = 4 * dilation + 9
    field = (x.shape[1], side, side)
    yours, expected = receptive_field(learner, field), receptive_field(reference, field)
    if yours != expected:
        return (
            f"Your branch sees a {yours[0]}x{yours[1]} window of the input, the reference "
            f"{expected[0]}x{expected[1]} (1 + 2 * 2 * d for d = {dilation}): are both 3x3 "
            "convolutions built with dilation=dilation and padding=dilation?"
        )
    return (
        "Check the order: 1x1 conv -> BN -> ReLU, twice (3x3 dilated conv -> BN -> ReLU), "
        "then 1x1 conv -> BN."
    )


SPATIAL_GATE = Exercise(
    name="check_spatial_gate",
    reference=SpatialGate,
    signature="MySpatialGate(channels, reduction=16, dilation=4)",
    expected_shape=lambda s: (s[0], 1, s[2], s[3]),
    shape_hint=_spatial_shape_hint,
    output_hint=_unless_transformed(_spatial_output_hint),
    dead_hint=(
        "In the spatial branch this usually means the final 1x1 convolution is applied to a "
        "tensor from before the dilated convolutions (y = reduce(x); x = dilated(y); "
        "out = final(y)): feed each layer the previous layer's output."
    ),
)


def check_spatial_gate(cls: type) -> None:
    """Check ``cls(channels, reduction=16, dilation=4)`` against ``SpatialGate``."""
    configs = [
        (32, {"reduction": 4, "dilation": 4}, (20, 28)),
        (64, {"reduction": 16, "dilation": 2}, (9, 14)),
        (16, {"reduction": 4, "dilation": 1}, (8, 8)),
    ]
    run_exercise(SPATIAL_GATE, cls, configs)


# ---------------------------------------------------------------- the module (lesson 03)


def _bam_shape_hint(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    return (
        "BAM refines the feature map and keeps its shape: F * (1 + M(F)), where M(F) broadcasts "
        "(B, C, 1, 1) + (B, 1, H, W) to (B, C, H, W)."
    )


def _bam_output_hint(learner, reference, x, mine, kwargs) -> str:
    reference = copy.deepcopy(reference)
    with torch.no_grad():
        c, s = reference.channel(x.clone()), reference.spatial(x.clone())
    candidates = [
        (
            x * (1 + torch.sigmoid(c * s)),
            "Your output is F * (1 + sigmoid(Mc * Ms)), the product of the authors' released "
            "code; the paper's equation 2 adds the branches: sigmoid(Mc + Ms).",
        ),
        (
            x * (1 + torch.sigmoid(torch.maximum(c, s))),
            "Your output combines the branches with a maximum; the paper adds them.",
        ),
        (
            x * torch.sigmoid(c + s),
            "Your output is F * M(F): the residual is missing. BAM returns F + F * M(F) = "
            "F * (1 + M(F)): a gate can then scale a feature by 1 to 2 but never erase it, and "
            "the gradient keeps a path through the 1.",
        ),
        (
            x * torch.sigmoid(c * s),
            "Your output is F * sigmoid(Mc * Ms): the residual is missing (F * (1 + M)) and the "
            "branches are multiplied instead of added.",
        ),
        (
            torch.sigmoid(c + s),
            "Your module returns the attention M(F); return the refined map F * (1 + M(F)).",
        ),
        (
            x * (1 + c + s),
            "Your gate is not in (0, 1): apply the sigmoid, M(F) = sigmoid(Mc(F) + Ms(F)).",
        ),
        (x + torch.sigmoid(c + s), "You add M(F) to F; BAM multiplies: F + F * M(F)."),
    ]
    for expected, hint in candidates:
        if close(mine, expected):
            return hint
    where = x.abs() > 0.1
    gate = (mine / x - 1)[where]
    if gate.numel() and (gate.min() < -1e-3 or gate.max() > 1 + 1e-3):
        return (
            f"Your output is not F * (1 + M) with M in (0, 1): output / F - 1 ranges from "
            f"{gate.min().item():.2f} to {gate.max().item():.2f}."
        )
    dilation = kwargs.get("dilation", 4)
    dilations = {
        m.dilation[0]
        for m in learner.modules()
        if isinstance(m, nn.Conv2d) and m.kernel_size[0] == 3
    }
    if dilations and dilations != {dilation}:
        return (
            f"Your 3x3 convolutions have dilation {sorted(dilations)}, expected {dilation}: "
            "pass dilation on to the spatial branch."
        )
    return "Check M(F) = sigmoid(Mc(F) + Ms(F)) and the output F * (1 + M(F))."


BAM_MODULE = Exercise(
    name="check_bam",
    reference=BAM,
    signature="MyBAM(channels, reduction=16, dilation=4)",
    shape_hint=_bam_shape_hint,
    output_hint=_unless_transformed(_bam_output_hint),
    dead_hint=(
        "Both branches must reach the output, M(F) = sigmoid(Mc(F) + Ms(F)), and inside the "
        "spatial branch every layer must feed the next."
    ),
    error_hint=(
        "Mc is (B, C, 1, 1) and Ms is (B, 1, H, W): add them as they are and let broadcasting "
        "make (B, C, H, W); expand_as to any other tensor gives the wrong channels."
    ),
    branches_first=("spatial", "channel"),
)


def check_bam(cls: type) -> None:
    """Check ``cls(channels, reduction=16, dilation=4)`` against ``BAM`` (the paper's sum)."""
    configs = [
        (32, {"reduction": 4, "dilation": 4}, (12, 20)),
        (64, {"reduction": 16, "dilation": 2}, (9, 14)),
    ]
    run_exercise(BAM_MODULE, cls, configs)
