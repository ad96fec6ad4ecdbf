"""Attention layers: BAM and its two branches."""

from bam.layers.bam import BAM
from bam.layers.channel_gate import ChannelGate
from bam.layers.spatial_gate import SpatialGate

__all__ = ["BAM", "ChannelGate", "SpatialGate"]
