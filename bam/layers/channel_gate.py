"""Channel attention branch of BAM (Park et al., BMVC 2018, arXiv 1807.06514, eq. 3).

    Mc(F) = BN(W1 ReLU(BN(W0 AvgPool(F))))        W0: C -> C/r,  W1: C/r -> C

The paper writes biases b0, b1 after W0 and W1; each is followed by BatchNorm, which subtracts
the mean and so absorbs any bias, hence the layers here have none.
"""

from __future__ import annotations

from itertools import pairwise

import torch
from torch import nn

from bam.layers.validation import check_feature_map, check_positive, hidden_width


class ChannelGate(nn.Module):
    """Channel logits ``Mc(F)`` of shape ``(B, C, 1, 1)``, ready to broadcast over H x W.

    Args:
        channels: C, the number of input channels.
        reduction: r, the bottleneck ratio: the hidden width is ``max(1, C // r)``.
        num_layers: number of hidden layers of the MLP (the paper uses one).
    """

    def __init__(self, channels: int, reduction: int = 16, num_layers: int = 1) -> None:
        super().__init__()
        check_positive(channels=channels, reduction=reduction, num_layers=num_layers)
        self.channels = channels
        hidden = hidden_width(channels, reduction)
        widths = [channels] + [hidden] * num_layers
        layers: list[nn.Module] = []
        for c_in, c_out in pairwise(widths):
            # 1x1 convolutions on the pooled (B, C, 1, 1) tensor are the paper's linear layers.
            layers += [
                nn.Conv2d(c_in, c_out, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_feature_map(x, self.channels, type(self).__name__)
        if self.training and x.shape[0] == 1:
            # BatchNorm over a (1, C, 1, 1) tensor has one value per channel: no variance to use.
            raise ValueError(
                "ChannelGate got a batch of 1 in training mode: its BatchNorm sees a single "
                "value per channel after pooling and cannot estimate a variance. Use a batch "
                "of 2 or more, or call .eval() for inference."
            )
        return self.mlp(x.mean((2, 3), keepdim=True))
