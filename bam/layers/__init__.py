"""Attention layers: BAM and its two branches, and its peers SE and CBAM."""

from bam.layers.bam import BAM
from bam.layers.cbam import CBAM
from bam.layers.channel_gate import ChannelGate
from bam.layers.se import SqueezeExcite
from bam.layers.single_branch import SingleBranchBAM
from bam.layers.spatial_gate import SpatialGate

__all__ = ["BAM", "CBAM", "ChannelGate", "SingleBranchBAM", "SpatialGate", "SqueezeExcite"]
