"""Seeing attention: BAM's maps drawn over images, an interactive explorer, and Grad-CAM.

preds, maps = bam.viz.collect(model, images)
bam.viz.plot_attention(images, maps, labels, preds)
"""

from bam.viz.explorer import draw_state, explorer, explorer_grid, explorer_state
from bam.viz.gradcam import grad_cam
from bam.viz.maps import (
    KINDS,
    channel_weights,
    collect,
    colour_range,
    spatial_map,
    stage_label,
    upsample,
)
from bam.viz.plots import (
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
