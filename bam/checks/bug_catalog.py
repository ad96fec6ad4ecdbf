"""Lesson 04's catalogue of bugs: for each of the nine, its reference, right and buggy versions.

``BUGS[n]`` is what ``check_bug_test(test, bug=n, buggy=...)`` runs a learner's test on, with
what each buggy version shows that a test passing on it misses. A new bug needs an entry here:
at least three buggy versions the lesson never shows and two right versions written differently,
and in ``bam.checks.bug_sources`` where public code has it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bam.checks.buggy_versions import (
    _combine_cloned,
    _combine_from_zeros,
    _combine_one_materialised,
    _combine_repeated,
    _CrypticBatchOfOne,
    _DilatedDetached,
    _DilatedWeighedZero,
    _EmptyHiddenLayer,
    _ExpandedLikeReduced,
    _ExpandedToReduction,
    _FinalReadsReduced,
    _FixedRescale,
    _FloorMissedInNorm,
    _half_padding,
    _HiddenWideSpatialMap,
    _MaximumOfLogits,
    _MeanOfLogits,
    _NoFinalNorm,
    _NormBeforeLastLayer,
    _padded,
    _padding_four,
    _padding_one,
    _PoolsCentreSquare,
    _PoolsOneColumn,
    _PoolsOneRow,
    _PoolsWidthSquare,
    _ProductOfGates,
    _ProductOfLogits,
    _QuietlyUsesRunningStats,
    _ReasonWithoutAdvice,
    _RefusesOneImageInEval,
    _RepeatedToHidden,
    _RoundedWidth,
    _second_padding_one,
    _SecondDilatedSkipped,
    _ZeroWidthLinear,
)
from bam.checks.right_versions import (
    _combine_broadcast,
    _combine_in_place,
    _combine_sigmoid_in_place,
    _combine_views,
    _ExpandBAM,
    _LinearChannel,
    _SeparateSpatial,
    _SequentialChannel,
    _SequentialSpatial,
    _SumBAM,
)
from bam.layers import BAM, ChannelGate, SpatialGate


@dataclass(frozen=True)
class _Version:
    build: Callable
    what: str  # right: how it is written; buggy: what is wrong with it, "a ... whose ..."
    misses: str = ""  # buggy: what a test that passes on it does not notice


@dataclass(frozen=True)
class _Bug:
    title: str
    noun: str  # what the test receives, to build or to call
    reference: _Version
    right: tuple[_Version, ...]
    buggy: tuple[_Version, ...]
    lesson_misses: str  # what a test that passes on the lesson's module does not notice


_CHANNEL_RIGHT = (
    _Version(_LinearChannel, "Linear layers with biases and BatchNorm1d"),
    _Version(_SequentialChannel, "one nn.Sequential with another hidden width"),
)
_SPATIAL_RIGHT = (
    _Version(_SeparateSpatial, "separate attributes and another hidden width"),
    _Version(_SequentialSpatial, 'one nn.Sequential, biases before BatchNorm, padding="same"'),
)
_BAM_RIGHT = (
    _Version(_SumBAM, "branches of Linear and separate layers, F + F * M written out"),
    _Version(_ExpandBAM, "both maps expanded to the input, F * (1 + M)"),
)
_DEAD = "it does not notice parameters that get no gradient"
_SHAPE = "it does not check the output's shape over configurations where C / r is not 1 or C"
_SUM = "it does not compare the output with the paper's sum, sigmoid(Mc + Ms)"
_POOL = "it does not check that every pixel of a non-square map counts the same"
_EDGE = "build the module with fewer channels than the reduction and use it, gradients included"

BUGS: dict[int, _Bug] = {
    1: _Bug(
        "dead dilated convolutions",
        "spatial branch",
        _Version(SpatialGate, "bam.SpatialGate"),
        _SPATIAL_RIGHT,
        (
            _Version(
                _FinalReadsReduced,
                "a spatial branch whose final convolution reads the reduced tensor",
                _DEAD,
            ),
            _Version(
                _SecondDilatedSkipped,
                "a spatial branch that skips its second dilated convolution",
                _DEAD,
            ),
            _Version(
                _DilatedWeighedZero,
                "a spatial branch that adds its dilated convolutions' output with weight 0",
                _DEAD,
            ),
            _Version(
                _DilatedDetached,
                "a spatial branch whose dilated convolutions are detached "
                "from the gradient (its outputs are right)",
                _DEAD,
            ),
        ),
        "its shapes, parameter count and outputs look fine; what never reaches the output?",
    ),
    2: _Bug(
        "expand_as after the name was rebound",
        "BAM module",
        _Version(BAM, "bam.BAM"),
        _BAM_RIGHT,
        (
            _Version(
                _ExpandedLikeReduced,
                "a BAM whose spatial map is expanded to the reduced tensor's C / r channels",
                _SHAPE,
            ),
            _Version(
                _RepeatedToHidden, "a BAM whose spatial map is repeated to C / r channels", _SHAPE
            ),
            _Version(
                _ExpandedToReduction,
                "a BAM whose spatial map is expanded to r channels instead of C",
                "it does not try a configuration where r is not C",
            ),
            _Version(
                _HiddenWideSpatialMap,
                "a BAM whose spatial branch ends with C / r maps instead of one",
                _SHAPE,
            ),
        ),
        "with C = r the wrong expansion has one channel and broadcasting hides it",
    ),
    3: _Bug(
        "product instead of sum",
        "BAM module",
        _Version(BAM, "bam.BAM"),
        _BAM_RIGHT,
        (
            _Version(_ProductOfLogits, "a BAM that multiplies the branches' logits", _SUM),
            _Version(
                _MaximumOfLogits, "a BAM that takes the maximum of the branches' logits", _SUM
            ),
            _Version(
                _ProductOfGates,
                "a BAM that multiplies two sigmoids, sigmoid(Mc) * sigmoid(Ms)",
                _SUM,
            ),
            _Version(_MeanOfLogits, "a BAM that averages the logits before the sigmoid", _SUM),
        ),
        "its shapes are right and its output is F scaled by 1 to 2; compare it with the paper's "
        "equation",
    ),
    4: _Bug(
        "the square-input assumption",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _PoolsOneColumn, "a channel branch that averages one column (over H only)", _POOL
            ),
            _Version(_PoolsOneRow, "a channel branch that averages one row (over W only)", _POOL),
            _Version(
                _PoolsCentreSquare,
                "a channel branch that averages the centre square of the map",
                _POOL,
            ),
            _Version(
                _PoolsWidthSquare, "a channel branch that pools a square window of side W", _POOL
            ),
        ),
        "on a square map the bug cannot show; try maps wider and taller than they are high",
    ),
    5: _Bug(
        "a hidden width of zero",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _EmptyHiddenLayer,
                "a channel branch whose hidden layer has no units (it runs, with the right shape)",
                "it does not check that the parameters learn",
            ),
            _Version(
                _ZeroWidthLinear,
                "a channel branch of Linear layers with int(C / r) hidden units",
                _EDGE,
            ),
            _Version(_RoundedWidth, "a channel branch with round(C / r) hidden units", _EDGE),
            _Version(
                _FloorMissedInNorm,
                "a channel branch whose hidden BatchNorm misses the floor on the width",
                _EDGE,
            ),
        ),
        "it builds (with a warning) and works whenever C >= r; " + _EDGE,
    ),
    6: _Bug(
        "BatchNorm on a batch of one",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _CrypticBatchOfOne,
                "a channel branch that fails on one image with BatchNorm's own ValueError",
                "it does not check what the error says to do",
            ),
            _Version(
                _ReasonWithoutAdvice,
                "a channel branch whose error on one image gives the reason but no advice",
                "it does not check that the error mentions eval()",
            ),
            _Version(
                _RefusesOneImageInEval,
                "a channel branch that refuses one image in eval mode too",
                "it does not check that inference on one image works",
            ),
            _Version(
                _QuietlyUsesRunningStats,
                "a channel branch that quietly switches to its "
                "running statistics on one image in training mode",
                "it does not check that training on one image fails",
            ),
        ),
        "it does fail on one image in training mode, with a ValueError; read what that error "
        "tells the user to do",
    ),
    7: _Bug(
        "no final BatchNorm",
        "channel branch",
        _Version(ChannelGate, "bam.ChannelGate"),
        _CHANNEL_RIGHT,
        (
            _Version(
                _NoFinalNorm,
                "a channel branch of Linear layers that ends with no BatchNorm",
                "it does not check the scale of the logits",
            ),
            _Version(
                _NormBeforeLastLayer,
                "a channel branch whose last BatchNorm comes before its last layer",
                "it does not check the scale of the logits",
            ),
            _Version(
                _FixedRescale,
                "a channel branch that divides its logits by a constant "
                "instead of normalising them",
                "it does not check the scale of the logits",
            ),
        ),
        "it has BatchNorm layers, only not at the end; test what the final one is for",
    ),
    8: _Bug(
        "padding that does not equal the dilation",
        "spatial branch",
        _Version(SpatialGate, "bam.SpatialGate"),
        _SPATIAL_RIGHT,
        (
            _Version(
                _padded(_padding_four),
                "a spatial branch that pads by 4, right for the default dilation only",
                "it does not try dilations other than 4",
            ),
            _Version(
                _padded(_second_padding_one),
                "a spatial branch whose second dilated convolution pads by 1",
                "it does not try a dilation above 1",
            ),
            _Version(
                _padded(_half_padding),
                "a spatial branch that pads by half the dilation",
                "it does not check that H x W is kept",
            ),
            _Version(
                _padded(_padding_one),
                "a spatial branch of separate layers that pads by 1",
                "it does not try a dilation above 1",
            ),
        ),
        "with dilation 1 a padding of 1 is right; the bug shows for other dilations",
    ),
    9: _Bug(
        "expanding, then materialising",
        "combine function",
        _Version(_combine_broadcast, "the broadcasting form"),
        (
            _Version(_combine_views, "expanded views"),
            _Version(_combine_in_place, "in-place multiply and add"),
            _Version(_combine_sigmoid_in_place, "an in-place sigmoid"),
        ),
        (
            _Version(
                _combine_cloned,
                "a combine function that clones the expanded views",
                "it does not count the memory the function allocates",
            ),
            _Version(
                _combine_repeated,
                "a combine function that repeats both maps to C x H x W",
                "it does not count the memory the function allocates",
            ),
            _Version(
                _combine_one_materialised,
                "a combine function that materialises only the channel map",
                "its memory budget is too loose",
            ),
            _Version(
                _combine_from_zeros,
                "a combine function that builds the attention on a tensor of zeros",
                "its memory budget is too loose",
            ),
        ),
        "its output is right: what does it cost?",
    ),
}
