"""BAM-ResNets: placement at the bottlenecks and the paper's parameter counts."""

import math

import pytest
import torch
import torchvision
from torch import nn

from bam import BAM, add_bam, capture_attention
from bam.models import ATTENTION, CifarResNet, add_attention, available, create, identity_init
from bam.models.insert import AttentionType
from bam.profile import count_params


def millions(n: int) -> float:
    return round(n / 1e6, 2)


@pytest.mark.parametrize(
    "build, base, with_bam",
    [
        # ImageNet table of Park et al. (2018): params in millions, base -> + BAM.
        (torchvision.models.resnet18, 11.69, 11.71),
        (torchvision.models.resnet50, 25.56, 25.92),
        (torchvision.models.resnet101, 44.55, 44.91),
    ],
)
def test_imagenet_parameter_counts_match_the_paper(build, base, with_bam):
    model = build()
    assert millions(count_params(model)) == base
    assert millions(count_params(add_bam(model))) == with_bam


def test_cifar100_resnet50_gains_the_papers_036m():
    # CIFAR-100 table: ResNet50 23.71M -> 24.07M.
    model = torchvision.models.resnet50(num_classes=100)
    before = count_params(model)
    after = count_params(add_bam(model))
    assert (millions(before), millions(after)) == (23.71, 24.07)
    assert millions(after - before) == 0.36


@pytest.mark.parametrize("depth, params", [(20, 0.27), (32, 0.46), (56, 0.85), (110, 1.73)])
def test_cifar_resnets_have_he_et_al_parameter_counts(depth, params):
    # He et al. (2016), table 6: 0.27M, 0.46M, 0.85M, 1.7M.
    assert millions(count_params(CifarResNet(depth))) == params


def test_bam_sits_after_every_stage_but_the_last():
    model = add_bam(torchvision.models.resnet18())
    where = [name for name, m in model.named_modules() if isinstance(m, BAM)]
    assert where == ["layer1.bam", "layer2.bam", "layer3.bam"]
    assert [model.get_submodule(n).channel.channels for n in where] == [64, 128, 256]
    cifar = create("bam_resnet20")
    where = [name for name, m in cifar.named_modules() if isinstance(m, BAM)]
    assert where == ["layer1.bam", "layer2.bam"]
    assert [cifar.get_submodule(n).channel.channels for n in where] == [16, 32]


def test_bottleneck_resnet_channels_are_inferred():
    model = add_bam(torchvision.models.resnet50())
    channels = [model.get_submodule(f"layer{i}.bam").channel.channels for i in (1, 2, 3)]
    assert channels == [256, 512, 1024]


def test_add_bam_keeps_the_names_of_existing_weights():
    plain = create("resnet20")
    with_bam = add_bam(create("resnet20"))
    missing, unexpected = with_bam.load_state_dict(plain.state_dict(), strict=False)
    assert not missing or all(".bam." in k for k in missing)
    assert not unexpected


def test_add_bam_passes_its_arguments_to_every_module():
    model = add_bam(create("resnet20"), reduction=4, combine="product")
    modules = [m for m in model.modules() if isinstance(m, BAM)]
    assert all(m.combine == "product" for m in modules)
    assert modules[1].spatial.reduce[0].out_channels == 32 // 4


def test_add_bam_twice_is_an_error():
    model = add_bam(create("resnet20"))
    with pytest.raises(ValueError, match="already has BAM"):
        add_bam(model)


def test_add_bam_rejects_a_model_without_resnet_stages():
    with pytest.raises(ValueError, match="layer1, layer2"):
        add_bam(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3)))


@pytest.mark.parametrize("name", available())
def test_every_model_name_builds_and_runs(name):
    torch.manual_seed(0)
    model = create(name, num_classes=7)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)


@pytest.mark.parametrize("name", ["bam_resnet20", "bamblock_resnet20"])
def test_an_identity_start_puts_every_bam_at_sigmoid_of_minus_5(name):
    model = create(name, init="identity").eval()
    _, maps = capture_attention(model, torch.randn(2, 3, 32, 32))
    assert len(maps) == sum(isinstance(m, BAM) for m in model.modules())
    for found in maps.values():
        expected = torch.full_like(found.attention, 1 / (1 + math.exp(5.0)))
        assert torch.allclose(found.attention, expected, atol=1e-6)


