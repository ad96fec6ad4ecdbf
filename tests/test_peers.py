"""BAM's peers, SE (Hu et al., CVPR 2018) and CBAM (Woo et al., ECCV 2018), the one-branch BAM of
the paper's ablation, and the helpers that put attention inside every residual block."""

import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision

from bam import BAM, ChannelGate, SpatialGate, add_bam, capture_attention
from bam.checks import check_squeeze_excite
from bam.commands import bench
from bam.layers import CBAM, SingleBranchBAM, SqueezeExcite
from bam.models import add_bam_every_block, add_cbam, add_se, available, create
from bam.models.insert import bam_layer
from bam.profile import count_params


def seeded(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def millions(n: int) -> float:
    return round(n / 1e6, 2)


# --- the layers ----------------------------------------------------------------------------


@pytest.mark.parametrize("channels, reduction", [(64, 16), (256, 16), (64, 4), (8, 16), (30, 8)])
def test_se_parameter_count_is_the_papers_formula(channels, reduction):
    hidden = max(1, channels // reduction)
    # 2 * C * C/r weights + C/r + C biases
    expected = 2 * channels * hidden + hidden + channels
    assert count_params(SqueezeExcite(channels, reduction)) == expected


@pytest.mark.parametrize("channels, reduction, k", [(64, 16, 7), (256, 16, 7), (8, 16, 3)])
def test_cbam_parameter_count_is_the_shared_mlp_plus_one_kxk_convolution(channels, reduction, k):
    hidden = max(1, channels // reduction)
    mlp = 2 * channels * hidden + hidden + channels  # shared by the avg- and max-pooled inputs
    conv = 2 * k * k + 1  # two pooled maps in, one map out
    assert count_params(CBAM(channels, reduction, k)) == mlp + conv


@pytest.mark.parametrize("layer", [SqueezeExcite, CBAM])
@pytest.mark.parametrize("size", [(8, 8), (7, 13), (1, 1)])
def test_peers_keep_the_shape_of_square_and_non_square_inputs(layer, size):
    x = seeded(2, 32, *size)
    assert layer(32)(x).shape == x.shape


def test_se_computes_its_equation():
    torch.manual_seed(0)
    se = SqueezeExcite(32, reduction=4)
    x = seeded(3, 32, 5, 7)
    z = x.mean((2, 3))  # squeeze: (B, C)
    w1, b1 = se.fc1.weight.flatten(1), se.fc1.bias
    w2, b2 = se.fc2.weight.flatten(1), se.fc2.bias
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, w1, b1)), w2, b2))
    torch.testing.assert_close(se(x), x * s[:, :, None, None])


def test_cbam_computes_its_equations_channel_first_then_spatial():
    torch.manual_seed(0)
    cbam = CBAM(32, reduction=4)
    x = seeded(3, 32, 6, 9)
    fc1, fc2 = cbam.channel.mlp[0], cbam.channel.mlp[2]

    def mlp(v):  # (B, C) -> (B, C), shared by both descriptors
        return F.linear(
            F.relu(F.linear(v, fc1.weight.flatten(1), fc1.bias)), fc2.weight.flatten(1), fc2.bias
        )

    mc = torch.sigmoid(mlp(x.mean((2, 3))) + mlp(x.amax((2, 3))))
    x1 = x * mc[:, :, None, None]
    pooled = torch.stack([x1.mean(1), x1.amax(1)], dim=1)
    ms = torch.sigmoid(
        F.conv2d(pooled, cbam.spatial.conv.weight, cbam.spatial.conv.bias, padding=3)
    )
    torch.testing.assert_close(cbam(x), x1 * ms)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: SqueezeExcite(32),
        lambda: CBAM(32),
        lambda: SingleBranchBAM(32, "channel"),
        lambda: SingleBranchBAM(32, "spatial"),
    ],
)
def test_every_parameter_of_a_layer_gets_a_gradient(layer):
    torch.manual_seed(0)
    module = layer()
    module(seeded(4, 32, 9, 11)).square().mean().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("layer", [SqueezeExcite, CBAM, lambda c: SingleBranchBAM(c, "spatial")])
def test_a_3d_input_is_rejected_with_a_hint(layer):
    with pytest.raises(ValueError, match=r"4-D feature map.*unsqueeze\(0\)"):
        layer(16)(seeded(16, 8, 8))


