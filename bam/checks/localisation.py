"""The check of lesson 07: the learner's energy share, against ``bam.localisation``'s measure.

check_energy_share(energy_share)   sum(E * mask) / sum(E) with E = map - min(map)
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from bam.checks.speaking import CheckFailed, raise_if_unfinished


def check_energy_share(fn: Callable[[torch.Tensor, torch.Tensor], float]) -> None:
    """Lesson 07's exercise: ``fn(attention_map, mask) -> float`` for one ``(H, W)`` map of any
    sign and its ``(H, W)`` bool mask must give ``energy_share(to_energy(map), mask)``.

    Prints one line on success; raises ``CheckFailed`` that says what is wrong, and
    ``NotWrittenYet`` for the unfinished stub, as every exercise check does.
    """
    # Here, not at the top: bam.localisation brings in drawing code that the other checks skip.
    from bam.localisation import energy_share, to_energy

    g = torch.Generator().manual_seed(0)
    mask = torch.zeros(12, 16, dtype=torch.bool)
    mask[3:8, 5:12] = True
    noise = torch.randn(12, 16, generator=g)
    cases = [
        ("a map equal to the mask", mask.float()),
        (
            "a constant map (it prefers no place: expect the mask's area fraction)",
            torch.ones(12, 16),
        ),
        ("a random map", noise),
        ("the random map shifted by +5 (the shift must not matter)", noise + 5),
        ("the random map in logits below zero", noise - 10),
    ]
    for what, attention_map in cases:
        expected = energy_share(to_energy(attention_map[None]), mask[None]).item()
        try:
            got = float(fn(attention_map.clone(), mask.clone()))
        except Exception as error:
            raise_if_unfinished(error)
            raise CheckFailed(
                f"your function failed on {what}: {type(error).__name__}: {error}"
            ) from error
        if not abs(got - expected) <= 1e-4:
            raw = ((attention_map * mask).sum() / attention_map.sum()).item()
            hint = ""
            if "constant" in what:
                hint = " (after subtracting the minimum a constant map is all zeros: 0 / 0)"
            elif abs(got - raw) <= 1e-4:
                hint = " (subtract the map's minimum first: E = map - min(map))"
            raise CheckFailed(f"on {what}: expected {expected:.4f}, got {got:.4f}{hint}")
    print(f"energy share: all {len(cases)} cases match bam.localisation")
