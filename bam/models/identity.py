"""Insert BAM into a trained network without breaking what it learned.

A freshly built BAM computes ``F * (1 + sigmoid(Mc(F) + Ms(F)))``; with its branches near 0 the
factor is about 1 + sigmoid(0) = 1.5, so every bottleneck's features grow by half and the
layers after it, trained on the old scale, misread them. ``identity_init`` makes the module
start as (almost) the identity instead: each branch's final BatchNorm gets a zero scale, so
both branches output their BN bias whatever the input, and the biases are set so that the
combined logit is ``logit``. Then ``M(F) = sigmoid(logit)`` everywhere and

    F' = F * (1 + sigmoid(logit)),   1.0067 F for the default logit -5.

It cannot be exactly the identity (sigmoid never reaches 0), and should not be very close:
the gate's gradient is scaled by sigmoid'(logit), 0.0066 at -5 (0.25 at 0), so a much more
negative logit would leave the gate frozen during fine-tuning, and a less negative one moves
the output further from the trained network's.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.bam import BAM
from bam.layers.single_branch import ZeroLogits


@torch.no_grad()
def identity_init(module: nn.Module, logit: float = -5.0) -> nn.Module:
    """Start every BAM in ``module`` (or ``module`` itself) as ``F * (1 + sigmoid(logit))``.

    Zeroes the scale of the final BatchNorm of both branches and sets their biases so that
    ``combine(Mc, Ms) = logit`` ("sum": 0 and logit, "product": 1 and logit, "max": logit
    and logit); a one-branch BAM gets the whole logit on the branch it keeps. Returns
    ``module``.
    """
    bams = [m for m in module.modules() if isinstance(m, BAM)]
    if not bams:
        raise ValueError(f"{type(module).__name__} contains no BAM module to initialise")
    channel_bias = {"sum": 0.0, "product": 1.0, "max": logit}
    for bam in bams:
        # A one-branch BAM (the paper's ablation) adds zero logits for the branch it lacks:
        # the branch it keeps carries the whole logit.
        channel_bn = None if isinstance(bam.channel, ZeroLogits) else bam.channel.mlp[-1]
        spatial_bn = None if isinstance(bam.spatial, ZeroLogits) else bam.spatial.project[-1]
        channel_logit = logit if spatial_bn is None else channel_bias[bam.combine]
        for bn, bias in ((channel_bn, channel_logit), (spatial_bn, logit)):
            if bn is not None:
                bn.weight.zero_()
                bn.bias.fill_(bias)
    return module