@pytest.mark.parametrize("layer", [SqueezeExcite, CBAM, lambda c: SingleBranchBAM(c, "spatial")])
def test_a_channel_mismatch_names_the_expected_shape(layer):
    with pytest.raises(ValueError, match=r"built for 32 channels.*channels=64"):
        layer(32)(seeded(2, 64, 8, 8))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: SqueezeExcite(32, reduction=0), "reduction must be a positive integer"),
        (lambda: SqueezeExcite(0), "channels must be a positive integer"),
        (lambda: CBAM(32, reduction=1.5), "reduction must be a positive integer"),
        (lambda: CBAM(32, kernel_size=6), "kernel_size must be odd"),
        (lambda: CBAM(32, kernel_size=0), "kernel_size must be a positive integer"),
        (lambda: SingleBranchBAM(32, "both"), "branch must be 'channel' or 'spatial'"),
        (lambda: bam_layer(32, branches="neither"), "branches must be 'both'"),
    ],
)
def test_bad_arguments_are_rejected_clearly(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_fewer_channels_than_the_reduction_keep_a_hidden_width_of_one():
    assert SqueezeExcite(8, reduction=16).fc1.out_channels == 1
    assert CBAM(8, reduction=16).channel.mlp[0].out_channels == 1


# --- one-branch BAM ------------------------------------------------------------------------


@pytest.mark.parametrize("branch, gate", [("channel", ChannelGate), ("spatial", SpatialGate)])
def test_single_branch_bam_is_f_times_one_plus_the_sigmoid_of_its_branch(branch, gate):
    torch.manual_seed(0)
    module = SingleBranchBAM(64, branch, reduction=8, dilation=2).eval()
    x = seeded(2, 64, 6, 10)
    kept = module.channel if branch == "channel" else module.spatial
    assert isinstance(kept, gate)
    torch.testing.assert_close(module(x), x * (1 + torch.sigmoid(kept(x))))
    # only the kept branch has parameters
    assert count_params(module) == count_params(kept)


def test_single_branch_bam_works_with_capture_and_create():
    torch.manual_seed(0)
    model = create("bam_resnet20", branches="spatial").eval()
    assert all(isinstance(model.get_submodule(f"layer{i}.bam"), SingleBranchBAM) for i in (1, 2))
    _, maps = capture_attention(model, seeded(2, 3, 32, 32))
    assert torch.equal(maps["layer1.bam"].channel, torch.zeros(2, 16, 1, 1))
    torch.testing.assert_close(
        maps["layer1.bam"].attention,
        torch.sigmoid(maps["layer1.bam"].spatial).expand(2, 16, 32, 32),
    )


# --- attention in every residual block -----------------------------------------------------

BACKBONES = {
    "resnet20": lambda: create("resnet20"),
    "preact_resnet18": lambda: create("preact_resnet18"),
    "torchvision.resnet18": lambda: torchvision.models.resnet18(num_classes=10),
    "torchvision.resnet50": lambda: torchvision.models.resnet50(num_classes=10),
}
ADD = {"se": add_se, "cbam": add_cbam, "bamblock": add_bam_every_block}
LAYER = {"se": SqueezeExcite, "cbam": CBAM, "bamblock": BAM}


def blocks(model):
    stages = [
        getattr(model, n) for n in ("layer1", "layer2", "layer3", "layer4") if hasattr(model, n)
    ]
    return [block for stage in stages for block in stage]


def channels_of(module):
    return module.channel.channels if isinstance(module, BAM) else module.channels


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("kind", ADD)
def test_every_block_gets_one_module_sized_to_its_branch(backbone, kind):
    with torch.device("meta"):  # structure only: shapes without values, built at once
        model = ADD[kind](BACKBONES[backbone]())
    for block in blocks(model):
        assert isinstance(block.attention, LAYER[kind])
        last_conv = block.conv3 if hasattr(block, "conv3") else block.conv2
        assert channels_of(block.attention) == last_conv.out_channels
    where = [n for n, m in model.named_modules() if isinstance(m, LAYER[kind])]
    assert len(where) == len(blocks(model)) and all(n.endswith(".attention") for n in where)


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("kind", ADD)
def test_adding_attention_keeps_the_names_of_the_backbone_weights(backbone, kind):
    with torch.device("meta"):  # names only: shapes without values, built at once
        plain = BACKBONES[backbone]().state_dict()
        with_attention = ADD[kind](BACKBONES[backbone]()).state_dict()
    added = set(with_attention) - set(plain)
    assert added and all(".attention." in k for k in added)
    assert set(plain) <= set(with_attention)  # a plain checkpoint loads with strict=False
    assert all(with_attention[k].shape == plain[k].shape for k in plain)


@pytest.mark.parametrize("backbone", ["resnet20", "preact_resnet18", "torchvision.resnet18"])
@pytest.mark.parametrize("kind", ADD)
def test_attention_changes_the_output_of_the_same_backbone_weights(backbone, kind):
    torch.manual_seed(0)
    plain = BACKBONES[backbone]().eval()
    with_attention = ADD[kind](BACKBONES[backbone]()).eval()
    with_attention.load_state_dict(plain.state_dict(), strict=False)
    x = seeded(2, 3, 32, 32)
    assert not torch.allclose(plain(x), with_attention(x), atol=1e-4)


@pytest.mark.parametrize("backbone", ["resnet20", "preact_resnet18", "torchvision.resnet18"])
@pytest.mark.parametrize("kind", ADD)
def test_every_parameter_of_the_network_gets_a_gradient(backbone, kind):
    torch.manual_seed(0)
    # r = 4: with r = 16 a 16-channel block has a single hidden unit, and a single ReLU unit
    # can be off for a whole small batch, which would zero its gradient for a real reason.
    model = ADD[kind](BACKBONES[backbone](), reduction=4).train()
    F.cross_entropy(model(seeded(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("backbone", BACKBONES)
def test_attention_acts_on_the_residual_branch_before_the_addition(backbone):
    # A gate shut to zero leaves only the shortcut: block(x) = relu(shortcut(x)) (or x + 0).
    torch.manual_seed(0)
    model = add_se(BACKBONES[backbone]()).eval()
    block = blocks(model)[-1]  # an identity shortcut in every backbone
    with torch.no_grad():
        block.attention.fc2.bias.fill_(-1e4)
    x = seeded(2, block.attention.channels, 4, 4).abs()
    torch.testing.assert_close(block(x), x)


def test_a_deep_copy_applies_its_own_attention_modules():
    torch.manual_seed(0)
    model = add_se(torchvision.models.resnet18()).eval()
    twin = copy.deepcopy(model)
    x = seeded(2, 3, 32, 32)
    torch.testing.assert_close(model(x), twin(x))
    with torch.no_grad():
        twin.layer4[1].attention.fc2.bias.fill_(-1e4)
    assert not torch.allclose(model(x), twin(x))
    assert twin.layer4[1].bn2._forward_hooks  # the copy's hook ...
    hook = next(iter(twin.layer4[1].bn2._forward_hooks.values()))
    assert hook.attention is twin.layer4[1].attention  # ... applies the copy's module


@pytest.mark.parametrize("kind", ADD)
def test_adding_attention_twice_is_an_error(kind):
    model = ADD[kind](create("resnet20"))
    with pytest.raises(ValueError, match="already has an attention module"):
        add_se(model)


def test_a_block_without_a_known_branch_is_rejected():
    model = create("resnet20")
    model.layer1[0] = torch.nn.Conv2d(16, 16, 3, padding=1)
    with pytest.raises(ValueError, match="give the block an `attention` attribute"):
        add_cbam(model)


def test_bam_at_the_bottlenecks_still_finds_the_stage_channels_after_cbam():
    model = add_bam(add_cbam(torchvision.models.resnet50()))
    assert [model.get_submodule(f"layer{i}.bam").channel.channels for i in (1, 2, 3)] == [
        256,
        512,
        1024,
    ]
    assert add_cbam(add_bam(create("resnet20")))(seeded(2, 3, 32, 32)).shape == (2, 10)


# --- the papers' parameter counts ----------------------------------------------------------


def test_se_resnet50_has_the_se_papers_parameter_count():
    # Hu et al. (2018), table 2: SE-ResNet-50 28.09M (ResNet-50 25.56M), r = 16.
    assert millions(count_params(add_se(torchvision.models.resnet50()))) == 28.09


def test_cbam_resnet50_has_the_cbam_papers_parameter_count():
    # Woo et al. (2018), table 4: ResNet50 + CBAM 28.09M.
    assert millions(count_params(add_cbam(torchvision.models.resnet50()))) == 28.09


def test_cifar100_resnet50_costs_match_the_bam_papers_comparison():
    # Park et al. (2018), section 4.1: SE on ResNet50 26.24M; BAM in every block 28.98M.
    se = add_se(torchvision.models.resnet50(num_classes=100))
    assert millions(count_params(se)) == 26.24
    every_block = count_params(add_bam_every_block(torchvision.models.resnet50(num_classes=100)))
    # 28.94M here: the paper does not say where in the block it put BAM, nor its exact layers.
    assert abs(every_block / 1e6 - 28.98) < 0.05


def test_peer_model_names_are_available_for_every_backbone():
    names = available()
    for prefix in ("se", "cbam", "bam", "bamblock"):
        for backbone in ("resnet20", "resnet56", "preact_resnet18"):
            assert f"{prefix}_{backbone}" in names
    assert sum(isinstance(m, BAM) for m in create("bamblock_resnet20").modules()) == 9
    assert sum(isinstance(m, CBAM) for m in create("cbam_resnet32", reduction=4).modules()) == 15
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        create("cbam_resnet20", kernel_size=4)


# --- the lesson's exercise check -----------------------------------------------------------


class LinearSqueezeExcite(torch.nn.Module):
    """A learner's SE written with nn.Linear on the pooled vector."""

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze = torch.nn.Linear(channels, hidden)
        self.excite = torch.nn.Linear(hidden, channels)

    def forward(self, x):
        s = torch.sigmoid(self.excite(torch.relu(self.squeeze(x.mean((2, 3))))))
        return x * s[:, :, None, None]


class ResidualSqueezeExcite(LinearSqueezeExcite):
    def forward(self, x):  # BAM's residual, which SE does not have
        return x * (1 + super().forward(x) / x)


class BiasFreeSqueezeExcite(LinearSqueezeExcite):
    def __init__(self, channels, reduction=16):
        super().__init__(channels, reduction)
        hidden = max(1, channels // reduction)
        self.squeeze = torch.nn.Linear(channels, hidden, bias=False)
        self.excite = torch.nn.Linear(hidden, channels, bias=False)


@pytest.mark.parametrize("answer", [SqueezeExcite, LinearSqueezeExcite])
def test_the_se_check_accepts_a_right_answer_in_any_layout(answer, capsys):
    check_squeeze_excite(answer)
    assert capsys.readouterr().out.startswith("check_squeeze_excite: all 12 checks passed")


@pytest.mark.parametrize(
    "answer, cause",
    [
        (ResidualSqueezeExcite, "SE has no residual"),
        (BiasFreeSqueezeExcite, "both with biases"),
    ],
)
def test_the_se_check_names_the_cause_of_a_wrong_answer(answer, cause):
    with pytest.raises(AssertionError, match=cause):
        check_squeeze_excite(answer)


# --- the cost benchmark --------------------------------------------------------------------


def test_the_attention_benchmark_reports_every_variant_against_the_plain_network(capsys):
    args = [
        "attention",
        "--quick",
        "--steps",
        "1",
        "--batch-resnet20",
        "4",
        "--precisions",
        "float32",
    ]
    rows = bench.main(args)
    peers = ["none", "SE", "CBAM", "BAM", "BAM every block"]
    assert [r["attention"] for r in rows if r["attention"] in peers] == peers
    params = {r["attention"]: r["params"] for r in rows}
    assert params["none"] == count_params(create("resnet20"))
    assert params["SE"] == count_params(create("se_resnet20"))
    assert params["BAM every block"] == count_params(create("bamblock_resnet20"))
    assert rows[0]["step_ratio"] == 1.0 and all(r["step_s"] > 0 for r in rows)
    assert all(r["macs"] >= rows[0]["macs"] for r in rows)
    out = capsys.readouterr().out
    assert "ResNet-20, 32x32" in out and "BAM every block" in out


def test_the_peers_are_importable_from_the_package_top_level():
    import bam

    model = bam.add_se(bam.models.create("resnet20"))
    assert isinstance(model.layer1[0].attention, bam.SqueezeExcite)
    model = bam.add_cbam(bam.models.create("resnet20"))
    assert isinstance(model.layer1[0].attention, bam.CBAM)
    assert all(hasattr(bam, name) for name in bam.__all__)
