"""Lining up two modules by behaviour: a learner's layers paired with the reference's.

The layers that hold weights (Conv2d, Linear, BatchNorm) are listed in the order the forward pass
runs them, for both modules, whatever names or containers the learner chose, and paired one by
one; the reference's weights are then copied into the learner's layers (a 1x1 convolution's
weight fits a Linear layer of the same size). When the two do not line up, the message says the
likely cause in a learner's terms.

Biases: where both layers have one, the reference's is copied. A learner's bias that the
reference lacks is accepted and set to zero when a BatchNorm follows it in the reference (BN
subtracts the mean, so such a bias cannot change the output), with a note saying so; anywhere
else it is refused with a message. A bias the reference has and the learner lacks shows as a
parameter count that differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from bam.checks.speaking import CheckFailed
from bam.profile import count_params
from bam.runtime import eval_mode

WEIGHTED = (nn.Conv2d, nn.Linear)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
BEFORE_NORM_NOTE = (
    "your Conv2d/Linear layers have biases right before BatchNorm; BN subtracts the "
    "mean, so they cannot change the output (the reference has none)"
)


def _size(layer: nn.Module) -> tuple[int, ...]:
    """What must match between two layers: (out, in, kh, kw) for a weighted layer, else (C,)."""
    if isinstance(layer, nn.Linear):
        return (layer.out_features, layer.in_features, 1, 1)
    if isinstance(layer, nn.Conv2d):
        return tuple(layer.weight.shape)
    return (layer.num_features,)


def _kind(layer: nn.Module) -> str:
    return "norm" if isinstance(layer, NORMS) else "weight"


def describe(layer: nn.Module) -> str:
    """A short name such as ``Conv2d(32->8, 3x3, dilation 4)`` or ``BatchNorm2d(8)``."""
    if isinstance(layer, nn.Conv2d):
        text = f"Conv2d({layer.in_channels}->{layer.out_channels}, {layer.kernel_size[0]}x"
        text += f"{layer.kernel_size[1]}"
        text += f", dilation {layer.dilation[0]})" if layer.dilation != (1, 1) else ")"
        return text
    if isinstance(layer, nn.Linear):
        return f"Linear({layer.in_features}->{layer.out_features})"
    if isinstance(layer, NORMS):
        return f"{type(layer).__name__}({layer.num_features})"
    return type(layer).__name__


def holds_weights(module: nn.Module) -> bool:
    own = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    return not list(module.children()) and bool(own)


def execution_order(module: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The layers of ``module`` that hold weights, in the order ``module(x)`` first runs them.

    Runs once in eval mode without gradients, so nothing in the module changes.
    """
    order: list[nn.Module] = []

    def record(layer, _inputs):
        if not any(layer is seen for seen in order):
            order.append(layer)

    handles = [m.register_forward_pre_hook(record) for m in module.modules() if holds_weights(m)]
    try:
        with eval_mode(module), torch.no_grad():
            module(x.clone())
    finally:
        for handle in handles:
            handle.remove()
    return order


def listing(layers: list[nn.Module]) -> str:
    return ", ".join(describe(layer) for layer in layers)


def _structure_cause(expected: list[nn.Module], yours: list[nn.Module], hidden: int) -> str:
    """Why ``yours`` does not line up with ``expected``, in a learner's terms."""
    kinds = [_kind(m) for m in yours]
    expected_kinds = [_kind(m) for m in expected]
    if kinds == expected_kinds:
        pairs = zip(expected, yours, strict=True)
        ref, mine = next((r, m) for r, m in pairs if _size(r) != _size(m))
        wrong = [n for n, m in zip(_size(mine), _size(ref), strict=True) if n != m and m == hidden]
        if wrong:
            cause = f"the hidden width should be C // r = {hidden}, yours is {wrong[0]}"
        elif _size(ref)[2:] != _size(mine)[2:]:
            cause = f"the kernel should be {_size(ref)[2]}x{_size(ref)[3]}"
        else:
            cause = "the channel counts differ"
        return f"{describe(mine)} where {describe(ref)} was expected: {cause}"
    if kinds == expected_kinds[:-1] and expected_kinds[-1] == "norm":
        cause = (
            "missing the final BatchNorm: the branch ends with BN (paper eqs. 3-4), which puts "
            "the channel and spatial logits on a common scale before they are added"
        )
    elif kinds.count("norm") < expected_kinds.count("norm"):
        cause = (
            f"missing BatchNorm: expected {expected_kinds.count('norm')} BatchNorm layers (BN + "
            f"ReLU after every hidden layer, and a final BN), found {kinds.count('norm')}"
        )
    elif kinds.count("weight") != expected_kinds.count("weight"):
        cause = (
            f"expected {expected_kinds.count('weight')} Conv2d/Linear layers, found "
            f"{kinds.count('weight')}"
        )
    else:
        cause = "the layers do not come in the expected order"
    return (
        f"{cause}.\n  yours, in the order forward runs them: {listing(yours)}"
        f"\n  expected: {listing(expected)}"
    )


