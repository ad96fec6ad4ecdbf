"""identity_init: BAM inserted into a trained network starts from what the network computes."""

import math

import pytest
import torch

from bam import BAM, add_bam, capture_attention
from bam.layers.single_branch import ZeroLogits
from bam.models import CifarResNet, add_bam_every_block, identity_init


def trained_like(seed: int = 0) -> CifarResNet:
    """A small ResNet whose BatchNorm statistics have been fitted (eval mode uses them)."""
    torch.manual_seed(seed)
    model = CifarResNet(8, widths=(16, 32, 32))
    with torch.no_grad():
        for _ in range(5):
            model(torch.randn(64, 3, 32, 32))
    return model.eval()


def relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / a.norm()).item()


def test_inserting_identity_initialised_bam_leaves_the_output_unchanged():
    model, x = trained_like(), torch.randn(32, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        after = identity_init(add_bam(model)).eval()(x)
    assert relative_change(before, after) < 0.03  # features grow by 1 + sigmoid(-5) = 1.0067


def test_inserting_default_bam_changes_the_output_a_lot():
    # The reason identity_init exists: a fresh BAM scales features by about 1.5.
    model, x = trained_like(), torch.randn(32, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        after = add_bam(model).eval()(x)
    assert relative_change(before, after) > 0.5


@pytest.mark.parametrize("combine", ["sum", "product", "max"])
def test_the_attention_starts_at_sigmoid_of_the_logit_everywhere(combine):
    model = identity_init(add_bam(trained_like(), combine=combine), logit=-3.0).eval()
    _, maps = capture_attention(model, torch.randn(4, 3, 32, 32))
    for found in maps.values():
        expected = torch.full_like(found.attention, 1 / (1 + math.exp(3.0)))
        assert torch.allclose(found.attention, expected, atol=1e-6)


def test_the_gate_still_learns_after_identity_init():
    model = identity_init(add_bam(trained_like())).train()
    model(torch.randn(8, 3, 32, 32)).logsumexp(1).mean().backward()
    for bam in (m for m in model.modules() if isinstance(m, BAM)):
        assert bam.spatial.project[-1].weight.grad.abs().sum() > 0
        assert bam.channel.mlp[-1].weight.grad.abs().sum() > 0


def test_identity_init_needs_a_bam():
    with pytest.raises(ValueError, match="no BAM"):
        identity_init(CifarResNet(8))


@pytest.mark.parametrize("branch", ["channel", "spatial"])
def test_a_one_branch_bam_gets_the_whole_logit_on_the_branch_it_keeps(branch):
    model = identity_init(add_bam(trained_like(), branches=branch), logit=-3.0).eval()
    bams = [m for m in model.modules() if isinstance(m, BAM)]
    assert len(bams) == 2  # after the first two of three stages
    _, maps = capture_attention(model, torch.randn(4, 3, 32, 32))
    for found in maps.values():
        # The removed branch adds a zero logit: the kept one must carry -3 on its own.
        expected = torch.full_like(found.attention, 1 / (1 + math.exp(3.0)))
        assert torch.allclose(found.attention, expected, atol=1e-6)
    for bam in bams:
        removed = bam.spatial if branch == "channel" else bam.channel
        final_bn = bam.channel.mlp[-1] if branch == "channel" else bam.spatial.project[-1]
        assert isinstance(removed, ZeroLogits)  # the branch with no BatchNorm to initialise
        assert torch.equal(final_bn.weight, torch.zeros_like(final_bn.weight))


def test_bam_in_every_block_is_initialised_too():
    model = identity_init(add_bam_every_block(trained_like()), logit=-3.0).eval()
    _, maps = capture_attention(model, torch.randn(4, 3, 32, 32))
    assert len(maps) == 3  # one per residual block of the 8-layer ResNet
    for found in maps.values():
        expected = torch.full_like(found.attention, 1 / (1 + math.exp(3.0)))
        assert torch.allclose(found.attention, expected, atol=1e-6)
