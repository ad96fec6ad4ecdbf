"""Squeeze-and-Excitation (Hu, Shen, Sun, CVPR 2018, eqs. 2-4).

    F' = F * sigmoid(W2 ReLU(W1 GAP(F) + b1) + b2)        W1: C -> C/r,  W2: C/r -> C

One gate per channel, learnt from the global average of each channel ("squeeze") by a
bottleneck MLP ("excitation"). The layers carry biases, so a block costs
``2 * C * C/r + C/r + C`` parameters. SE rescales F: unlike BAM there is no ``F + F * M(F)``
residual, which is why it sits inside a residual block, on the branch, before the addition.
"""

from __future__ import annotations

import torch
from torch import nn

from bam.layers.validation import check_feature_map, check_positive, hidden_width


class SqueezeExcite(nn.Module):
    """Scales each channel of a ``(B, C, H, W)`` map by a gate in (0, 1) computed from all channels.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio: the hidden width is ``max(1, C // r)``.
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        check_positive(channels=channels, reduction=reduction)
        self.channels = channels
        hidden = hidden_width(channels, reduction)
        # 1x1 convolutions on the pooled (B, C, 1, 1) tensor are the paper's fully connected layers.
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map(x, self.channels, type(self).__name__)
        squeezed = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.relu(self.fc1(squeezed))))
