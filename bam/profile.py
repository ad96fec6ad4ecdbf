"""What a model costs: parameters and multiply-adds, and BAM's overhead on top of a backbone.

Multiply-adds are counted by ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add is
two FLOPs). It counts matrix products and convolutions, which dominate a CNN; element-wise work
(BatchNorm, ReLU, sigmoid, the BAM residual) is left out, as in the papers' GFLOP figures.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bam.layers import BAM
from bam.runtime import eval_mode


def count_params(model: nn.Module) -> int:
    """Number of parameters (every element of every parameter tensor, trainable or not)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_macs(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> int:
    """Multiply-adds of one forward pass on an input of ``input_size`` (eval mode, on CPU)."""
    model = copy.deepcopy(model).cpu().eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(input_size))
    return counter.get_total_flops() // 2


@dataclass
class Cost:
    params: int
    macs: int

    def __str__(self) -> str:
        return f"{self.params / 1e6:.3f}M params, {self.macs / 1e9:.4f} GMACs"


@dataclass
class Overhead:
    base: Cost
    with_attention: Cost

    @property
    def params_ratio(self) -> float:
        return self.with_attention.params / self.base.params

    @property
    def macs_ratio(self) -> float:
        return self.with_attention.macs / self.base.macs

    def __str__(self) -> str:
        return (
            f"base {self.base}\n+BAM {self.with_attention}\n"
            f"overhead: +{self.with_attention.params - self.base.params:,} params "
            f"({100 * (self.params_ratio - 1):+.2f}%), "
            f"+{self.with_attention.macs - self.base.macs:,} MACs "
            f"({100 * (self.macs_ratio - 1):+.2f}%)"
        )


def cost(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> Cost:
    return Cost(count_params(model), count_macs(model, input_size))


def overhead(base: nn.Module, with_attention: nn.Module, input_size=(1, 3, 32, 32)) -> Overhead:
    """Cost of ``with_attention`` against ``base`` on the same input size."""
    return Overhead(cost(base, input_size), cost(with_attention, input_size))


def build(
    name: str, num_classes: int | None = None
) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
    """A plain model and its BAM version by name: a ``bam.models`` backbone (``resnet20``) or a
    torchvision ResNet (``torchvision.resnet50``), with the input size each is made for.
    ``num_classes`` defaults to 1000 for torchvision (ImageNet) and 10 for the rest (CIFAR-10)."""
    from bam.models import BACKBONES, add_bam, create

    if name.startswith("torchvision."):
        import torchvision

        make = getattr(torchvision.models, name.split(".", 1)[1], None)
        if make is None:
            raise ValueError(f"torchvision has no model {name.split('.', 1)[1]!r}")
        classes = num_classes or 1000
        return make(num_classes=classes), add_bam(make(num_classes=classes)), (1, 3, 224, 224)
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    classes = num_classes or 10
    return create(name, classes), create(f"bam_{name}", classes), (1, 3, 32, 32)


def saved_activations(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None
) -> int:
    """Bytes that autograd keeps for the backward pass of one training step (eager or compiled).

    Every tensor saved for backward is seen by ``torch.autograd.graph.saved_tensors_hooks``;
    its storage is counted once, however many tensors share it, and parameters are left out.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(x), y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    return sum(saved.values())


@torch.no_grad()
def bam_input_bytes(model: torch.nn.Module, x: torch.Tensor, dtype: torch.dtype | None = None):
    """Bytes of the full-size ``(B, C, H, W)`` maps that the model's BAM modules refine (0 for a
    model without BAM), read by forward pre-hooks on an eager forward pass in eval mode."""
    sizes: dict[int, int] = {}

    def note(module, inputs) -> None:
        sizes[id(module)] = inputs[0].numel() * inputs[0].element_size()

    handles = [m.register_forward_pre_hook(note) for m in model.modules() if isinstance(m, BAM)]
    autocast = torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None)
    try:  # in eval mode, so that the running statistics of BatchNorm stay as they were
        with eval_mode(model), autocast:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return sum(sizes.values())


if __name__ == "__main__":  # the command itself is bam.commands.profile
    from bam import cli
    from bam.commands import profile

    cli.run(profile.main, profile.PROG)
