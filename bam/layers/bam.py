"""Bottleneck Attention Module (Park et al., BMVC 2018, arXiv 1807.06514, eqs. 1-2).

    F' = F + F * M(F) = F * (1 + M(F)),    M(F) = sigmoid(Mc(F) + Ms(F))

Mc is ``(B, C, 1, 1)`` and Ms is ``(B, 1, H, W)``: they meet by broadcasting, so no expanded
copy of either is made. ``combine`` picks how the branches meet before the sigmoid: "sum" is the
paper's equation and its best ablation, "product" is what the authors' released code computes,
"max" is the third ablation. Forward hooks on ``channel``, ``spatial`` and ``gate`` see the
channel logits, the spatial logits and the attention ``M(F)`` (see ``bam.capture_attention``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from bam.layers.channel_gate import ChannelGate
from bam.layers.spatial_gate import SpatialGate

Combine = Literal["sum", "product", "max"]
COMBINE_MODES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sum": torch.add,
    "product": torch.mul,
    "max": torch.maximum,
}


class BAM(nn.Module):
    """Refines a ``(B, C, H, W)`` feature map as ``F * (1 + sigmoid(Mc(F) + Ms(F)))``.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio of both branches.
        dilation: d, the dilation of the spatial branch's 3x3 convolutions.
        num_dilated: how many dilated convolutions the spatial branch has.
        combine: "sum" (paper), "product" (authors' code) or "max".
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dilation: int = 4,
        num_dilated: int = 2,
        combine: Combine = "sum",
    ) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {sorted(COMBINE_MODES)}, got {combine!r}")
        self.combine = combine
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(channels, reduction, dilation, num_dilated)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attention = self.gate(COMBINE_MODES[self.combine](self.channel(x), self.spatial(x)))
        # F + F * M(F) in one fused pass: no (B, C, H, W) temporary for 1 + M(F).
        return torch.addcmul(x, x, attention)

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}"
