"""Pre-activation ResNet-18 for 32x32 images (He et al., ECCV 2016, "Identity Mappings in Deep
Residual Networks"): BN and ReLU come before each convolution, four stages of 64-512 channels.
The wider network that reaches high CIFAR accuracy quickly on a GPU (about 11.2M parameters).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bam.models.cifar_resnet import init_weights


class PreActBlock(nn.Module):
    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Conv2d(in_channels, channels, 1, stride, bias=False)
        # Attention on the residual branch before the addition (SE, CBAM): see bam.models.insert.
        self.attention: nn.Module = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(x))
        # A projection shortcut takes the pre-activated input, as in the paper's figure 4(e).
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.attention(self.conv2(F.relu(self.bn2(out))))
        return out + shortcut


class PreActResNet18(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        stages, in_channels = [], 64
        for i, width in enumerate((64, 128, 256, 512)):
            stride = 1 if i == 0 else 2
            stages.append(
                nn.Sequential(PreActBlock(in_channels, width, stride), PreActBlock(width, width))
            )
            in_channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.bn = nn.BatchNorm2d(in_channels)
        self.fc = nn.Linear(in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.conv1(x)))))
        return self.fc(F.relu(self.bn(x)).mean((2, 3)))
