"""bam.receptive_field: the measured receptive field agrees with 1 + sum (k - 1) * d."""

import pytest
import torch
from torch import nn

from bam import SpatialGate
from bam.receptive_field import input_gradient, receptive_field, theoretical_receptive_field


def test_the_spatial_branch_sees_17_by_17_pixels_by_formula():
    assert theoretical_receptive_field([1, 3, 3, 1], [1, 4, 4, 1]) == 17


def test_undilated_kernels_add_k_minus_one_each():
    assert theoretical_receptive_field([3, 3, 5]) == 1 + 2 + 2 + 4


@pytest.mark.parametrize("dilation, side", [(1, 5), (2, 9), (4, 17)])
def test_measured_field_of_the_spatial_branch_matches_the_formula(dilation, side):
    gate = SpatialGate(16, reduction=4, dilation=dilation)
    assert receptive_field(gate, (16, 33, 33)) == (side, side)


def test_a_dilated_stack_sees_a_sparse_grid():
    seen = input_gradient(SpatialGate(16, reduction=4, dilation=4), (16, 33, 33)) > 0
    assert int(seen.sum()) == 25
    assert seen[16, 16] and seen[8, 24] and not seen[16, 17]


def test_an_off_centre_pixel_is_clipped_by_the_border():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    assert receptive_field(conv, (1, 9, 9), position=(0, 4)) == (2, 3)


def test_the_measurement_leaves_the_module_untouched():
    gate = SpatialGate(16, reduction=4).train()
    before = {k: v.clone() for k, v in gate.state_dict().items()}
    receptive_field(gate, (16, 20, 20))
    assert gate.training
    assert all(p.grad is None for p in gate.parameters())
    assert all(torch.equal(before[k], v) for k, v in gate.state_dict().items())


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="one of each"):
        theoretical_receptive_field([3, 3], [1])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        receptive_field(nn.Conv2d(1, 1, 3), (9, 9))
    with pytest.raises(ValueError, match="outside"):
        receptive_field(nn.Conv2d(1, 1, 3, padding=1), (1, 9, 9), position=(9, 0))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) map"):
        receptive_field(nn.Flatten(), (1, 9, 9))
