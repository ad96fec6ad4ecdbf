"""Receptive fields, measured: which input pixels one output pixel can see.

For a stack of stride-1 convolutions the theory is ``RF = 1 + sum_i (k_i - 1) * d_i``: a 1x1
convolution adds nothing, a 3x3 one with dilation d widens the field by 2d. BAM's spatial branch
(Park et al., BMVC 2018, eq. 4: 1x1, 3x3 d=4, 3x3 d=4, 1x1) therefore sees 17 x 17 pixels.

The measurement: the gradient of one output pixel with respect to the input is non-zero exactly
on the input pixels that pixel depends on. It is taken in eval mode, because in training mode
BatchNorm's batch statistics let every pixel influence every other one.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from bam.runtime import model_device


def theoretical_receptive_field(kernels: list[int], dilations: list[int] | None = None) -> int:
    """``1 + sum (k - 1) * d`` for stride-1 convolutions with ``kernels`` and ``dilations``."""
    dilations = [1] * len(kernels) if dilations is None else dilations
    if len(dilations) != len(kernels):
        raise ValueError(
            f"got {len(kernels)} kernel sizes but {len(dilations)} dilations; give one of each "
            "per convolution"
        )
    return 1 + sum((k - 1) * d for k, d in zip(kernels, dilations, strict=True))


def input_gradient(
    module: nn.Module,
    input_shape: tuple[int, int, int],
    position: tuple[int, int] | None = None,
    samples: int = 4,
    seed: int = 0,
) -> torch.Tensor:
    """``|d out[:, :, i, j] / d x|`` summed over channels and ``samples`` random inputs: (H, W).

    ``input_shape`` is ``(C, H, W)``; ``position`` is the output pixel ``(i, j)``, the centre by
    default. Several random inputs are summed so that a ReLU that happens to be off for one of
    them does not punch a hole in the picture. ``module`` itself is left untouched.
    """
    if len(input_shape) != 3 or any(not isinstance(n, int) or n < 1 for n in input_shape):
        raise ValueError(f"input_shape must be (C, H, W) with positive ints, got {input_shape!r}")
    model = copy.deepcopy(module).eval()
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *input_shape, generator=generator).to(device).requires_grad_()
    out = model(x)
    if out.ndim != 4:
        raise ValueError(
            f"expected the module to return a (B, C, H, W) map, got shape {tuple(out.shape)}"
        )
    i, j = position if position is not None else (out.shape[2] // 2, out.shape[3] // 2)
    if not (0 <= i < out.shape[2] and 0 <= j < out.shape[3]):
        raise ValueError(f"position {(i, j)} lies outside the {tuple(out.shape[2:])} output map")
    out[:, :, i, j].sum().backward()
    return x.grad.abs().sum((0, 1)).cpu()


def receptive_field(
    module: nn.Module,
    input_shape: tuple[int, int, int],
    position: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Height and width of the box of input pixels that the output pixel ``position`` sees.

    The input must be large enough to hold the whole field, else the measurement is clipped at
    the border of the input.
    """
    seen = input_gradient(module, input_shape, position).nonzero()
    if len(seen) == 0:
        return (0, 0)
    extent = seen.max(0).values - seen.min(0).values + 1
    return int(extent[0]), int(extent[1])
