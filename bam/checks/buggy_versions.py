"""Lesson 04's buggy versions: for each of the nine bugs, versions the lesson never shows.

Each is correct in every respect but the bug its comment names, so that a test written for one
bug cannot pass or fail on it for an unrelated reason. ``check_bug_test``
(``bam.checks.bug_tests``) requires the learner's test to fail on every one of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bam.checks.right_versions import (
    _advise_batch_of_one,
    _LinearChannel,
    _SeparateSpatial,
    _SequentialChannel,
    _SumBAM,
)

# Bug 1: the dilated convolutions run, but nothing they compute reaches the output.


class _FinalReadsReduced(_SeparateSpatial):
    def forward(self, x):
        y = self.reduced(x)
        self.dilated(y)
        return self.final_norm(self.final(y))


class _SecondDilatedSkipped(_SeparateSpatial):
    def forward(self, x):
        y = F.relu(self.first_norm(self.first(self.reduced(x))))
        return self.final_norm(self.final(y))


class _DilatedWeighedZero(_SeparateSpatial):
    def forward(self, x):
        y = self.reduced(x)
        return self.final_norm(self.final(y + 0.0 * self.dilated(y)))


class _DilatedDetached(_SeparateSpatial):
    def forward(self, x):
        return self.final_norm(self.final(self.dilated(self.reduced(x)).detach()))


# Bug 2: the spatial map is given C / r channels (or r) where the input has C.


class _ExpandedLikeReduced(_SumBAM):
    def forward(self, x):
        f, spatial = x, self.spatial
        x = spatial.dilated(spatial.reduced(x))
        s = spatial.final_norm(spatial.final(x)).expand_as(x)
        return f * (1 + torch.sigmoid(self.channel(f) + s))


class _RepeatedToHidden(_SumBAM):
    def attention(self, x):
        s = self.spatial(x)
        return torch.sigmoid(self.channel(x) + s.repeat(1, self.spatial.reduce.out_channels, 1, 1))


class _ExpandedToReduction(_SumBAM):
    def attention(self, x):
        s = self.spatial(x).expand(-1, self.reduction, -1, -1)
        return torch.sigmoid(self.channel(x) + s)


class _HiddenWideSpatialMap(_SumBAM):
    def __init__(self, channels, reduction=16, dilation=4):
        super().__init__(channels, reduction, dilation)
        hidden = self.spatial.final.in_channels
        self.spatial.final = nn.Conv2d(hidden, hidden, 1, bias=False)
        self.spatial.final_norm = nn.BatchNorm2d(hidden)


# Bug 3: the branches meet otherwise than by the paper's sum.


class _ProductOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(self.channel(x) * self.spatial(x))


class _MaximumOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(torch.maximum(self.channel(x), self.spatial(x)))


class _ProductOfGates(_SumBAM):
    def attention(self, x):
        return torch.sigmoid(self.channel(x)) * torch.sigmoid(self.spatial(x))


class _MeanOfLogits(_SumBAM):
    def attention(self, x):
        return torch.sigmoid((self.channel(x) + self.spatial(x)) / 2)


# Bug 4: the pooling covers part of a non-square map.


class _PoolsOneColumn(_LinearChannel):
    def pool(self, x):
        return x[..., 0].mean(2)


class _PoolsOneRow(_LinearChannel):
    def pool(self, x):
        return x[:, :, 0].mean(2)


class _PoolsCentreSquare(_LinearChannel):
    def pool(self, x):
        h, w = x.shape[2:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return x[:, :, top : top + side, left : left + side].mean((2, 3))


class _PoolsWidthSquare(_SequentialChannel):
    def forward(self, x):
        self.refuse_batch_of_one(x)
        return self.body[1:](F.avg_pool2d(x, x.size(3)))


# Bug 5: no floor on the hidden width, which is 0 when C < r.


class _EmptyHiddenLayer(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = int(channels / reduction)
        self.squeeze, self.excite = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x):
        _advise_batch_of_one(self, x)
        out = self.norm(self.excite(F.relu(self.squeeze(x.mean((2, 3))))))
        return out[:, :, None, None]


class _ZeroWidthLinear(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        hidden = int(channels / reduction)
        self.squeeze, self.excite = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.norm_hidden = nn.BatchNorm1d(hidden)


class _RoundedWidth(_SequentialChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        hidden = round(channels / reduction)
        self.body[1], self.body[2] = nn.Conv2d(channels, hidden, 1), nn.BatchNorm2d(hidden)
        self.body[4] = nn.Conv2d(hidden, channels, 1)


class _FloorMissedInNorm(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.norm_hidden = nn.BatchNorm1d(channels // reduction)


# Bug 6: one image in training mode, and an error that does not say what to do.


class _CrypticBatchOfOne(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        pass  # BatchNorm's own error: "Expected more than 1 value per channel when training"


class _ReasonWithoutAdvice(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        if self.training and x.shape[0] == 1:
            raise ValueError("batch of 1: BatchNorm needs more than one value per channel")


class _RefusesOneImageInEval(_SequentialChannel):
    def refuse_batch_of_one(self, x):
        if x.shape[0] == 1:
            raise ValueError("BatchNorm needs 2 or more images; call .eval() for inference")


class _QuietlyUsesRunningStats(_LinearChannel):
    def forward(self, x):
        if not (self.training and x.shape[0] == 1):
            return super().forward(x)
        self.eval()
        try:
            return super().forward(x)
        finally:
            self.train()


# Bug 7: the channel logits come out on an arbitrary scale.


class _NoFinalNorm(_LinearChannel):
    def logits(self, pooled):
        return self.excite(F.relu(self.norm_hidden(self.squeeze(pooled))))


class _NormBeforeLastLayer(_LinearChannel):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        self.norm_out = nn.BatchNorm1d(self.squeeze.out_features)

    def logits(self, pooled):
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.excite(self.norm_out(hidden))


class _FixedRescale(_LinearChannel):
    def logits(self, pooled):
        hidden = F.relu(self.norm_hidden(self.squeeze(pooled)))
        return self.excite(hidden) / self.excite.in_features**0.5


# Bug 8: the dilated convolutions do not pad by the dilation.


def _padding_one(_dilation: int) -> tuple[int, int]:
    return 1, 1


def _padding_four(_dilation: int) -> tuple[int, int]:
    return 4, 4


def _second_padding_one(dilation: int) -> tuple[int, int]:
    return dilation, 1


def _half_padding(dilation: int) -> tuple[int, int]:
    return dilation // 2, dilation // 2


def _padded(paddings: Callable[[int], tuple[int, int]]) -> Callable[..., nn.Module]:
    def build(channels: int, reduction: int = 16, dilation: int = 4) -> nn.Module:
        return _SeparateSpatial(channels, reduction, dilation, paddings)

    return build


# Bug 9: F + F * sigmoid(Mc + Ms), with more full-size tensors than broadcasting needs.


def _combine_cloned(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f).clone() + ms.expand_as(f).clone()))


def _combine_repeated(f, mc, ms):
    h, w = f.shape[2:]
    return torch.addcmul(f, f, torch.sigmoid(mc.repeat(1, 1, h, w) + ms.repeat(1, f.size(1), 1, 1)))


def _combine_one_materialised(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(mc.expand_as(f).contiguous() + ms))


def _combine_from_zeros(f, mc, ms):
    return torch.addcmul(f, f, torch.sigmoid(torch.zeros_like(f) + mc + ms))
