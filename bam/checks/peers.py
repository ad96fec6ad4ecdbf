"""The check of lesson 08: a learner's Squeeze-and-Excitation against ``bam.layers.SqueezeExcite``.

    check_squeeze_excite(MySqueezeExcite)   F * sigmoid(W2 ReLU(W1 GAP(F) + b1) + b2), Hu et al.,
                                            CVPR 2018, eqs. 2-4

One use of the matching engine (``bam.checks.matching``): SE's two layers carry biases, which
the engine copies from the reference; SE has no BatchNorm, so one mode is enough for outputs.
"""

from __future__ import annotations

import torch

from bam.checks.matching import Exercise, close, run_exercise
from bam.layers.se import SqueezeExcite


def _se_output_hint(learner, reference, x, mine, theirs, kwargs) -> str:
    with torch.no_grad():
        squeezed = x.mean((2, 3), keepdim=True)
        gate = reference.gate(reference.fc2(reference.relu(reference.fc1(squeezed))))
    if close(mine, gate.expand_as(x)):
        return "Your output is the gate itself: SE returns F * s, the input scaled by the gate."
    if close(mine, x * (1 + gate)):
        return "SE has no residual: it returns F * s, not F * (1 + s) as BAM does."
    return (
        "Check the order: average over H and W, Conv/Linear C -> C // r, ReLU, "
        "Conv/Linear C // r -> C, sigmoid, then multiply F by the gate."
    )


def _se_parameters_hint(mine: int, extra: int, theirs: int, channels: int, hidden: int) -> str:
    return (
        f"{mine} parameters, expected 2 * C * C/r + C/r + C = {theirs} "
        f"(C = {channels}, C/r = {hidden}): two layers, both with biases."
    )


SQUEEZE_EXCITE = Exercise(
    name="check_squeeze_excite",
    reference=SqueezeExcite,
    signature="MySqueezeExcite(channels, reduction=16)",
    shape_hint=lambda expected, got: "Reshape the gate to (B, C, 1, 1) so that it broadcasts.",
    output_hint=_se_output_hint,
    dead_hint="Each layer must feed the next: pool, Conv/Linear, ReLU, Conv/Linear, sigmoid.",
    parameters_hint=_se_parameters_hint,
    modes=("train",),
)


def check_squeeze_excite(cls: type) -> None:
    """Check ``cls(channels, reduction=16)`` against ``bam.layers.SqueezeExcite``: the output
    shape, the parameter count ``2 * C * C/r + C/r + C``, that every parameter gets a gradient,
    and the output with the reference's weights and biases copied into the learner's two
    layers."""
    configs = [
        (32, {"reduction": 4}, (8, 8)),
        (64, {"reduction": 16}, (5, 9)),
        (48, {"reduction": 8}, (7, 3)),
    ]
    run_exercise(SQUEEZE_EXCITE, cls, configs)
