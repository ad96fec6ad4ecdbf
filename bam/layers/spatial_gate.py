"""Spatial attention branch of BAM (Park et al., BMVC 2018, arXiv 1807.06514, eq. 4).

    Ms(F) = BN(f3_1x1(f2_3x3(f1_3x3(f0_1x1(F)))))

f0 reduces C -> C/r, f1 and f2 are 3x3 convolutions with dilation d, f3 maps C/r -> 1. Every
hidden layer is followed by BN and ReLU. Each dilated convolution pads by d, so H x W is kept
and the map lines up with F for any input size.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.validation import check_feature_map, check_positive, hidden_width


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int = 1, dilation: int = 1) -> nn.Sequential:
    # padding = dilation * (k - 1) / 2 keeps H x W; for k = 3 that is padding = dilation.
    padding = dilation * (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SpatialGate(nn.Module):
    """Spatial logits ``Ms(F)`` of shape ``(B, 1, H, W)``, ready to broadcast over channels.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio: the hidden width is ``max(1, C // r)``.
        dilation: d, the dilation of the 3x3 convolutions.
        num_dilated: how many dilated 3x3 convolutions (the paper uses two).
    """

    def __init__(
        self, channels: int, reduction: int = 16, dilation: int = 4, num_dilated: int = 2
    ) -> None:
        super().__init__()
        check_positive(channels=channels, reduction=reduction, dilation=dilation)
        if num_dilated < 0:
            raise ValueError(f"num_dilated must be 0 or more, got {num_dilated}")
        self.channels = channels
        hidden = hidden_width(channels, reduction)
        self.reduce = conv_bn_relu(channels, hidden)
        self.dilated = nn.Sequential(
            *(conv_bn_relu(hidden, hidden, 3, dilation) for _ in range(num_dilated))
        )
        self.project = nn.Sequential(nn.Conv2d(hidden, 1, 1, bias=False), nn.BatchNorm2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map(x, self.channels, type(self).__name__)
        return self.project(self.dilated(self.reduce(x)))
