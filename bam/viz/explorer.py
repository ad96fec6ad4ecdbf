"""An interactive explorer of BAM's maps: pick an image, a stage and a kind of map.

``explorer_state`` decides what is shown (a plain function the tests call), ``draw_state``
draws it, and ``explorer`` wires both to core ipywidgets (an ``IntSlider``, ``ToggleButtons``,
a ``Dropdown`` and an ``Output``), which work in JupyterLab, Jupyter Notebook and Colab.
``explorer_grid`` draws every choice for a few images at once from the same states: the
explorer's stand-in where widgets cannot run, such as the rendered course (``BAM_STATIC=1``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import torch

from bam.capture import AttentionMaps
from bam.maps import KINDS, channel_weights, check_kind, spatial_map, stage_label, upsample
from bam.runtime import static_page
from bam.viz.plots import (
    MAP_CMAP,
    NotebookFigure,
    _gray,
    _outline,
    colour_range,
    label_title,
    to_rgb,
)


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


def _draw_map(ax, state: dict, mask: torch.Tensor | None = None):
    """The map of one ``explorer_state`` on ``ax``: over a grey copy of the image for spatial
    kinds, as a strip for the channel gate. Returns the image artist, for a colour bar."""
    range_ = {"vmin": state["vmin"], "vmax": state["vmax"]}
    if state["overlay"]:
        ax.imshow(_gray(state["image"]), cmap="gray", vmin=0, vmax=1)
        shown = ax.imshow(state["array"], cmap=MAP_CMAP, alpha=0.6, **range_)
        _outline(ax, mask)
        ax.set_xticks([])
    else:
        shown = ax.imshow(state["array"], cmap="viridis", aspect="auto", **range_)
        ax.set_xlabel("channel")
    ax.set_yticks([])
    return shown


def _draw_image(ax, state: dict, fontsize: float, title: str | None = None) -> None:
    ax.imshow(state["image"])
    colour = "black" if state["correct"] else "firebrick"
    ax.set_title(state["title"] if title is None else title, fontsize=fontsize, color=colour)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_state(state: dict, mask: torch.Tensor | None = None) -> NotebookFigure:
    """The explorer's figure for one ``explorer_state``: the image, then the map."""
    fig = NotebookFigure(figsize=(7.0, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(1, 1.25))
    _draw_image(left, state, fontsize=10)
    shown = _draw_map(right, state, mask)
    right.set_title(state["subtitle"], fontsize=10)
    fig.colorbar(shown, ax=right, shrink=0.8, extend="both", label=state["bar_label"])
    return fig


def explorer_grid(
    maps: dict[str, AttentionMaps],
    images: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    *,
    kinds: Sequence[str] = tuple(KINDS),
    indices: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    masks: torch.Tensor | None = None,
) -> NotebookFigure:
    """Everything the explorer can show for the images ``indices`` (default: the first three),
    in one static figure.

    One block per BAM stage; in a block one row per image: the image, then one column per map
    ``kind``, each drawn as the explorer draws it (same ``explorer_state``, same colour range
    over the whole batch, shown by the bar under the column).
    """
    for kind in kinds:
        check_kind(kind)
    indices = range(min(3, len(images))) if indices is None else indices
    n, cols = len(indices), len(kinds) + 1
    # Shown at a page's column width (about 7 inches): 8-point text is the smallest that
    # stays readable there.
    size = (1.6 * cols + 0.3, (1.65 * n + 1.3) * len(maps))
    fig = NotebookFigure(figsize=size, dpi=110, layout="constrained")
    blocks = fig.subfigures(len(maps), 1, squeeze=False)[:, 0]
    for block, stage in zip(blocks, maps, strict=True):
        axes = block.subplots(n, cols, squeeze=False)
        for row, index in enumerate(indices):
            states = [
                explorer_state(maps, images, labels, preds, index, stage, kind, class_names)
                for kind in kinds
            ]
            title = textwrap.fill(states[0]["title"], 20)  # a narrow column: a few lines
            _draw_image(axes[row, 0], states[0], fontsize=8, title=title)
            mask = None if masks is None else masks[index]
            for col, state in enumerate(states, start=1):
                ax = axes[row, col]
                _draw_map(ax, state, mask)
                ax.tick_params(labelsize=8)
                if row < n - 1:  # the channel axis is labelled once, under the last image
                    ax.set_xlabel("")
                    ax.set_xticks([])
        for col, kind in enumerate(kinds, start=1):
            axes[0, col].set_title(textwrap.fill(KINDS[kind], 16), fontsize=9)
            bar = block.colorbar(
                axes[-1, col].images[-1], ax=axes[:, col], location="bottom", aspect=12
            )
            bar.ax.tick_params(labelsize=8)
        block.suptitle(stage_label(stage, maps), fontsize=11, fontweight="bold")
    return fig


STATIC_NOTE = (
    "*The live explorer needs a running kernel: open this lesson in Jupyter or Colab to pick "
    "any image, stage and map with widgets. Shown here instead: every stage and kind of map for "
    "the first images, drawn by the same code (`viz.explorer_grid`).*"
)


def explorer(
    maps: dict[str, AttentionMaps],
    images: torch.Tensor,
    labels: torch.Tensor,
    preds: torch.Tensor,
    class_names: Sequence[str] | None = None,
    masks: torch.Tensor | None = None,
):
    """An ipywidgets box: image slider, stage buttons, kind menu and the figure they choose.

    On a static page (``BAM_STATIC=1``) it shows a note and returns ``explorer_grid``'s figure.
    """
    from IPython.display import Markdown, display

    if static_page():
        display(Markdown(STATIC_NOTE))
        return explorer_grid(maps, images, labels, preds, class_names=class_names, masks=masks)
    import ipywidgets as widgets

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
