"""Turn the maps ``bam.capture_attention`` records into 2-D arrays that can be drawn or measured.

Pure computation, no drawing: ``bam.localisation`` measures these arrays, ``bam.viz`` draws
them, and neither imports the other.

A BAM computes ``M(F) = sigmoid(Mc(F) + Ms(F))`` (Park et al., BMVC 2018, eq. 2) and refines
``F' = F * (1 + M(F))``. Four views of it, by ``kind``:

- ``"spatial"``: the spatial logits ``Ms(F)``, ``(B, h, w)``: where the spatial branch pushes;
- ``"spatial_gate"``: ``sigmoid(Ms(F))``, the gate the spatial branch alone would open;
- ``"attention"``: ``M(F)`` averaged over channels, the extra gain each position really gets;
- ``"channel"``: ``sigmoid(Mc(F))``, ``(B, C)``: one weight per channel, no "where" at all.

With the paper's sum every ``sigmoid(Mc_c + Ms)`` rises with ``Ms``, so the first three views
share their argmax and argmin; they differ in scale, which matters for energy measures.
"""

from __future__ import annotations

from dataclasses import fields

import torch
import torch.nn.functional as F
from torch import nn

from bam.capture import AttentionMaps, capture_attention
from bam.runtime import eval_mode, inference_batch, model_device

KINDS: dict[str, str] = {
    "spatial": "spatial logits Ms(F)",
    "spatial_gate": "sigmoid(Ms(F))",
    "attention": "M(F), mean over channels",
    "channel": "channel gate sigmoid(Mc(F))",
}
SPATIAL_KINDS = ("spatial", "spatial_gate", "attention")


def check_kind(kind: str, allowed: tuple[str, ...] = tuple(KINDS)) -> None:
    if kind not in allowed:
        raise ValueError(f"unknown map kind {kind!r}; choose one of {', '.join(allowed)}")


def spatial_map(maps: AttentionMaps, kind: str = "attention") -> torch.Tensor:
    """One ``(B, h, w)`` map per image at the BAM's own resolution."""
    check_kind(kind, SPATIAL_KINDS)
    if kind == "spatial":
        return maps.spatial[:, 0]
    if kind == "spatial_gate":
        return torch.sigmoid(maps.spatial[:, 0])
    return maps.attention.mean(1)


def channel_weights(maps: AttentionMaps) -> torch.Tensor:
    """``sigmoid(Mc(F))`` as ``(B, C)``: the gain the channel branch alone gives each channel."""
    return torch.sigmoid(maps.channel.flatten(1))


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, h, w)`` maps to ``size = (H, W)`` by bilinear interpolation."""
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (B, h, w), got {tuple(maps.shape)}")
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=size, mode="bilinear", align_corners=False)[:, 0]


def stage_label(name: str, maps: dict[str, AttentionMaps]) -> str:
    """A short label for a BAM: ``"stage 1 (32x32)"`` for the first one of a model."""
    index = list(maps).index(name) + 1  # the maps come in network order
    h, w = maps[name].spatial.shape[-2:]
    return f"stage {index} ({h}x{w})"


def concat_maps(parts: list[dict[str, AttentionMaps]]) -> dict[str, AttentionMaps]:
    """The maps of several batches, joined batch after batch."""
    return {
        name: AttentionMaps(
            *(torch.cat([getattr(p[name], f.name) for p in parts]) for f in fields(AttentionMaps))
        )
        for name in parts[0]
    }


@torch.no_grad()
def collect(model: nn.Module, images: torch.Tensor, batch_size: int | None = None):
    """Predictions and BAM maps for ``images`` in eval mode, batch by batch.

    Returns ``(preds, maps)``: ``preds`` is ``(B,)`` on the CPU, ``maps`` is
    ``{name: AttentionMaps}`` with every tensor on the CPU. The model's mode is restored.
    ``batch_size`` defaults to ``bam.runtime.inference_batch``.
    """
    if len(images) == 0:
        raise ValueError("collect needs at least one image, got an empty batch")
    device = model_device(model)
    batch_size = batch_size or inference_batch(device)
    preds, parts = [], []
    with eval_mode(model):
        for start in range(0, len(images), batch_size):
            logits, maps = capture_attention(model, images[start : start + batch_size].to(device))
            preds.append(logits.argmax(1).cpu())
            parts.append(maps)
    return torch.cat(preds), concat_maps(parts)