@dataclass
class Alignment:
    """The learner's layers paired with the reference's, and notes for the learner."""

    pairs: list[tuple[nn.Module, nn.Module]]  # (reference layer, learner layer)
    notes: set[str]

    @torch.no_grad()
    def copy_weights(self) -> None:
        """Copy the reference's weights, biases and BatchNorm statistics into the learner's
        layers; a learner's bias the reference lacks (accepted only before a BatchNorm) is set
        to zero."""
        for ref, mine in self.pairs:
            if isinstance(mine, WEIGHTED):
                mine.weight.copy_(ref.weight.reshape(mine.weight.shape))
                if mine.bias is not None and ref.bias is not None:
                    mine.bias.copy_(ref.bias)
                elif mine.bias is not None:
                    mine.bias.zero_()
                continue
            for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                source, target = getattr(ref, name), getattr(mine, name)
                if source is not None and target is not None:
                    target.copy_(source)


def _redundant_biases(expected: list[nn.Module], order: list[nn.Module], where: str):
    """The learner's layers with a bias that the reference's layer lacks; each must come right
    before a BatchNorm of the reference, else it could change the output and is refused."""
    redundant = []
    for i, (ref, mine) in enumerate(zip(expected, order, strict=True)):
        if _kind(ref) != "weight" or mine.bias is None or ref.bias is not None:
            continue
        if i + 1 == len(expected) or _kind(expected[i + 1]) != "norm":
            raise CheckFailed(
                f"{where}: your {describe(mine)} has a bias where the reference's {describe(ref)} "
                "has none, and no BatchNorm follows it to cancel it: build it with bias=False."
            )
        redundant.append(mine)
    return redundant


def line_up(
    reference_orders: list[list[nn.Module]],
    learner: nn.Module,
    x: torch.Tensor,
    where: str,
    hidden: int,
    parameters_hint: Callable[[int, int, int], str],
) -> Alignment:
    """Pair the learner's layers with the reference's (any of ``reference_orders``, the orders
    the reference may be run in), or raise with the likely cause.

    ``parameters_hint(mine, extra, theirs)`` says what is wrong when the layers line up but the
    parameter counts, less the ``extra`` redundant biases, differ.
    """
    order = execution_order(learner, x)
    unknown = [m for m in order if not isinstance(m, WEIGHTED + NORMS)]
    if unknown:
        raise CheckFailed(
            f"{where}: the check compares Conv2d, Linear and BatchNorm layers, and yours uses "
            f"{listing(unknown)}. Build the exercise from those layers."
        )
    unused = [m for m in learner.modules() if holds_weights(m) and not any(m is o for o in order)]
    if unused:
        raise CheckFailed(
            f"{where}: these layers are built in __init__ but never run in forward: "
            f"{listing(unused)}. Did you forget to call them?"
        )
    covered = {id(p) for m in order for p in m.parameters()}
    stray = [name for name, p in learner.named_parameters() if id(p) not in covered]
    if stray:
        raise CheckFailed(
            f"{where}: parameters outside Conv2d/Linear/BatchNorm layers: {', '.join(stray)}. "
            "The exercise needs no parameters of its own beyond those layers."
        )
    mine = count_params(learner)
    theirs = sum(count_params(m) for m in reference_orders[0])
    for expected in reference_orders:
        if [(_kind(m), _size(m)) for m in expected] == [(_kind(m), _size(m)) for m in order]:
            break
    else:
        cause = _structure_cause(reference_orders[0], order, hidden)
        if mine == theirs:
            raise CheckFailed(f"{where}: your layers do not match the reference's: {cause}")
        more = "more" if mine > theirs else "fewer"
        raise CheckFailed(
            f"{where}: {abs(mine - theirs)} {more} parameters than the reference ({mine} vs "
            f"{theirs}): {cause}"
        )
    redundant = _redundant_biases(expected, order, where)
    notes = {BEFORE_NORM_NOTE} if redundant else set()
    extra = sum(m.bias.numel() for m in redundant)
    pairs = list(zip(expected, order, strict=True))
    if mine - extra != theirs or any(r.affine != m.affine for r, m in pairs if _kind(r) == "norm"):
        raise CheckFailed(f"{where}: {parameters_hint(mine, extra, theirs)}")
    return Alignment(pairs, notes)
