"""Does BAM's attention point at the object? Measures on images whose object mask is known.

- energy share, on the map upsampled to the image size (bilinear), where the mask lives:
  ``sum(E * mask) / sum(E)`` with ``E = map - min(map)``. BAM's gain is ``1 + M(F)`` with
  ``M`` in (0, 1): a constant part of ``M`` amplifies every position alike and says nothing
  about *where*; what singles out places is the excess over the least amplified position,
  hence the minimum is subtracted (this also puts logits, gates and Grad-CAM maps on one
  footing: shifting a map changes nothing). A map equal to the mask gives 1; a uniform map
  gives exactly the mask's area fraction, so the *lift* ``share / area`` is 1 for a map that
  prefers no place, and ``1 / area`` at most.
- pointing game (Zhang et al., ECCV 2016): does the map's maximum fall in the object? The
  maximum is found at the map's own resolution and stands for the image pixels its cell covers
  (a 16x16 map's cell is a 2x2 block of a 32x32 image); a hit counts within ``tolerance``
  pixels of the mask (Chebyshev distance; 1 pixel by default, at 32x32). Not the maximum of the
  upsampled map: bilinear upsampling averages neighbours inside the image but copies them on
  its outer frame, so the maximum of an upsampled noise map lands on the frame far more often
  than the frame's share of the area.
- the same for the minimum: BAM's gate never goes below 1, so attention can also work by
  amplifying the object *less* than the rest, and then the minimum is where to look.
- border: the share of maxima (or minima) on the outer ``border`` pixels of the map, at the
  map's own resolution, where the zero padding of the dilated convolutions acts; to compare
  with the frame's share of the area.

When several positions share the extreme value (within 1e-6 of the map's range), each gets an
equal part of the vote: a constant map points at every pixel at once, not at its first one.

    python -m bam.localisation    # lesson 07's network, as shipped; --checkpoint DIR for another
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bam.capture import recording_attention
from bam.gradcam import grad_cam
from bam.maps import (
    SPATIAL_KINDS,
    check_kind,
    concat_maps,
    spatial_map,
    stage_label,
    upsample,
)
from bam.runtime import inference_batch, model_device
from bam.tables import text_table

TIE = 1e-6


def _masks(masks: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` bool masks from ``(B, H, W)`` or ``(B, 1, H, W)``, none of them empty."""
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    if masks.ndim != 3:
        raise ValueError(f"expected masks (B, H, W) or (B, 1, H, W), got {tuple(masks.shape)}")
    masks = masks.bool()
    if not masks.flatten(1).any(1).all():
        raise ValueError("every mask needs at least one object pixel; drop the empty ones")
    return masks


