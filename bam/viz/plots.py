"""Figures of BAM's attention: maps over images, channel gates, and the stage-by-stage hierarchy.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing is left
open behind the scenes: a notebook shows the returned figure (as a PNG, see ``NotebookFigure``),
a script calls ``savefig``.
Spatial maps are upsampled to the image size by bilinear interpolation before they are drawn
over the image; the hierarchy view also shows them at their own resolution.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from bam.capture import AttentionMaps
from bam.maps import KINDS, channel_weights, spatial_map, stage_label, upsample

MAP_CMAP = "inferno"


def colour_range(values: torch.Tensor, clip: float = 0.01) -> tuple[float, float]:
    """The ``clip`` and ``1 - clip`` quantiles of ``values``: one colour scale for many maps that
    a few extreme pixels do not wash out (falls back to min and max for a flat batch)."""
    flat = values.detach().float().flatten()
    if flat.numel() > 1_000_000:  # torch.quantile's input limit; a strided sample is plenty
        flat = flat[:: flat.numel() // 1_000_000 + 1]
    low, high = torch.quantile(flat, torch.tensor([clip, 1 - clip])).tolist()
    if high <= low:
        low, high = flat.min().item(), flat.max().item()
    return low, high


class NotebookFigure(Figure):
    """A ``Figure`` that shows itself as a PNG in Jupyter and Colab, with or without pyplot."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def to_rgb(
    images: torch.Tensor,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> np.ndarray:
    """``(B, 3, H, W)`` tensors to ``(B, H, W, 3)`` arrays in [0, 1] for ``imshow``.

    uint8 pixels are divided by 255. With ``mean`` and ``std`` the normalisation
    ``(x - mean) / std`` is undone; without them, images already in [0, 1] are kept and any
    others are stretched to [0, 1] one by one.
    """
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
    x = images.detach().cpu()
    x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
    if mean is not None and std is not None:
        x = x * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    elif x.min() < 0 or x.max() > 1:
        low = x.amin((1, 2, 3), keepdim=True)
        high = x.amax((1, 2, 3), keepdim=True)
        x = (x - low) / (high - low).clamp_min(1e-8)
    return x.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def label_title(
    label: int | None, pred: int | None, class_names: Sequence[str] | None = None
) -> str:
    """``"true circle, predicted square"``; either part is left out when unknown."""

    def name(i: int) -> str:
        return class_names[i] if class_names is not None else str(i)

    parts = []
    if label is not None:
        parts.append(f"true {name(label)}")
    if pred is not None:
        mark = "" if label is None else (" ✓" if pred == label else " ✗")
        parts.append(f"predicted {name(pred)}{mark}")
    return ", ".join(parts)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _outline(ax, mask: torch.Tensor | None) -> None:
    if mask is not None and mask.any() and not mask.all():
        ax.contour(mask.float().numpy(), levels=[0.5], colors="cyan", linewidths=1.0)


