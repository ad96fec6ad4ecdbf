"""A labelled image set held as one uint8 tensor, the form every course dataset takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import torch


@dataclass(eq=False)
class ImageSet:
    """Images, labels and (for Shapes) object masks, held as whole tensors.

    Attributes:
        images: ``(N, 3, H, W)`` uint8 pixels.
        labels: ``(N,)`` int64 class indices.
        classes: the class names, ``classes[label]``.
        mean, std: per-channel statistics of the training split on the [0, 1] scale, used to
            normalise both splits the same way.
        name: what the set is, e.g. ``"cifar10-train"``; it goes into checkpoint fingerprints.
        masks: ``(N, 1, H, W)`` bool object masks, or None when the set has none.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    name: str
    masks: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be a (N, C, H, W) uint8 tensor, got {self.images.dtype} of shape "
                f"{tuple(self.images.shape)}"
            )
        n = len(self.images)
        if self.labels.shape != (n,):
            raise ValueError(
                f"labels must have shape ({n},) to match {n} images, got {tuple(self.labels.shape)}"
            )
        self.labels = self.labels.long()
        if self.masks is not None and self.masks.shape != (n, 1, *self.images.shape[2:]):
            raise ValueError(
                f"masks must have shape {(n, 1, *self.images.shape[2:])}, "
                f"got {tuple(self.masks.shape)}"
            )
        channels = self.images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need {channels} values, one per channel")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.images)

    @cached_property
    def digest(self) -> str:
        """A short SHA-256 of the pixels and labels: two sets that differ in any image or label
        (say, Shapes drawn by an older generator under the same name) get different digests."""
        h = hashlib.sha256()
        for tensor in (self.images, self.labels):
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def subset(self, size: int) -> ImageSet:
        """The first ``size`` images (a smaller run of the same data, e.g. in fast mode)."""
        if not 0 < size <= len(self):
            raise ValueError(f"size must be between 1 and {len(self)}, got {size}")
        masks = None if self.masks is None else self.masks[:size]
        return ImageSet(
            self.images[:size],
            self.labels[:size],
            self.classes,
            self.mean,
            self.std,
            f"{self.name}[:{size}]",
            masks,
        )

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 pixels to float, ``(x / 255 - mean) / std`` per channel, as the Loader does."""
        offset, scale = pixel_affine(self.mean, self.std, images.device)
        return (images.float() - offset) * scale


def pixel_affine(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(offset, scale)``, each ``(C, 1, 1)``, such that ``(x - offset) * scale`` is
    ``(x / 255 - mean) / std`` for uint8 pixels ``x``: the normalisation as one subtraction and
    one multiplication, which is what a loader can afford per batch."""
    offset = torch.tensor(mean, device=device).view(-1, 1, 1) * 255
    scale = 1 / (torch.tensor(std, device=device).view(-1, 1, 1) * 255)
    return offset, scale
