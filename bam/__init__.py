"""BAM: the Bottleneck Attention Module (Park, Woo, Lee, Kweon, BMVC 2018) for PyTorch.

from bam import BAM, add_bam
model = add_bam(torchvision.models.resnet50())
"""

from bam.capture import AttentionMaps, capture_attention
from bam.layers import BAM, ChannelGate, SpatialGate
from bam.models import add_bam

__version__ = "0.1.0"
__all__ = ["BAM", "AttentionMaps", "ChannelGate", "SpatialGate", "add_bam", "capture_attention"]
