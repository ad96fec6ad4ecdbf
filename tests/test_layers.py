"""BAM and its branches against the paper (Park et al., BMVC 2018, eqs. 1-4)."""

import pytest
import torch
import torch.nn.functional as F

from bam import BAM, ChannelGate, SpatialGate


def seeded(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def randomise_batchnorm(module, seed=1):
    """Give every BatchNorm non-trivial statistics and affine parameters, so that an equation
    check in eval mode would notice a missing or misplaced normalisation."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.3)
    return module


@pytest.mark.parametrize("channels", [8, 16, 64, 256])
@pytest.mark.parametrize("size", [(8, 8), (7, 13), (1, 1), (32, 20)])
def test_shapes_for_square_and_non_square_inputs(channels, size):
    x = seeded(2, channels, *size)
    assert ChannelGate(channels)(x).shape == (2, channels, 1, 1)
    assert SpatialGate(channels)(x).shape == (2, 1, *size)
    assert BAM(channels)(x).shape == x.shape


@pytest.mark.parametrize("combine", ["sum", "product", "max"])
@pytest.mark.parametrize("num_dilated", [1, 2, 3])
def test_every_parameter_gets_a_gradient(combine, num_dilated):
    torch.manual_seed(0)
    module = BAM(64, num_dilated=num_dilated, combine=combine)
    module(seeded(4, 64, 9, 11)).square().mean().backward()
    dead = [n for n, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not dead, f"parameters without gradient: {dead}"


def bn(x, m):
    return (x - m.running_mean[:, None, None]) / torch.sqrt(
        m.running_var[:, None, None] + m.eps
    ) * m.weight[:, None, None] + m.bias[:, None, None]


def channel_logits_by_the_equation(gate: ChannelGate, x):
    """Mc(F) = BN(W1 ReLU(BN(W0 AvgPool(F)))), written out with the gate's own weights."""
    w0, bn0, _, w1, bn1 = gate.mlp
    pooled = x.mean((2, 3))[:, :, None, None]
    hidden = F.relu(bn(torch.einsum("oi,bihw->bohw", w0.weight[:, :, 0, 0], pooled), bn0))
    return bn(torch.einsum("oi,bihw->bohw", w1.weight[:, :, 0, 0], hidden), bn1)


def spatial_logits_by_the_equation(gate: SpatialGate, x, dilation):
    """Ms(F) = BN(f3(f2(f1(f0(F))))), each hidden f followed by BN and ReLU."""
    y = F.relu(bn(F.conv2d(x, gate.reduce[0].weight), gate.reduce[1]))
    for conv, norm, _ in gate.dilated:
        y = F.relu(bn(F.conv2d(y, conv.weight, padding=dilation, dilation=dilation), norm))
    return bn(F.conv2d(y, gate.project[0].weight), gate.project[1])


@pytest.mark.parametrize(
    "combine, op",
    [("sum", lambda a, b: a + b), ("product", lambda a, b: a * b), ("max", torch.maximum)],
)
@pytest.mark.parametrize("dilation", [1, 4])
def test_each_combine_mode_matches_the_equations(combine, op, dilation):
    torch.manual_seed(0)
    module = randomise_batchnorm(BAM(32, reduction=4, dilation=dilation, combine=combine)).eval()
    x = seeded(3, 32, 10, 14)
    mc = channel_logits_by_the_equation(module.channel, x)
    ms = spatial_logits_by_the_equation(module.spatial, x, dilation)
    expected = x + x * torch.sigmoid(op(mc, ms))
    torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-5)


def test_combine_modes_give_different_results():
    torch.manual_seed(0)
    reference = randomise_batchnorm(BAM(32, combine="sum")).eval()
    x = seeded(2, 32, 8, 8)
    outputs = {}
    for combine in ("sum", "product", "max"):
        module = randomise_batchnorm(BAM(32, combine=combine)).eval()
        module.load_state_dict(reference.state_dict())
        outputs[combine] = module(x)
    assert not torch.allclose(outputs["sum"], outputs["product"])
    assert not torch.allclose(outputs["sum"], outputs["max"])


