"""Put BAM where the paper puts it: at each bottleneck of a ResNet (Park et al., BMVC 2018,
section 3), i.e. after every stage but the last, where the spatial size is about to shrink.

Its peers go where their papers put them: SE (Hu et al., CVPR 2018, fig. 3) and CBAM (Woo et
al., ECCV 2018, fig. 3) sit inside every residual block, at the end of the residual branch (after
its last BatchNorm in a post-activation block) and before the addition with the shortcut:
``out = A(branch(x)) + shortcut(x)``, followed by the block's ReLU where it has one.
``add_bam_every_block`` puts BAM there too, for the paper's "BAM in every block" ablation.

How a block receives its attention module A, always registered as ``block.attention`` (so its
weights are named ``layer1.0.attention....`` and no existing weight is renamed):
- the blocks of ``bam.models`` have an ``attention`` attribute, ``nn.Identity()`` by default,
  that their ``forward`` applies to the residual branch: it is replaced;
- torchvision's ``BasicBlock`` and ``Bottleneck`` cannot be edited, so A is applied by a forward
  hook on their last BatchNorm (``bn2``, ``bn3``) that returns ``A(bn(...))``. The hook is an
  ``ApplyAttention`` object that holds A, so ``copy.deepcopy`` of the model carries it over to the
  copied A; it shows in ``block.bn3._forward_hooks``.

``ATTENTION`` is the one list of attention types: per name, how to build the module for C
channels and where it goes. ``add_attention(model, name)`` puts one in; ``add_bam``, ``add_se``,
``add_cbam``, ``add_bam_every_block`` and ``bam.models.create("NAME_resnet20")`` all go through
it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Literal

from torch import nn

from bam.layers.bam import BAM
from bam.layers.cbam import CBAM
from bam.layers.se import SqueezeExcite
from bam.layers.single_branch import SingleBranchBAM

STAGE_NAMES = ("layer1", "layer2", "layer3", "layer4")


def resnet_stages(model: nn.Module) -> list[nn.Sequential]:
    """The stages ``layer1``, ``layer2``, ... of a ResNet, in order."""
    stages = [getattr(model, name) for name in STAGE_NAMES if hasattr(model, name)]
    if len(stages) < 2 or not all(isinstance(s, nn.Sequential) for s in stages):
        raise ValueError(
            f"expected a ResNet with nn.Sequential stages named layer1, layer2, ... (as in "
            f"torchvision and bam.models); {type(model).__name__} has none or only one"
        )
    return stages


def out_channels(stage: nn.Module) -> int:
    """Channels a stage produces: those of its last convolution."""
    # Convolutions inside attention modules (SE, CBAM, BAM in a block) do not count.
    convs = [
        m
        for name, m in stage.named_modules()
        if isinstance(m, nn.Conv2d) and "attention" not in name.split(".")
    ]
    if not convs:
        raise ValueError(f"cannot infer the channels of a stage without convolutions: {stage}")
    return convs[-1].out_channels


def add_at_bottlenecks(model: nn.Module, name: str, make: Callable[[int], nn.Module]) -> nn.Module:
    """Append ``make(C)`` to every ResNet stage but the last, as the submodule ``name``
    (``layer1.bam``, ...), C being the channels the stage produces; return the model.

    Appended, the modules leave the names of the existing weights as they were, so a trained
    plain network's state dict still loads into its version with attention (``strict=False``,
    or load before adding it).
    """
    stages = resnet_stages(model)
    for stage in stages[:-1]:
        existing = getattr(stage, name, None)
        if existing is not None:
            raise ValueError(
                f"this model already has {type(existing).__name__} modules at its bottlenecks; "
                "add them once"
            )
        stage.add_module(name, make(out_channels(stage)))
    return model


Branches = Literal["both", "channel", "spatial"]


def bam_layer(channels: int, branches: Branches = "both", **bam_kwargs) -> BAM:
    """A ``BAM``, or with ``branches="channel"`` / ``"spatial"`` a ``SingleBranchBAM``."""
    if branches == "both":
        return BAM(channels, **bam_kwargs)
    if branches in ("channel", "spatial"):
        return SingleBranchBAM(channels, branches, **bam_kwargs)
    raise ValueError(f"branches must be 'both', 'channel' or 'spatial', got {branches!r}")


def torchvision_last_bn(block: nn.Module) -> nn.BatchNorm2d | None:
    """The last BatchNorm of a torchvision ``BasicBlock`` or ``Bottleneck``; None for others."""
    # Such a block exists only once torchvision's resnet module is imported, so importing bam
    # need not import torchvision (over a second, in every kernel and command line).
    tv = sys.modules.get("torchvision.models.resnet")
    if tv is not None and isinstance(block, tv.Bottleneck):
        return block.bn3
    if tv is not None and isinstance(block, tv.BasicBlock):
        return block.bn2
    return None


class ApplyAttention:
    """Forward hook for a torchvision block's last BatchNorm: its output ``y`` becomes ``A(y)``."""

    def __init__(self, attention: nn.Module) -> None:
        self.attention = attention

    def __call__(self, _bn: nn.Module, _inputs, output):
        return self.attention(output)


