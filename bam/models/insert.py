"""Put BAM where the paper puts it: at each bottleneck of a ResNet (Park et al., BMVC 2018,
section 3), i.e. after every stage but the last, where the spatial size is about to shrink."""

from __future__ import annotations

from torch import nn

from bam.layers.bam import BAM

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
    convs = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"cannot infer the channels of a stage without convolutions: {stage}")
    return convs[-1].out_channels


def add_bam(model: nn.Module, **bam_kwargs) -> nn.Module:
    """Insert a ``BAM`` at the end of every ResNet stage but the last; return the model.

    Each BAM is appended to its stage under the name ``bam`` (``layer1.bam``, ...), so the
    names of the existing weights do not change and a trained plain network's state dict still
    loads into its BAM version (``strict=False``, or load before adding BAM).
    ``bam_kwargs`` go to every ``BAM`` (``reduction``, ``dilation``, ``combine``, ...).
    """
    stages = resnet_stages(model)
    for stage in stages[:-1]:
        if hasattr(stage, "bam"):
            raise ValueError("this model already has BAM modules; add_bam must be called once")
        stage.add_module("bam", BAM(out_channels(stage), **bam_kwargs))
    return model
