"""Read BAM's attention maps out of a model with forward hooks, without changing its forward."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from bam.layers.bam import BAM
from bam.layers.fused_gate import attention_map


@dataclass
class AttentionMaps:
    """What one BAM computed for a batch.

    channel: ``Mc(F)`` logits, ``(B, C, 1, 1)``; spatial: ``Ms(F)`` logits, ``(B, 1, H, W)``;
    attention: ``M(F) = sigmoid(combine(Mc, Ms))``, ``(B, C, H, W)``, values in (0, 1).
    """

    channel: torch.Tensor
    spatial: torch.Tensor
    attention: torch.Tensor


@contextmanager
def recording_attention(model: nn.Module) -> Iterator[dict[str, AttentionMaps]]:
    """Record the maps of every BAM of ``model`` during the forward pass run inside the block.

    Yields a dict that, once the block ends, holds ``{module name: AttentionMaps}`` of the last
    forward pass, detached, on the CPU, in float32. The hooks are removed on leaving the block,
    also when it raises. Any forward pass counts, with or without gradients (``bam.localisation``
    records the maps during the pass Grad-CAM makes anyway, instead of running a second one).
    """
    bams = {name: m for name, m in model.named_modules() if isinstance(m, BAM)}
    if not bams:
        raise ValueError(
            f"{type(model).__name__} contains no BAM module; build it with bam.add_bam"
        )
    seen: dict[str, dict[str, torch.Tensor]] = {name: {} for name in bams}
    handles = []
    for name, module in bams.items():
        for part in ("channel", "spatial"):

            def keep(_m, _inputs, output, name=name, part=part):
                seen[name][part] = output.detach()

            handles.append(getattr(module, part).register_forward_hook(keep))
    maps: dict[str, AttentionMaps] = {}
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()
    for name, logits in seen.items():
        if not logits:
            raise ValueError(f"{name} did not run: no forward pass of the model in the block")
        # M(F) from the logits the module used, in their dtype and on their device, as its gate
        # computed it; the gate itself is one fused operation with nothing to hook.
        channel, spatial = logits["channel"], logits["spatial"]
        attention = attention_map(channel, spatial, bams[name].combine)
        maps[name] = AttentionMaps(*(t.float().cpu() for t in (channel, spatial, attention)))


@torch.no_grad()
def capture_attention(
    model: nn.Module, x: torch.Tensor
) -> tuple[torch.Tensor, dict[str, AttentionMaps]]:
    """Run ``model(x)`` once; return its output and the maps of every BAM, keyed by module name.

    The hooks are removed afterwards, also when the forward pass raises. Maps are detached
    copies on the CPU, in float32.
    """
    with recording_attention(model) as maps:
        output = model(x)
    return output, maps