def built_with_seed_0(build):
    """``build()``'s state dict after ``torch.manual_seed(0)``, and the random numbers next."""
    torch.manual_seed(0)
    return build().state_dict(), torch.rand(3)


def same_build(a, b) -> bool:
    (state_a, next_a), (state_b, next_b) = a, b
    same_state = state_a.keys() == state_b.keys() and all(
        torch.equal(state_a[k], state_b[k]) for k in state_a
    )
    return same_state and torch.equal(next_a, next_b)


def test_an_identity_start_is_identity_init_and_draws_no_random_numbers():
    # A seed must give the same network either way, and the same batches after it.
    started = built_with_seed_0(lambda: create("bam_resnet20", init="identity"))
    assert same_build(started, built_with_seed_0(lambda: identity_init(create("bam_resnet20"))))


def test_the_default_start_is_a_plain_create_of_the_papers_bam():
    default = built_with_seed_0(lambda: create("bam_resnet20", init="default"))
    assert same_build(default, built_with_seed_0(lambda: create("bam_resnet20")))
    assert same_build(default, built_with_seed_0(lambda: add_bam(CifarResNet(20))))


@pytest.mark.parametrize("name", ["resnet20", "preact_resnet18"])
def test_an_identity_start_needs_attention(name):
    with pytest.raises(ValueError, match=f"attention modules.*'{name}' has none"):
        create(name, init="identity")


@pytest.mark.parametrize("name", ["se_resnet20", "cbam_resnet20"])
def test_an_identity_start_opens_every_se_and_cbam_gate(name):
    # Like for like with BAM: a gate of sigmoid(5) instead of about 0.5, whatever the input.
    model = create(name, init="identity").eval()
    gates = []
    for m in model.modules():
        if isinstance(m, nn.Sigmoid):
            m.register_forward_hook(lambda _m, _i, out: gates.append(out))
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    assert len(gates) == (9 if name == "se_resnet20" else 18)
    for gate in gates:
        assert torch.allclose(gate, torch.full_like(gate, torch.sigmoid(torch.tensor(5.0)).item()))


def test_an_unknown_start_lists_the_choices():
    with pytest.raises(ValueError, match="one of 'default', 'identity', got 'zeros'"):
        create("bam_resnet20", init="zeros")


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match="unknown model 'resnet21'.*bam_resnet20"):
        create("resnet21")


def test_attention_arguments_without_attention_are_an_error():
    with pytest.raises(ValueError, match="no attention modules"):
        create("resnet20", reduction=4)


class Scale(nn.Module):
    """A stand-in attention type: one learned scale per channel."""

    def __init__(self, channels: int, start: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels, 1, 1), start))

    def forward(self, x):
        return x * self.scale


@pytest.mark.parametrize(
    "placement, where", [("bottlenecks", ["layer1.scale", "layer2.scale"]), ("every block", None)]
)
def test_a_new_attention_type_is_one_entry_of_the_registry(monkeypatch, placement, where):
    monkeypatch.setitem(ATTENTION, "scale", AttentionType(Scale, placement))
    assert "scale_resnet20" in available()
    model = create("scale_resnet20", start=2.0)
    found = [name for name, m in model.named_modules() if isinstance(m, Scale)]
    if placement == "bottlenecks":
        assert found == where
    else:  # one on each block's residual branch: 3 stages of 3 blocks
        assert len(found) == 9 and all(name.endswith(".attention") for name in found)
    assert all(torch.all(m.scale == 2.0) for m in model.modules() if isinstance(m, Scale))


def test_an_unknown_attention_type_lists_the_choices():
    with pytest.raises(ValueError, match="unknown attention 'sk'; choose one of bam, bamblock"):
        add_attention(create("resnet20"), "sk")


def test_bad_depth_is_explained():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        CifarResNet(21)
