"""Model factory: ``create("bam_resnet20")`` is ``add_bam(resnet20())``.

A name is an optional attention prefix and a backbone (``resnet20``, ``resnet32``,
``resnet56``, ``resnet110``, ``preact_resnet18``). The prefixes are the names of
``ATTENTION`` (``bam.models.insert``): ``bam_`` (BAM at the bottlenecks), ``bamblock_`` (BAM in
every block), ``se_`` (Squeeze-and-Excitation in every block), ``cbam_`` (CBAM in every block).

``init="identity"`` starts every attention module as (almost) the identity (``identity_init``)
instead of PyTorch's default initialisation, with which a fresh BAM scales its features by
about 1.5 (and SE and CBAM by their gates, about 0.5 each):

    create("bam_resnet20", init="identity")
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal, get_args

from torch import nn

from bam.models.cifar_resnet import CifarResNet
from bam.models.identity import identity_init
from bam.models.insert import (
    ATTENTION,
    add_attention,
    add_bam,
    add_bam_every_block,
    add_cbam,
    add_se,
)
from bam.models.preact_resnet import PreActResNet18

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    **{f"resnet{d}": partial(CifarResNet, d) for d in (20, 32, 56, 110)},
    "preact_resnet18": PreActResNet18,
}


def available() -> list[str]:
    """Every name ``create`` accepts."""
    return [*BACKBONES, *(f"{a}_{b}" for a in ATTENTION for b in BACKBONES)]


Init = Literal["default", "identity"]
INITS = get_args(Init)


def create(
    name: str, num_classes: int = 10, init: Init = "default", **attention_kwargs
) -> nn.Module:
    """Build a model by name; ``attention_kwargs`` go to the attention modules (e.g. reduction).

    ``init``: "default" builds every module with PyTorch's initialisation, as the papers build
    them; "identity" then starts every attention module as (almost) the identity
    (``identity_init``): a BAM as ``F * (1 + sigmoid(-5))``, an SE or CBAM gate at
    ``sigmoid(5)``. A network without attention has no "identity" start.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
    # Split on the known prefixes: "preact_resnet18" has an underscore of its own.
    for prefix in ATTENTION:
        if name.startswith(prefix + "_"):
            attention, backbone = prefix, name[len(prefix) + 1 :]
            break
    else:
        attention, backbone = "", name
    if backbone not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(available())}")
    if attention_kwargs and not attention:
        raise ValueError(f"{name!r} has no attention modules to pass {sorted(attention_kwargs)} to")
    if init == "identity" and not attention:
        raise ValueError(
            f"init='identity' starts attention modules as the identity; {name!r} has none"
        )
    model = BACKBONES[backbone](num_classes=num_classes)
    if attention:
        model = add_attention(model, attention, **attention_kwargs)
    return identity_init(model) if init == "identity" else model


__all__ = [
    "BACKBONES",
    "INITS",
    "ATTENTION",
    "CifarResNet",
    "PreActResNet18",
    "add_attention",
    "add_bam",
    "add_bam_every_block",
    "add_cbam",
    "add_se",
    "available",
    "create",
    "identity_init",
]
