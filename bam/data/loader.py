"""A loader that keeps the whole dataset on the training device and augments batch-wise.

CIFAR-sized sets fit in memory many times over (50,000 x 3 x 32 x 32 uint8 is 150 MB), so
there is no need for worker processes decoding one image at a time: each batch is one index
into the uint8 tensor, one gather that does the random crop and the horizontal flip for every
image at once, and one conversion to normalised floats.

The augmentation is the standard CIFAR one (He et al., CVPR 2016, section 4.2): pad 4 pixels
with zeros, crop a random 32x32 window, flip horizontally with probability 1/2.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from bam.data.dataset import ImageSet, pixel_affine


def crop_flip(
    images: torch.Tensor,
    top: torch.Tensor,
    left: torch.Tensor,
    flip: torch.Tensor,
    padding: int = 4,
) -> torch.Tensor:
    """Crop image i of ``images`` (B, C, H, W) at (``top[i]``, ``left[i]``) of its zero-padded
    copy, mirrored left-right where ``flip[i]``; the result has the input's shape.

    ``top`` and ``left`` are in [0, 2 * padding]: ``padding`` is the centred, unshifted crop.
    Crop and flip are one gather over all images: no Python loop over the batch.
    """
    b, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    width = w + 2 * padding
    rows = top.view(b, 1, 1) + torch.arange(h, device=images.device).view(1, h, 1)
    cols = torch.arange(w, device=images.device).view(1, 1, w)
    cols = torch.where(flip.view(b, 1, 1), w - 1 - cols, cols) + left.view(b, 1, 1)
    index = (rows * width + cols).view(b, 1, h * w).expand(b, c, h * w)
    return padded.view(b, c, -1).gather(2, index).view(b, c, h, w)


def random_crop_flip(
    images: torch.Tensor, generator: torch.Generator, padding: int = 4, flip: bool = True
) -> torch.Tensor:
    """Random crop (``padding`` pixels of zero padding) and, if ``flip``, a random horizontal
    flip of every image, drawn from ``generator`` (a CPU generator, so runs repeat anywhere)."""
    b = len(images)
    top, left = torch.randint(0, 2 * padding + 1, (2, b), generator=generator)
    mirror = torch.rand(b, generator=generator) < 0.5 if flip else torch.zeros(b, dtype=torch.bool)
    device = images.device
    return crop_flip(images, top.to(device), left.to(device), mirror.to(device), padding)


class Loader:
    """Batches ``(x, y)`` of an ImageSet: ``x`` normalised float ``(B, C, H, W)`` on ``device``,
    ``y`` int64 labels.

    Args:
        dataset: the images; they are copied to ``device`` once.
        batch_size: images per batch.
        train: shuffle, augment (random crop and flip) and drop the last incomplete batch
            (BatchNorm needs more than one image); otherwise batches come in order, unchanged.
        device: where batches live; defaults to the CPU.
        seed: seeds the loader's own generator (shuffling and augmentation).
        normalize_like: the set whose mean and std normalise the images (the training set,
            when this loader serves a test set); defaults to ``dataset``.
        padding: crop padding in pixels (0 turns cropping off).
        flip: random horizontal flips.
        channels_last: give ``x`` the channels-last memory format (faster convolutions on
            CUDA with mixed precision).
    """

    def __init__(
        self,
        dataset: ImageSet,
        batch_size: int = 128,
        *,
        train: bool = False,
        device: torch.device | str | None = None,
        seed: int = 0,
        normalize_like: ImageSet | None = None,
        padding: int = 4,
        flip: bool = True,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if padding < 0:
            raise ValueError(f"padding must be 0 or more, got {padding}")
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.images = dataset.images.to(self.device)
        self.labels = dataset.labels.to(self.device)
        self.batch_size = min(batch_size, len(dataset))
        if train and self.batch_size < 2:
            raise ValueError("a training loader needs at least 2 images: BatchNorm needs a batch")
        self.train, self.padding, self.flip = train, padding, flip
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)
        stats = normalize_like if normalize_like is not None else dataset
        self._offset, self._scale = pixel_affine(stats.mean, stats.std, self.device)

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        if self.train:
            order = torch.randperm(n, generator=self.generator).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            x = self.images[index]
            if self.train:
                x = random_crop_flip(x, self.generator, self.padding, self.flip)
            x = (x.float() - self._offset) * self._scale
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[index]