def _check(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    masks = _masks(masks)
    if maps.ndim != 3 or masks.shape != maps.shape:
        raise ValueError(
            f"expected maps and masks of the same shape (B, H, W) (masks may be (B, 1, H, W)), "
            f"got maps {tuple(maps.shape)} and masks {tuple(masks.shape)}; upsample the maps "
            "to the image size first (bam.maps.upsample)"
        )
    return maps.float(), masks


def to_energy(maps: torch.Tensor) -> torch.Tensor:
    """``map - min(map)`` per image: non-negative, zero at the least attended position."""
    return maps - maps.amin((-2, -1), keepdim=True)


def area_fraction(masks: torch.Tensor) -> torch.Tensor:
    """The share of each image the object covers, ``(B,)``."""
    masks = masks[:, 0] if masks.ndim == 4 else masks
    return masks.float().mean((-2, -1))


def energy_share(energy: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``sum(E * mask) / sum(E)`` per image for non-negative maps ``E`` ``(B, H, W)``.

    1 when all energy lies on the object, the area fraction for a uniform map. An all-zero map
    (what ``to_energy`` makes of a constant one) prefers no place and gets the area fraction.
    """
    energy, masks = _check(energy, masks)
    if (energy < 0).any():
        raise ValueError("energy maps must be non-negative; pass them through to_energy first")
    total = energy.sum((-2, -1))
    inside = (energy * masks).sum((-2, -1))
    return torch.where(total > 0, inside / total.clamp_min(1e-12), area_fraction(masks))


def dilate(masks: torch.Tensor, tolerance: int = 1) -> torch.Tensor:
    """Grow ``(B, H, W)`` masks by ``tolerance`` pixels in every direction (Chebyshev)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be 0 or more pixels, got {tolerance}")
    if tolerance == 0:
        return masks.bool()
    grown = F.max_pool2d(masks.float()[:, None], 2 * tolerance + 1, stride=1, padding=tolerance)
    return grown[:, 0].bool()


def extremes(maps: torch.Tensor, lowest: bool = False) -> torch.Tensor:
    """Where each ``(B, H, W)`` map takes its maximum (or minimum), ties included, as a weight
    map that sums to 1 per image."""
    low = maps.amin((-2, -1), keepdim=True)
    high = maps.amax((-2, -1), keepdim=True)
    slack = TIE * (high - low).clamp_min(1e-12)
    at = maps <= low + slack if lowest else maps >= high - slack
    return at.float() / at.float().sum((-2, -1), keepdim=True)


def pointing(
    maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 1, lowest: bool = False
) -> torch.Tensor:
    """Pointing game per image, ``(B,)`` in [0, 1]: 1 when the map's maximum (or minimum, with
    ``lowest``) lies within ``tolerance`` pixels of the object; ties share the vote.

    ``maps`` ``(B, h, w)`` may be coarser than ``masks`` ``(B, H, W)``: the extreme cell's vote
    is spread evenly over the image pixels it covers.
    """
    masks = _masks(masks)
    if maps.ndim != 3 or len(maps) != len(masks):
        raise ValueError(f"expected maps (B, h, w) for {len(masks)} masks, got {tuple(maps.shape)}")
    votes = F.interpolate(extremes(maps.float(), lowest)[:, None], masks.shape[-2:])[:, 0]
    votes = votes / votes.sum((-2, -1), keepdim=True)
    return (votes * dilate(masks, tolerance)).sum((-2, -1))


def border_frame(height: int, width: int, border: int = 2) -> torch.Tensor:
    """A ``(height, width)`` bool map of the outer ``border`` pixels."""
    if border < 1 or 2 * border >= min(height, width):
        raise ValueError(
            f"border must be between 1 and {(min(height, width) - 1) // 2} for a "
            f"{height}x{width} map, got {border}"
        )
    frame = torch.ones(height, width, dtype=torch.bool)
    frame[border:-border, border:-border] = False
    return frame


def on_border(maps: torch.Tensor, border: int = 2, lowest: bool = False) -> torch.Tensor:
    """Per image, ``(B,)``: the share of the map's maximum (or minimum) on its outer frame."""
    frame = border_frame(*maps.shape[-2:], border=border)
    return (extremes(maps.float(), lowest) * frame).sum((-2, -1))


def random_maps(n: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Independent uniform noise maps ``(n, height, width)``: attention that means nothing."""
    return torch.rand(n, height, width, generator=torch.Generator().manual_seed(seed))


def centre_prior(n: int, height: int, width: int, sigma: float = 0.25) -> torch.Tensor:
    """A Gaussian bump at the centre, ``sigma`` a fraction of the side: "objects are central"."""
    y = (torch.arange(height) - (height - 1) / 2) / (sigma * height)
    x = (torch.arange(width) - (width - 1) / 2) / (sigma * width)
    bump = torch.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))
    return bump.expand(n, height, width)


@dataclass
class Row:
    """Localisation of one kind of map, averaged over the images (see the module docstring)."""

    source: str
    stage: str
    energy: float
    lift: float
    argmax_in: float
    argmin_in: float
    argmax_border: float
    argmin_border: float
    border_area: float


def measure(
    source: str,
    stage: str,
    maps: torch.Tensor,
    masks: torch.Tensor,
    tolerance: int = 1,
    border: int = 2,
) -> Row:
    """Every measure for ``(B, h, w)`` maps at their own resolution against ``masks``."""
    if maps.ndim != 3:
        raise ValueError(f"expected maps of shape (B, h, w), got {tuple(maps.shape)}")
    masks = _masks(masks)
    big = upsample(maps.float(), tuple(masks.shape[-2:]))
    share = energy_share(to_energy(big), masks)
    return Row(
        source=source,
        stage=stage,
        energy=share.mean().item(),
        lift=(share / area_fraction(masks)).mean().item(),
        argmax_in=pointing(maps, masks, tolerance).mean().item(),
        argmin_in=pointing(maps, masks, tolerance, lowest=True).mean().item(),
        argmax_border=on_border(maps, border).mean().item(),
        argmin_border=on_border(maps, border, lowest=True).mean().item(),
        border_area=border_frame(*maps.shape[-2:], border=border).float().mean().item(),
    )


def compare(
    models: dict[str, nn.Module],
    images: torch.Tensor,
    masks: torch.Tensor,
    kind: str = "attention",
    tolerance: int = 1,
    border: int = 2,
    seed: int = 0,
) -> list[Row]:
    """Rows for every BAM stage of every model, Grad-CAM on each model's last stage, and the
    random and centre-prior baselines at each stage's resolution.

    ``images`` are normalised model inputs ``(B, 3, H, W)``, ``masks`` their object masks.
    """
    check_kind(kind, SPATIAL_KINDS)
    if len(images) != len(masks):
        raise ValueError(f"got {len(images)} images but {len(masks)} masks")
    rows, sizes = [], {}
    for source, model in models.items():
        parts, cams = [], []
        # One forward pass per batch gives the maps and Grad-CAM.
        for chunk in images.split(inference_batch(model_device(model))):
            with recording_attention(model) as batch_maps:
                cams.append(grad_cam(model, chunk)[0])
            parts.append(batch_maps)
        maps, cams = concat_maps(parts), torch.cat(cams)
        for name, m in maps.items():
            stage = stage_label(name, maps)
            sizes[stage] = tuple(m.spatial.shape[-2:])
            rows.append(measure(source, stage, spatial_map(m, kind), masks, tolerance, border))
        h, w = cams.shape[-2:]
        rows.append(measure(source, f"Grad-CAM ({h}x{w})", cams, masks, tolerance, border))
    n = len(images)
    for stage, (h, w) in sizes.items():
        rows.append(measure("random", stage, random_maps(n, h, w, seed), masks, tolerance, border))
        rows.append(measure("centre", stage, centre_prior(n, h, w), masks, tolerance, border))
    return rows


def format_table(rows: list[Row], masks: torch.Tensor, tolerance: int = 1) -> str:
    """A plain-text table of ``rows``, with the chance levels of these masks underneath."""
    header = ["maps", "stage", "energy", "lift", "max in", "min in", "max bd", "min bd", "bd area"]
    cells = [
        [r.source, r.stage, f"{r.energy:.3f}", f"{r.lift:.2f}"]
        + [f"{v:.3f}" for v in (r.argmax_in, r.argmin_in, r.argmax_border, r.argmin_border)]
        + [f"{r.border_area:.3f}"]
        for r in rows
    ]
    widths = (10, 18, 6, 5, 6, 6, 6, 6, 7)
    lines = [text_table(header, cells, left=2, widths=widths, gap=1, rule="line")]
    masks = masks[:, 0] if masks.ndim == 4 else masks
    area = area_fraction(masks).mean().item()
    grown = area_fraction(dilate(masks, tolerance)).mean().item()
    lines.append(
        f"chance: energy = object area {area:.3f} (lift 1.00); max/min in object = area "
        f"within {tolerance} px {grown:.3f}; on border = bd area"
    )
    return "\n".join(lines)


if __name__ == "__main__":  # the command itself is bam.commands.localisation
    from bam import cli
    from bam.commands import localisation

    cli.run(localisation.main, localisation.PROG)
