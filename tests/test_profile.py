"""Cost counting with torch.utils.flop_counter, and the bytes autograd keeps."""

import pytest
import torch
import torchvision

from bam import add_bam, bench
from bam.models import create
from bam.profile import bam_input_bytes, count_macs, count_params, overhead, saved_activations


def test_macs_of_a_convolution_follow_the_formula():
    conv = torch.nn.Conv2d(8, 16, 3, padding=1, bias=False)
    # every output value: 8 * 3 * 3 multiply-adds
    assert count_macs(conv, (1, 8, 10, 12)) == 16 * 10 * 12 * 8 * 9


def test_counting_leaves_the_model_untouched():
    model = create("bam_resnet20").train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs(model)
    assert model.training
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_bam_overhead_on_resnet50_is_close_to_the_papers():
    # Park et al. (2018), ImageNet ResNet50: 25.56M -> 25.92M params, 3.86 -> 3.94 GFLOPs,
    # i.e. +1.4% parameters and +2.1% multiply-adds.
    cost = overhead(
        torchvision.models.resnet50(),
        add_bam(torchvision.models.resnet50()),
        (1, 3, 224, 224),
    )
    assert 1.013 < cost.params_ratio < 1.015
    assert 1.015 < cost.macs_ratio < 1.025
    assert "overhead: +359,414 params" in str(cost)


def test_bam_resnet20_costs_under_one_percent_more():
    cost = overhead(create("resnet20"), create("bam_resnet20"))
    assert cost.base.params == count_params(create("resnet20"))
    assert 1.0 < cost.params_ratio < 1.01 and 1.0 < cost.macs_ratio < 1.01


def test_command_line_reports_the_overhead(capsys):
    from bam.commands.profile import main

    main(["resnet20"])
    out = capsys.readouterr().out
    assert "resnet20 (input 32x32)" in out and "overhead: +457 params (+0.17%)" in out


def test_command_line_rejects_an_unknown_backbone():
    import pytest

    from bam.commands.profile import main

    with pytest.raises(ValueError, match="unknown backbone 'resnet21'"):
        main(["resnet21"])


@pytest.mark.parametrize("precision", list(bench.PRECISIONS))
def test_bam_keeps_at_most_one_and_a_half_full_size_maps_beyond_the_plain_network(precision):
    """The fused gate's target, exact on any machine: autograd keeps at most 1.5 (B, C, H, W)
    tensors per BAM beyond ResNet-20 itself (the BAM's output, which the next layer keeps, is
    one of them); the plain formula keeps about one more, its attention M(F)."""
    from bam.models import create

    dtype, channels_last = bench.PRECISIONS[precision]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(16, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (16,))

    def saved(name, **kwargs):
        torch.manual_seed(0)
        return saved_activations(create(name, **kwargs).to(memory_format=fmt), x, y, dtype)

    plain = saved("resnet20")
    fused = saved("bam_resnet20")
    formula = saved("bam_resnet20", fused=False)
    bam_inputs = bam_input_bytes(create("bam_resnet20"), x, dtype)
    elements = 16 * (16 * 32 * 32 + 32 * 16 * 16)  # the maps after stages 1 and 2
    assert bam_inputs == elements * (2 if dtype else 4)
    assert (fused - plain) / bam_inputs <= 1.5
    assert (formula - plain) / bam_inputs > 2.3
