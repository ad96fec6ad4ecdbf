"""Convolutional Block Attention Module (Woo, Park, Lee, Kweon, ECCV 2018, eqs. 1-3).

    F'  = Mc(F) * F,      Mc(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))
    F'' = Ms(F') * F',    Ms(F) = sigmoid(f7x7([AvgPool_c(F); MaxPool_c(F)]))

The channel MLP (C -> C/r -> C, ReLU on the hidden layer) is shared by the two pooled
descriptors. The spatial map comes from a 7x7 convolution over two maps: the mean and the max
of F' across channels. Written as the equations read: the MLP layers and the 7x7 convolution
carry biases, and there is no BatchNorm, so a module costs
``(2 * C * C/r + C/r + C) + (2 * k * k + 1)`` parameters.

The same authors wrote BAM: CBAM applies the two attentions one after the other inside every
residual block, where BAM adds them in parallel at the bottlenecks only.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.validation import check_feature_map, check_positive, hidden_width


class CBAMChannel(nn.Module):
    """Channel gate ``Mc(F) = sigmoid(MLP(AvgPool(F)) + MLP(MaxPool(F)))``, ``(B, C, 1, 1)``."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = hidden_width(channels, reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1)
        )
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean((2, 3), keepdim=True)
        max_ = x.amax((2, 3), keepdim=True)
        return self.gate(self.mlp(avg) + self.mlp(max_))


class CBAMSpatial(nn.Module):
    """Spatial gate ``Ms(F) = sigmoid(f7x7([AvgPool_c(F); MaxPool_c(F)]))``, ``(B, 1, H, W)``."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd so the map keeps its H x W, got {kernel_size}"
            )
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return self.gate(self.conv(pooled))


class CBAM(nn.Module):
    """Channel then spatial attention: ``F' = Mc(F) * F``, ``F'' = Ms(F') * F'``.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio of the channel MLP (hidden width ``max(1, C // r)``).
        kernel_size: k, the size of the spatial convolution (the paper's 7).
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        check_positive(channels=channels, reduction=reduction, kernel_size=kernel_size)
        self.channels = channels
        self.channel = CBAMChannel(channels, reduction)
        self.spatial = CBAMSpatial(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map(x, self.channels, type(self).__name__)
        x = x * self.channel(x)
        return x * self.spatial(x)
