"""Lesson 04's right versions: modules and functions that a good test of a bug passes on.

``check_bug_test`` (``bam.checks.bug_tests``) grades a test the learner wrote for one of the bug
hunt's nine bugs by mutation: the test runs on modules that are right (the reference and the
versions here, written differently from it) and on modules that have the bug (the lesson's and
those of ``bam.checks.buggy_versions``). A good test passes on every right one and fails on every
buggy one, so it tests behaviour, not one way of writing the module.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def _advise_batch_of_one(module: nn.Module, x: torch.Tensor) -> None:
    if module.training and x.shape[0] == 1:
        raise ValueError(
            "one image in training mode: BatchNorm after pooling has a single value per "
            "channel and no variance. Train on 2 or more images, or call .eval() for inference."
        )


class _LinearChannel(nn.Module):
    """Right: Linear layers with biases and BatchNorm1d, attributes registered out of order."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.norm_out = nn.BatchNorm1d(channels)
        self.squeeze = nn.Linear(channels, hidden)
        self.norm_hidden = nn.BatchNorm1d(hidden)
        self.excite = nn.Linear(hidden, channels)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3))

    def logits(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.norm_out(self.excite(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _advise_batch_of_one(self, x)
        return self.logits(self.pool(x))[:, :, None, None]


class _SequentialChannel(nn.Module):
    """Right: one nn.Sequential that pools itself, biases before BatchNorm, hidden width
    ceil(C / r) floored at 2 (another width than the reference's)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(2, -(-channels // reduction))
        self.body = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, channels, 1),
            nn.BatchNorm2d(channels),
        )

    def refuse_batch_of_one(self, x: torch.Tensor) -> None:
        if self.training and x.shape[0] < 2:
            raise ValueError(
                "BatchNorm needs two or more images per batch in training mode; for a single "
                "image, switch the module to inference with .eval()"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.refuse_batch_of_one(x)
        return self.body(x)


class _SeparateSpatial(nn.Module):
    """Right: separate attributes and F.relu, by default a hidden width of 2 C // r (another
    width than the reference's); ``paddings`` gives the two dilated convolutions' padding for a
    dilation."""

    def __init__(
        self,
        channels: int,
        reduction: int = 16,
        dilation: int = 4,
        paddings: Callable[[int], tuple[int, int]] = lambda d: (d, d),
        widen: int = 2,
    ) -> None:
        super().__init__()
        hidden = widen * max(1, channels // reduction)
        first, second = paddings(dilation)
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=False)
        self.reduce_norm = nn.BatchNorm2d(hidden)
        self.first = nn.Conv2d(hidden, hidden, 3, padding=first, dilation=dilation, bias=False)
        self.first_norm = nn.BatchNorm2d(hidden)
        self.second = nn.Conv2d(hidden, hidden, 3, padding=second, dilation=dilation, bias=False)
        self.second_norm = nn.BatchNorm2d(hidden)
        self.final = nn.Conv2d(hidden, 1, 1, bias=False)
        self.final_norm = nn.BatchNorm2d(1)

    def reduced(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.reduce_norm(self.reduce(x)))

    def dilated(self, y: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.first_norm(self.first(y)))
        return F.relu(self.second_norm(self.second(y)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_norm(self.final(self.dilated(self.reduced(x))))


class _SequentialSpatial(nn.Module):
    """Right: one nn.Sequential, biases before every BatchNorm, padding="same"."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)

        def dilated() -> list[nn.Module]:
            conv = nn.Conv2d(hidden, hidden, 3, padding="same", dilation=dilation)
            return [conv, nn.BatchNorm2d(hidden), nn.ReLU()]

        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.BatchNorm2d(hidden),
            nn.ReLU(),
            *dilated(),
            *dilated(),
            nn.Conv2d(hidden, 1, 1),
            nn.BatchNorm2d(1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _SumBAM(nn.Module):
    """Right: BAM from the branches above, ``F + F * sigmoid(Mc + Ms)`` written out."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        self.reduction = reduction
        self.channel = _LinearChannel(channels, reduction)
        self.spatial = _SeparateSpatial(channels, reduction, dilation, widen=1)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.channel(x) + self.spatial(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + x * self.attention(x)


class _ExpandBAM(nn.Module):
    """Right: both maps expanded to the input itself before the sum, ``F * (1 + M)``."""

    def __init__(self, channels: int, reduction: int = 16, dilation: int = 4) -> None:
        super().__init__()
        self.channel = _SequentialChannel(channels, reduction)
        self.spatial = _SequentialSpatial(channels, reduction, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.channel(x).expand_as(x), self.spatial(x).expand_as(x)
        return x * (1 + torch.sigmoid(c + s))


# Bug 9's right versions: F + F * sigmoid(Mc + Ms), with no more full-size tensors than
# broadcasting needs.


def _combine_broadcast(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc + ms))


def _combine_views(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f) + ms.expand_as(f)))


def _combine_in_place(f, mc, ms):
    return torch.sigmoid(mc + ms).mul_(f).add_(f)


def _combine_sigmoid_in_place(f, mc, ms):
    return f.addcmul(f, (mc + ms).sigmoid_())
