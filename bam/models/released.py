"""The computation of the authors' released BAM (Park et al., BMVC 2018, arXiv 1807.06514),
restated from its description, to measure it against ``bam.layers.BAM``: the branches are
multiplied after ``expand_as`` to the full size, then ``(1 + sigmoid) * F``."""

from __future__ import annotations

import torch

from bam.layers import BAM
from bam.models.insert import add_bam, resnet_stages


class ReleasedBAM(BAM):
    """The computation of the authors' released BAM, restated from its description: the
    branches are multiplied after ``expand_as`` to the full size, then ``(1 + sigmoid) * F``.
    Same branches and parameters as ``BAM``; only the gate differs."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, combine="product")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        product = self.channel(x).expand_as(x) * self.spatial(x).expand_as(x)
        return (1 + torch.sigmoid(product)) * x


def add_released_bam(model: torch.nn.Module) -> torch.nn.Module:
    """``add_bam``, with ``ReleasedBAM`` at each bottleneck."""
    add_bam(model)
    for stage in resnet_stages(model)[:-1]:
        stage.bam = ReleasedBAM(stage.bam.channel.channels)
    return model
