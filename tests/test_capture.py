"""Attention maps come out through hooks that leave nothing behind."""

import pytest
import torch

from bam import add_bam, capture_attention
from bam.capture import recording_attention
from bam.gradcam import grad_cam
from bam.models import create


def hooks_left(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_maps_have_the_right_shapes_for_every_stage():
    torch.manual_seed(0)
    model = create("bam_resnet20").eval()
    output, maps = capture_attention(model, torch.randn(3, 3, 32, 32))
    assert output.shape == (3, 10)
    assert list(maps) == ["layer1.bam", "layer2.bam"]
    for (name, m), (c, s) in zip(maps.items(), [(16, 32), (32, 16)], strict=True):
        assert m.channel.shape == (3, c, 1, 1), name
        assert m.spatial.shape == (3, 1, s, s), name
        assert m.attention.shape == (3, c, s, s), name
        assert 0 < m.attention.min() and m.attention.max() < 1


def test_the_attention_is_the_sigmoid_of_the_summed_branches():
    torch.manual_seed(0)
    model = create("bam_resnet20").eval()
    _, maps = capture_attention(model, torch.randn(2, 3, 32, 32))
    m = maps["layer2.bam"]
    torch.testing.assert_close(m.attention, torch.sigmoid(m.channel + m.spatial))


def test_capturing_leaves_the_model_unchanged():
    torch.manual_seed(0)
    model = create("bam_resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    before = model(x)
    output, _ = capture_attention(model, x)
    torch.testing.assert_close(output, before)
    torch.testing.assert_close(model(x), before)
    assert hooks_left(model) == 0


def test_hooks_are_removed_when_the_forward_pass_fails():
    model = create("bam_resnet20")
    with pytest.raises(RuntimeError):
        capture_attention(model, torch.randn(2, 5, 32, 32))
    assert hooks_left(model) == 0


def test_a_model_without_bam_is_an_error():
    with pytest.raises(ValueError, match="no BAM module"):
        capture_attention(create("resnet20"), torch.randn(1, 3, 32, 32))


def test_works_on_a_torchvision_resnet_with_non_square_input():
    import torchvision

    model = add_bam(torchvision.models.resnet18()).eval()
    _, maps = capture_attention(model, torch.randn(1, 3, 64, 96))
    assert [m.spatial.shape[-2:] for m in maps.values()] == [(16, 24), (8, 12), (4, 6)]


def test_recording_during_a_pass_with_gradients_gives_the_maps_of_capture():
    # bam.localisation records the maps during the forward pass Grad-CAM makes anyway.
    torch.manual_seed(0)
    model = create("bam_resnet20").eval()
    x = torch.randn(3, 3, 32, 32)
    _, expected = capture_attention(model, x)
    with recording_attention(model) as maps:
        grad_cam(model, x)
    assert list(maps) == list(expected) and hooks_left(model) == 0
    for name, m in maps.items():
        assert not m.attention.requires_grad
        for part in ("channel", "spatial", "attention"):
            torch.testing.assert_close(getattr(m, part), getattr(expected[name], part))


def test_recording_without_a_forward_pass_says_so():
    model = create("bam_resnet20")
    with pytest.raises(ValueError, match="did not run"), recording_attention(model):
        pass
    assert hooks_left(model) == 0
