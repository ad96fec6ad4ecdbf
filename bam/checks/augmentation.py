"""The check of lesson 06: the batch-wise random crop of the training data.

check_crop(crop_batch)   a batch cropped at per-image offsets, like ``bam.data.crop_flip``
                         without flips
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bam.checks.speaking import CheckFailed, raise_if_unfinished


def check_crop(fn: Callable[..., torch.Tensor]) -> None:
    """Check ``fn(images, top, left, padding)`` against ``bam.data.crop_flip`` without flips:
    image i cropped from its zero-padded copy at (top[i], left[i]), same shape as the input."""
    from bam.data.loader import crop_flip

    g = torch.Generator().manual_seed(0)
    for b, (h, w), padding in ((16, (32, 32), 4), (5, (12, 20), 2)):
        images = torch.randint(1, 256, (b, 3, h, w), dtype=torch.uint8, generator=g)
        top, left = torch.randint(0, 2 * padding + 1, (2, b), generator=g)
        where = f"{b} images of {h}x{w}, padding {padding}"
        try:
            out = fn(images, top, left, padding)
        except Exception as err:
            raise_if_unfinished(err)
            raise CheckFailed(f"{where}: {type(err).__name__}: {err}") from err
        if not isinstance(out, torch.Tensor) or out.shape != images.shape:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise CheckFailed(
                f"{where}: expected the input's shape {tuple(images.shape)}, got {shape}"
            )
        expected = crop_flip(images, top, left, torch.zeros(b, dtype=torch.bool), padding)
        if torch.equal(out, expected):
            continue
        if torch.equal(
            out, crop_flip(images, left, top, torch.zeros(b, dtype=torch.bool), padding)
        ):
            raise CheckFailed(f"{where}: top and left are swapped: top moves rows (dim 2)")
        if out.dtype != images.dtype:
            raise CheckFailed(f"{where}: keep the dtype ({images.dtype}), got {out.dtype}")
        wrong = int((out != expected).flatten(1).any(1).nonzero()[0])
        t, left_i = int(top[wrong]), int(left[wrong])
        raise CheckFailed(
            f"{where}: image {wrong} differs: expected rows {t}...{t + h - 1} and columns "
            f"{left_i}...{left_i + w - 1} of the image padded with zeros on every side"
        )
    print("check_crop: ok (square and non-square images, two paddings)")
