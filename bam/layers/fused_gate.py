"""BAM's gate as one autograd operation (Park et al., BMVC 2018, arXiv 1807.06514, eqs. 1-2).

    F' = F + F * M(F) = F * (1 + M(F)),    M(F) = sigmoid(z),    z = combine(Mc, Ms)

``plain_gate`` is the formula as written: autograd keeps the attention M(F), a full-size
``(B, C, H, W)`` tensor, for the backward pass. ``fused_gate`` computes the same values (it runs
the same kernels in the same order, so in float32 they are equal to the last bit) but keeps only
F, which the network keeps anyway, and the small logits Mc ``(B, C, 1, 1)`` and Ms
``(B, 1, H, W)``; the backward pass recomputes M(F) from them. With s = M(F), g = dL/dF':

    dL/dF  = g * (1 + s)
    dL/dz  = g * F * s * (1 - s)                   (the sigmoid's derivative)
    dL/dMc = sum over H, W of dL/dz * dz/dMc,      dL/dMs = sum over C of dL/dz * dz/dMs

where dz/dMc, dz/dMs are 1, 1 for "sum"; Ms, Mc for "product"; for "max" the gradient goes to
the larger logit, split in half on a tie (as ``torch.maximum`` does). Full-size temporaries take
F's memory format (channels-last stays channels-last) and are reused in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch

Combine = Literal["sum", "product", "max"]
COMBINE_MODES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sum": torch.add,
    "product": torch.mul,
    "max": torch.maximum,
}


def attention_map(channel: torch.Tensor, spatial: torch.Tensor, combine: Combine) -> torch.Tensor:
    """``M(F) = sigmoid(combine(Mc, Ms))``, ``(B, C, H, W)``, from the two branches' logits."""
    return torch.sigmoid(COMBINE_MODES[combine](channel, spatial))


def plain_gate(
    x: torch.Tensor, channel: torch.Tensor, spatial: torch.Tensor, combine: Combine = "sum"
) -> torch.Tensor:
    """``F + F * M(F)``, the readable reference: autograd saves M(F) for the backward pass."""
    # addcmul computes F + F * M(F) in one pass, without a temporary for 1 + M(F).
    return torch.addcmul(x, x, attention_map(channel, spatial, combine))


def _attention_like(
    x: torch.Tensor, channel: torch.Tensor, spatial: torch.Tensor, combine: Combine
) -> torch.Tensor:
    """M(F) in one new tensor with the memory format of ``x``, the sigmoid applied in place."""
    z = COMBINE_MODES[combine](channel, spatial)
    # The broadcast is written in NCHW order: written straight into channels-last it runs an
    # order of magnitude slower in bfloat16 on a CPU. Element-wise work on tensors of two
    # layouts is as slow, so the result is brought to the layout of x once.
    if x.is_contiguous(memory_format=torch.channels_last):
        z = z.contiguous(memory_format=torch.channels_last)
    return z.sigmoid_()


def _combine_weights(
    channel: torch.Tensor, spatial: torch.Tensor, combine: Combine, like: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """dz/dMc and dz/dMs, broadcastable to ``like``; None stands for 1."""
    if combine == "sum":
        return None, None
    if combine == "product":
        return spatial, channel
    to_channel = torch.empty_like(like)
    torch.gt(channel, spatial, out=to_channel)
    # A tie sends half the gradient each way, as torch.maximum's backward does.
    to_channel.masked_fill_(channel == spatial, 0.5)
    return to_channel, 1 - to_channel


class _FusedGate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, channel, spatial, combine):
        ctx.combine = combine
        ctx.save_for_backward(x, channel, spatial)
        return torch.addcmul(x, x, _attention_like(x, channel, spatial, combine))

    @staticmethod
    def backward(ctx, grad):
        x, channel, spatial = ctx.saved_tensors
        s = _attention_like(x, channel, spatial, ctx.combine)
        grad_x = grad_channel = grad_spatial = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.addcmul(grad, grad, s)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            grad_z = grad * x
            # sigmoid_backward computes grad_z * s * (1 - s) in one pass, written over grad_z.
            torch.ops.aten.sigmoid_backward.grad_input(grad_z, s, grad_input=grad_z)
            to_channel, to_spatial = _combine_weights(channel, spatial, ctx.combine, grad_z)
            if ctx.needs_input_grad[1]:
                g = grad_z if to_channel is None else grad_z * to_channel
                grad_channel = g.sum((2, 3), keepdim=True, dtype=channel.dtype)
            if ctx.needs_input_grad[2]:
                g = grad_z if to_spatial is None else grad_z * to_spatial
                grad_spatial = g.sum(1, keepdim=True, dtype=spatial.dtype)
        return grad_x, grad_channel, grad_spatial, None


def fused_gate(
    x: torch.Tensor, channel: torch.Tensor, spatial: torch.Tensor, combine: Combine = "sum"
) -> torch.Tensor:
    """``F + F * M(F)`` with the values of ``plain_gate``, keeping no full-size tensor for the
    backward pass beyond F itself.

    Args:
        x: F, ``(B, C, H, W)``.
        channel: the channel logits Mc, ``(B, C, 1, 1)``.
        spatial: the spatial logits Ms, ``(B, 1, H, W)``.
        combine: how the logits meet: "sum" (paper), "product" (authors' code) or "max".
    """
    return _FusedGate.apply(x, channel, spatial, combine)
