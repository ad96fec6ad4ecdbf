"""BAM: the Bottleneck Attention Module (Park, Woo, Lee, Kweon, BMVC 2018) for PyTorch.

from bam import BAM, add_bam
model = add_bam(torchvision.models.resnet50())

Its peers, for comparison: ``SqueezeExcite`` (Hu et al., CVPR 2018) and ``CBAM`` (Woo et al.,
ECCV 2018), added to a ResNet's blocks by ``add_se`` and ``add_cbam``.
"""

from bam.capture import AttentionMaps, capture_attention
from bam.layers import BAM, CBAM, ChannelGate, SpatialGate, SqueezeExcite
from bam.models import add_bam, add_cbam, add_se

__version__ = "0.1.0"
__all__ = [
    "BAM",
    "CBAM",
    "AttentionMaps",
    "ChannelGate",
    "SpatialGate",
    "SqueezeExcite",
    "add_bam",
    "add_cbam",
    "add_se",
    "capture_attention",
]
