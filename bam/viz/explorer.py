"""An interactive explorer of BAM's maps: pick an image, a stage and a kind of map.

``explorer_state`` decides what is shown (a plain function the tests call), ``draw_state``
draws it, and ``explorer`` wires both to core ipywidgets (an ``IntSlider``, ``ToggleButtons``,
a ``Dropdown`` and an ``Output``), which work in JupyterLab, Jupyter Notebook and Colab.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from bam.capture import AttentionMaps
from bam.viz.maps import (
    KINDS,
    channel_weights,
    check_kind,
    colour_range,
    spatial_map,
    stage_label,
    upsample,
)
from bam.viz.plots import MAP_CMAP, NotebookFigure, _gray, _outline, label_title, to_rgb


def explorer_state(
    maps: dict[str, AttentionMaps],
    images: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    index: int,
    stage: str,
    kind: str,
    class_names: Sequence[str] | None = None,
) -> dict:
    """What the explorer shows for image ``index``, BAM ``stage`` and map ``kind``.

    Returns a dict with ``title`` (true and predicted label), ``subtitle`` (stage and kind),
    ``image`` (``(H, W, 3)`` in [0, 1]), ``array`` (the 2-D array drawn: ``(H, W)`` upsampled
    for spatial kinds, ``(1, C)`` for ``"channel"``), ``vmin``/``vmax`` (the colour range:
    1% to 99% of the values of the whole batch, so that moving the slider keeps the scale),
    ``overlay`` (whether ``array`` is drawn over the image), ``bar_label`` (what the colour bar
    measures) and ``correct``.
    """
    if not 0 <= index < len(images):
        raise ValueError(f"index must be in [0, {len(images) - 1}], got {index}")
    if stage not in maps:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(maps)}")
    check_kind(kind)
    size = tuple(images.shape[-2:])
    if kind == "channel":
        batch = channel_weights(maps[stage])
        array = batch[index][None]
    else:
        batch = spatial_map(maps[stage], kind)
        array = upsample(batch[index][None].float(), size)[0]
    low, high = colour_range(batch)
    label, pred = int(labels[index]), int(preds[index])
    h, w = maps[stage].spatial.shape[-2:]
    if kind == "channel":
        where = ""
    elif (h, w) == size:
        where = "\nat the image's resolution"
    else:
        where = f"\nupsampled to {size[0]}x{size[1]}"
    return {
        "title": f"image {index}: {label_title(label, pred, class_names)}",
        "subtitle": f"{stage_label(stage, maps)} · {KINDS[kind]}{where}",
        "image": to_rgb(images[index][None])[0],
        "array": array.numpy(),
        "vmin": low,
        "vmax": high,
        "overlay": kind != "channel",
        "bar_label": KINDS[kind],
        "correct": label == pred,
    }


def draw_state(state: dict, mask: torch.Tensor | None = None) -> NotebookFigure:
    """The explorer's figure for one ``explorer_state``: the image, then the map."""
    fig = NotebookFigure(figsize=(7.0, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.25))
    left.imshow(state["image"])
    left.set_title(state["title"], fontsize=10, color="black" if state["correct"] else "firebrick")
    range_ = {"vmin": state["vmin"], "vmax": state["vmax"]}
    if state["overlay"]:
        right.imshow(_gray(state["image"]), cmap="gray", vmin=0, vmax=1)
        shown = right.imshow(state["array"], cmap=MAP_CMAP, alpha=0.6, **range_)
        _outline(right, mask)
        right.set_xticks([])
        right.set_yticks([])
    else:
        shown = right.imshow(state["array"], cmap="viridis", aspect="auto", **range_)
        right.set_xlabel("channel")
        right.set_yticks([])
    left.set_xticks([])
    left.set_yticks([])
    right.set_title(state["subtitle"], fontsize=10)
    fig.colorbar(shown, ax=right, shrink=0.8, extend="both", label=state["bar_label"])
    return fig


def explorer(
    maps: dict[str, AttentionMaps],
    images: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    class_names: Sequence[str] | None = None,
    masks: torch.Tensor | None = None,
):
    """An ipywidgets box: image slider, stage buttons, kind menu and the figure they choose."""
    import ipywidgets as widgets
    from IPython.display import display

    index = widgets.IntSlider(
        value=0, min=0, max=len(images) - 1, description="image", continuous_update=False
    )
    stage = widgets.ToggleButtons(
        options=[(stage_label(name, maps), name) for name in maps], description="stage"
    )
    kind = widgets.Dropdown(
        options=[(label, key) for key, label in KINDS.items()], value="attention", description="map"
    )
    out = widgets.Output()

    def redraw(_change=None) -> None:
        state = explorer_state(
            maps, images, labels, preds, index.value, stage.value, kind.value, class_names
        )
        fig = draw_state(state, None if masks is None else masks[index.value])
        with out:
            out.clear_output(wait=True)
            display(fig)

    for control in (index, stage, kind):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([index, stage, kind, out])
