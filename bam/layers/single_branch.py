"""BAM with one branch removed, for the paper's ablation (Park et al., BMVC 2018, table 1c).

    channel only:  F' = F * (1 + sigmoid(Mc(F)))
    spatial only:  F' = F * (1 + sigmoid(Ms(F)))

A removed branch is a term of ``Mc(F) + Ms(F)`` that is zero, so it is kept as a module that
returns zero logits of the branch's shape and has no parameters. Everything that works on a
``BAM`` (``bam.capture_attention``, the insertion helpers) works unchanged; the captured maps of
the removed branch are zeros.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from bam.layers.bam import BAM
from bam.layers.validation import check_feature_map

Branch = Literal["channel", "spatial"]


class ZeroLogits(nn.Module):
    """The logits of a removed branch: zeros of shape ``(B, C, 1, 1)`` or ``(B, 1, H, W)``."""

    def __init__(self, channels: int, branch: Branch) -> None:
        super().__init__()
        self.channels = channels
        self.branch = branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map(x, self.channels, type(self).__name__)
        batch, channels, height, width = x.shape
        shape = (batch, channels, 1, 1) if self.branch == "channel" else (batch, 1, height, width)
        return x.new_zeros(shape)

    def extra_repr(self) -> str:
        return f"removed {self.branch} branch"


class SingleBranchBAM(BAM):
    """``BAM`` with only its ``branch`` ("channel" or "spatial"); the branches meet by sum.

    Args:
        channels: C, the number of input channels.
        branch: the branch to keep, "channel" or "spatial".
        reduction, dilation, num_dilated, fused: as for ``BAM``.
    """

    def __init__(
        self,
        channels: int,
        branch: Branch,
        reduction: int = 16,
        dilation: int = 4,
        num_dilated: int = 2,
        fused: bool = True,
    ) -> None:
        if branch not in ("channel", "spatial"):
            raise ValueError(
                f"branch must be 'channel' or 'spatial', got {branch!r}; use BAM for both branches"
            )
        super().__init__(channels, reduction, dilation, num_dilated, "sum", fused)
        self.branch = branch
        if branch == "channel":
            self.spatial = ZeroLogits(channels, "spatial")
        else:
            self.channel = ZeroLogits(channels, "channel")

    def extra_repr(self) -> str:
        return f"branch={self.branch!r}"
