"""Seeing attention: BAM's maps drawn over images, an interactive explorer, and Grad-CAM.

preds, maps = bam.viz.collect(model, images)
bam.viz.plot_attention(images, maps, labels, preds)

The maps themselves are computed in ``bam.maps`` and ``bam.gradcam`` (which measurement uses
too, without drawing); their names are importable from here as well.
"""

from bam.gradcam import grad_cam
from bam.maps import KINDS, channel_weights, collect, spatial_map, stage_label, upsample
from bam.viz.explorer import draw_state, explorer, explorer_grid, explorer_state
from bam.viz.plots import (
    colour_range,
    label_title,
    overlay_grid,
    plot_attention,
    plot_channel_attention,
    plot_hierarchy,
    to_rgb,
)

__all__ = [
    "KINDS",
    "channel_weights",
    "collect",
    "colour_range",
    "draw_state",
    "explorer",
    "explorer_grid",
    "explorer_state",
    "grad_cam",
    "label_title",
    "overlay_grid",
    "plot_attention",
    "plot_channel_attention",
    "plot_hierarchy",
    "spatial_map",
    "stage_label",
    "to_rgb",
    "upsample",
]
