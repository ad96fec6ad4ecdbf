"""The check of lesson 05: BAM placed in a ResNet by the learner's own function.

check_add_bam(add_bam_by_hand)   a BAM after every ResNet stage but the last, like
                                 ``bam.add_bam``
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bam.checks.matching import close
from bam.checks.speaking import CheckFailed, raise_if_unfinished
from bam.layers import BAM


def _bam_inputs(model: nn.Module, x: torch.Tensor) -> tuple[list[BAM], list[tuple[int, ...]]]:
    """The BAMs of ``model`` in the order the forward pass runs them, and their input shapes."""
    seen: list[tuple[BAM, tuple[int, ...]]] = []
    handles = [
        m.register_forward_hook(lambda mod, inp, out: seen.append((mod, tuple(inp[0].shape[1:]))))
        for m in model.modules()
        if isinstance(m, BAM)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [m for m, _ in seen], [s for _, s in seen]


def check_add_bam(fn: Callable[[nn.Module], nn.Module]) -> None:
    """Check ``fn(model)`` against ``bam.add_bam``: one ``bam.BAM`` on the output of every ResNet
    stage but the last, on a CIFAR ResNet-20 and torchvision's ResNet-18 and ResNet-50. Checks
    where the BAMs run (the feature maps they see), and the output with the reference BAMs'
    weights copied into the learner's, in eval mode."""
    import torchvision

    from bam.models import CifarResNet, add_bam

    cases = {
        "ResNet-20": (lambda: CifarResNet(20), (2, 3, 32, 32)),
        "torchvision ResNet-18": (
            lambda: torchvision.models.resnet18(num_classes=10),
            (2, 3, 64, 64),
        ),
        "torchvision ResNet-50": (
            lambda: torchvision.models.resnet50(num_classes=10),
            (2, 3, 64, 64),
        ),
    }
    for name, (build, size) in cases.items():
        x = torch.randn(size, generator=torch.Generator().manual_seed(0))
        torch.manual_seed(0)
        reference = add_bam(build()).eval()
        torch.manual_seed(0)
        try:
            mine = fn(build())
        except Exception as err:
            raise_if_unfinished(err)
            raise CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}") from err
        if not isinstance(mine, nn.Module):
            raise CheckFailed(f"{name}: your function returned {mine!r}; return the model")
        mine.eval()
        theirs, expected = _bam_inputs(reference, x)
        yours, got = _bam_inputs(mine, x)
        if len(yours) != len(theirs):
            raise CheckFailed(
                f"{name}: {len(yours)} BAM modules ran, expected {len(theirs)}: one after every "
                "stage but the last (layer1, layer2, ...), none after the last stage"
            )
        if got != expected:
            raise CheckFailed(
                f"{name}: your BAMs see feature maps of shape (C, H, W) {got}, expected "
                f"{expected}: each BAM refines the output of a stage, before the next stage "
                "halves the resolution"
            )
        for mine_bam, reference_bam in zip(yours, theirs, strict=True):
            mine_bam.load_state_dict(reference_bam.state_dict())
        with torch.no_grad():
            if not close(mine(x), reference(x)):
                raise CheckFailed(
                    f"{name}: the BAMs sit in the right places but the output differs: each "
                    "BAM's output must replace the stage's output as the next stage's input"
                )
    print(f"check_add_bam: ok ({', '.join(cases)}: placement and outputs)")
