"""Argument and input checks shared by the attention layers, with messages that say what to do."""

from __future__ import annotations

import torch


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def hidden_width(channels: int, reduction: int) -> int:
    """Bottleneck width C // r, floored at 1 so that C < r (e.g. 8 channels, r = 16) still works."""
    return max(1, channels // reduction)


def check_feature_map(x: torch.Tensor, channels: int, layer: str) -> None:
    if x.ndim != 4:
        raise ValueError(
            f"{layer} expects a 4-D feature map of shape (B, {channels}, H, W), got a "
            f"{x.ndim}-D tensor of shape {tuple(x.shape)}; add a batch dimension with "
            "x.unsqueeze(0) if you have a single image"
        )
    if x.shape[1] != channels:
        raise ValueError(
            f"{layer} was built for {channels} channels and expects (B, {channels}, H, W), "
            f"got {tuple(x.shape)}; build it with channels={x.shape[1]} to match this input"
        )