def test_channel_pooling_covers_both_height_and_width():
    # Pooling with a square window of size H on an H x W map would see only part of the map;
    # a mean over both dimensions is unchanged when H and W are swapped.
    gate = randomise_batchnorm(ChannelGate(16, reduction=4)).eval()
    x = seeded(2, 16, 4, 12)
    torch.testing.assert_close(gate(x), gate(x.transpose(2, 3)))
    x_right = x.clone()
    x_right[..., 6:] += 5.0  # a change only in columns beyond the first H
    assert not torch.allclose(gate(x), gate(x_right))


@pytest.mark.parametrize("dilation", [1, 2, 3, 4, 6])
def test_dilated_convolutions_keep_height_and_width(dilation):
    gate = SpatialGate(32, reduction=4, dilation=dilation)
    for conv, _, _ in gate.dilated:
        assert conv.padding == (dilation, dilation) and conv.dilation == (dilation, dilation)
    assert gate(seeded(2, 32, 9, 5)).shape == (2, 1, 9, 5)


def test_hidden_width_is_channels_over_reduction_with_a_floor_of_one():
    assert ChannelGate(64, reduction=16).mlp[0].out_channels == 4
    assert SpatialGate(64, reduction=8).reduce[0].out_channels == 8
    assert ChannelGate(8, reduction=16).mlp[0].out_channels == 1
    assert BAM(8)(seeded(2, 8, 5, 5)).shape == (2, 8, 5, 5)


def test_final_batchnorm_in_each_branch():
    module = BAM(32)
    assert isinstance(module.channel.mlp[-1], torch.nn.BatchNorm2d)
    assert isinstance(module.spatial.project[-1], torch.nn.BatchNorm2d)


def test_num_layers_adds_hidden_layers_to_the_channel_mlp():
    one, two = ChannelGate(64, num_layers=1), ChannelGate(64, num_layers=2)
    convs = [sum(isinstance(m, torch.nn.Conv2d) for m in g.modules()) for g in (one, two)]
    assert convs == [2, 3]
    assert two(seeded(2, 64, 4, 4)).shape == (2, 64, 1, 1)


def test_batch_of_one_works_in_eval_mode():
    module = BAM(32).eval()
    assert module(seeded(1, 32, 6, 6)).shape == (1, 32, 6, 6)


def test_batch_of_one_in_training_mode_says_what_to_do():
    with pytest.raises(ValueError, match=r"batch of 1 in training mode.*\.eval\(\)"):
        BAM(32).train()(seeded(1, 32, 6, 6))


@pytest.mark.parametrize("layer", [BAM, ChannelGate, SpatialGate])
def test_three_dimensional_input_names_the_expected_shape(layer):
    with pytest.raises(ValueError, match=r"\(B, 32, H, W\).*unsqueeze\(0\)"):
        layer(32)(seeded(32, 8, 8))


@pytest.mark.parametrize("layer", [BAM, ChannelGate, SpatialGate])
def test_channel_mismatch_names_the_expected_shape(layer):
    with pytest.raises(ValueError, match=r"built for 32 channels.*\(B, 32, H, W\).*channels=64"):
        layer(32)(seeded(2, 64, 8, 8))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"combine": "mean"}, "combine must be one of"),
        ({"reduction": 0}, "reduction must be a positive integer"),
        ({"dilation": 0}, "dilation must be a positive integer"),
        ({"num_dilated": -1}, "num_dilated must be 0 or more"),
        ({"reduction": 2.5}, "reduction must be a positive integer"),
    ],
)
def test_bad_arguments_are_rejected_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BAM(32, **kwargs)


def test_gate_starts_near_one_half_so_features_are_scaled_by_about_one_and_a_half():
    torch.manual_seed(0)
    module = BAM(64).eval()  # fresh BN: identity statistics
    x = seeded(4, 64, 8, 8).abs() + 0.1
    ratio = module(x) / x
    assert 1.3 < ratio.mean() < 1.7


def test_same_seed_same_result_on_cpu():
    def run():
        torch.manual_seed(123)
        module = BAM(64)
        x = torch.randn(4, 64, 8, 8)
        out = module(x)
        out.sum().backward()
        return out.detach(), module.spatial.dilated[0][0].weight.grad

    (a, ga), (b, gb) = run(), run()
    assert torch.equal(a, b) and torch.equal(ga, gb)
