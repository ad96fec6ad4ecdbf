"""Bottleneck Attention Module (Park et al., BMVC 2018, arXiv 1807.06514, eqs. 1-2).

    F' = F + F * M(F) = F * (1 + M(F)),    M(F) = sigmoid(Mc(F) + Ms(F))

Mc is ``(B, C, 1, 1)`` and Ms is ``(B, 1, H, W)``: they meet by broadcasting, so no expanded
copy of either is made. ``combine`` picks how the branches meet before the sigmoid: "sum" is the
paper's equation and its best ablation, "product" is what the authors' released code computes,
"max" is the third ablation. The gate runs as one fused operation (``bam.layers.fused_gate``)
that gives the plain formula's values but keeps no full-size tensor for the backward pass;
``fused=False`` runs the plain formula. Forward hooks on ``channel`` and ``spatial`` see the
channel and spatial logits (``bam.capture_attention`` computes M(F) from them).
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.channel_gate import ChannelGate
from bam.layers.fused_gate import COMBINE_MODES, Combine, fused_gate, plain_gate
from bam.layers.spatial_gate import SpatialGate


class BAM(nn.Module):
    """Refines a ``(B, C, H, W)`` feature map as ``F * (1 + sigmoid(Mc(F) + Ms(F)))``.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio of both branches.
        dilation: d, the dilation of the spatial branch's 3x3 convolutions.
        num_dilated: how many dilated convolutions the spatial branch has.
        combine: "sum" (paper), "product" (authors' code) or "max".
        fused: compute the gate as one operation that saves less for the backward pass (same
            values); False runs the plain formula, the reference it is checked against.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dilation: int = 4,
        num_dilated: int = 2,
        combine: Combine = "sum",
        fused: bool = True,
    ) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {sorted(COMBINE_MODES)}, got {combine!r}")
        self.combine = combine
        self.fused = fused
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(channels, reduction, dilation, num_dilated)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = fused_gate if self.fused else plain_gate
        return gate(x, self.channel(x), self.spatial(x), self.combine)

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}" + ("" if self.fused else ", fused=False")
