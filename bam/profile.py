"""What a model costs: parameters and multiply-adds, and BAM's overhead on top of a backbone.

Multiply-adds are counted by ``torch.utils.flop_counter.FlopCounterMode`` (one multiply-add is
two FLOPs). It counts matrix products and convolutions, which dominate a CNN; element-wise work
(BatchNorm, ReLU, sigmoid, the BAM residual) is left out, as in the papers' GFLOP figures.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module) -> int:
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