def overlay_grid(
    images: torch.Tensor,
    columns: dict[str, torch.Tensor],
    row_titles: Sequence[str] | None = None,
    masks: torch.Tensor | None = None,
    alpha: float = 0.6,
    bar_label: str | None = None,
) -> Figure:
    """One row per image: the image, then each ``(B, h, w)`` map of ``columns`` over it.

    Maps are upsampled to the image size; each column shares one colour range (1% to 99% of its
    values) and colour bar, so the images of a column can be compared. ``masks``
    (``(B, H, W)``) are outlined in cyan. Each colour bar is labelled ``bar_label``, or the last
    line of its column's title.
    """
    rgb = to_rgb(images)
    n, size = len(rgb), rgb.shape[1:3]
    size_inches = (2.0 * (len(columns) + 1) + 0.6, 2.0 * n + 0.4)
    fig = NotebookFigure(figsize=size_inches, layout="constrained")
    axes = fig.subplots(n, len(columns) + 1, squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(rgb[i])
        axes[i, 0].set_title(row_titles[i] if row_titles else f"image {i}", fontsize=10)
    for j, (title, maps) in enumerate(columns.items(), start=1):
        if len(maps) != n:
            raise ValueError(f"column {title!r} has {len(maps)} maps for {n} images")
        big = upsample(maps.float(), size)
        low, high = colour_range(maps)
        for i in range(n):
            axes[i, j].imshow(_gray(rgb[i]), cmap="gray", vmin=0, vmax=1)
            shown = axes[i, j].imshow(
                big[i].numpy(), cmap=MAP_CMAP, alpha=alpha, vmin=low, vmax=high
            )
            _outline(axes[i, j], None if masks is None else masks[i])
        axes[0, j].set_title(title, fontsize=10)
        fig.colorbar(
            shown,
            ax=axes[:, j],
            location="bottom",
            shrink=0.9,
            aspect=15,
            extend="both",
            label=bar_label or title.splitlines()[-1],
        )
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_attention(
    images: torch.Tensor,
    maps: dict[str, AttentionMaps],
    labels: torch.Tensor | None = None,
    preds: torch.Tensor | None = None,
    kind: str = "attention",
    masks: torch.Tensor | None = None,
    class_names: Sequence[str] | None = None,
    max_images: int = 6,
) -> Figure:
    """The first ``max_images`` images with the spatial map of every BAM stage drawn over them.

    ``kind`` is one of ``bam.viz.KINDS`` but ``"channel"``; titles give the true and the
    predicted label where known.
    """
    n = min(max_images, len(images))
    columns = {
        f"{stage_label(name, maps)}\n{KINDS[kind]}": spatial_map(m, kind)[:n]
        for name, m in maps.items()
    }
    titles = [
        label_title(
            None if labels is None else int(labels[i]),
            None if preds is None else int(preds[i]),
            class_names,
        )
        or f"image {i}"
        for i in range(n)
    ]
    masks = None if masks is None else masks[:n]
    return overlay_grid(images[:n], columns, titles, masks, bar_label=KINDS[kind])


def plot_channel_attention(
    maps: dict[str, AttentionMaps],
    labels: torch.Tensor | None = None,
    class_names: Sequence[str] | None = None,
    max_images: int = 24,
) -> Figure:
    """Heat strips of ``sigmoid(Mc(F))``: one row per image, one column per channel, per stage.

    Rows are sorted by true label (when given), so a channel gate that depends on the class
    shows as bands; a gate that ignores the image shows as vertical stripes.
    """
    n = min(max_images, len(next(iter(maps.values())).channel))
    order = torch.arange(n) if labels is None else torch.argsort(labels[:n], stable=True)
    fig = NotebookFigure(figsize=(3.2 * len(maps) + 0.8, 0.18 * n + 1.4), layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    for ax, (name, m) in zip(axes, maps.items(), strict=True):
        weights = channel_weights(m)[:n][order]
        shown = ax.imshow(weights.numpy(), cmap="viridis", aspect="auto", interpolation="nearest")
        ax.set_title(f"{stage_label(name, maps)}: {weights.shape[1]} channels", fontsize=10)
        ax.set_xlabel("channel")
        if labels is not None:
            names = [class_names[i] if class_names else str(i) for i in labels[:n][order].tolist()]
            ax.set_yticks(range(n), names, fontsize=6)
        else:
            ax.set_ylabel("image")
        fig.colorbar(shown, ax=ax, shrink=0.8, label="sigmoid(Mc)")
    return fig


def plot_hierarchy(
    image: torch.Tensor,
    maps: dict[str, AttentionMaps],
    index: int = 0,
    kind: str = "attention",
    mask: torch.Tensor | None = None,
    title: str = "",
) -> Figure:
    """How one image's maps change from stage to stage (the paper's figure 1, in small).

    Top row: each stage's map at its own resolution. Bottom row: the same map upsampled and
    drawn over the image. Each map is scaled to its own [min, max] so the stages can be
    compared by shape; the real range is in each title.
    """
    rgb = to_rgb(image[None])[0]
    fig = NotebookFigure(figsize=(2.3 * (len(maps) + 1) + 0.6, 4.8), layout="constrained")
    axes = fig.subplots(2, len(maps) + 1, squeeze=False)
    axes[0, 0].imshow(rgb)
    axes[0, 0].set_title(title or f"image {index}", fontsize=10)
    axes[1, 0].imshow(rgb)
    _outline(axes[1, 0], mask)
    axes[1, 0].set_title("object outline" if mask is not None else "", fontsize=10)
    for j, (name, m) in enumerate(maps.items(), start=1):
        small = spatial_map(m, kind)[index]
        low, high = small.min().item(), small.max().item()
        relative = (small - low) / max(high - low, 1e-8)
        axes[0, j].imshow(relative.numpy(), cmap=MAP_CMAP, vmin=0, vmax=1, interpolation="nearest")
        axes[0, j].set_title(
            f"{stage_label(name, maps)}\nrange {low:.3g} to {high:.3g}", fontsize=10
        )
        big = upsample(relative[None], rgb.shape[:2])[0]
        axes[1, j].imshow(_gray(rgb), cmap="gray", vmin=0, vmax=1)
        shown = axes[1, j].imshow(big.numpy(), cmap=MAP_CMAP, alpha=0.6, vmin=0, vmax=1)
        _outline(axes[1, j], mask)
    fig.colorbar(shown, ax=axes[:, -1], shrink=0.6, label="relative to the map's own range")
    fig.suptitle(f"{KINDS[kind]}, stage by stage", fontsize=12)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
