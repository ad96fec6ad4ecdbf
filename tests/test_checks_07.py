"""The check of lesson 07 accepts the definition of the energy share and explains a mistake; it
lives with the other checks, and the measurement it checks does not depend on them."""

import pytest

from bam import localisation as loc
from bam.checks import CheckFailed, check_energy_share


def test_the_energy_share_check_accepts_the_definition_and_explains_a_mistake(capsys):
    def reference(attention_map, mask):
        energy = loc.to_energy(attention_map[None])
        return loc.energy_share(energy, mask[None]).item()

    check_energy_share(reference)
    assert capsys.readouterr().out == "energy share: all 5 cases match bam.localisation\n"

    def without_the_minimum(attention_map, mask):
        return ((attention_map * mask).sum() / attention_map.sum()).item()

    with pytest.raises(CheckFailed, match="subtract the map's minimum|constant map"):
        check_energy_share(without_the_minimum)