def add_block_attention(model: nn.Module, make: Callable[[int], nn.Module]) -> nn.Module:
    """Put ``make(C)`` on the residual branch of every block of every stage; return the model.

    C is the number of channels the branch produces. Works with the blocks of ``bam.models``
    and torchvision's ``BasicBlock`` and ``Bottleneck``; a ``BAM`` that ``add_bam`` appended to
    a stage is left alone.
    """
    for stage in resnet_stages(model):
        for block in stage:
            if isinstance(block, BAM):
                continue
            existing = getattr(block, "attention", None)
            if existing is not None and not isinstance(existing, nn.Identity):
                raise ValueError(
                    f"{type(block).__name__} already has an attention module "
                    f"({type(existing).__name__}); add attention to a model once"
                )
            last_bn = torchvision_last_bn(block)
            if isinstance(existing, nn.Identity):
                block.attention = make(block.conv2.out_channels)
            elif last_bn is not None:
                block.attention = make(last_bn.num_features)
                last_bn.register_forward_hook(ApplyAttention(block.attention))
            else:
                raise ValueError(
                    f"do not know where the residual branch of {type(block).__name__} ends; "
                    "give the block an `attention` attribute (nn.Identity() by default) that its "
                    "forward applies to the branch before the addition"
                )
    return model


Placement = Literal["bottlenecks", "every block"]


@dataclass(frozen=True)
class AttentionType:
    """An attention type: ``build(C, **kwargs)`` makes its module for C channels, and
    ``placement`` says where it goes: at the ``"bottlenecks"`` (``add_at_bottlenecks``, under
    the type's name) or in ``"every block"`` (``add_block_attention``)."""

    build: Callable[..., nn.Module]
    placement: Placement


# Name -> attention type: a new type is one line here (and its module in bam.layers).
ATTENTION: dict[str, AttentionType] = {
    "bam": AttentionType(bam_layer, "bottlenecks"),
    "bamblock": AttentionType(bam_layer, "every block"),
    "se": AttentionType(SqueezeExcite, "every block"),
    "cbam": AttentionType(CBAM, "every block"),
}


def add_attention(model: nn.Module, name: str, **kwargs) -> nn.Module:
    """Put the attention type ``name`` of ``ATTENTION`` where it goes in ``model``, ``kwargs``
    going to every module it builds; return the model."""
    if name not in ATTENTION:
        raise ValueError(f"unknown attention {name!r}; choose one of {', '.join(ATTENTION)}")
    kind = ATTENTION[name]
    make = partial(kind.build, **kwargs)
    if kind.placement == "bottlenecks":
        return add_at_bottlenecks(model, name, make)
    return add_block_attention(model, make)


def add_bam(model: nn.Module, **bam_kwargs) -> nn.Module:
    """Insert a ``BAM`` at the end of every ResNet stage but the last; return the model.

    Each BAM is appended to its stage under the name ``bam`` (``layer1.bam``, ...), so the
    names of the existing weights do not change and a trained plain network's state dict still
    loads into its BAM version (``strict=False``, or load before adding BAM).
    ``bam_kwargs`` go to every ``BAM`` (``reduction``, ``dilation``, ``combine``, ...);
    ``branches="channel"`` or ``"spatial"`` builds the one-branch ablation (see ``bam_layer``).
    """
    return add_attention(model, "bam", **bam_kwargs)


def add_se(model: nn.Module, **se_kwargs) -> nn.Module:
    """A ``SqueezeExcite`` in every residual block (``se_kwargs``: ``reduction``)."""
    return add_attention(model, "se", **se_kwargs)


def add_cbam(model: nn.Module, **cbam_kwargs) -> nn.Module:
    """A ``CBAM`` in every residual block (``cbam_kwargs``: ``reduction``, ``kernel_size``)."""
    return add_attention(model, "cbam", **cbam_kwargs)


def add_bam_every_block(model: nn.Module, **bam_kwargs) -> nn.Module:
    """A ``BAM`` in every residual block, where SE and CBAM go, instead of at the bottlenecks.

    The paper's ablation (Park et al., 2018, section 4.1) compares the two placements; it does
    not say where inside the block it put BAM, so it goes where its peers go.
    """
    return add_attention(model, "bamblock", **bam_kwargs)
