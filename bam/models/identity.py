"""Start attention modules as (almost) the identity: to insert them into a trained network
without breaking what it learned, or to train a network that starts as the plain one.

A freshly built BAM computes ``F * (1 + sigmoid(Mc(F) + Ms(F)))``; with its branches near 0 the
factor is about 1 + sigmoid(0) = 1.5, so every bottleneck's features grow by half and the
layers after it, trained on the old scale, misread them. ``identity_init`` makes the module
start as (almost) the identity instead: each branch's final BatchNorm gets a zero scale, so
both branches output their BN bias whatever the input, and the biases are set so that the
combined logit is ``logit``. Then ``M(F) = sigmoid(logit)`` everywhere and

    F' = F * (1 + sigmoid(logit)),   1.0067 F for the default logit -5.

SE (Hu et al., 2018) and CBAM (Woo et al., 2018) multiply by gates instead, about 0.5 each when
freshly built; their identity is a gate of 1. Their last layer before each sigmoid gets zero
weights and a bias that puts the gate's logit at ``-logit``: ``F' = F * sigmoid(5)``, 0.9933 F
(CBAM's two gates: 0.9867 F).

It cannot be exactly the identity (sigmoid never reaches 0 or 1), and should not be very close:
the gate's gradient is scaled by sigmoid'(logit), 0.0066 at -5 (0.25 at 0), so a much more
negative logit would leave the gate frozen during training, and a less negative one moves
the output further from the plain network's.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.bam import BAM
from bam.layers.cbam import CBAM
from bam.layers.se import SqueezeExcite
from bam.layers.single_branch import ZeroLogits


def _start_gate(layer: nn.Module, logit: float) -> None:
    """Zero the weights of ``layer`` (a BatchNorm's scale, a convolution's kernel) and set its
    bias to ``logit``: its output is ``logit`` whatever its input."""
    layer.weight.zero_()
    layer.bias.fill_(logit)


def _start_bam(bam: BAM, logit: float) -> None:
    """``combine(Mc, Ms) = logit`` ("sum": 0 and logit, "product": 1 and logit, "max": logit
    and logit); a one-branch BAM gets the whole logit on the branch it keeps."""
    channel_bias = {"sum": 0.0, "product": 1.0, "max": logit}
    # A one-branch BAM (the paper's ablation) adds zero logits for the branch it lacks.
    channel_bn = None if isinstance(bam.channel, ZeroLogits) else bam.channel.mlp[-1]
    spatial_bn = None if isinstance(bam.spatial, ZeroLogits) else bam.spatial.project[-1]
    if channel_bn is not None:
        _start_gate(channel_bn, logit if spatial_bn is None else channel_bias[bam.combine])
    if spatial_bn is not None:
        _start_gate(spatial_bn, logit)


@torch.no_grad()
def identity_init(module: nn.Module, logit: float = -5.0) -> nn.Module:
    """Start every BAM, SE and CBAM in ``module`` (or ``module`` itself) as (almost) the identity.

    A BAM becomes ``F * (1 + sigmoid(logit))``: the final BatchNorm of each branch gets a zero
    scale, and their biases make ``combine(Mc, Ms) = logit``. An SE becomes
    ``F * sigmoid(-logit)``, a CBAM ``F * sigmoid(-logit) ** 2``: the layer before each sigmoid
    gets zero weights and a bias that gives the logit ``-logit`` (CBAM's channel MLP runs
    twice, on the average and the maximum, so half of it each). Returns ``module``.
    """
    found = 0
    for m in module.modules():
        if isinstance(m, BAM):
            _start_bam(m, logit)
        elif isinstance(m, SqueezeExcite):
            _start_gate(m.fc2, -logit)
        elif isinstance(m, CBAM):
            _start_gate(m.channel.mlp[-1], -logit / 2)
            _start_gate(m.spatial.conv, -logit)
        else:
            continue
        found += 1
    if not found:
        raise ValueError(
            f"{type(module).__name__} contains no BAM, SE or CBAM module to initialise"
        )
    return module
